"""Each validation rule, one bad row at a time: the row is quarantined with its line, column and rule,
and the good row beside it still loads."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pytest

from pipelines.ingest import _failures
from tests.helpers import run_pipeline

GOOD = {
    "patients": {"patient_id": "P1", "birth_date": "1950-03-04", "sex": "F"},
    "labs": {
        "patient_id": "P1",
        "collected_at": "2026-01-02",
        "loinc_code": "2823-3",
        "test_name": "Potassium",
        "value": "4.1",
        "unit": "mmol/L",
    },
    "prescriptions": {
        "patient_id": "P1",
        "drug_name": "furosemide 40 mg tablet",
        "rxnorm_code": "4603",
        "atc_code": "C03CA01",
        "start_date": "2026-01-01",
        "end_date": "2026-03-01",
        "days_supply": "",
    },
    "diagnoses": {
        "patient_id": "P1",
        "code": "K70.30",
        "code_system": "ICD-10-CM",
        "recorded_at": "2025-05-06",
        "resolved_at": "",
    },
}

CASES = [
    ("patients", {"patient_id": ""}, "patient_id", "required"),
    ("labs", {"patient_id": ""}, "patient_id", "required"),
    ("labs", {"collected_at": ""}, "collected_at", "required"),
    ("labs", {"collected_at": "2026-13-01"}, "collected_at", "format"),
    ("labs", {"collected_at": "02/01/2026"}, "collected_at", "format"),
    ("labs", {"collected_at": "1899-01-01"}, "collected_at", "date_range"),
    ("labs", {"collected_at": "2027-01-05T08:00:00"}, "collected_at", "date_range"),
    ("labs", {"loinc_code": "", "test_name": ""}, "loinc_code", "test_identified"),
    ("labs", {"loinc_code": "2823"}, "loinc_code", "format"),
    ("labs", {"loinc_code": "2823-4"}, "loinc_code", "check_digit"),
    # text with digits that does not read as a number or a censored number is a typing error
    ("labs", {"value": "4,5"}, "value", "numeric"),
    ("labs", {"value": "1_40"}, "value", "numeric"),
    ("labs", {"value": "3.4 mmol/L"}, "value", "numeric"),
    ("labs", {"value": "<4,5"}, "value", "numeric"),
    ("labs", {"value": "<<3"}, "value", "numeric"),
    ("labs", {"value": "4.1 Q"}, "value", "numeric"),  # not an abnormal flag
    ("labs", {"value": "4.1 mmol"}, "value", "numeric"),
    # plausibility judges a censored result's bound
    ("labs", {"value": "<0.5"}, "value", "plausible"),
    ("labs", {"value": "> 45"}, "value", "plausible"),
    ("labs", {"value": "45"}, "value", "plausible"),
    ("labs", {"value": "0.5"}, "value", "plausible"),
    ("labs", {"unit": "mmHg"}, "unit", "known_unit"),
    ("labs", {"loinc_code": "2951-2", "test_name": "Sodium", "value": "79"}, "value", "plausible"),
    ("prescriptions", {"patient_id": ""}, "patient_id", "required"),
    ("prescriptions", {"drug_name": ""}, "drug_name", "required"),
    ("prescriptions", {"start_date": ""}, "start_date", "required"),
    ("prescriptions", {"start_date": "2026-02-29"}, "start_date", "format"),
    ("prescriptions", {"start_date": "2027-02-01", "end_date": ""}, "start_date", "date_range"),
    ("prescriptions", {"end_date": "2025-12-31"}, "end_date", "after_start"),
    ("prescriptions", {"end_date": "soon"}, "end_date", "format"),
    ("prescriptions", {"end_date": "", "days_supply": "-5"}, "days_supply", "positive_integer"),
    ("prescriptions", {"end_date": "", "days_supply": "0"}, "days_supply", "positive_integer"),
    ("prescriptions", {"end_date": "", "days_supply": "2.5"}, "days_supply", "positive_integer"),
    ("prescriptions", {"end_date": "soon", "days_supply": "0"}, "days_supply", "positive_integer"),
    ("prescriptions", {"end_date": "2025-12-31", "days_supply": "-1"}, "days_supply", "positive_integer"),
    ("diagnoses", {"patient_id": ""}, "patient_id", "required"),
    ("diagnoses", {"code": ""}, "code", "required"),
    ("diagnoses", {"code_system": ""}, "code_system", "required"),
    ("diagnoses", {"code_system": "READ"}, "code_system", "allowed"),
    ("diagnoses", {"code": "XYZ"}, "code", "format"),
    ("diagnoses", {"code": "571.5"}, "code", "format"),
    ("diagnoses", {"code": "K70.30", "code_system": "ICD-9-CM"}, "code", "format"),
    ("diagnoses", {"code": "K70", "code_system": "SNOMED-CT"}, "code", "format"),
    ("diagnoses", {"recorded_at": "2025-04-31"}, "recorded_at", "format"),
    ("diagnoses", {"recorded_at": "2030-01-01"}, "recorded_at", "date_range"),
]


@pytest.mark.parametrize(("table", "change", "column", "rule"), CASES)
def test_rule_quarantines_row_and_keeps_good_one(tmp_path, table, change, column, rule):
    bad = {**GOOD[table], **change}
    run_pipeline(tmp_path, date(2026, 11, 20), **{table: [GOOD[table], bad]})
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        quarantined = con.execute(
            "SELECT line, column_name, rule, original FROM quarantine WHERE table_name = $t", {"t": table}
        ).fetchall()
        loaded = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    assert (3, column, rule) in {(line, c, r) for line, c, r, _ in quarantined}
    assert {line for line, *_ in quarantined} == {3}
    assert loaded == 1
    assert quarantined[0][3].split(",")[0] == bad["patient_id"]


# Soft rules: the value is optional for the audit, so the row loads without it and the problem is
# noted in row_notes (rows_noted), never quarantined. (table, change, column, rule, stored column
# and the value stored for it.)
NOTED = [
    ("patients", {"sex": "X"}, "sex", "allowed", "sex", None),
    # a birth date is only needed for age: a wrong one costs it, not the patient (their death stays)
    ("patients", {"birth_date": "1950-02-30"}, "birth_date", "format", "birth_date", None),
    ("patients", {"birth_date": "1899-12-31"}, "birth_date", "date_range", "birth_date", None),
    ("patients", {"birth_date": "2030-01-01"}, "birth_date", "date_range", "birth_date", None),
    ("prescriptions", {"rxnorm_code": "RX4603"}, "rxnorm_code", "format", "rxnorm_code", None),
    ("prescriptions", {"atc_code": "C3CA01"}, "atc_code", "format", "atc_code", None),
    ("prescriptions", {"days_supply": "99999"}, "days_supply", "positive_integer", "days_supply", None),
    (
        "prescriptions",
        {"days_supply": "0"},
        "days_supply",
        "positive_integer",
        "end_effective",
        date(2026, 3, 1),
    ),
    (
        "prescriptions",
        {"days_supply": "2.5"},
        "days_supply",
        "positive_integer",
        "end_effective",
        date(2026, 3, 1),
    ),
    # a cramp entered after it settled: loaded as sent (its resolution kept), noted, not quarantined
    (
        "diagnoses",
        {"resolved_at": "2025-01-01"},
        "resolved_at",
        "after_recorded",
        "resolved_at",
        date(2025, 1, 1),
    ),
]


@pytest.mark.parametrize(("table", "change", "column", "rule", "stored", "value"), NOTED)
def test_soft_rule_notes_row_and_loads_it_without_the_value(
    tmp_path, table, change, column, rule, stored, value
):
    bad = {**GOOD[table], **change}
    outcome = run_pipeline(tmp_path, date(2026, 11, 20), **{table: [GOOD[table], bad]})
    result = next(f for f in outcome.files if f.table == table)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected, result.rows_noted) == (2, 2, 0, 1)
    assert result.top_notes[0]["column"] == column and result.top_notes[0]["count"] == 1
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        notes = con.execute("SELECT line, column_name, rule, original FROM row_notes").fetchall()
        values = con.execute(f"SELECT {stored} FROM {table} ORDER BY patient_id").fetchall()
        quarantined = con.execute("SELECT count(*) FROM quarantine").fetchall()[0][0]
    assert [(line, c, r) for line, c, r, _ in notes] == [(3, column, rule)]
    assert notes[0][3].split(",")[0] == bad["patient_id"]
    assert quarantined == 0
    assert (value,) in values  # the noted value is not stored; what depends on it follows
    assert len(values) == 2


def test_noted_row_re_sent_is_a_duplicate(tmp_path):
    # The stored row holds the cleared value; its identity must match a second read of the same row.
    bad = {**GOOD["prescriptions"], "days_supply": "99999"}
    run_pipeline(tmp_path, date(2026, 11, 20), prescriptions=[bad])
    other = {**GOOD["prescriptions"], "patient_id": "P2"}
    outcome = run_pipeline(tmp_path, date(2026, 11, 21), prescriptions=[bad, other])
    result = next(f for f in outcome.files if f.table == "prescriptions")
    assert (result.rows_loaded, result.rows_duplicate, result.rows_noted) == (1, 1, 1)


@pytest.mark.parametrize(
    ("table", "variant"),
    [
        ("labs", {"collected_at": "2026-01-02T09:15:00"}),
        ("labs", {"collected_at": "2026-01-02 09:15"}),
        ("labs", {"collected_at": "2026-01-02T09:15:00Z"}),
        ("labs", {"collected_at": "2026-01-02T09:15:00+01:00"}),
        ("labs", {"loinc_code": "", "test_name": "potassium"}),
        ("labs", {"loinc_code": "2823-3", "test_name": ""}),
        ("labs", {"value": "", "unit": ""}),
        ("labs", {"unit": "mEq/L"}),
        ("labs", {"value": "1.0", "unit": "mmol/L"}),
        ("labs", {"value": "10", "unit": "mmol/L"}),
        ("labs", {"value": "<2.5"}),
        ("labs", {"value": "<= 5"}),
        ("labs", {"value": "≥ 6"}),
        ("labs", {"value": "=4.1"}),
        ("labs", {"value": "haemolysed"}),
        ("labs", {"value": "see comment", "unit": "mg/dL"}),
        ("prescriptions", {"end_date": "", "days_supply": "30"}),
        ("prescriptions", {"end_date": "", "days_supply": ""}),
        ("prescriptions", {"end_date": "2026-01-01"}),
        ("prescriptions", {"rxnorm_code": "", "atc_code": ""}),
        ("diagnoses", {"code": "K7030"}),
        ("diagnoses", {"code": "k70.30", "code_system": "icd10cm"}),
        ("diagnoses", {"code": "571.5", "code_system": "ICD-9-CM"}),
        ("diagnoses", {"code": "5715", "code_system": "ICD9"}),
        ("diagnoses", {"code": "19943007", "code_system": "SNOMED-CT"}),
        ("diagnoses", {"resolved_at": "2025-05-06"}),
        ("patients", {"sex": "female"}),
        ("patients", {"birth_date": ""}),
    ],
)
def test_valid_variants_load(tmp_path, table, variant):
    row = {**GOOD[table], **variant}
    outcome = run_pipeline(tmp_path, date(2026, 11, 20), **{table: [row]})
    result = next(f for f in outcome.files if f.table == table)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (1, 1, 0)


def test_units_are_normalised_and_originals_kept(tmp_path):
    rows = [
        {**GOOD["labs"], "loinc_code": "19123-9", "test_name": "Magnesium", "value": "1.9", "unit": "mg/dL"},
        {**GOOD["labs"], "loinc_code": "17861-6", "test_name": "Calcium", "value": "9.2", "unit": "mg/dL"},
        {**GOOD["labs"], "loinc_code": "2160-0", "test_name": "Creatinine", "value": "1.2", "unit": "mg/dL"},
        {**GOOD["labs"], "value": "4.4", "unit": "mEq/L"},
        {**GOOD["labs"], "loinc_code": "2951-2", "test_name": "Sodium", "value": "139", "unit": "meq/l"},
    ]
    run_pipeline(tmp_path, date(2026, 11, 20), labs=rows)
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        got = {
            a: (round(v, 3), u, vo, uo)
            for a, v, u, vo, uo in con.execute(
                "SELECT analyte, value, unit, value_original, unit_original FROM labs"
            ).fetchall()
        }
    # a converted value is rounded as a laboratory reporting in the canonical unit prints it
    assert got["magnesium"] == (0.78, "mmol/L", 1.9, "mg/dL")  # 0.7817
    assert got["calcium"] == (2.30, "mmol/L", 9.2, "mg/dL")  # 2.2954
    assert got["creatinine"] == (106.0, "umol/L", 1.2, "mg/dL")  # 106.1
    assert got["potassium"] == (4.4, "mmol/L", 4.4, "mEq/L")
    assert got["sodium"] == (139.0, "mmol/L", 139.0, "meq/l")


def test_urine_potassium_is_recognised_as_urine(tmp_path):
    row = {**GOOD["labs"], "loinc_code": "2828-2", "test_name": "Urine potassium", "value": "40"}
    run_pipeline(tmp_path, date(2026, 11, 20), labs=[row])
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        assert con.execute("SELECT analyte, specimen FROM labs").fetchall() == [("potassium", "urine")]


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("4.1", (4.1, None)),
        ("<2.5", (2.5, "<")),
        (" <= 5 ", (5.0, "<=")),
        ("> 6", (6.0, ">")),
        ("≥6", (6.0, ">=")),
        ("=<3", (3.0, "<=")),
        ("=4.1", (4.1, None)),
        ("= 4.1", (4.1, None)),
        ("haemolysed", (None, None)),
        ("see comment", (None, None)),
        ("CANCELLED", (None, None)),
        ("NaN", (None, None)),
        # an abnormal flag a laboratory system printed after the number is dropped
        ("5.6 H", (5.6, None)),
        ("3.1L", (3.1, None)),
        ("2.9 (LL)", (2.9, None)),
        ("6.4 *", (6.4, None)),
        ("<2.5 L", (2.5, "<")),
        # review 2026-12-03: 'N' (normal, HL7 v2 table 0078), a flag with a mark, a flag printed first
        ("4.1 N", (4.1, None)),
        ("4.1 (N)", (4.1, None)),
        ("2.9 L*", (2.9, None)),
        ("H 5.6", (5.6, None)),
    ],
)
def test_lab_value_is_stored_as_number_and_comparator(tmp_path, value, stored):
    """A censored result keeps its bound and comparator; text without a digit loads as no result."""
    run_pipeline(tmp_path, date(2026, 11, 20), labs=[{**GOOD["labs"], "value": value}])
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT value_original, value_comparator FROM lab_results").fetchall()
        in_view = con.execute("SELECT value, value_comparator FROM labs").fetchall()
    assert rows == [stored]
    assert in_view == [stored]  # potassium: the canonical unit is the original one


def test_a_unitless_result_is_read_in_the_canonical_unit_whatever_its_loinc_property(tmp_path):
    """No unit is guessed from a LOINC code's property: a unitless 0.8 of "Magnesium [Mass/volume]"
    (19123-9) is as often an SI value under a mis-mapped code (UK and EU mappings) as a US mg/dL
    one; read as mg/dL it would be a false, high-priority low."""
    rows = [
        {**GOOD["labs"], "loinc_code": "19123-9", "test_name": "Magnesium", "value": "0.8", "unit": ""},
        {**GOOD["labs"], "loinc_code": "2601-3", "test_name": "Magnesium", "value": "0.8", "unit": "",
         "collected_at": "2026-01-03"},
    ]  # fmt: skip
    run_pipeline(tmp_path, date(2026, 11, 20), labs=rows)
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        got = con.execute("SELECT loinc_code, value, unit FROM labs ORDER BY loinc_code").fetchall()
    assert got == [("19123-9", 0.8, "mmol/L"), ("2601-3", 0.8, "mmol/L")]


def test_a_converted_value_at_a_limit_is_the_limit(tmp_path):
    """1.7 mg/dL of magnesium, the usual US lower limit, is 0.6994 mmol/L unrounded: a threshold of
    0.70 would call it low. Rounded to the reporting precision of mmol/L it is 0.70, as a laboratory
    reporting in mmol/L prints it; 4.6 mg/dL of ionised calcium is 1.15."""
    rows = [
        {**GOOD["labs"], "loinc_code": "19123-9", "test_name": "Magnesium", "value": "1.7", "unit": "mg/dL"},
        {**GOOD["labs"], "loinc_code": "17863-2", "test_name": "Calcium ionized", "value": "4.6",
         "unit": "mg/dL"},
    ]  # fmt: skip
    run_pipeline(tmp_path, date(2026, 11, 20), labs=rows)
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        got = dict(con.execute("SELECT analyte, value FROM labs").fetchall())
    assert got == {"magnesium": 0.70, "calcium_ionized": 1.15}


def test_a_converted_censored_bound_is_rounded_outward(tmp_path):
    """'<1.71' mg/dL of magnesium is below 0.7035 mmol/L: rounded to nearest, '<0.70' would call it
    certainly below a 0.70 threshold. Rounded outward it is '<0.71'; '>1.71' is '>0.70'."""
    magnesium = {**GOOD["labs"], "loinc_code": "19123-9", "test_name": "Magnesium", "unit": "mg/dL"}
    rows = [{**magnesium, "value": "<1.71"}, {**magnesium, "value": ">1.71", "collected_at": "2026-01-03"}]
    run_pipeline(tmp_path, date(2026, 11, 20), labs=rows)
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        got = con.execute("SELECT value_comparator, value FROM labs ORDER BY collected_at").fetchall()
    assert got == [("<", 0.71), (">", 0.70)]


def test_a_days_supply_written_as_a_whole_float_is_that_count(tmp_path):
    """pandas writes a whole-number column with an empty cell as floats ('28.0'), as does a
    spreadsheet's number format ('28.00'): 28 days, as OMOP's days_supply '365.0' is read. '28.5' is
    still no count (quarantined: no end date beside it)."""
    rows = [
        {**GOOD["prescriptions"], "patient_id": p, "end_date": "", "days_supply": supply}
        for p, supply in (("P1", "28.0"), ("P2", " 28.00 "), ("P3", "28"), ("P4", "28.5"))
    ]
    run_pipeline(tmp_path, date(2026, 11, 20), prescriptions=rows)
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        loaded = con.execute(
            "SELECT patient_id, days_supply, end_effective::VARCHAR FROM prescriptions ORDER BY 1"
        ).fetchall()
        rejected = con.execute("SELECT line, column_name FROM quarantine").fetchall()
    assert loaded == [("P1", 28, "2026-01-29"), ("P2", 28, "2026-01-29"), ("P3", 28, "2026-01-29")]
    assert rejected == [(5, "days_supply")]


def test_a_rule_that_raises_is_an_internal_error_naming_the_rule():
    """A rule pandera could not evaluate (its failure case an exception, not a row) judged no row:
    the run ends as an internal error naming the rule, not a TypeError from reading the exception
    as a row (a date before year 1 did this, 2026-12-07)."""
    cases = pd.DataFrame(
        {"check": ["end_date:date_range"], "failure_case": [ValueError("year -712 is out of range")]}
    )
    with pytest.raises(RuntimeError, match="rule end_date:date_range could not be evaluated"):
        _failures(cases, {"end_date:date_range": object()})
    rows = pd.DataFrame({"check": ["end_date:date_range"], "failure_case": [{"_rec": 3}]})
    assert _failures(rows, {"end_date:date_range": object()}).to_dict("records") == [
        {"_rec": 3, "rule_key": "end_date:date_range"}
    ]


def test_ionised_calcium_in_meq_and_creatinine_of_a_blood_gas_are_read(tmp_path):
    """Ionised calcium in mEq/L (some US blood-gas analysers: 2.3 mEq/L is 1.15 mmol/L) is converted,
    not rejected as a unit unknown; MIMIC-IV's blood-gas 'Creatinine, Whole Blood' (itemid 52024) is
    a creatinine, for the eGFR estimate and the work-ups."""
    rows = [
        {**GOOD["labs"], "loinc_code": "", "test_name": "Calcium, Free", "value": "2.3", "unit": "mEq/L"},
        {**GOOD["labs"], "loinc_code": "", "test_name": "Creatinine, Whole Blood", "value": "1.4",
         "unit": "mg/dL", "collected_at": "2026-01-03"},
    ]  # fmt: skip
    run_pipeline(tmp_path, date(2026, 11, 20), labs=rows)
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        got = con.execute("SELECT analyte, value, unit FROM labs ORDER BY collected_at").fetchall()
    assert got == [("calcium_ionized", 1.15, "mmol/L"), ("creatinine", 124.0, "umol/L")]
