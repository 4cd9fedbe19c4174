"""Spec: every check's `due_on` (#20 review 6), as of 2026-11-20: the day its flagging condition
began to be unmet, so the call list ranks flags of every check by how overdue they are. The three
checks with a due date before (diuretic monitoring and the two work-ups) are in test_due_dates.py."""

from __future__ import annotations

from datetime import date

from tests.helpers import table
from tests.spec.harness import check_spec

AS_OF = date(2026, 11, 20)


def due(**by_patient: str) -> dict[str, dict[str, str]]:
    return {p: {"due_on": d} for p, d in by_patient.items()}


def test_cramps_cirrhosis_is_due_when_a_cramp_of_the_lookback_and_cirrhosis_first_coexist(tmp_path):
    diagnoses = table("""
    patient_id | code   | code_system | recorded_at | resolved_at
    # cramps 2026-01-10 and 2026-06-01, cirrhosis coded later: due from the cirrhosis
    Z1         | R25.2  | ICD-10-CM   | 2026-01-10  |
    Z1         | K70.30 | ICD-10-CM   | 2026-03-01  |
    Z1         | R25.2  | ICD-10-CM   | 2026-06-01  |
    # long-standing cirrhosis: due from the first cramp in the lookback
    Z2         | K70.30 | ICD-10-CM   | 2024-01-01  |
    Z2         | R25.2  | ICD-10-CM   | 2026-06-01  |
    """)
    evidence = due(Z1="2026-03-01", Z2="2026-06-01")
    check_spec(
        tmp_path,
        "cramps_cirrhosis",
        AS_OF,
        {"diagnoses": diagnoses},
        {"Z1": True, "Z2": True},
        evidence=evidence,
    )


def test_cramps_medication_review_is_due_from_the_first_cramp_on_the_drug(tmp_path):
    tables = {
        "diagnoses": table("""
        patient_id | code  | code_system | recorded_at | resolved_at
        # the January cramp came before the statin: not one to review it for
        M1         | R25.2 | ICD-10-CM   | 2026-01-10  |
        M1         | R25.2 | ICD-10-CM   | 2026-04-01  |
        M1         | R25.2 | ICD-10-CM   | 2026-07-01  |
        """),
        "prescriptions": table("""
        patient_id | drug_name         | rxnorm_code | atc_code | start_date | end_date | days_supply
        M1         | simvastatin 40 mg | 36567       | C10AA01  | 2026-03-01 |          |
        """),
    }
    check_spec(
        tmp_path, "cramps_medication_review", AS_OF, tables, {"M1": True}, evidence=due(M1="2026-04-01")
    )


def test_nsaid_in_ckd_is_due_when_the_nsaid_and_the_kidney_disease_first_coexist(tmp_path):
    tables = {
        "prescriptions": table("""
        patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date | days_supply
        K1         | ibuprofen 400 mg tablet | 5640        | M01AE01  | 2026-09-01 |          |
        K2         | ibuprofen 400 mg tablet | 5640        | M01AE01  | 2026-09-01 |          |
        K3         | naproxen 500 mg tablet  | 7258        | M01AE02  | 2026-09-01 |          |
        """),
        "diagnoses": table("""
        patient_id | code  | code_system | recorded_at | resolved_at
        # CKD coded after the NSAID started: due from the code
        K1         | N18.3 | ICD-10-CM   | 2026-10-01  |
        # CKD known before: due from the NSAID's start
        K2         | N18.3 | ICD-10-CM   | 2025-01-01  |
        """),
        "labs": table("""
        patient_id | collected_at        | value | loinc_code | test_name | unit
        # no CKD code, a low eGFR: due from the result
        K3         | 2026-10-15T09:00:00 | 48    | 33914-3    | eGFR      | mL/min/1.73m2
        """),
    }
    evidence = due(K1="2026-10-01", K2="2026-09-01", K3="2026-10-15")
    check_spec(
        tmp_path,
        "nsaid_kidney_disease",
        AS_OF,
        tables,
        {"K1": True, "K2": True, "K3": True},
        evidence=evidence,
    )


def test_cramps_electrolyte_check_is_due_at_the_end_of_the_cramps_window(tmp_path):
    diagnoses = table("""
    patient_id | code  | code_system | recorded_at | resolved_at
    # no electrolytes: due 30 days after the cramp (days_after)
    E1         | R25.2 | ICD-10-CM   | 2026-06-01  |
    # a recent cramp: due in 20 days
    E2         | R25.2 | ICD-10-CM   | 2026-11-10  |
    """)
    evidence = due(E1="2026-07-01", E2="2026-12-10")
    check_spec(
        tmp_path,
        "cramps_electrolyte_check",
        AS_OF,
        {"diagnoses": diagnoses},
        {"E1": True, "E2": True},
        evidence=evidence,
    )


def test_insulin_potassium_drop_is_due_from_the_first_low_or_fall(tmp_path):
    tables = {
        "prescriptions": table("""
        patient_id | drug_name                         | rxnorm_code | atc_code | start_date | end_date | days_supply
        I1         | insulin glargine 100 units/mL pen | 274783      | A10AE04  | 2025-01-01 |          |
        """),
        "labs": table("""
        patient_id | collected_at        | value | loinc_code | test_name | unit
        I1         | 2026-09-01T09:00:00 | 4.5   | 2823-3     | Potassium | mmol/L
        I1         | 2026-10-01T09:00:00 | 3.2   | 2823-3     | Potassium | mmol/L
        I1         | 2026-11-01T09:00:00 | 3.3   | 2823-3     | Potassium | mmol/L
        """),
    }
    check_spec(tmp_path, "insulin_potassium_drop", AS_OF, tables, {"I1": True}, evidence=due(I1="2026-10-01"))


def test_refractory_pain_is_due_from_the_third_trial_with_the_indication(tmp_path):
    tables = {
        "prescriptions": table("""
        patient_id | drug_name                  | rxnorm_code | atc_code | start_date | end_date   | days_supply
        R1         | gabapentin 300 mg capsule  | 25480       | N02BF01  | 2025-01-01 | 2025-06-01 |
        R1         | duloxetine 60 mg capsule   | 72625       | N06AX21  | 2025-07-01 | 2026-01-01 |
        R1         | amitriptyline 10 mg tablet | 704         | N06AA09  | 2026-02-01 |            |
        R2         | gabapentin 300 mg capsule  | 25480       | N02BF01  | 2025-01-01 | 2025-06-01 |
        R2         | duloxetine 60 mg capsule   | 72625       | N06AX21  | 2025-07-01 | 2026-01-01 |
        R2         | amitriptyline 10 mg tablet | 704         | N06AA09  | 2026-02-01 |            |
        """),
        "diagnoses": table("""
        patient_id | code   | code_system | recorded_at | resolved_at
        # indication known before the third trial: due from the third start
        R1         | B02.22 | ICD-10-CM   | 2025-03-01  |
        # indication recorded after it: due from the indication
        R2         | B02.22 | ICD-10-CM   | 2026-05-01  |
        """),
    }
    evidence = due(R1="2026-02-01", R2="2026-05-01")
    check_spec(
        tmp_path, "refractory_neuropathic_pain", AS_OF, tables, {"R1": True, "R2": True}, evidence=evidence
    )


def test_elderly_numbness_fall_risk_is_due_when_age_numbness_and_drug_first_coexist(tmp_path):
    tables = {
        "patients": table("""
        patient_id | birth_date | sex
        F1         | 1950-01-01 | F
        # 65 on 2026-06-01, numb and on diazepam long before: due from the birthday
        F2         | 1961-06-01 | M
        """),
        "diagnoses": table("""
        patient_id | code   | code_system | recorded_at | resolved_at
        F1         | G57.91 | ICD-10-CM   | 2026-02-01  |
        F2         | G57.91 | ICD-10-CM   | 2025-01-01  |
        """),
        "prescriptions": table("""
        patient_id | drug_name            | rxnorm_code | atc_code | start_date | end_date | days_supply
        # started after the numbness: due from the drug
        F1         | diazepam 5 mg tablet | 3322        | N05BA01  | 2026-05-01 |          |
        F2         | diazepam 5 mg tablet | 3322        | N05BA01  | 2020-01-01 |          |
        """),
    }
    evidence = due(F1="2026-05-01", F2="2026-06-01")
    check_spec(
        tmp_path, "elderly_numbness_fall_risk", AS_OF, tables, {"F1": True, "F2": True}, evidence=evidence
    )
