"""Spec: codes a clinical review of issue 15 found missing; each row is a patient a clinician expects
the check to see (or, for a throat lozenge, not to see). As of 2026-11-20."""

from __future__ import annotations

from datetime import date

from tests.helpers import table
from tests.spec.harness import OUT, check_spec

AS_OF = date(2026, 11, 20)


def test_potassium_and_sodium_in_serum_plasma_or_blood_count_as_monitoring(tmp_path):
    prescriptions = table("""
    patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date | days_supply
    D1         | Furosemide 40mg tablets |             |          | 2025-01-01 |          |
    D2         | Furosemide 40mg tablets |             |          | 2025-01-01 |          |
    """)
    labs = table("""
    patient_id | collected_at | loinc_code | test_name         | value | unit
    D1         | 2026-10-01   | 77142-8    |                   | 4.2   | mmol/L
    D1         | 2026-10-01   | 77139-4    |                   | 139   | mmol/L
    # names as laboratories write them
    D2         | 2026-10-01   |            | POC Potassium     | 4.2   | mmol/L
    D2         | 2026-10-01   |            | Sodium (Na)       | 139   | mmol/L
    """)
    tables = {"prescriptions": prescriptions, "labs": labs}
    check_spec(tmp_path, "diuretic_electrolyte_monitoring", AS_OF, tables, {"D1": None, "D2": None})


def test_egfr_written_with_a_superscript_unit_is_a_result(tmp_path):
    prescriptions = table("""
    patient_id | drug_name                               | rxnorm_code | atc_code | start_date | end_date | days_supply
    N1         | Naproxen 500mg gastro-resistant tablets |             |          | 2026-10-01 |          |
    N2         | Naproxen 500mg gastro-resistant tablets |             |          | 2026-10-01 |          |
    """)
    labs = table("""
    patient_id | collected_at | loinc_code | test_name | value | unit
    N1         | 2026-10-15   | 62238-1    |           | 40    | mL/min/1.73m²
    N2         | 2026-10-15   | 62238-1    |           | 75    | mL/min/1.73m^2
    """)
    tables = {"prescriptions": prescriptions, "labs": labs}
    check_spec(tmp_path, "nsaid_kidney_disease", AS_OF, tables, {"N1": True, "N2": None})


def test_a_flurbiprofen_throat_lozenge_is_not_a_systemic_nsaid(tmp_path):
    prescriptions = table("""
    patient_id | drug_name                       | rxnorm_code | atc_code | start_date | end_date | days_supply
    L1         | Flurbiprofen 8.75mg lozenges    |             |          | 2026-11-01 |          |
    L2         | Strefen 8.75mg lozenges         |             |          | 2026-11-01 |          |
    L3         | Flurbiprofen 100mg tablets      |             |          | 2026-11-01 |          |
    """)
    diagnoses = table(
        "patient_id | code | code_system | recorded_at | resolved_at\n"
        + "\n".join(f"{p} | N18.4 | ICD-10-CM | 2025-01-01 |" for p in ("L1", "L2", "L3"))
    )
    tables = {"prescriptions": prescriptions, "diagnoses": diagnoses}
    check_spec(tmp_path, "nsaid_kidney_disease", AS_OF, tables, {"L1": OUT, "L2": OUT, "L3": True})


def test_numbness_coded_in_snomed_is_a_neuropathic_pain_indication(tmp_path):
    diagnoses = table("""
    patient_id | code      | code_system | recorded_at | resolved_at
    R1         | 309538000 | SNOMED-CT   | 2024-01-01  |
    R2         | 709489006 | SNOMED-CT   | 2024-01-01  |
    # pure motor neuropathy is weakness, not a neuropathic pain indication
    R3         | 95663000  | SNOMED-CT   | 2024-01-01  |
    """)
    prescriptions = table(
        "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
        + "\n".join(
            f"{p} | {d} | | | {s} | |"
            for p in ("R1", "R2", "R3")
            for d, s in (("Gabapentin 300mg capsules", "2025-01-01"), ("Pregabalin 75mg capsules", "2025-06-01"),
                         ("Amitriptyline 10mg tablets", "2026-01-01"))
        )
    )  # fmt: skip
    tables = {"prescriptions": prescriptions, "diagnoses": diagnoses}
    check_spec(tmp_path, "refractory_neuropathic_pain", AS_OF, tables, {"R1": True, "R2": True, "R3": OUT})
