"""Spec: diuretic_electrolyte_monitoring leaves out spironolactone given alone to a healthy young woman
for acne or hirsutism (clinical review 2026-12, eighth; Plovanich et al., JAMA Dermatol 2015; AAD
acne guideline 2024), and keeps in every patient the guidance says to monitor: older, male, heart
failure, CKD stage 3 or worse, cirrhosis, another drug raising potassium, another diuretic, or no
skin indication coded. Every patient is on oral spironolactone since 2025-07-01 with no potassium or
sodium result, so each one kept in is flagged high ("overdue"). As of 2026-11-20."""

from __future__ import annotations

from datetime import date

from tests.helpers import table
from tests.spec.harness import OUT, check_spec

AS_OF = date(2026, 11, 20)

PATIENTS = table("""
patient_id | birth_date | sex
S01        | 2001-04-01 | F
S02        | 2001-04-01 | F
S03        | 2001-04-01 | F
# 45 on as-of (her 46th birthday is the day after): the upper end of Plovanich's cohort
S04        | 1980-11-21 | F
# 46 on as-of
S05        | 1980-11-20 | F
S06        | 2001-04-01 | M
S07        | 2001-04-01 | F
S08        | 2001-04-01 | F
S09        | 2001-04-01 | F
S10        | 2001-04-01 | F
S11        | 2001-04-01 | F
# no birth date: the age is unknown
S12        |            | F
S13        | 2001-04-01 | F
S14        | 2001-04-01 | F
# sex unknown
S15        | 2001-04-01 | U
S16        | 2009-05-01 | F
""")

DIAGNOSES = table("""
patient_id | code      | code_system | recorded_at | resolved_at
S01        | L70.0     | ICD-10-CM   | 2025-06-01  |
# SNOMED CT acne vulgaris, with heart failure coded: monitored
S02        | 88616000  | SNOMED-CT   | 2025-06-01  |
S02        | I50.9     | ICD-10-CM   | 2024-01-10  |
# hirsutism, on lisinopril too (hypertension): monitored
S03        | L68.0     | ICD-10-CM   | 2025-06-01  |
S04        | L70.0     | ICD-10-CM   | 2025-06-01  |
S05        | L70.0     | ICD-10-CM   | 2025-06-01  |
S06        | L70.0     | ICD-10-CM   | 2025-06-01  |
# S07: no skin indication coded
S08        | L70.0     | ICD-10-CM   | 2025-06-01  |
S09        | L70.0     | ICD-10-CM   | 2025-06-01  |
# CKD stage 3a, resolved since: a kidney disease was coded, monitored
S10        | L70.0     | ICD-10-CM   | 2025-06-01  |
S10        | N18.31    | ICD-10-CM   | 2023-03-01  | 2024-03-01
# ICD-9-CM acne with cirrhosis (spironolactone for ascites): monitored
S11        | 706.1     | ICD-9-CM    | 2014-06-01  |
S11        | 571.5     | ICD-9-CM    | 2014-06-01  |
S12        | L70.0     | ICD-10-CM   | 2025-06-01  |
# acne cleared on treatment: the code resolved still gives the indication
S13        | L70.0     | ICD-10-CM   | 2025-06-01  | 2026-03-01
# the acne coded after as-of is not known yet on it
S14        | L70.0     | ICD-10-CM   | 2026-11-25  |
S15        | L70.0     | ICD-10-CM   | 2025-06-01  |
S16        | L70.0     | ICD-10-CM   | 2025-06-01  |
""")

PRESCRIPTIONS = table("""
patient_id | drug_name                                      | rxnorm_code | atc_code | start_date | end_date | days_supply
S01        | Spironolactone 50mg tablets                    |             |          | 2025-07-01 |          |
S02        | Spironolactone 50mg tablets                    |             |          | 2025-07-01 |          |
S03        | Spironolactone 50mg tablets                    |             |          | 2025-07-01 |          |
S03        | Lisinopril 10mg tablets                        |             |          | 2025-07-01 |          |
S04        | Spironolactone 50mg tablets                    |             |          | 2025-07-01 |          |
S05        | Spironolactone 50mg tablets                    |             |          | 2025-07-01 |          |
S06        | Spironolactone 50mg tablets                    |             |          | 2025-07-01 |          |
S07        | Spironolactone 50mg tablets                    |             |          | 2025-07-01 |          |
# a combination with a thiazide: a diuretic for the heart or oedema
S08        | Aldactazide 25mg/25mg tablets                  |             |          | 2025-07-01 |          |
# spironolactone beside furosemide
S09        | Spironolactone 50mg tablets                    |             |          | 2025-07-01 |          |
S09        | Furosemide 20mg tablets                        |             |          | 2025-07-01 |          |
S10        | Spironolactone 50mg tablets                    |             |          | 2025-07-01 |          |
S11        | Spironolactone 100mg tablets                   |             |          | 2025-07-01 |          |
S12        | Spironolactone 50mg tablets                    |             |          | 2025-07-01 |          |
# coded only (a US export): RxNorm and ATC, a brand name
S13        | Aldactone 25 MG Oral Tablet                    | 9997        | C03DA01  | 2025-07-01 |          |
S14        | Spironolactone 50mg tablets                    |             |          | 2025-07-01 |          |
S15        | Spironolactone 50mg tablets                    |             |          | 2025-07-01 |          |
# a 17-year-old with acne: the AAD guideline covers adolescents
S16        | Spironolactone 50mg tablets                    |             |          | 2025-07-01 |          |
""")

EXPECTED = {
    "S01": OUT,
    "S02": "high",
    "S03": "high",
    "S04": OUT,
    "S05": "high",
    "S06": "high",
    "S07": "high",
    "S08": "high",
    "S09": "high",
    "S10": "high",
    "S11": "high",
    "S12": "high",
    "S13": OUT,
    "S14": "high",
    "S15": "high",
    "S16": OUT,
}

TABLES = {"patients": PATIENTS, "diagnoses": DIAGNOSES, "prescriptions": PRESCRIPTIONS}


def test_spironolactone_alone_for_the_skin_of_a_healthy_young_woman_is_left_out(tmp_path):
    check_spec(tmp_path, "diuretic_electrolyte_monitoring", AS_OF, TABLES, EXPECTED)


def test_skin_max_age_0_keeps_every_spironolactone_user_in(tmp_path):
    everyone = {patient: "high" for patient in EXPECTED}
    check_spec(tmp_path, "diuretic_electrolyte_monitoring", AS_OF, TABLES, everyone, {"skin_max_age": 0})


def test_a_potassium_supplement_or_trimethoprim_ends_the_exception(tmp_path):
    prescriptions = table("""
    patient_id | drug_name                           | rxnorm_code | atc_code | start_date | end_date   | days_supply
    S01        | Spironolactone 50mg tablets         |             |          | 2025-07-01 |            |
    S01        | Sando-K effervescent tablets        |             |          | 2026-11-01 |            | 28
    S04        | Spironolactone 50mg tablets         |             |          | 2025-07-01 |            |
    S04        | Trimethoprim 200mg tablets          |             | J01EA01  | 2026-11-15 |            | 7
    # a course of trimethoprim that ended months ago ends nothing
    S13        | Aldactone 25 MG Oral Tablet         | 9997        | C03DA01  | 2025-07-01 |            |
    S13        | Trimethoprim 200mg tablets          |             |          | 2026-03-01 | 2026-03-07 | 7
    """)
    tables = {**TABLES, "prescriptions": prescriptions}
    check_spec(
        tmp_path, "diuretic_electrolyte_monitoring", AS_OF, tables, {"S01": "high", "S04": "high", "S13": OUT}
    )


# ---------------------------------------------------------------------------------------------
# Second read (a clinical pharmacist): the exception must not take in a woman on spironolactone
# for another reason who once had acne, nor one with what the guidance names as a reason to
# monitor, however it is recorded. All sex F, aged 25 unless said, no electrolytes in the year.
# ---------------------------------------------------------------------------------------------
READ_PATIENTS = table("""
patient_id | birth_date | sex
R01        | 1986-04-01 | F
R02        | 2001-04-01 | F
R03        | 2001-04-01 | F
R04        | 2001-04-01 | F
R05        | 2001-04-01 | F
R06        | 2001-04-01 | F
R07        | 2001-04-01 | F
# 22 months old
R08        | 2025-01-10 | F
R09        | 2001-04-01 | F
R10        | 2001-04-01 | F
R11        | 2001-04-01 | F
R12        | 2001-04-01 | F
R13        | 2001-04-01 | F
""")
READ_DIAGNOSES = table("""
patient_id | code      | code_system | recorded_at | resolved_at
# acne at 15, resolved at 17; primary hyperaldosteronism now
R01        | L70.0     | ICD-10-CM   | 2001-05-01  | 2003-05-01
R01        | E26.09    | ICD-10-CM   | 2025-06-01  |
R02        | L70.0     | ICD-10-CM   | 2025-06-01  |
R02        | 417996009 | SNOMED-CT   | 2025-02-01  |
R03        | L70.0     | ICD-10-CM   | 2025-06-01  |
R04        | L68.0     | ICD-10-CM   | 2025-06-01  |
R05        | L70.0     | ICD-10-CM   | 2025-06-01  |
R06        | L70.0     | ICD-10-CM   | 2025-06-01  |
R07        | L70.0     | ICD-10-CM   | 2025-06-01  |
R08        | 11381005  | SNOMED-CT   | 2025-02-01  |
R08        | Q21.0     | ICD-10-CM   | 2025-01-10  |
R09        | L70.0     | ICD-10-CM   | 2025-06-01  |
R10        | L70.0     | ICD-10-CM   | 2025-06-01  |
R10        | I42.0     | ICD-10-CM   | 2025-03-01  |
R11        | L70.0     | ICD-10-CM   | 2025-06-01  |
R11        | N04.9     | ICD-10-CM   | 2024-03-01  | 2024-09-01
R12        | L68.0     | ICD-10-CM   | 2025-06-01  |
R12        | F64.0     | ICD-10-CM   | 2024-01-01  |
R13        | L70.0     | ICD-10-CM   | 2025-06-01  |
""")
READ_LABS = table("""
patient_id | collected_at | loinc_code | test_name | value | unit
# an eGFR of 38 with no CKD code; a potassium of 6.1 on the drug last year
R03        | 2024-06-01   | 62238-1    |           | 38    | mL/min/1.73m2
R13        | 2025-09-01   | 2823-3     |           | 6.1   | mmol/L
""")
READ_PRESCRIPTIONS = table("""
patient_id | drug_name                            | rxnorm_code | atc_code | start_date | end_date | days_supply
R01        | Spironolactone 100mg tablets         |             |          | 2025-07-01 |          |
R02        | Spironolactone 50mg tablets          |             |          | 2025-07-01 |          |
R03        | Spironolactone 50mg tablets          |             |          | 2025-07-01 |          |
# ciclosporin (Neoral) for a transplant or eczema raises potassium
R04        | Spironolactone 50mg tablets          |             |          | 2025-07-01 |          |
R04        | Neoral 100mg capsules                |             |          | 2025-07-01 |          |
# a UK brand ACE inhibitor; a potassium syrup by its brand
R05        | Spironolactone 50mg tablets          |             |          | 2025-07-01 |          |
R05        | Zestril 10mg tablets                 |             |          | 2025-07-01 |          |
R06        | Spironolactone 50mg tablets          |             |          | 2025-07-01 |          |
R06        | Kay-Cee-L syrup                      |             |          | 2026-11-01 |          | 28
# Spiroprop: propranolol with spironolactone
R07        | Spiroprop tablets                    |             |          | 2025-07-01 |          |
R08        | Spironolactone 5mg/5ml oral suspension |           |          | 2025-07-01 |          |
# trimethoprim eye drops (Polytrim) raise no potassium: still left out
R09        | Spironolactone 50mg tablets          |             |          | 2025-07-01 |          |
R09        | Polytrim eye drops                   |             |          | 2026-11-10 |          | 7
R10        | Spironolactone 50mg tablets          |             |          | 2025-07-01 |          |
R11        | Spironolactone 50mg tablets          |             |          | 2025-07-01 |          |
R12        | Spironolactone 100mg tablets         |             |          | 2025-07-01 |          |
R13        | Spironolactone 50mg tablets          |             |          | 2025-07-01 |          |
""")


def test_a_reason_to_monitor_however_recorded_keeps_her_in(tmp_path):
    tables = {
        "patients": READ_PATIENTS,
        "diagnoses": READ_DIAGNOSES,
        "labs": READ_LABS,
        "prescriptions": READ_PRESCRIPTIONS,
    }
    expected = {f"R{n:02d}": "high" for n in range(1, 14)} | {"R09": OUT}
    check_spec(tmp_path, "diuretic_electrolyte_monitoring", AS_OF, tables, expected)


def test_a_low_egfr_estimated_from_a_creatinine_keeps_her_in(tmp_path):
    """Review 2026-12-06: an export with creatinine but no laboratory eGFR (MIMIC, many US exports).
    C01, 25, creatinine 200 umol/L (CKD-EPI 2021 about 29): renal impairment, kept in. C02 the same
    creatinine on a day the laboratory reported an eGFR of 65: the laboratory's stands, left out.
    C03 a normal creatinine (70: about 100), left out. C04 a creatinine '>150' (eGFR at most about
    41), kept in; C05 a creatinine '<200' says nothing, left out. C06 a creatinine of 2.3 mg/dL
    (203 umol/L), kept in."""
    patients = table("""
    patient_id | birth_date | sex
    C01        | 2001-04-01 | F
    C02        | 2001-04-01 | F
    C03        | 2001-04-01 | F
    C04        | 2001-04-01 | F
    C05        | 2001-04-01 | F
    C06        | 2001-04-01 | F
    """)
    ids = ("C01", "C02", "C03", "C04", "C05", "C06")
    diagnoses = table(
        "patient_id | code | code_system | recorded_at | resolved_at\n"
        + "\n".join(f"{p} | L70.0 | ICD-10-CM | 2025-06-01 |" for p in ids)
    )
    prescriptions = table(
        "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
        + "\n".join(f"{p} | Spironolactone 50mg tablets | | | 2025-07-01 | |" for p in ids)
    )
    labs = table("""
    patient_id | collected_at | loinc_code | test_name | value | unit
    C01        | 2026-01-05   | 2160-0     |           | 200   | umol/L
    C02        | 2026-01-05   | 2160-0     |           | 200   | umol/L
    C02        | 2026-01-05   | 62238-1    |           | 65    | mL/min/1.73m2
    C03        | 2026-01-05   | 2160-0     |           | 70    | umol/L
    C04        | 2026-01-05   | 2160-0     |           | >150  | umol/L
    C05        | 2026-01-05   | 2160-0     |           | <200  | umol/L
    C06        | 2026-01-05   | 2160-0     |           | 2.3   | mg/dL
    """)
    tables = {"patients": patients, "diagnoses": diagnoses, "labs": labs, "prescriptions": prescriptions}
    expected = {"C01": "high", "C02": OUT, "C03": OUT, "C04": "high", "C05": OUT, "C06": "high"}
    check_spec(tmp_path, "diuretic_electrolyte_monitoring", AS_OF, tables, expected)
