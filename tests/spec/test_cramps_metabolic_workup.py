"""Spec: cramps_metabolic_workup, as of 2026-11-20 (cramp and work-up windows start 2025-11-20)."""

from __future__ import annotations

from datetime import date
from functools import partial

from tests.helpers import table
from tests.spec.harness import OUT, check_spec

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

TABLES = {"diagnoses": DIAGNOSES, "labs": LABS}

EXPECTED = {
    "W01": None,  # complete work-up
    "W02": "high",  # SNOMED-CT, no labs at all
    "W03": "normal",  # no thyroid test
    "W04": None,  # TSH exactly 365 days before as-of counts
    "W05": "normal",  # TSH 366 days before as-of is too old
    "W06": None,  # the smallest complete work-up
    "W07": None,  # albumin as the liver test, tests recognised by name
    "W08": "normal",  # ICD-9-CM cramp, no kidney test
    "W09": "normal",  # code without the dot; glucose without a value is not a result
    "W10": "high",  # a complete work-up after as-of does not count
    "W11": OUT,  # cramp 366 days before as-of
    "W12": "normal",  # only a glucose
    "W13": None,  # cramp exactly 365 days before as-of, work-up complete
}
spec = partial(check_spec, check=CHECK, as_of=AS_OF, tables=TABLES, expected=EXPECTED)


def test_flags_exactly_the_expected_patients(tmp_path):
    spec(tmp_path)


def test_reason_lists_every_missing_group(tmp_path):
    run = spec(
        tmp_path,
        reason={
            "W02": "muscle cramps recorded 2026-06-01 with no thyroid (TSH), kidney (creatinine or eGFR), "
            "liver (ALT, AST, bilirubin or albumin), glucose or HbA1c result in the 365 days to 2026-11-20"
        },
        evidence={
            "W03": {"missing_groups": "thyroid (TSH)"},
            "W05": {"last_tsh_at": "2025-11-19"},
            "W08": {"missing_groups": "kidney (creatinine or eGFR)"},
            "W09": {"missing_groups": "glucose or HbA1c"},
        },
    )
    assert "glucose" not in run.evidence("W12")["missing_groups"]
