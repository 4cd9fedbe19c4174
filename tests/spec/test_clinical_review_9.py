"""Clinical review 9 (a second read of the deregistration rule and the spironolactone-for-skin
exception), as of 2026-11-20: what a clinician expects in each scenario.

- A coded contraindication to spironolactone (BNF and SmPCs: hyperkalaemia, Addison's disease,
  anuria; and acute kidney injury) ends the skin exception, as a potassium above 5.0 already does:
  the AAD and BAD advice against routine potassium tests is for healthy women only.
- A product whose ATC code says it is a combination (C03EA: a thiazide with a potassium-sparing
  agent) is not spironolactone alone, even when its second drug is in no codelist.
- A registration history (a row per period, as GP registration extracts hold them) with an open
  registration is a registered patient: ehrQL's practice_registrations.for_patient_on(date) finds
  the registration covering the date.
"""

from __future__ import annotations

from datetime import date

from tests.helpers import table
from tests.spec.harness import OUT, check_spec

AS_OF = date(2026, 11, 20)
CHECK = "diuretic_electrolyte_monitoring"

# Women aged 25, acne coded 2025-06-01, oral spironolactone since 2025-07-01, no electrolytes.
K_PATIENTS = table(
    "patient_id | birth_date | sex\n" + "\n".join(f"K0{i} | 2001-04-01 | F" for i in range(1, 8))
)
K_DIAGNOSES = table("""
patient_id | code      | code_system | recorded_at | resolved_at
# healthy, acne only: left out (the exception as designed)
K01        | L70.0     | ICD-10-CM   | 2025-06-01  |
# hyperkalaemia coded (the result itself not in the export)
K02        | L70.0     | ICD-10-CM   | 2025-06-01  |
K02        | E87.5     | ICD-10-CM   | 2025-09-01  |
# Addison's disease
K03        | L70.0     | ICD-10-CM   | 2025-06-01  |
K03        | E27.1     | ICD-10-CM   | 2020-01-01  |
# the same hyperkalaemia as a result (6.1): kept in
K04        | L70.0     | ICD-10-CM   | 2025-06-01  |
# acute kidney injury in SNOMED CT, resolved: a reason to watch potassium whenever coded
K05        | L70.0     | ICD-10-CM   | 2025-06-01  |
K05        | 14669001  | SNOMED-CT   | 2025-10-01  | 2025-10-20
# hyperkalaemia in SNOMED CT
K06        | L70.0     | ICD-10-CM   | 2025-06-01  |
K06        | 14140009  | SNOMED-CT   | 2025-09-01  |
# hypokalaemia (E87.6) is no contraindication to spironolactone: left out
K07        | L70.0     | ICD-10-CM   | 2025-06-01  |
K07        | E87.6     | ICD-10-CM   | 2025-09-01  |
""")
K_LABS = table("""
patient_id | collected_at | loinc_code | test_name | value | unit
K04        | 2025-09-01   | 2823-3     |           | 6.1   | mmol/L
""")
K_PRESCRIPTIONS = table(
    "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
    + "\n".join(f"K0{i} | Spironolactone 50mg tablets | | | 2025-07-01 | |" for i in range(1, 8))
)


def test_a_coded_contraindication_ends_the_skin_exception(tmp_path):
    tables = {
        "patients": K_PATIENTS,
        "diagnoses": K_DIAGNOSES,
        "labs": K_LABS,
        "prescriptions": K_PRESCRIPTIONS,
    }
    expected = {
        "K01": OUT,
        "K02": "high",
        "K03": "high",
        "K04": "high",
        "K05": "high",
        "K06": "high",
        "K07": OUT,
    }
    check_spec(tmp_path, CHECK, AS_OF, tables, expected)


# Aldactazine (spironolactone 25 mg / altizide 15 mg, ATC C03EA04): its thiazide is in no codelist.
C_PATIENTS = table(
    "patient_id | birth_date | sex\n" + "\n".join(f"C0{i} | 2001-04-01 | F" for i in range(1, 5))
)
C_DIAGNOSES = table(
    "patient_id | code | code_system | recorded_at | resolved_at\n"
    + "\n".join(f"C0{i} | L70.0 | ICD-10-CM | 2025-06-01 |" for i in range(1, 5))
)
C_PRESCRIPTIONS = table("""
patient_id | drug_name                                              | rxnorm_code | atc_code | start_date | end_date | days_supply
# by its ATC code alone (the name lists both drugs too)
C01        | Spironolactone 25mg / Altizide 15mg tablets            |             | C03EA04  | 2025-07-01 |          |
# by its ATC code, the name naming spironolactone only (a brand's short name in an export)
C02        | Spironolactone compound tablets                        |             | C03EA04  | 2025-07-01 |          |
# by the name, with no code: altizide is in no codelist
C03        | Spironolactone 25mg and altizide 15mg tablets          |             |          | 2025-07-01 |          |
# spironolactone alone, coded C03DA01: left out
C04        | Spironolactone 100mg tablets                           |             | C03DA01  | 2025-07-01 |          |
""")


def test_a_combination_by_its_atc_code_or_name_is_not_spironolactone_alone(tmp_path):
    tables = {"patients": C_PATIENTS, "diagnoses": C_DIAGNOSES, "prescriptions": C_PRESCRIPTIONS}
    check_spec(tmp_path, CHECK, AS_OF, tables, {"C01": "high", "C02": "high", "C03": "high", "C04": OUT})


# Every patient takes open-ended furosemide and has no electrolytes.
R_PATIENTS = table("""
patient_id | birth_date | sex | registered_until | registered
# left in 2019, registered again since: the open registration is today's
G01        | 1950-01-01 | F   | 2019-03-31       | no
G01        | 1950-01-01 | F   |                  | yes
# registered (one row)
G03        | 1950-01-01 | F   |                  | yes
# left in 2019 (one row)
G04        | 1950-01-01 | F   | 2019-03-31       | no
# two ended periods: the later end counts (left in 2024)
G05        | 1950-01-01 | F   | 2019-03-31       | no
G05        | 1950-01-01 | F   | 2024-05-31       | no
# an ended period and a planned end ahead: registered until then
G06        | 1950-01-01 | F   | 2019-03-31       | no
G06        | 1950-01-01 | F   | 2027-06-30       | yes
# a history given by registered_until alone: the row with no end is the open registration
G07        | 1950-01-01 | F   | 2019-03-31       |
G07        | 1950-01-01 | F   |                  |
""")
R_PRESCRIPTIONS = table(
    "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
    + "\n".join(
        f"G0{i} | furosemide 40 mg tablet | 4603 | C03CA01 | 2020-06-01 | |" for i in (1, 3, 4, 5, 6, 7)
    )
)


def test_a_registration_history_with_an_open_registration_is_registered(tmp_path):
    tables = {"patients": R_PATIENTS, "prescriptions": R_PRESCRIPTIONS}
    expected = {"G01": True, "G03": True, "G04": OUT, "G05": OUT, "G06": True, "G07": True}
    run = check_spec(tmp_path, CHECK, AS_OF, tables, expected)
    assert run.result.deregistered_excluded == 2
