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


# Review 2026-11 round 2: each group's test under a name laboratories export ("X level", "X, S", "X, serum",
# "X (abbreviation)", "HbA1c - IFCC", "HbA1c%"). Each patient has the other three groups by LOINC and
# this group by its name only. Urine creatinine, bilirubin and glucose are not blood tests.
GROUP_LOINC = {
    "thyroid": "W99 | 2026-05-01 | 3016-3 | | 2.1 | mIU/L",
    "kidney": "W99 | 2026-05-01 | 2160-0 | | 80 | umol/L",
    "liver": "W99 | 2026-05-01 | 1742-6 | | 25 | U/L",
    "glucose": "W99 | 2026-05-01 | 4548-4 | | 5.6 | %",
}
NAMED_TESTS = {
    "M01": ("thyroid", "TSH (Thyroid Stimulating Hormone)", "2.1", "mIU/L"),
    "M02": ("thyroid", "Thyroid stimulating hormone level", "2.1", "mIU/L"),
    "M03": ("thyroid", "TSH, S", "2.1", "mIU/L"),
    "M04": ("kidney", "Creatinine level", "80", "umol/L"),
    "M05": ("kidney", "Creatinine, S", "80", "umol/L"),
    "M06": ("kidney", "Estimated GFR (eGFR)", "75", "mL/min/1.73m2"),
    "M07": ("liver", "ALT, serum", "25", "U/L"),
    "M08": ("liver", "AST level", "25", "U/L"),
    "M09": ("liver", "Bilirubin, total, serum", "10", "umol/L"),
    "M10": ("liver", "Albumin level", "40", "g/L"),
    "M11": ("glucose", "HbA1c - IFCC", "42", "mmol/mol"),
    "M12": ("glucose", "HbA1c%", "6.0", "%"),
    "M13": ("glucose", "Hemoglobin A1c (HbA1c)", "6.0", "%"),
    "M14": ("glucose", "Fasting blood glucose level", "5.2", "mmol/L"),
    "M15": ("glucose", "Glucose level", "5.2", "mmol/L"),
    "M16": ("kidney", "Creatinine, urine", "8000", "umol/L"),
    "M17": ("liver", "Bilirubin, urine", "0", "umol/L"),
    "M18": ("glucose", "Glucose, urine", "0", "mmol/L"),
}
NAMED_TABLES = {
    "diagnoses": table(
        "patient_id | code | code_system | recorded_at | resolved_at\n"
        + "\n".join(f"{p} | R25.2 | ICD-10-CM | 2026-06-01 |" for p in NAMED_TESTS)
    ),
    "labs": table(
        "patient_id | collected_at | loinc_code | test_name | value | unit\n"
        + "\n".join(
            "\n".join(row.replace("W99", p) for g, row in GROUP_LOINC.items() if g != group)
            + f"\n{p} | 2026-05-01 | | {name} | {value} | {unit}"
            for p, (group, name, value, unit) in NAMED_TESTS.items()
        )
    ),
}


def test_work_up_tests_named_as_laboratories_export_them_count(tmp_path):
    expected = {p: None for p in NAMED_TESTS} | {"M16": "normal", "M17": "normal", "M18": "normal"}
    evidence = {
        "M16": {"missing_groups": "kidney (creatinine or eGFR)"},
        "M17": {"missing_groups": "liver (ALT, AST, bilirubin or albumin)"},
        "M18": {"missing_groups": "glucose or HbA1c"},
    }
    check_spec(tmp_path, CHECK, AS_OF, NAMED_TABLES, expected, evidence=evidence)
