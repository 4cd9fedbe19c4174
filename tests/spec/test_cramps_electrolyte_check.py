"""Spec: cramps_electrolyte_check, as of 2026-11-20 (cramp window starts 2025-11-20).

Most cramps are on 2026-06-01, whose electrolyte window is 2026-03-03 to 2026-07-01.
"""

from __future__ import annotations

import json
from datetime import date

from tests.helpers import findings, run_pipeline, table

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
