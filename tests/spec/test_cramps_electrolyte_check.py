"""Spec: cramps_electrolyte_check, as of 2026-11-20 (cramp window starts 2025-11-20).

Most cramps are on 2026-06-01, whose electrolyte window is 2026-03-03 to 2026-07-01.
"""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pytest

from checks.evaluate import SQL_DIR
from tests.helpers import findings, findings_by_patient, run_pipeline, table

AS_OF = date(2026, 11, 20)
CHECK = "cramps_electrolyte_check"

DIAGNOSES = table("""
patient_id | code     | code_system | recorded_at | resolved_at
E01        | R25.2    | ICD-10-CM   | 2026-06-01  |
# SNOMED-CT, no labs at all
E02        | 55300003 | SNOMED-CT   | 2026-06-01  |
E03        | R25.2    | ICD-10-CM   | 2026-06-01  |
E04        | R25.2    | ICD-10-CM   | 2026-06-01  |
E05        | R25.2    | ICD-10-CM   | 2026-06-01  |
E06        | R25.2    | ICD-10-CM   | 2026-06-01  |
# ICD-9-CM
E07        | 729.82   | ICD-9-CM    | 2026-06-01  |
# code without the dot
E08        | R252     | ICD-10-CM   | 2026-06-01  |
E09        | R25.2    | ICD-10-CM   | 2026-06-01  |
E10        | R25.2    | ICD-10-CM   | 2026-06-01  |
E11        | R25.2    | ICD-10-CM   | 2026-06-01  |
E12        | R25.2    | ICD-10-CM   | 2026-06-01  |
E13        | R25.2    | ICD-10-CM   | 2026-06-01  |
E14        | R25.2    | ICD-10-CM   | 2026-06-01  |
# two cramps: the first well checked, the second not
E15        | R25.2    | ICD-10-CM   | 2025-12-01  |
E15        | R25.2    | ICD-10-CM   | 2026-09-01  |
# cramp 10 days before as-of: its window ends on as-of
E16        | R25.2    | ICD-10-CM   | 2026-11-10  |
E17        | R25.2    | ICD-10-CM   | 2026-11-10  |
E18        | R25.2    | ICD-10-CM   | 2026-06-01  |
E19        | R25.2    | ICD-10-CM   | 2026-06-01  |
# cramp 366 days before as-of: not in the population
E21        | R25.2    | ICD-10-CM   | 2025-11-19  |
# cramp exactly 365 days before as-of, no labs: flagged
E22        | R25.2    | ICD-10-CM   | 2025-11-20  |
""")


def panel(pid: str, day: str, k: str = "4.2", ca: str = "2.35", mg: str = "0.85", omit: str = "") -> str:
    """A potassium, calcium and magnesium in mmol/L on one day, as table rows (omit: 'k', 'ca', 'mg')."""
    rows = {"k": ("2823-3", k), "ca": ("2000-8", ca), "mg": ("2601-3", mg)}
    return "\n".join(
        f"{pid} | {day} | {loinc} | | {value} | mmol/L"
        for key, (loinc, value) in rows.items()
        if key not in omit
    )


LABS = table(
    "patient_id | collected_at | loinc_code | test_name | value | unit\n"
    + "\n".join(
        [
            panel("E01", "2026-05-01"),
            panel("E03", "2026-03-03"),  # exactly 90 days before the cramp: counts
            panel("E04", "2026-03-02"),  # 91 days before: too early
            panel("E05", "2026-07-01"),  # exactly 30 days after: counts
            panel("E06", "2026-07-02"),  # 31 days after: too late
            panel("E07", "2026-05-01", omit="mg"),
            panel("E08", "2026-05-01", mg="0.62"),  # low magnesium: high priority
            panel("E09", "2026-05-01", mg="0.70"),  # exactly 0.70 is not low
            panel("E12", "2026-05-01", omit="ca"),
            panel("E13", "2026-05-01", omit="ca"),
            panel("E14", "2026-05-01", omit="k"),
            panel("E15", "2025-11-15"),
            panel("E16", "2026-11-21"),  # after as-of
            panel("E17", "2026-11-20"),  # on as-of
            panel("E18", "2026-05-01", omit="mg"),
            panel("E19", "2026-04-01", k="3.3"),  # low, later normal: still flagged
            panel("E19", "2026-05-01"),
        ]
    )
    + """
# total calcium 8.0 mg/dL = 2.00 mmol/L: low
E10 | 2026-05-01 | 2823-3  |                 | 4.2  | mmol/L
E10 | 2026-05-01 | 17861-6 |                 | 8.0  | mg/dL
E10 | 2026-05-01 | 2601-3  |                 | 0.85 | mmol/L
# conventional units, all normal: K 4.1 mEq/L, Mg 1.8 mg/dL = 0.74, Ca 9.0 mg/dL = 2.25
E11 | 2026-05-01 | 2823-3  |                 | 4.1  | mEq/L
E11 | 2026-05-01 | 17861-6 |                 | 9.0  | mg/dL
E11 | 2026-05-01 | 19123-9 |                 | 1.8  | mg/dL
# ionised calcium counts as a calcium test, with its own limit
E12 | 2026-05-01 | 1994-3  |                 | 1.20 | mmol/L
E13 | 2026-05-01 | 1994-3  |                 | 1.05 | mmol/L
# urine potassium is not a blood potassium
E14 | 2026-05-01 | 2828-2  |                 | 3.0  | mmol/L
# a magnesium without a numeric value is not a result
E18 | 2026-05-01 | 2601-3  |                 |      | mmol/L
"""
)

EXPECTED = {"E02", "E04", "E06", "E07", "E08", "E10", "E13", "E14", "E15", "E16", "E18", "E19", "E22"}
POPULATION = EXPECTED | {"E01", "E03", "E05", "E09", "E11", "E12", "E17"}


def run(tmp_path):
    return run_pipeline(tmp_path, AS_OF, (CHECK,), diagnoses=DIAGNOSES, labs=LABS)


def test_flags_exactly_the_expected_patients(tmp_path):
    outcome = run(tmp_path)
    assert {f["patient_id"] for f in findings(tmp_path / "audit.duckdb")} == EXPECTED
    (result,) = outcome.checks
    assert (result.denominator, result.flagged) == (len(POPULATION), len(EXPECTED))


def test_reason_says_which_test_is_missing_or_low(tmp_path):
    run(tmp_path)
    by_id = {f["patient_id"]: f for f in findings(tmp_path / "audit.duckdb")}
    assert by_id["E02"]["reason"].endswith("cramp 2026-06-01: no potassium, calcium, magnesium")
    assert by_id["E02"]["priority"] == "normal"
    assert by_id["E07"]["reason"].endswith("cramp 2026-06-01: no magnesium")
    assert by_id["E08"]["reason"].endswith("cramp 2026-06-01: low magnesium 0.62 on 2026-05-01")
    assert by_id["E08"]["priority"] == "high"
    assert "low calcium 2.0 on 2026-05-01" in by_id["E10"]["reason"]
    assert "low ionised calcium 1.05" in by_id["E13"]["reason"]
    assert by_id["E15"]["reason"].endswith("cramp 2026-09-01: no potassium, calcium, magnesium")
    assert "2025-12-01" not in by_id["E15"]["reason"]
    e19 = json.loads(by_id["E19"]["evidence"])
    assert e19["last_potassium"] == "4.2" and e19["problems"].startswith(
        "cramp 2026-06-01: low potassium 3.3"
    )


# Codes added to the codelists by issue 15: a cramp coded by its SNOMED CT subtype, and calcium
# by the whole-blood mass code 49765-1 in mg/dL (Synthea's calcium), beside the usual potassium
# and magnesium. 7.6 mg/dL is 1.90 mmol/L, below 2.10; 9.4 mg/dL is 2.35 mmol/L.
CODELIST_DIAGNOSES = table("""
patient_id | code      | code_system | recorded_at | resolved_at
C01        | 449918009 | SNOMED-CT   | 2026-06-01  |
C02        | 449918009 | SNOMED-CT   | 2026-06-01  |
""")

CODELIST_LABS = table("""
patient_id | collected_at | loinc_code | test_name                      | value | unit
C01        | 2026-05-01   | 49765-1    | Calcium [Mass/volume] in Blood | 9.4   | mg/dL
C01        | 2026-05-01   | 6298-4     |                                | 4.2   | mmol/L
C01        | 2026-05-01   | 19123-9    |                                | 2.1   | mg/dL
C02        | 2026-05-01   | 49765-1    | Calcium [Mass/volume] in Blood | 7.6   | mg/dL
C02        | 2026-05-01   | 6298-4     |                                | 4.2   | mmol/L
C02        | 2026-05-01   | 19123-9    |                                | 2.1   | mg/dL
""")


def test_snomed_cramp_subtype_and_calcium_in_blood_by_mass_are_seen(tmp_path):
    outcome = run_pipeline(tmp_path, AS_OF, (CHECK,), diagnoses=CODELIST_DIAGNOSES, labs=CODELIST_LABS)
    (result,) = outcome.checks
    assert result.denominator == 2  # both cramps are seen
    by_id = {f["patient_id"]: f for f in findings(tmp_path / "audit.duckdb")}
    assert set(by_id) == {"C02"}  # C01's calcium counts, so nothing is missing
    assert "low calcium 1.9" in by_id["C02"]["reason"]


# Issue 15: calcium judged as ionised, else albumin-corrected (reported, or computed from a same-day
# albumin: total + 0.02 x (40 - albumin g/L), Payne 1973), else total. Every patient has one cramp on
# 2026-06-01 and a normal potassium and magnesium on 2026-05-01; only the calcium differs.
CALCIUM_PATIENTS = [f"A{n:02d}" for n in range(1, 17)]
CALCIUM_DIAGNOSES = table(
    "patient_id | code | code_system | recorded_at | resolved_at\n"
    + "\n".join(f"{pid} | R25.2 | ICD-10-CM | 2026-06-01 |" for pid in CALCIUM_PATIENTS)
)
CALCIUM_LABS = table(
    "patient_id | collected_at | loinc_code | test_name | value | unit\n"
    + "\n".join(panel(pid, "2026-05-01", omit="ca") for pid in CALCIUM_PATIENTS)
    + """
# total 2.05 with a same-day albumin of 30 g/L: corrected 2.25, not low
A01 | 2026-05-01T08:00 | 2000-8  |                  | 2.05  | mmol/L
A01 | 2026-05-01T08:00 | 1751-7  |                  | 30    | g/L
# total 2.05 without an albumin: judged as total, low
A02 | 2026-05-01       | 2000-8  |                  | 2.05  | mmol/L
# corrected exactly 2.10 (2.20 + 0.02 x (40 - 45)): not low
A03 | 2026-05-01       | 2000-8  |                  | 2.20  | mmol/L
A03 | 2026-05-01       | 1751-7  |                  | 45    | g/L
# corrected 2.09 (2.19 - 0.10): low
A04 | 2026-05-01       | 2000-8  |                  | 2.19  | mmol/L
A04 | 2026-05-01       | 1751-7  |                  | 45    | g/L
# the albumin is from the next day: not the same day, the total is judged alone (low)
A05 | 2026-05-01       | 2000-8  |                  | 2.05  | mmol/L
A05 | 2026-05-02       | 1751-7  |                  | 30    | g/L
# an ionised calcium the same day outranks a low total: not low
A06 | 2026-05-01       | 1994-3  |                  | 1.20  | mmol/L
A06 | 2026-05-01       | 2000-8  |                  | 1.95  | mmol/L
# a low ionised calcium outranks a normal reported corrected calcium: low
A07 | 2026-05-01       | 34581-9 |                  | 1.10  | mmol/L
A07 | 2026-05-01       | 29265-6 |                  | 2.30  | mmol/L
# the laboratory's corrected calcium outranks one computed from the total and albumin: low
A08 | 2026-05-01       | 29265-6 |                  | 2.05  | mmol/L
A08 | 2026-05-01       | 2000-8  |                  | 2.30  | mmol/L
A08 | 2026-05-01       | 1751-7  |                  | 40    | g/L
# US units: total 8.0 mg/dL (2.00 mmol/L), albumin 2.5 g/dL (25 g/L): corrected 2.30, not low
A09 | 2026-05-01       | 17861-6 |                  | 8.0   | mg/dL
A09 | 2026-05-01       | 1751-7  |                  | 2.5   | g/dL
# a censored total '<1.80' with albumin 40: corrected '<1.8', low
A10 | 2026-05-01       | 2000-8  |                  | <1.80 | mmol/L
A10 | 2026-05-01       | 1751-7  |                  | 40    | g/L
# albumin '<20' makes the corrected value a lower bound ('>2.4'): not low
A11 | 2026-05-01       | 2000-8  |                  | 2.00  | mmol/L
A11 | 2026-05-01       | 1751-7  |                  | <20   | g/L
# total '<2.00' with albumin '<20': the corrected value is unknown, the total is judged: low
A12 | 2026-05-01       | 2000-8  |                  | <2.00 | mmol/L
A12 | 2026-05-01       | 1751-7  |                  | <20   | g/L
# a low total on one day (no albumin) and a normal ionised on another: both judged, the low counts
A13 | 2026-04-01       | 2000-8  |                  | 2.00  | mmol/L
A13 | 2026-05-01       | 1994-3  |                  | 1.20  | mmol/L
# reported corrected calcium by name, exactly at its limit: not low
A14 | 2026-05-01       |         | Adjusted calcium | 2.10  | mmol/L
# two albumins that day: the one nearest in time to the calcium (38, not 25) corrects it: 2.09, low
A15 | 2026-05-01T09:00 | 2000-8  |                  | 2.05  | mmol/L
A15 | 2026-05-01T08:30 | 1751-7  |                  | 38    | g/L
A15 | 2026-05-01T17:00 | 1751-7  |                  | 25    | g/L
# an albumin without a calcium is not a calcium test
A16 | 2026-05-01       | 1751-7  |                  | 30    | g/L
"""
)
CALCIUM_FLAGGED = {"A02", "A04", "A05", "A07", "A08", "A10", "A12", "A13", "A15", "A16"}


def run_calcium(tmp_path, params=None):
    outcome = run_pipeline(
        tmp_path, AS_OF, (CHECK,), {CHECK: params or {}}, diagnoses=CALCIUM_DIAGNOSES, labs=CALCIUM_LABS
    )
    return outcome, findings_by_patient(tmp_path / "audit.duckdb")


def test_calcium_is_judged_ionised_else_corrected_else_total(tmp_path):
    outcome, by_id = run_calcium(tmp_path)
    assert set(by_id) == CALCIUM_FLAGGED
    assert outcome.checks[0].denominator == len(CALCIUM_PATIENTS)
    assert by_id["A02"]["reason"].endswith("low calcium 2.05 on 2026-05-01")
    assert "low corrected calcium 2.09 (total 2.19, albumin 45.0) on 2026-05-01" in by_id["A04"]["reason"]
    assert "low calcium 2.05" in by_id["A05"]["reason"]
    assert "low ionised calcium 1.1 on" in by_id["A07"]["reason"]
    assert "low corrected calcium 2.05 on" in by_id["A08"]["reason"]
    assert "low corrected calcium <1.8 (total <1.8, albumin 40.0)" in by_id["A10"]["reason"]
    assert "low calcium <2.0 on" in by_id["A12"]["reason"]
    assert "low calcium 2.0 on 2026-04-01" in by_id["A13"]["reason"]
    assert "(total 2.05, albumin 38.0)" in by_id["A15"]["reason"]
    assert by_id["A16"]["reason"].endswith("cramp 2026-06-01: no calcium")
    assert {by_id[p]["priority"] for p in CALCIUM_FLAGGED - {"A16"}} == {"high"}
    evidence = json.loads(by_id["A04"]["evidence"])
    assert evidence["last_calcium"] == "corrected calcium 2.09 (total 2.19, albumin 45.0)"


def test_each_calcium_form_has_its_own_threshold(tmp_path):
    # UK laboratories quote 2.20 for adjusted calcium: A01 (2.25) stays normal, A03 (2.10) and A14
    # (2.10 reported) become low, A09 (2.30) does not; totals without albumin keep calcium_low.
    _, by_id = run_calcium(tmp_path, {"corrected_calcium_low": 2.20})
    assert set(by_id) == CALCIUM_FLAGGED | {"A03", "A14"}
    assert "low corrected calcium 2.1 (total 2.2, albumin 45.0)" in by_id["A03"]["reason"]


def test_albumin_reference_is_a_parameter(tmp_path):
    # with a 44 g/L reference, A01 becomes 2.05 + 0.02 x 14 = 2.33 (normal) and A03 2.18 (normal);
    # A04 2.19 + 0.02 x (-1) = 2.17: no longer low
    _, by_id = run_calcium(tmp_path, {"albumin_reference": 44})
    assert set(by_id) == CALCIUM_FLAGGED - {"A04", "A15"}


@pytest.mark.parametrize(
    ("total_cmp", "albumin_cmp", "expected"),
    [
        (None, None, None),
        ("<", None, "<"),
        ("<=", None, "<="),
        (None, "<", ">"),
        (None, "<=", ">="),
        (None, ">", "<"),
        (None, ">=", "<="),
        ("<", ">", "<"),
        ("<=", ">=", "<="),
        ("<=", ">", "<"),
        (">", "<", ">"),
        (">=", "<=", ">="),
        ("<", "<", "unknown"),
        (">", ">", "unknown"),
    ],
)
def test_corrected_comparator(total_cmp, albumin_cmp, expected):
    with duckdb.connect() as con:
        con.execute((SQL_DIR / "_vocabulary.sql").read_text(encoding="utf-8"))
        got = con.execute(
            "SELECT corrected_comparator($t, $a)", {"t": total_cmp, "a": albumin_cmp}
        ).fetchone()
    assert got == (expected,)


@pytest.mark.parametrize(
    ("total", "albumin", "expected"),
    [(2.05, 30.0, 2.25), (2.20, 45.0, 2.10), (2.19, 45.0, 2.09), (2.09, 40.0, 2.09), (1.996, 25.0, 2.30)],
)
def test_albumin_corrected_calcium_is_payne(total, albumin, expected):
    with duckdb.connect() as con:
        con.execute((SQL_DIR / "_vocabulary.sql").read_text(encoding="utf-8"))
        (got,) = con.execute(
            "SELECT albumin_corrected_calcium($t, $a, 40.0, 0.02)", {"t": total, "a": albumin}
        ).fetchone()
    assert got == pytest.approx(expected)
