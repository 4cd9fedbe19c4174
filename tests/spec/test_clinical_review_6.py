"""Spec: a clinical red-team review (2026-12, sixth) of nsaid_kidney_disease and
elderly_numbness_fall_risk on prescriptions written as UK and US prescribers write them: each case a
clinician would object to, fixed (each failed before its fix), beside controls that already held.
As of 2026-11-20."""

from __future__ import annotations

from datetime import date

from tests.helpers import table
from tests.spec.harness import OUT, check_spec

AS_OF = date(2026, 11, 20)
# Four regular systemic medicines: with a fifth, polypharmacy (elderly_numbness_fall_risk).
FOUR = (
    "Metformin 500mg tablets",
    "Atorvastatin 20mg tablets",
    "Ramipril 5mg capsules",
    "Amlodipine 5mg tablets",
)


def _four(pid: str) -> str:
    return "\n".join(f"{pid} | {name} | | | 2024-01-01 | |" for name in FOUR)


# ---------------------------------------------------------------------------------------------
# nsaid_kidney_disease: a flurbiprofen oromucosal (throat) spray acts in the throat (BNF 12.3.1), as
# the lozenge does; a buccal or oromucosal drug that is absorbed stays systemic.
# ---------------------------------------------------------------------------------------------
THROAT_PRESCRIPTIONS = table("""
patient_id | drug_name                                                  | rxnorm_code | atc_code | start_date | end_date | days_supply
N01        | Flurbiprofen 8.75mg/dose oromucosal spray sugar free       |             |          | 2026-10-10 |          | 28
N02        | Flurbiprofen 8.75mg/dose throat spray                      |             |          | 2026-10-10 |          | 28
# controls: the lozenge (already local), and flurbiprofen tablets (systemic)
N03        | Flurbiprofen 8.75mg lozenges                               |             |          | 2026-10-10 |          | 28
N04        | Flurbiprofen 100mg tablets                                 |             |          | 2026-10-10 |          | 28
""")
THROAT_DIAGNOSES = table(
    "patient_id | code | code_system | recorded_at | resolved_at\n"
    + "\n".join(f"{p} | N18.4 | ICD-10-CM | 2020-01-01 |" for p in ("N01", "N02", "N03", "N04"))
)


def test_a_flurbiprofen_throat_spray_is_no_systemic_nsaid(tmp_path):
    check_spec(
        tmp_path,
        "nsaid_kidney_disease",
        AS_OF,
        {"prescriptions": THROAT_PRESCRIPTIONS, "diagnoses": THROAT_DIAGNOSES},
        {"N01": OUT, "N02": OUT, "N03": OUT, "N04": "high"},
    )


# ---------------------------------------------------------------------------------------------
# nsaid_kidney_disease: a creatinine of a patient whose birth date the export lacks. CKD-EPI 2021
# needs the age, and falls with it: at 18, the youngest adult, the estimate is the highest any adult
# could have, so an estimate at 18 below the threshold is certainly below it (creatinine 200 umol/L:
# at most 42 for a man, 31 for a woman). Only the latest creatinine's: an older low one does not
# stand when a newer creatinine says nothing. A higher bound says nothing and is not used.
# ---------------------------------------------------------------------------------------------
AGE_UNKNOWN_PATIENTS = table("""
patient_id | birth_date | sex
K01        |            | F
K02        |            | M
K03        |            |
K04        |            | F
K06        |            | F
K07        | 1950-01-01 | F
K08        |            | F
""")
AGE_UNKNOWN_PRESCRIPTIONS = table(
    "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
    + "\n".join(
        f"{p} | Naproxen 500mg tablets | | | 2026-10-10 | | 28"
        for p in ("K01", "K02", "K03", "K04", "K05", "K06", "K07", "K08")
    )
)
AGE_UNKNOWN_LABS = table("""
patient_id | collected_at | loinc_code | test_name  | value | unit
# at most 31 (F at 18): below 60, and not certainly below 30
K01        | 2026-09-01   |            | Creatinine | 200   | umol/L
# at most 42 (M at 18)
K02        | 2026-09-01   |            | Creatinine | 200   | umol/L
# no sex either: the higher of the two, at most 42
K03        | 2026-09-01   |            | Creatinine | 200   | umol/L
# at most 11 (F at 18): certainly below 30, high priority
K04        | 2026-09-01   |            | Creatinine | 450   | umol/L
# no patients row at all
K05        | 2026-09-01   |            | Creatinine | 200   | umol/L
# creatinine 80 (F): at most about 92, no bound below 60, so an earlier reported eGFR of 45 stands
K06        | 2026-08-01   | 33914-3    |            | 45    | mL/min/1.73m2
K06        | 2026-09-01   |            | Creatinine | 80    | umol/L
# control: the birth date known, 76 at the result: about 22, high
K07        | 2026-09-01   |            | Creatinine | 200   | umol/L
# a low bound in March, then a creatinine of 60 in September (at least 77 at any adult age): the
# March bound is no longer the latest creatinine's, and does not stand
K08        | 2026-03-01   |            | Creatinine | 250   | umol/L
K08        | 2026-09-01   |            | Creatinine | 60    | umol/L
""")


def test_a_creatinine_without_a_birth_date_bounds_the_egfr_from_above(tmp_path):
    check_spec(
        tmp_path,
        "nsaid_kidney_disease",
        AS_OF,
        {
            "patients": AGE_UNKNOWN_PATIENTS,
            "prescriptions": AGE_UNKNOWN_PRESCRIPTIONS,
            "labs": AGE_UNKNOWN_LABS,
        },
        {
            "K01": "normal",
            "K02": "normal",
            "K03": "normal",
            "K04": "high",
            "K05": "normal",
            "K06": "normal",
            "K07": "high",
            "K08": None,
        },
        evidence={
            "K01": {"latest_egfr": "<=31.0 (CKD-EPI 2021 at 18, age unknown, from creatinine 200.0 umol/L)"},
            "K06": {"latest_egfr": "45.0"},
        },
    )


# ---------------------------------------------------------------------------------------------
# elderly_numbness_fall_risk: glucose sensors and insulin-pump pods are Drug Tariff Part IX
# appliances, not medicines; and one drug written with and without its salt is one drug.
# ---------------------------------------------------------------------------------------------
ELDERLY_PRESCRIPTIONS = table(
    "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
    + "\n".join(_four(p) for p in ("G01", "G02", "G03", "G04", "G06", "G08", "G09"))
    + """
G01 | FreeStyle Libre 2 Plus Sensor              |  |         | 2024-01-01 |  |
G02 | Dexcom ONE+ sensor                         |  |         | 2024-01-01 |  |
G03 | Omnipod 5 pods                             |  |         | 2024-01-01 |  |
# a fifth medicine: flagged (control)
G04 | Lansoprazole 15mg gastro-resistant capsules |  |         | 2024-01-01 |  |
# losartan's dose changed while the old issue is in its refill gap: one drug
G05 | Metformin 500mg tablets                    |  |         | 2024-01-01 |  |
G05 | Atorvastatin 20mg tablets                  |  |         | 2024-01-01 |  |
G05 | Amlodipine 5mg tablets                     |  |         | 2024-01-01 |  |
G05 | Losartan potassium 50mg tablets            |  |         | 2026-10-25 |  | 28
G05 | Losartan 100mg tablets                     |  |         | 2026-11-10 |  |
# amlodipine recorded twice, coded with its salt and uncoded without: one drug
G06 | Amlodipine besilate 5mg tablets            |  | C08CA01 | 2024-01-01 |  |
# a medicine supplied in a pod is a medicine: apomorphine (APO-go POD), coded or not, is the fifth
G08 | APO-go POD 5mg/ml solution for infusion in cartridge | | N04BC07 | 2024-01-01 |  |
G09 | APO-go POD 5mg/ml solution for infusion in cartridge | |         | 2024-01-01 |  |
# calcium carbonate and calcium acetate (a phosphate binder) are two drugs: five
G10 | Metformin 500mg tablets                    |  |         | 2024-01-01 |  |
G10 | Atorvastatin 20mg tablets                  |  |         | 2024-01-01 |  |
G10 | Ramipril 5mg capsules                      |  |         | 2024-01-01 |  |
G10 | Calcium carbonate 1.25g chewable tablets   |  |         | 2024-01-01 |  |
G10 | Calcium acetate 1g tablets                 |  |         | 2024-01-01 |  |
# potassium chloride is a drug of its own beside losartan potassium: five (control)
G07 | Metformin 500mg tablets                    |  |         | 2024-01-01 |  |
G07 | Atorvastatin 20mg tablets                  |  |         | 2024-01-01 |  |
G07 | Amlodipine 5mg tablets                     |  |         | 2024-01-01 |  |
G07 | Losartan potassium 50mg tablets            |  |         | 2024-01-01 |  |
G07 | Potassium chloride 600mg modified-release tablets | |      | 2024-01-01 |  |
"""
)
ELDERLY_IDS = ("G01", "G02", "G03", "G04", "G05", "G06", "G07", "G08", "G09", "G10")


def test_sensors_pods_and_salts_do_not_make_polypharmacy(tmp_path):
    check_spec(
        tmp_path,
        "elderly_numbness_fall_risk",
        AS_OF,
        {
            "patients": table(
                "patient_id | birth_date | sex\n" + "\n".join(f"{p} | 1945-01-01 | F" for p in ELDERLY_IDS)
            ),
            "prescriptions": ELDERLY_PRESCRIPTIONS,
            "diagnoses": table(
                "patient_id | code | code_system | recorded_at | resolved_at\n"
                + "\n".join(f"{p} | E11.42 | ICD-10-CM | 2025-01-01 |" for p in ELDERLY_IDS)
            ),
        },
        {
            "G01": None,
            "G02": None,
            "G03": None,
            "G04": "normal",
            "G05": None,
            "G06": None,
            "G07": "normal",
            "G08": "normal",
            "G09": "normal",
            "G10": "normal",
        },
    )
