"""Spec: a second clinical review of issue 15. Test names as UK practices export them, more LOINC
variants, UK brands of baclofen, albumin, statins and insulins, and what is not albumin or insulin.
As of 2026-11-20."""

from __future__ import annotations

from datetime import date

from tests.helpers import table
from tests.spec.harness import OUT, check_spec

AS_OF = date(2026, 11, 20)
WORKUP_NAMES = [
    ("Serum TSH", "2.1", "mU/L"),
    ("Capillary blood glucose", "5.4", "mmol/L"),
    ("HbA1c level - IFCC standardised", "41", "mmol/mol"),
    ("Serum creatinine level", "80", "umol/L"),
    ("Serum ALT level", "22", "U/L"),
    ("Serum vitamin B12 level", "350", "ng/L"),
]


def test_uk_test_names_and_loinc_variants_count_in_the_work_ups(tmp_path):
    # W1 had every test of both work-ups under names UK practices export; W2 under LOINC codes that
    # were missing (fasting glucose in mmol/L, AST without P-5'-P) beside listed TSH, eGFR and B12;
    # W3 had no tests at all.
    diagnoses = table(
        "patient_id | code | code_system | recorded_at | resolved_at\n"
        + "\n".join(
            f"{p} | {c} | ICD-10-CM | 2026-10-01 |" for p in ("W1", "W2", "W3") for c in ("R25.2", "R20.2")
        )
    )
    labs = table(
        "patient_id | collected_at | loinc_code | test_name | value | unit\n"
        + "\n".join(f"W1 | 2026-06-01 | | {n} | {v} | {u}" for n, v, u in WORKUP_NAMES)
        + "\nW2 | 2026-06-01 | 14771-0 | | 5.2 | mmol/L"
        + "\nW2 | 2026-06-01 | 88112-8 | | 25 | U/L"
        + "\nW2 | 2026-06-01 | 3016-3 | | 2.0 | mU/L"
        + "\nW2 | 2026-06-01 | 98980-6 | | 75 | mL/min/1.73m2"
        + "\nW2 | 2026-06-01 | 2132-9 | | 350 | pg/mL"
    )
    for check in ("cramps_metabolic_workup", "numbness_neuropathy_workup"):
        expected = {"W1": None, "W2": None, "W3": True}
        check_spec(tmp_path, check, AS_OF, {"diagnoses": diagnoses, "labs": labs}, expected)


def test_uk_brands_and_what_is_not_albumin_or_insulin(tmp_path):
    diagnoses = table(
        "patient_id | code | code_system | recorded_at | resolved_at\n"
        + "\n".join(f"{p} | {c} | ICD-10-CM | {d} |" for p in ("C1", "C2", "C3")
                    for c, d in (("K74.60", "2025-01-01"), ("R25.2", "2026-10-01")))
    )  # fmt: skip
    prescriptions = table("""
    patient_id | drug_name                                           | rxnorm_code | atc_code | start_date | end_date   | days_supply
    C1         | Lyflex 5mg/5ml oral solution                        |             |          | 2026-09-01 |            |
    C2         | Albunorm 20% solution for infusion                  |             |          | 2026-09-01 | 2026-09-02 |
    C3         | Paclitaxel albumin-bound 100mg powder (Abraxane)    |             |          | 2026-09-01 | 2026-09-05 |
    """)
    evidence = {
        "C1": {"baclofen_prescribed": True},
        "C2": {"albumin_prescribed": True},
        "C3": {"albumin_prescribed": False},  # chemotherapy, not albumin
    }
    tables = {"diagnoses": diagnoses, "prescriptions": prescriptions}
    expected = {"C1": True, "C2": True, "C3": True}
    check_spec(tmp_path, "cramps_cirrhosis", AS_OF, tables, expected, evidence=evidence)


def test_uk_insulin_and_statin_brands_and_insulin_devices(tmp_path):
    prescriptions = table("""
    patient_id | drug_name                       | rxnorm_code | atc_code | start_date | end_date | days_supply
    I1         | Kirsty 100units/ml FlexPen      |             |          | 2026-01-01 |          |
    I2         | Truvelog Mix 30 SoloStar        |             |          | 2026-01-01 |          |
    I3         | Insulin pump                    |             |          | 2026-01-01 |          |
    M1         | Atozet 10mg/20mg tablets        |             |          | 2026-01-01 |          |
    """)
    labs = table(
        "patient_id | collected_at | loinc_code | test_name | value | unit\n"
        + "\n".join(f"{p} | 2026-10-01 | 2823-3 | | 3.2 | mmol/L" for p in ("I1", "I2", "I3"))
    )
    diagnoses = table("""
    patient_id | code  | code_system | recorded_at | resolved_at
    M1         | R25.2 | ICD-10-CM   | 2026-10-01  |
    """)
    tables = {"prescriptions": prescriptions, "labs": labs, "diagnoses": diagnoses}
    check_spec(tmp_path, "insulin_potassium_drop", AS_OF, tables, {"I1": True, "I2": True, "I3": OUT})
    check_spec(tmp_path, "cramps_medication_review", AS_OF, tables, {"M1": True})
