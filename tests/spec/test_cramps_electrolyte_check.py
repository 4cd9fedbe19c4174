"""Spec: cramps_electrolyte_check, as of 2026-11-20 (cramp window starts 2025-11-20).

Most cramps are on 2026-06-01, whose electrolyte window is 2026-03-03 to 2026-07-01.
"""

from __future__ import annotations

from datetime import date
from functools import partial

import duckdb
import pytest

from checks.evaluate import SQL_DIR
from tests.helpers import table
from tests.spec.harness import OUT, check_spec

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

TABLES = {"diagnoses": DIAGNOSES, "labs": LABS}

EXPECTED = {
    "E01": None,  # a full panel a month before the cramp
    "E02": "normal",  # SNOMED-CT cramp, no labs at all
    "E03": None,  # panel exactly 90 days before the cramp
    "E04": "normal",  # panel 91 days before: too early
    "E05": None,  # panel exactly 30 days after
    "E06": "normal",  # panel 31 days after: too late
    "E07": "normal",  # ICD-9-CM cramp, no magnesium
    "E08": "high",  # code without the dot; low magnesium 0.62
    "E09": None,  # magnesium exactly 0.70 is not low
    "E10": "high",  # total calcium 8.0 mg/dL = 2.00 mmol/L: low
    "E11": None,  # conventional units, all normal
    "E12": None,  # ionised calcium 1.20 counts as the calcium test
    "E13": "high",  # ionised calcium 1.05: low
    "E14": "normal",  # urine potassium is not a blood potassium
    "E15": "normal",  # two cramps: the second has no tests
    "E16": "normal",  # panel the day after as-of
    "E17": None,  # panel on as-of
    "E18": "normal",  # a magnesium without a value
    "E19": "high",  # low potassium, later normal: still flagged
    "E21": OUT,  # cramp 366 days before as-of
    "E22": "normal",  # cramp exactly 365 days before as-of, no labs
}
spec = partial(check_spec, check=CHECK, as_of=AS_OF, tables=TABLES, expected=EXPECTED)


def test_flags_exactly_the_expected_patients(tmp_path):
    spec(tmp_path)


def test_reason_says_which_test_is_missing_or_low(tmp_path):
    run = spec(
        tmp_path,
        reason={
            "E02": "...cramp 2026-06-01: no potassium, calcium, magnesium",
            "E07": "...cramp 2026-06-01: no magnesium",
            "E08": "...cramp 2026-06-01: low magnesium 0.62 on 2026-05-01",
            "E10": "...low calcium 2.0 on 2026-05-01...",
            "E13": "...low ionised calcium 1.05...",
            "E15": "...cramp 2026-09-01: no potassium, calcium, magnesium",
        },
        evidence={"E19": {"last_potassium": "4.2", "problems": "cramp 2026-06-01: low potassium 3.3..."}},
    )
    assert "2025-12-01" not in run.by_id["E15"]["reason"]


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
    # both cramps are seen; C01's calcium counts, so nothing is missing
    check_spec(
        tmp_path,
        CHECK,
        AS_OF,
        {"diagnoses": CODELIST_DIAGNOSES, "labs": CODELIST_LABS},
        {"C01": None, "C02": "high"},
        reason={"C02": "...low calcium 1.9..."},
    )


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
CALCIUM_TABLES = {"diagnoses": CALCIUM_DIAGNOSES, "labs": CALCIUM_LABS}
CALCIUM_EXPECTED = {
    "A01": None,  # corrected 2.25
    "A02": "high",  # total 2.05, no albumin
    "A03": None,  # corrected exactly 2.10
    "A04": "high",  # corrected 2.09
    "A05": "high",  # albumin the next day: total judged alone
    "A06": None,  # a normal ionised outranks a low total
    "A07": "high",  # a low ionised outranks a normal reported corrected
    "A08": "high",  # the laboratory's corrected outranks a computed one
    "A09": None,  # US units, corrected 2.30
    "A10": "high",  # censored total '<1.80': corrected '<1.8'
    "A11": None,  # albumin '<20': corrected is a lower bound
    "A12": "high",  # both censored: the total is judged
    "A13": "high",  # a low total on another day than the normal ionised
    "A14": None,  # reported adjusted calcium exactly at its limit
    "A15": "high",  # the albumin nearest in time corrects the calcium
    "A16": "normal",  # an albumin without a calcium: no calcium
}
calcium_spec = partial(check_spec, check=CHECK, as_of=AS_OF, tables=CALCIUM_TABLES, expected=CALCIUM_EXPECTED)


def test_calcium_is_judged_ionised_else_corrected_else_total(tmp_path):
    calcium_spec(
        tmp_path,
        reason={
            "A02": "...low calcium 2.05 on 2026-05-01",
            "A04": "...low corrected calcium 2.09 (total 2.19, albumin 45.0) on 2026-05-01...",
            "A05": "...low calcium 2.05...",
            "A07": "...low ionised calcium 1.1 on...",
            "A08": "...low corrected calcium 2.05 on...",
            "A10": "...low corrected calcium <1.8 (total <1.8, albumin 40.0)...",
            "A12": "...low calcium <2.0 on...",
            "A13": "...low calcium 2.0 on 2026-04-01...",
            "A15": "...(total 2.05, albumin 38.0)...",
            "A16": "...cramp 2026-06-01: no calcium",
        },
        evidence={"A04": {"last_calcium": "corrected calcium 2.09 (total 2.19, albumin 45.0)"}},
    )


def test_each_calcium_form_has_its_own_threshold(tmp_path):
    # UK laboratories quote 2.20 for adjusted calcium: A01 (2.25) stays normal, A03 (2.10) and A14
    # (2.10 reported) become low, A09 (2.30) does not; totals without albumin keep calcium_low.
    expected = {**CALCIUM_EXPECTED, "A03": True, "A14": True}
    reason = {"A03": "...low corrected calcium 2.1 (total 2.2, albumin 45.0)..."}
    check_spec(
        tmp_path, CHECK, AS_OF, CALCIUM_TABLES, expected, {"corrected_calcium_low": 2.20}, reason=reason
    )


def test_albumin_reference_is_a_parameter(tmp_path):
    # with a 44 g/L reference, A01 becomes 2.05 + 0.02 x 14 = 2.33 (normal) and A03 2.18 (normal);
    # A04 2.19 + 0.02 x (-1) = 2.17: no longer low
    expected = {**CALCIUM_EXPECTED, "A04": None, "A15": None}
    calcium_spec(tmp_path, expected=expected, params={"albumin_reference": 44})


@pytest.mark.parametrize("order", [1, -1], ids=["as_written", "reversed"])
def test_two_totals_at_one_time_show_the_lower_whatever_the_row_order(tmp_path, order):
    # Two total calciums of one draw (2.2949, 2.2951) with one albumin (39.95 g/L) both correct to
    # 2.30, so the latest result's key ties; the evidence shows the lower total, as every tie here
    # leans low, in either file order (it followed the order: #21 outcome 5, evidence deterministic).
    draw = [
        "T01 | 2026-05-01T08:00 | 2000-8 | | 2.2949 | mmol/L",
        "T01 | 2026-05-01T08:00 | 2000-8 | | 2.2951 | mmol/L",
        "T01 | 2026-05-01T08:00 | 1751-7 | | 39.95  | g/L",
    ][::order]
    labs = table(
        "patient_id | collected_at | loinc_code | test_name | value | unit\n"
        + "\n".join([panel("T01", "2026-05-01", k="3.0", omit="ca"), *draw])
    )
    diagnoses = table(
        "patient_id | code | code_system | recorded_at | resolved_at\nT01 | R25.2 | ICD-10-CM | 2026-06-01 |"
    )
    check_spec(
        tmp_path,
        CHECK,
        AS_OF,
        {"diagnoses": diagnoses, "labs": labs},
        {"T01": "high"},  # the low potassium flags it; the calcium is evidence
        evidence={"T01": {"last_calcium": "corrected calcium 2.3 (total 2.29, albumin 39.95)"}},
    )


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
        con.execute((SQL_DIR / "_results.sql").read_text(encoding="utf-8"))
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
        con.execute((SQL_DIR / "_results.sql").read_text(encoding="utf-8"))
        (got,) = con.execute(
            "SELECT albumin_corrected_calcium($t, $a, 40.0, 0.02)", {"t": total, "a": albumin}
        ).fetchone()
    assert got == pytest.approx(expected)


# Review 2026-11 round 2: electrolytes under the names laboratories export them ("X level", "serum X level",
# "X (abbreviation)", Mayo's "X, S", the ionised "Ca++"). Each patient has the other two electrolytes
# by LOINC and this one by its name only; before these names were listed each was a false "no ...".
# Urine calcium and red-cell magnesium are other measurements: still no blood calcium or magnesium.
NAMED_ELECTROLYTES = {
    "L01": ("k", "Serum potassium level", "4.2"),
    "L02": ("k", "Potassium (K+)", "4.2"),
    "L03": ("k", "K+ (Potassium)", "4.2"),
    "L04": ("k", "Potassium, S", "4.2"),
    "L05": ("ca", "Calcium Level", "2.35"),
    "L06": ("ca", "Serum calcium level", "2.35"),
    "L07": ("ca", "Calcium (Ca)", "2.35"),
    "L08": ("ca", "Calcium, S", "2.35"),
    "L09": ("ca", "Calcium (total)", "2.35"),
    "L10": ("ca", "Total Calcium, Serum", "2.35"),
    "L11": ("ca", "Calcium Corrected for Albumin", "2.35"),
    "L12": ("ca", "Albumin adjusted calcium", "2.35"),
    "L13": ("ca", "Serum adjusted calcium concentration", "2.35"),
    "L14": ("ca", "Ionized Ca", "1.20"),
    "L15": ("ca", "Ca++", "1.20"),
    "L16": ("ca", "Ionised calcium (pH 7.4)", "1.20"),
    "L17": ("ca", "Calcium, Ionized, Serum", "1.20"),
    "L18": ("mg", "Serum magnesium level", "0.85"),
    "L19": ("mg", "Magnesium (Mg)", "0.85"),
    "L20": ("mg", "Magnesium, S", "0.85"),
    # a low ionised "Ca++" is judged as ionised, a low corrected one as corrected (not as totals)
    "L21": ("ca", "Ca++", "1.05"),
    "L22": ("ca", "Calcium Corrected for Albumin", "2.05"),
    "L23": ("ca", "Urine calcium", "2.35"),
    "L24": ("mg", "Magnesium, RBC", "2.10"),
}
NAMED_TABLES = {
    "diagnoses": table(
        "patient_id | code | code_system | recorded_at | resolved_at\n"
        + "\n".join(f"{p} | R25.2 | ICD-10-CM | 2026-06-01 |" for p in NAMED_ELECTROLYTES)
    ),
    "labs": table(
        "patient_id | collected_at | loinc_code | test_name | value | unit\n"
        + "\n".join(
            panel(p, "2026-05-01", omit=key) + f"\n{p} | 2026-05-01 | | {name} | {value} | mmol/L"
            for p, (key, name, value) in NAMED_ELECTROLYTES.items()
        )
    ),
}


def test_electrolytes_named_as_laboratories_export_them_count(tmp_path):
    expected = {p: None for p in NAMED_ELECTROLYTES} | {
        "L21": "high",
        "L22": "high",
        "L23": "normal",
        "L24": "normal",
    }
    reason = {
        "L21": "...low ionised calcium 1.05 on 2026-05-01...",
        "L22": "...low corrected calcium 2.05 on 2026-05-01...",
        "L23": "...cramp 2026-06-01: no calcium",
        "L24": "...cramp 2026-06-01: no magnesium",
    }
    check_spec(tmp_path, CHECK, AS_OF, NAMED_TABLES, expected, reason=reason)


# GP reviews 2026-12-03: ICD-10-CM M62.831 "Muscle spasm of calf" (inclusion term "charley-horse") is
# how US records often code a calf cramp; the other muscle spasm codes (back, other) are not cramps.
SPASM_DIAGNOSES = table("""
patient_id | code    | code_system | recorded_at | resolved_at
M01        | M62.831 | ICD-10-CM   | 2026-06-01  |
M02        | M62831  | ICD-10-CM   | 2026-06-01  |
M03        | M62.830 | ICD-10-CM   | 2026-06-01  |
M04        | M62.838 | ICD-10-CM   | 2026-06-01  |
""")


@pytest.mark.parametrize(
    "check", ["cramps_electrolyte_check", "cramps_metabolic_workup", "cramps_medication_review"]
)
def test_a_calf_muscle_spasm_is_a_cramp_and_a_back_spasm_is_not(tmp_path, check):
    expected = {"M01": True, "M02": True, "M03": OUT, "M04": OUT}
    if check == "cramps_medication_review":  # no drug to review: in the population, not flagged
        expected = {"M01": None, "M02": None, "M03": OUT, "M04": OUT}
    check_spec(tmp_path, check, AS_OF, {"diagnoses": SPASM_DIAGNOSES}, expected)
