"""Spec: codes added to close the issue 15 codelist gaps (see checks/codelists/SOURCES.md, "Issue 15,
round 3"). Each patient is coded only by a new code, so the check sees them only through it. As of
2026-11-20."""

from __future__ import annotations

from datetime import date

from tests.helpers import table
from tests.spec.harness import check_spec

AS_OF = date(2026, 11, 20)


def _cramps(*patients: str, code: str = "R25.2", system: str = "ICD-10-CM") -> str:
    """One cramp diagnosis on 2026-06-01 per patient, as a diagnoses table."""
    return table(
        "patient_id | code | code_system | recorded_at | resolved_at\n"
        + "\n".join(f"{p} | {code} | {system} | 2026-06-01 |" for p in patients)
    )


def test_cramp_in_limb_coded_in_snomed_enters_the_metabolic_workup_population(tmp_path):
    # G1 has no labs at all: every group is missing, so the cramp alone puts them in the population.
    diagnoses = _cramps("G1", code="424647005", system="SNOMED-CT")
    check_spec(tmp_path, "cramps_metabolic_workup", AS_OF, {"diagnoses": diagnoses}, {"G1": True})


def test_cramp_in_limb_coded_in_snomed_enters_the_electrolyte_check_population(tmp_path):
    diagnoses = _cramps("G2", code="424647005", system="SNOMED-CT")
    check_spec(tmp_path, "cramps_electrolyte_check", AS_OF, {"diagnoses": diagnoses}, {"G2": True})


def test_cramp_in_lower_leg_at_rest_coded_in_snomed_enters_the_metabolic_workup_population(tmp_path):
    # 102549009 "Cramp in lower leg associated with rest" (nocturnal or rest leg cramp); no labs at all.
    diagnoses = _cramps("G3", code="102549009", system="SNOMED-CT")
    check_spec(tmp_path, "cramps_metabolic_workup", AS_OF, {"diagnoses": diagnoses}, {"G3": True})


def test_statins_coded_only_by_ingredient_rxcui_or_uk_brand_are_seen(tmp_path):
    # Drug names that name no ingredient or brand the lists know, so only the RxCUI can match.
    prescriptions = table("""
    patient_id | drug_name                 | rxnorm_code | atc_code | start_date | end_date | days_supply
    S1         | Statin tablet (pharmacy)  | 6472        |          | 2025-01-01 |          |
    S2         | Statin capsule (pharmacy) | 41127       |          | 2025-01-01 |          |
    S3         | Statin tablet (pharmacy)  | 861634      |          | 2025-01-01 |          |
    S4         | Livazo 2mg tablets        |             |          | 2025-01-01 |          |
    # an unknown product code is not a statin
    S5         | Statin tablet (pharmacy)  | 999999      |          | 2025-01-01 |          |
    """)
    diagnoses = _cramps("S1", "S2", "S3", "S4", "S5")
    tables = {"diagnoses": diagnoses, "prescriptions": prescriptions}
    expected = {"S1": True, "S2": True, "S3": True, "S4": True, "S5": None}
    check_spec(tmp_path, "cramps_medication_review", AS_OF, tables, expected)


def test_beta_blockers_coded_only_by_ingredient_rxcui_are_seen(tmp_path):
    prescriptions = table("""
    patient_id | drug_name                | rxnorm_code | atc_code | start_date | end_date | days_supply
    B1         | Tablet (pharmacy)        | 31555       |          | 2025-01-01 |          |
    B2         | Tablet (pharmacy)        | 6185        |          | 2025-01-01 |          |
    """)
    diagnoses = _cramps("B1", "B2")
    tables = {"diagnoses": diagnoses, "prescriptions": prescriptions}
    check_spec(tmp_path, "cramps_medication_review", AS_OF, tables, {"B1": True, "B2": True})


def test_quetiapine_coded_only_by_its_ingredient_rxcui_is_a_fall_risk_drug(tmp_path):
    patients = table("""
    patient_id | birth_date | sex
    Q1         | 1950-01-01 | F
    """)
    diagnoses = table("""
    patient_id | code  | code_system | recorded_at | resolved_at
    Q1         | G62.9 | ICD-10-CM   | 2026-01-01  |
    """)
    prescriptions = table("""
    patient_id | drug_name         | rxnorm_code | atc_code | start_date | end_date | days_supply
    Q1         | Tablet (pharmacy) | 51272       |          | 2026-06-01 |          |
    """)
    tables = {"patients": patients, "diagnoses": diagnoses, "prescriptions": prescriptions}
    check_spec(tmp_path, "elderly_numbness_fall_risk", AS_OF, tables, {"Q1": True})
