"""Spec: cramps_metabolic_workup, as of 2026-11-20 (cramp and work-up windows start 2025-11-20)."""

from __future__ import annotations

import json
from datetime import date

from tests.helpers import findings, run_pipeline, table

AS_OF = date(2026, 11, 20)
CHECK = "cramps_metabolic_workup"

DIAGNOSES = table("""
patient_id | code     | code_system | recorded_at | resolved_at
W01        | R25.2    | ICD-10-CM   | 2026-06-01  |
# SNOMED-CT, no labs at all: high priority
W02        | 55300003 | SNOMED-CT   | 2026-06-01  |
W03        | R25.2    | ICD-10-CM   | 2026-06-01  |
W04        | R25.2    | ICD-10-CM   | 2026-06-01  |
W05        | R25.2    | ICD-10-CM   | 2026-06-01  |
W06        | R25.2    | ICD-10-CM   | 2026-06-01  |
W07        | R25.2    | ICD-10-CM   | 2026-06-01  |
# ICD-9-CM
W08        | 729.82   | ICD-9-CM    | 2026-06-01  |
# code without the dot
W09        | R252     | ICD-10-CM   | 2026-06-01  |
W10        | R25.2    | ICD-10-CM   | 2026-06-01  |
# cramp 366 days before as-of: not in the population
W11        | R25.2    | ICD-10-CM   | 2025-11-19  |
W12        | R25.2    | ICD-10-CM   | 2026-06-01  |
# cramp exactly 365 days before as-of: in the population, work-up complete
W13        | R25.2    | ICD-10-CM   | 2025-11-20  |
""")

LABS = table("""
patient_id | collected_at | loinc_code | test_name | value | unit
W01        | 2026-05-01   | 3016-3     |           | 2.1   | mIU/L
W01        | 2026-05-01   | 2160-0     |           | 80    | umol/L
W01        | 2026-05-01   | 1742-6     |           | 25    | U/L
W01        | 2026-05-01   | 2345-7     |           | 5.2   | mmol/L
# no thyroid test
W03        | 2026-05-01   | 2160-0     |           | 80    | umol/L
W03        | 2026-05-01   | 1742-6     |           | 25    | U/L
W03        | 2026-05-01   | 2345-7     |           | 5.2   | mmol/L
# TSH exactly 365 days before as-of: counts
W04        | 2025-11-20   | 3016-3     |           | 2.1   | mIU/L
W04        | 2026-05-01   | 2160-0     |           | 80    | umol/L
W04        | 2026-05-01   | 1742-6     |           | 25    | U/L
W04        | 2026-05-01   | 2345-7     |           | 5.2   | mmol/L
# TSH 366 days before as-of: too old
W05        | 2025-11-19   | 3016-3     |           | 2.1   | mIU/L
W05        | 2026-05-01   | 2160-0     |           | 80    | umol/L
W05        | 2026-05-01   | 1742-6     |           | 25    | U/L
W05        | 2026-05-01   | 2345-7     |           | 5.2   | mmol/L
# the smallest complete work-up: eGFR, bilirubin, HbA1c, TSH
W06        | 2026-05-01   | 3016-3     |           | 2.1   | mIU/L
W06        | 2026-05-01   | 33914-3    |           | 75    | mL/min/1.73m2
W06        | 2026-05-01   | 1975-2     |           | 10    | umol/L
W06        | 2026-05-01   | 4548-4     |           | 6.1   | %
# albumin as the liver test, tests recognised by name only
W07        | 2026-05-01   |            | TSH       | 2.1   | mIU/L
W07        | 2026-05-01   |            | Creatinine | 80   | umol/L
W07        | 2026-05-01   | 1751-7     |           | 40    | g/L
W07        | 2026-05-01   |            | Glucose   | 5.2   | mmol/L
# no kidney test
W08        | 2026-05-01   | 3016-3     |           | 2.1   | mIU/L
W08        | 2026-05-01   | 1742-6     |           | 25    | U/L
W08        | 2026-05-01   | 2345-7     |           | 5.2   | mmol/L
# glucose without a numeric value is not a result
W09        | 2026-05-01   | 3016-3     |           | 2.1   | mIU/L
W09        | 2026-05-01   | 2160-0     |           | 80    | umol/L
W09        | 2026-05-01   | 1742-6     |           | 25    | U/L
W09        | 2026-05-01   | 2345-7     |           |       | mmol/L
# a complete work-up after as-of does not count
W10        | 2026-11-21   | 3016-3     |           | 2.1   | mIU/L
W10        | 2026-11-21   | 2160-0     |           | 80    | umol/L
W10        | 2026-11-21   | 1742-6     |           | 25    | U/L
W10        | 2026-11-21   | 2345-7     |           | 5.2   | mmol/L
# only a glucose: three groups missing, normal priority
W12        | 2026-05-01   | 2345-7     |           | 5.2   | mmol/L
W13        | 2026-05-01   | 3016-3     |           | 2.1   | mIU/L
W13        | 2026-05-01   | 2160-0     |           | 80    | umol/L
W13        | 2026-05-01   | 1742-6     |           | 25    | U/L
W13        | 2026-05-01   | 2345-7     |           | 5.2   | mmol/L
""")

EXPECTED = {"W02", "W03", "W05", "W08", "W09", "W10", "W12"}
POPULATION = EXPECTED | {"W01", "W04", "W06", "W07", "W13"}


def run(tmp_path):
    return run_pipeline(tmp_path, AS_OF, (CHECK,), diagnoses=DIAGNOSES, labs=LABS)


def test_flags_exactly_the_expected_patients(tmp_path):
    outcome = run(tmp_path)
    assert {f["patient_id"] for f in findings(tmp_path / "audit.duckdb")} == EXPECTED
    (result,) = outcome.checks
    assert (result.denominator, result.flagged) == (len(POPULATION), len(EXPECTED))


def test_reason_lists_every_missing_group(tmp_path):
    run(tmp_path)
    by_id = {f["patient_id"]: f for f in findings(tmp_path / "audit.duckdb")}
    assert by_id["W02"]["priority"] == "high"
    assert by_id["W02"]["reason"] == (
        "muscle cramps recorded 2026-06-01 with no thyroid (TSH), kidney (creatinine or eGFR), "
        "liver (ALT, AST, bilirubin or albumin), glucose or HbA1c result in the 365 days to 2026-11-20"
    )
    assert by_id["W12"]["priority"] == "normal"
    assert "glucose" not in json.loads(by_id["W12"]["evidence"])["missing_groups"]
    assert json.loads(by_id["W03"]["evidence"])["missing_groups"] == "thyroid (TSH)"
    assert json.loads(by_id["W05"]["evidence"])["last_tsh_at"] == "2025-11-19"
    assert json.loads(by_id["W08"]["evidence"])["missing_groups"] == "kidney (creatinine or eGFR)"
    assert json.loads(by_id["W09"]["evidence"])["missing_groups"] == "glucose or HbA1c"
