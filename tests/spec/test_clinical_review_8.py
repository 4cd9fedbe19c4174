"""Spec: a clinical red-team review (2026-12, eighth) across the checks, on generic exports written
as GP and hospital systems write them: each case a clinician would object to. Every test here FAILS
on the code as reviewed (the finding); controls inside each test already hold. As of 2026-11-20."""

from __future__ import annotations

from datetime import date

from tests.helpers import table
from tests.spec.harness import OUT, check_spec

AS_OF = date(2026, 11, 20)


# ---------------------------------------------------------------------------------------------
# nsaid_kidney_disease: ICD-10-CM I13.11 is "Hypertensive heart and chronic kidney disease without
# heart failure, with stage 5 chronic kidney disease, or end stage renal disease" (CMS ICD-10-CM
# tabular list, I13.1- subcategory, every release since FY2016; I13.10 is the stage 1-4 sibling).
# It is the without-heart-failure twin of I13.2, and the exact equivalent of ICD-9-CM 404.02/404.12/
# 404.92, all three of which ckd_stage4plus already lists; the Quan/Charlson "severe renal disease"
# ICD-10 maps list it beside I12.0 and I13.2. SOURCES.md left it out only because it was "not found
# with its title in a source this session". A patient on naproxen whose record holds I13.11 (ESRD)
# and no eGFR (a hospital-coded problem list, dialysis done elsewhere) is not flagged at all, while
# the same patient coded I13.2 (with heart failure) is flagged high. KDIGO 2024 / AGS Beers 2023:
# avoid NSAIDs in CKD G4-G5 and ESRD.
# ---------------------------------------------------------------------------------------------
I1311_PRESCRIPTIONS = table("""
patient_id | drug_name              | rxnorm_code | atc_code | start_date | end_date | days_supply
H01        | Naproxen 500mg tablets |             |          | 2026-10-20 |          | 28
H02        | Naproxen 500mg tablets |             |          | 2026-10-20 |          | 28
H03        | Naproxen 500mg tablets |             |          | 2026-10-20 |          | 28
""")
I1311_DIAGNOSES = table("""
patient_id | code   | code_system | recorded_at | resolved_at
H01        | I13.11 | ICD-10-CM   | 2025-02-01  |
# controls: the with-heart-failure twin I13.2 (stage 5/ESRD: high); I13.10 (stage 1-4 or
# unspecified: no stage, no flag without an eGFR)
H02        | I13.2  | ICD-10-CM   | 2025-02-01  |
H03        | I13.10 | ICD-10-CM   | 2025-02-01  |
""")


def test_hypertensive_heart_and_ckd_with_esrd_without_heart_failure_is_stage_5(tmp_path):
    check_spec(
        tmp_path,
        "nsaid_kidney_disease",
        AS_OF,
        {"prescriptions": I1311_PRESCRIPTIONS, "diagnoses": I1311_DIAGNOSES},
        {"H01": "high", "H02": "high", "H03": None},
    )


# ---------------------------------------------------------------------------------------------
# nsaid_kidney_disease: WHO ICD-10 before its 2010 update coded chronic renal failure as N18.0
# "End-stage renal disease", N18.8 "Other chronic renal failure", N18.9 "Chronic renal failure,
# unspecified" (WHO ICD-10 2nd edition 2004 / 2008 edition, chapter XIV; the 2010 update replaced
# them with the stages N18.1-N18.5). Problem lists and long-standing UK, European and Australian
# records still carry N18.0. The check's lists have no N18.0 (the clinical modification never had
# one), so a WHO-coded ESRD patient on naproxen with no eGFR in the export is not flagged at all,
# where the same patient coded with the 2010 stage N18.5 is flagged high. Quan et al. 2005 (Med Care
# 43:1130, the Charlson ICD-10 coding algorithm) counts N18 (all of it) as renal disease.
# ---------------------------------------------------------------------------------------------
N180_PRESCRIPTIONS = table("""
patient_id | drug_name              | rxnorm_code | atc_code | start_date | end_date | days_supply
V01        | Naproxen 500mg tablets |             |          | 2026-10-20 |          | 28
V02        | Naproxen 500mg tablets |             |          | 2026-10-20 |          | 28
""")
N180_DIAGNOSES = table("""
patient_id | code  | code_system | recorded_at | resolved_at
V01        | N18.0 | ICD-10-WHO  | 2009-05-01  |
# control: the same disease coded after the 2010 update, stage 5
V02        | N18.5 | ICD-10-WHO  | 2012-05-01  |
""")


def test_who_icd10_2008_end_stage_renal_disease_n18_0_is_stage_5(tmp_path):
    check_spec(
        tmp_path,
        "nsaid_kidney_disease",
        AS_OF,
        {"prescriptions": N180_PRESCRIPTIONS, "diagnoses": N180_DIAGNOSES},
        {"V01": "high", "V02": "high"},
    )


# ---------------------------------------------------------------------------------------------
# refractory_neuropathic_pain: the indication counts "at any time, resolved or not", and the
# indication list includes the bare symptoms (pins and needles 62507009, numbness 44077006). So a
# single 'pins and needles' consultation in 2010 (resolved within a month) turns three unrelated
# first-line prescriptions of the last two years into "refractory neuropathic pain" with a pain
# clinic referral as the action: pregabalin for generalised anxiety disorder (licensed for GAD in the
# UK, NICE CG113), duloxetine for depression (NICE NG222) and low-dose amitriptyline for migraine
# prophylaxis (NICE CG150). A clinician reads a 16-year-old transient symptom as no current
# neuropathic pain; the check's own rationale worries about exactly these other indications.
# Review 7 fixed the same thing for elderly_numbness_fall_risk (a symptom counts 365 days). A
# disorder (sciatica recorded last year, R02) stays a control.
# ---------------------------------------------------------------------------------------------
OLD_SYMPTOM_RX = table(
    "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
    + "\n".join(
        f"{p} | {name} | | | {start} | | 28"
        for p in ("R01", "R02")
        for name, start in (
            ("Pregabalin 75mg capsules", "2025-03-01"),
            ("Duloxetine 60mg gastro-resistant capsules", "2025-08-01"),
            ("Amitriptyline 10mg tablets", "2026-02-01"),
        )
    )
)
OLD_SYMPTOM_DX = table("""
patient_id | code     | code_system | recorded_at | resolved_at
R01        | 62507009 | SNOMED-CT   | 2010-05-01  | 2010-06-01
# control: sciatica recorded last year, a current neuropathic pain indication (flagged)
R02        | 23056005 | SNOMED-CT   | 2025-01-10  |
""")


def test_a_pins_and_needles_symptom_from_2010_is_no_indication_for_todays_drugs(tmp_path):
    check_spec(
        tmp_path,
        "refractory_neuropathic_pain",
        AS_OF,
        {"prescriptions": OLD_SYMPTOM_RX, "diagnoses": OLD_SYMPTOM_DX},
        {"R01": OUT, "R02": "normal"},
    )


# ---------------------------------------------------------------------------------------------
# numbness_neuropathy_workup (and cramps_metabolic_workup, which shares the glucose group): a
# finger-prick capillary glucose on a meter (LOINC 41653-7 "Glucose [Mass/volume] in Capillary blood
# by Glucometer"; test names 'capillary blood glucose', 'CBG') counts as the diabetes screen. A meter
# reading is a monitoring tool, not a diagnostic test: WHO 2006/2011 and NICE (NG28, CKS 'Diabetes -
# type 2: diagnosis') diagnose diabetes by HbA1c or a laboratory venous plasma glucose, and the ADA
# Standards of Care (section 2, Diagnosis) state that point-of-care glucose meters should not be
# used for diagnosis. A normal CBG of 5.8 taken by the nurse at the numbness consultation does not
# rule out diabetes as the cause of a neuropathy (an HbA1c does). Expect the glucose/HbA1c still
# missing (normal priority: the B12 is done).
# ---------------------------------------------------------------------------------------------
CBG_DIAGNOSES = table(
    "patient_id | code | code_system | recorded_at | resolved_at\n"
    + "\n".join(f"{p} | 309538000 | SNOMED-CT | 2026-06-01 |" for p in ("B01", "B02", "B03", "B04"))
)
CBG_LABS = table("""
patient_id | collected_at | loinc_code | test_name                   | value | unit
B01        | 2026-06-01   | 41653-7    | Glucose by glucometer       | 5.8   | mmol/L
B01        | 2026-06-01   | 2132-9     | Vitamin B12                 | 350   | ng/L
B02        | 2026-06-01   |            | Capillary blood glucose     | 5.8   | mmol/L
B02        | 2026-06-01   | 2132-9     | Vitamin B12                 | 350   | ng/L
B03        | 2026-06-01   |            | CBG                         | 6.1   | mmol/L
B03        | 2026-06-01   | 2132-9     | Vitamin B12                 | 350   | ng/L
# control: an HbA1c and a B12: the work-up is done
B04        | 2026-06-01   | 4548-4     | HbA1c                       | 38    | mmol/mol
B04        | 2026-06-01   | 2132-9     | Vitamin B12                 | 350   | ng/L
""")


def test_a_capillary_meter_glucose_is_no_diabetes_screen_for_a_neuropathy(tmp_path):
    check_spec(
        tmp_path,
        "numbness_neuropathy_workup",
        AS_OF,
        {"diagnoses": CBG_DIAGNOSES, "labs": CBG_LABS},
        {"B01": "normal", "B02": "normal", "B03": "normal", "B04": None},
    )


# ---------------------------------------------------------------------------------------------
# elderly_numbness_fall_risk: is_topical treats every ATC code starting with D as topical, and the
# polypharmacy count treats every code starting with S or G02 (and any 'nasal spray' by name) as a
# local form. But the WHO ATC index puts systemic drugs there too: D05BB02 acitretin and D01BA02
# terbinafine are in D05B "antipsoriatics for systemic use" and D01B "antifungals for systemic use"
# (capsules and tablets); S01EC01 acetazolamide is the oral carbonic anhydrase inhibitor (Diamox
# tablets for glaucoma or idiopathic intracranial hypertension); G02CB03 cabergoline is an oral
# dopamine agonist (prolactin inhibitor). Desmopressin nasal spray (H01BA02) is a systemic hormone
# given by the nose (BNF 6.5.2, diabetes insipidus; hyponatraemia risk in the elderly). Each is a
# regular systemic medicine a pharmacist counts in a polypharmacy review; with four other regular
# medicines the patient is at five. Control: a hydrocortisone cream (D07AA02) stays uncounted.
# ---------------------------------------------------------------------------------------------
FOUR_REGULAR = (
    "Metformin 500mg tablets",
    "Atorvastatin 20mg tablets",
    "Ramipril 5mg capsules",
    "Amlodipine 5mg tablets",
)
SYSTEMIC_FIFTH = {
    "Y01": ("Acitretin 25mg capsules", "D05BB02"),
    "Y02": ("Acetazolamide 250mg tablets", "S01EC01"),
    "Y03": ("Cabergoline 500microgram tablets", "G02CB03"),
    "Y04": ("Desmopressin 10micrograms/dose nasal spray", "H01BA02"),
    "Y05": ("Terbinafine 250mg tablets", "D01BA02"),
    # finasteride 1 mg for hair loss: D11AX10, tablets (second read of this review)
    "Y07": ("Finasteride 1mg tablets", "D11AX10"),
    # control: a skin cream is not a systemic medicine
    "Y06": ("Hydrocortisone 1% cream", "D07AA02"),
}
FIFTH_PATIENTS = table(
    "patient_id | birth_date | sex\n"
    + "\n".join(f"{p} | 1950-03-01 | {'M' if p == 'Y07' else 'F'}" for p in SYSTEMIC_FIFTH)
)
FIFTH_PRESCRIPTIONS = table(
    "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
    + "\n".join(
        "\n".join(f"{p} | {name} | | | 2024-01-01 | |" for name in FOUR_REGULAR)
        + f"\n{p} | {drug} | | {atc} | 2026-06-01 | |"
        for p, (drug, atc) in SYSTEMIC_FIFTH.items()
    )
)
FIFTH_DIAGNOSES = table(
    "patient_id | code | code_system | recorded_at | resolved_at\n"
    + "\n".join(f"{p} | 230573007 | SNOMED-CT | 2024-03-01 |" for p in SYSTEMIC_FIFTH)
)


def test_systemic_drugs_with_d_s_or_g02_atc_codes_and_a_desmopressin_nasal_spray_count(tmp_path):
    check_spec(
        tmp_path,
        "elderly_numbness_fall_risk",
        AS_OF,
        {"patients": FIFTH_PATIENTS, "prescriptions": FIFTH_PRESCRIPTIONS, "diagnoses": FIFTH_DIAGNOSES},
        {
            "Y01": "normal",
            "Y02": "normal",
            "Y03": "normal",
            "Y04": "normal",
            "Y05": "normal",
            "Y06": None,
            "Y07": "normal",
        },
    )


# ---------------------------------------------------------------------------------------------
# cramps_metabolic_workup (and cramps_electrolyte_check): no age limit. A 7-year-old whose GP codes
# 'cramp' (R25.2) for night-time leg pains is flagged HIGH for having had no TSH, creatinine/eGFR,
# liver panel and glucose/HbA1c. Nocturnal leg cramps / "growing pains" in children are benign and
# are not investigated with blood tests (NICE CKS 'Leg cramps' covers adults only; its advice for
# idiopathic cramps is that investigations are not usually needed). The guideline's work-up (thyroid,
# liver, kidney disease, diabetes) is written for adults. A clinician expects a child outside the
# population (as the elderly check sets its own age limit). Control: the same record at 66 (high).
# ---------------------------------------------------------------------------------------------
CHILD_PATIENTS = table("""
patient_id | birth_date | sex
K01        | 2019-03-01 | F
K02        | 1960-03-01 | F
""")
CHILD_DIAGNOSES = table("""
patient_id | code  | code_system | recorded_at | resolved_at
K01        | R25.2 | ICD-10-CM   | 2026-09-01  |
K02        | R25.2 | ICD-10-CM   | 2026-09-01  |
""")


def test_a_childs_leg_cramps_ask_for_no_adult_metabolic_work_up(tmp_path):
    check_spec(
        tmp_path,
        "cramps_metabolic_workup",
        AS_OF,
        {"patients": CHILD_PATIENTS, "diagnoses": CHILD_DIAGNOSES},
        {"K01": OUT, "K02": "high"},
    )


# ---------------------------------------------------------------------------------------------
# diuretic_electrolyte_monitoring: oral spironolactone is prescribed off-label to healthy young
# women for acne and hirsutism (here with acne vulgaris L70.0 coded, aged 25, no CKD, no heart
# failure). Routine potassium monitoring is not needed in that group: Plovanich et al., JAMA
# Dermatol 2015;151:941 (0.72% borderline hyperkalaemia in 1,802 checks, the baseline rate of the
# population) and the American Academy of Dermatology acne guideline (Reynolds et al., J Am Acad
# Dermatol 2024) advise against it; the British Association of Dermatologists says the same. The
# check flags her HIGH, "overdue", beside the 76-year-old on spironolactone (heart failure dose),
# who is the patient the guideline's "periodic laboratory testing if on diuretics" is about. A
# clinician expects the acne prescription not flagged (or at least not high priority).
# ---------------------------------------------------------------------------------------------
ACNE_PATIENTS = table("""
patient_id | birth_date | sex
A01        | 2001-04-01 | F
A02        | 1950-04-01 | M
""")
ACNE_DIAGNOSES = table("""
patient_id | code  | code_system | recorded_at | resolved_at
A01        | L70.0 | ICD-10-CM   | 2025-06-01  |
""")
ACNE_PRESCRIPTIONS = table("""
patient_id | drug_name                   | rxnorm_code | atc_code | start_date | end_date | days_supply
A01        | Spironolactone 50mg tablets |             |          | 2025-07-01 |          |
# control: an older man on the same drug, no electrolytes for over a year (high)
A02        | Spironolactone 50mg tablets |             |          | 2025-07-01 |          |
""")


def test_spironolactone_for_acne_in_a_healthy_young_woman_needs_no_potassium_monitoring(tmp_path):
    check_spec(
        tmp_path,
        "diuretic_electrolyte_monitoring",
        AS_OF,
        {"patients": ACNE_PATIENTS, "diagnoses": ACNE_DIAGNOSES, "prescriptions": ACNE_PRESCRIPTIONS},
        {"A01": OUT, "A02": "high"},
    )
