"""The planted patients: one small function per check (flagged cases and near-miss controls),
then the patients appended after the main draw (issue #14) and those of issue #15."""

from __future__ import annotations

from datetime import date

from .events import BMP, LFT, VITALS, Dx, Event, Rx, Scenario, day_of, plant, refills, result, tests, workup
from .shared import CC, CEC, CMR, CMW, DEM, ENF, IPD, NKD, NNW, RNP


def diuretic_scenarios() -> list[Scenario]:
    """Diuretic users at the 365-day edge, on every recognition route, and at the population edges.

    No scenario here can start after as-of: the export date is the as-of date, and a start date
    after the export is quarantined, so that control lives in the spec tests only.
    """
    c = DEM
    return [
        plant(c, "dem_furosemide_no_recent_labs", {DEM}, 74, Dx("I10", -700), Dx("I50.9", -520),
              Rx("lisinopril", -700), Rx("furosemide", -480), tests(-430, *BMP)),
        plant(c, "dem_labs_366_days_before", {DEM}, 68, Dx("I10", -640),
              Rx("hydrochlorothiazide", -600), tests(-520, *BMP), tests(-366, *BMP, clock="16:40")),
        plant(c, "dem_sodium_missing", {DEM}, 77, Dx("I50.9", -400), Rx("spironolactone", -300),
              tests(-420, *BMP), tests(-60, "potassium", "creatinine", "egfr")),
        plant(c, "dem_urine_potassium_only", {DEM}, 63, Dx("I10", -500),
              Rx("chlorthalidone", -250),
              tests(-40, "sodium", "urine_potassium", "creatinine", "egfr")),
        plant(c, "dem_brand_lasix_no_labs", {DEM}, 81, Dx("I50.9", -230),
              Rx("lasix", -200, ident="name"), tests(-450, *BMP)),
        plant(c, "dem_brand_aldactone_no_labs", {DEM}, 58, Dx("I10", -300),
              Rx("aldactone", -150, ident="name")),
        plant(c, "dem_combination_product", {DEM}, 66, Dx("I10", -700),
              Rx("lisinopril_hctz", -380), tests(-400, *BMP)),
        plant(c, "dem_days_supply_still_active", {DEM}, 55, Dx("I10", -200),
              Rx("indapamide", -130, days=90), Rx("indapamide", -40, days=90)),
        plant(c, "dem_rxnorm_code_only", {DEM}, 79, Dx("I50.9", -100),
              Rx("torsemide", -90, ident="rxnorm"), tests(-420, *BMP)),
        plant(c, "dem_urine_sodium_only", {DEM}, 72, Dx("I50.9", -220),
              Rx("bumetanide", -200, ident="atc"),
              tests(-50, "potassium", "urine_sodium", "creatinine")),
        plant(c, "dem_end_date_on_as_of", {DEM}, 71, Dx("I10", -400),
              Rx("hydrochlorothiazide", -180, end=0), tests(-500, *BMP)),
        plant(c, "dem_labs_365_days_before", (), 69, Dx("I10", -700),
              refills("hydrochlorothiazide", -640, 90), tests(-365, *BMP, clock="10:05")),
        plant(c, "dem_ended_past_refill_gap", (), 70, Dx("I50.9", -320),
              Rx("furosemide", -300, end=-31)),
        plant(c, "dem_ongoing_with_labs", (), 62, Dx("I10", -420), Rx("amiloride", -400),
              tests(-120, *BMP)),
        plant(c, "dem_days_supply_ran_out", (), 60, Dx("I10", -250),
              Rx("metolazone", -200, days=30)),
        plant(c, "dem_meq_units_names_only", (), 73, Dx("I50.9", -330), Rx("eplerenone", -300),
              tests(-80, ident="name", potassium=(4.4, "mEq/L"), sodium=(139, "mEq/L"))),
        plant(c, "dem_whole_blood_loinc_only", (), 67, Dx("I10", -600),
              refills("triamterene", -560, 90),
              tests(-200, ident="loinc", loinc="6298-4", potassium=4.1),
              tests(-200, ident="loinc", loinc="2947-0", sodium=140)),
    ]  # fmt: skip


def cirrhosis_scenarios() -> list[Scenario]:
    """Cirrhosis with cramps on every code route; each also meets the other three cramp checks."""
    c = CC
    return [
        plant(c, "cc_alcoholic_cirrhosis_on_diuretics", {CC, CMR}, 61,
              Dx("K70.30", -600, undotted=False), Rx("spironolactone", -580),
              Rx("furosemide", -580), Dx("R25.2", -120), tests(-300, *BMP), workup(-130),
              tests(-40, *BMP, "albumin")),
        plant(c, "cc_codes_without_dots", {CC, CEC}, 55, Dx("K70.31", -400, undotted=True),
              Dx("R25.2", -200, undotted=True), Rx("omeprazole", -380),
              workup(-210, omit=("magnesium",))),
        plant(c, "cc_snomed_cramp", {CC, CMR, CEC}, 67, Dx("K74.60", -500),
              Dx("55300003", -90, "SNOMED-CT"), Rx("spironolactone", -480),
              tests(-100, *BMP, *LFT, "tsh")),
        plant(c, "cc_icd9_codes_low_potassium", {CC, CEC}, 72, Dx("571.5", -650, "ICD-9-CM"),
              Dx("729.82", -150, "ICD-9-CM"), Rx("baclofen", -140),
              workup(-155, potassium=3.2)),
        plant(c, "cc_snomed_cirrhosis_two_cramps", {CC}, 59, Dx("19943007", -300, "SNOMED-CT"),
              Dx("R25.2", -250), workup(-255), Dx("R25.2", -60), workup(-65),
              Rx("albumin", -58, end=-58)),
        plant(c, "cc_toxic_cirrhosis_sparse_labs", {CC, CMR, CEC, CMW}, 64, Dx("K71.7", -350),
              Rx("furosemide", -340), Dx("R25.2", -100), tests(-200, *BMP, "alt"),
              tests(-20, *BMP)),
        plant(c, "cc_other_cirrhosis_beta_blocker", {CC, CMR}, 70, Dx("K74.69", -420),
              Rx("metoprolol", -600), Dx("R25.2", -200), workup(-190)),
        plant(c, "cc_icd9_alcoholic_no_recent_labs", {CC, CEC, CMW}, 66,
              Dx("571.2", -500, "ICD-9-CM"), Dx("R25.2", -75), tests(-400, *BMP, *LFT)),
        plant(c, "cc_resolved_cirrhosis", (), 57, Dx("K74.60", -700, resolved=-400),
              Dx("R25.2", -110), workup(-105)),
        plant(c, "cc_cramp_outside_window", (), 68, Dx("K70.30", -600),
              Rx("spironolactone", -560), Dx("R25.2", -400), tests(-60, *BMP)),
        plant(c, "cc_cirrhosis_without_cramp", (), 62, Dx("K74.60", -300),
              Rx("spironolactone", -290), Rx("furosemide", -290), tests(-30, *BMP, *LFT)),
    ]  # fmt: skip


def diabetes(insulin: str = "insulin_glargine", start: int = -600, end: int | None = None) -> list[Event]:
    """Type 2 diabetes on metformin and an insulin, the background of the insulin scenarios."""
    return [Dx("E11.9", -780), Rx("metformin", -780), Rx(insulin, start, end)]


def insulin_scenarios() -> list[Scenario]:
    """Insulin users with low potassium or a fast fall, and near misses on each threshold."""
    c = IPD
    return [
        plant(c, "ipd_low_potassium", {IPD}, 58, diabetes(), tests(-40, *BMP, potassium=3.2)),
        plant(c, "ipd_drop_into_low", {IPD}, 66, diabetes(), Rx("insulin_lispro", -500),
              tests(-30, potassium=4.6), tests(-28, potassium=3.4)),
        plant(c, "ipd_drop_1_1_in_3_days", {IPD}, 49, diabetes("insulin_aspart", -300),
              tests(-60, potassium=4.9), tests(-57, potassium=3.8)),
        plant(c, "ipd_drop_exactly_1_0_next_day", {IPD}, 71, diabetes(),
              tests(-20, clock="", potassium=4.5), tests(-19, clock="", potassium=3.5)),
        plant(c, "ipd_drop_7_days_apart", {IPD}, 62, diabetes(),
              tests(-50, clock="", potassium=5.0), tests(-43, clock="", potassium=3.9)),
        plant(c, "ipd_low_potassium_meq_by_name", {IPD}, 77, diabetes("insulin_lispro", -400),
              tests(-15, ident="name", potassium=(3.3, "mEq/L"))),
        plant(c, "ipd_potassium_exactly_3_5", (), 64, diabetes(),
              tests(-70, potassium=3.9), tests(-25, potassium=3.5)),
        plant(c, "ipd_drop_0_9", (), 53, diabetes(),
              tests(-35, potassium=4.4), tests(-33, potassium=3.5)),
        plant(c, "ipd_drop_over_8_days", (), 60, diabetes("insulin_aspart", -400),
              tests(-60, potassium=4.9), tests(-52, potassium=3.6)),
        plant(c, "ipd_insulin_stopped_before_lookback", (), 67,
              diabetes("insulin_glargine", -500, -150), tests(-40, potassium=3.2)),
        plant(c, "ipd_low_potassium_without_insulin", (), 57, Dx("I10", -500),
              Rx("hydrochlorothiazide", -450), tests(-30, *BMP, potassium=3.1)),
        plant(c, "ipd_low_potassium_before_lookback", (), 69, diabetes(),
              tests(-200, potassium=3.2), tests(-60, potassium=4.1), tests(-10, potassium=4.3)),
    ]  # fmt: skip


def medication_review_scenarios() -> list[Scenario]:
    """Cramps while on a statin, beta-blocker or diuretic; cramps after the statin was stopped."""
    c = CMR
    return [
        plant(c, "cmr_statin", {CMR}, 63, Dx("E78.5", -700), Rx("atorvastatin", -700),
              Dx("R25.2", -150), workup(-145)),
        plant(c, "cmr_beta_blocker", {CMR}, 71, Dx("I10", -650), Rx("metoprolol", -640),
              Dx("R25.2", -90), workup(-100)),
        plant(c, "cmr_thiazide", {CMR}, 76, Dx("I10", -700), Rx("hydrochlorothiazide", -680),
              Dx("55300003", -200, "SNOMED-CT"), workup(-205), tests(-40, *BMP)),
        plant(c, "cmr_statin_and_beta_blocker", {CMR}, 69, Dx("I10", -600), Dx("E78.5", -600),
              Rx("simvastatin", -590), Rx("bisoprolol", -590), Dx("R25.2", -60, undotted=True),
              workup(-55)),
        plant(c, "cmr_rosuvastatin_atenolol", {CMR}, 66, Dx("I10", -560), Rx("atenolol", -500),
              Rx("rosuvastatin", -400), Dx("R25.2", -250), workup(-240)),
        plant(c, "cmr_statin_stopped_before_lookback", (), 58, Dx("E78.5", -720),
              Rx("simvastatin", -700, end=-420), Dx("R25.2", -130), workup(-125)),
        plant(c, "cmr_other_drugs_only", (), 52, Dx("I10", -600), Rx("lisinopril", -590),
              Rx("amlodipine", -400), Dx("R25.2", -170), workup(-175)),
    ]  # fmt: skip


def electrolyte_scenarios() -> list[Scenario]:
    """Cramps with missing or low K/Ca/Mg around them, and the edges of the -90/+30 day window."""
    c = CEC
    return [
        plant(c, "cec_no_electrolytes_near_cramp", {CEC}, 45, Dx("R25.2", -200),
              tests(-380, *BMP), workup(-30, omit=("magnesium",))),
        plant(c, "cec_magnesium_missing", {CEC}, 52, Dx("K21.9", -500), Rx("omeprazole", -500),
              Dx("R25.2", -100), workup(-110, omit=("magnesium",))),
        plant(c, "cec_low_magnesium", {CEC}, 61, Dx("R25.2", -150), workup(-140, magnesium=0.62)),
        plant(c, "cec_low_calcium_mg_dl", {CEC}, 48, Dx("R25.2", -80),
              workup(-85, calcium=(8.0, "mg/dL"), magnesium=(1.9, "mg/dL"))),
        plant(c, "cec_low_potassium", {CEC}, 39, Dx("R25.2", -220), workup(-215, potassium=3.3)),
        plant(c, "cec_low_magnesium_mg_dl", {CEC}, 56, Dx("K21.9", -600), Rx("omeprazole", -600),
              Dx("R25.2", -60), workup(-58, magnesium=(1.5, "mg/dL"))),
        plant(c, "cec_labs_120_days_before", {CEC}, 44, Dx("R25.2", -100), workup(-220)),
        plant(c, "cec_labs_45_days_after", {CEC}, 50, Dx("R25.2", -150), workup(-105)),
        plant(c, "cec_labs_60_days_before", (), 47, Dx("R25.2", -150), workup(-210)),
        plant(c, "cec_labs_20_days_after", (), 53, Rx("paracetamol", -300), Dx("R25.2", -200),
              workup(-180)),
        plant(c, "cec_magnesium_exactly_0_70", (), 58, Dx("R25.2", -120),
              workup(-118, magnesium=0.70)),
        plant(c, "cec_conventional_units_normal", (), 64, Dx("R25.2", -90),
              workup(-92, potassium=(4.1, "mEq/L"), magnesium=(1.8, "mg/dL"),
                     calcium=(9.0, "mg/dL"))),
    ]  # fmt: skip


def metabolic_scenarios() -> list[Scenario]:
    """Cramps lacking one work-up group each, and the smallest work-ups that still count."""
    c = CMW
    return [
        plant(c, "cmw_no_thyroid_test", {CMW}, 41, tests(-420, "tsh"), Dx("R25.2", -140),
              workup(-135, omit=("tsh",))),
        plant(c, "cmw_no_liver_test", {CMW}, 57, Dx("R25.2", -100), workup(-95, omit=LFT)),
        plant(c, "cmw_no_kidney_test", {CMW}, 35, Dx("R25.2", -160),
              workup(-150, omit=("creatinine", "egfr")), tests(-150, "hba1c")),
        plant(c, "cmw_no_glucose_or_hba1c", {CMW}, 46, Dx("R25.2", -120),
              workup(-118, omit=("glucose",))),
        plant(c, "cmw_no_labs_at_all", {CEC, CMW}, 33, Dx("R25.2", -90)),
        plant(c, "cmw_one_test_per_group", (), 60, Dx("R25.2", -130),
              tests(-128, "potassium", "calcium", "magnesium", "egfr", "bilirubin", "hba1c",
                    "tsh")),
        plant(c, "cmw_thyroid_test_300_days_before", (), 55, tests(-300, "tsh"),
              Dx("R25.2", -100), workup(-95, omit=("tsh", "ast", "bilirubin", "albumin"))),
        plant(c, "cmw_albumin_as_liver_test", (), 38, Dx("R25.2", -70),
              tests(-72, "potassium", "calcium", "magnesium", "creatinine", "glucose", "albumin",
                    "tsh")),
    ]  # fmt: skip


def numbness_scenarios() -> list[Scenario]:
    """Numbness or neuropathy lacking glucose/HbA1c or B12, on each code route, and near misses."""
    c = NNW
    return [
        plant(c, "nnw_paresthesia_no_b12", {NNW}, 52, Dx("R20.2", -120),
              tests(-100, "hba1c", "glucose")),
        plant(c, "nnw_polyneuropathy_no_glucose", {NNW}, 47, Dx("G62.9", -200),
              tests(-190, "vitamin_b12")),
        plant(c, "nnw_snomed_numbness_no_tests", {NNW}, 38, Dx("44077006", -80, "SNOMED-CT")),
        plant(c, "nnw_diabetic_neuropathy_old_b12", {NNW}, 61, Dx("E11.9", -780),
              Rx("metformin", -780), tests(-450, "vitamin_b12"), Dx("E11.42", -150),
              tests(-60, "hba1c", *BMP)),
        plant(c, "nnw_skin_anaesthesia_no_b12", {NNW}, 44, Dx("R20.0", -60),
              tests(-50, "glucose")),
        plant(c, "nnw_leg_mononeuropathy_no_b12", {NNW}, 59, tests(-260, *BMP),
              Dx("G57.91", -240)),
        plant(c, "nnw_complete_workup", (), 50, Dx("R20.2", -100),
              tests(-95, "glucose", "vitamin_b12")),
        plant(c, "nnw_numbness_outside_lookback", (), 45, Dx("R20.2", -420)),
        plant(c, "nnw_snomed_nerve_disease_complete", (), 63, Dx("302226006", -180, "SNOMED-CT"),
              tests(-170, "hba1c", "vitamin_b12")),
        plant(c, "nnw_left_leg_mononeuropathy_complete", (), 55, Dx("G57.92", -140),
              tests(-130, "glucose", "vitamin_b12")),
    ]  # fmt: skip


def nsaid_scenarios() -> list[Scenario]:
    """Systemic NSAIDs with CKD 3+ (each code route) or a low latest eGFR, and near misses.

    Issue #15 made an NSAID with no end date and no days supply a 90-day course: the open-ended
    NSAIDs here start within 90 days of as-of (naproxen -60 and diclofenac -75 were -150 and -200,
    ibuprofen -70 was -100, the recovered-eGFR control's naproxen -80 was -120), so each scenario
    still tests what it was built for. Moving a start date changes no random draw.
    """
    c = NKD
    return [
        plant(c, "nkd_ibuprofen_ckd3_code", {NKD}, 74, Dx("N18.30", -500), Dx("M17.11", -300),
              Rx("ibuprofen", -60), tests(-90, "potassium", "sodium", creatinine=130)),
        plant(c, "nkd_naproxen_ckd4_undotted", {NKD}, 69, Dx("N18.4", -300, undotted=True),
              tests(-100, egfr=24), Rx("naproxen", -20, days=30)),
        plant(c, "nkd_diclofenac_icd9_ckd", {NKD}, 80, Dx("585.3", -700, "ICD-9-CM"),
              Rx("diclofenac", -75), tests(-30, egfr=49)),
        plant(c, "nkd_ibuprofen_snomed_ckd", {NKD}, 71, Dx("433144002", -400, "SNOMED-CT"),
              Rx("ibuprofen", -70)),
        plant(c, "nkd_naproxen_low_egfr_no_code", {NKD}, 66, Dx("M19.90", -400),
              tests(-300, egfr=71), Rx("naproxen", -60), tests(-45, egfr=48)),
        plant(c, "nkd_ibuprofen_ckd5", {NKD}, 77, Dx("N18.5", -200), tests(-150, egfr=12),
              Rx("ibuprofen", -10, days=20)),
        plant(c, "nkd_topical_diclofenac_ckd", (), 78, Dx("N18.30", -400),
              Rx("diclofenac_gel", -100, ident="both"), tests(-50, egfr=45)),
        plant(c, "nkd_ibuprofen_ckd2", (), 68, Dx("N18.2", -300), Rx("ibuprofen", -90),
              tests(-60, egfr=72)),
        plant(c, "nkd_earlier_low_egfr_recovered", (), 73, tests(-500, egfr=55),
              Rx("naproxen", -80), tests(-100, egfr=66)),
        plant(c, "nkd_nsaid_stopped", (), 76, Dx("N18.4", -300), Rx("naproxen", -200, end=-150),
              tests(-100, egfr=26)),
        plant(c, "nkd_ckd_without_nsaid", (), 81, Dx("N18.30", -500), Rx("paracetamol", -400),
              tests(-70, egfr=44)),
    ]  # fmt: skip


def elderly_scenarios() -> list[Scenario]:
    """Older patients with leg numbness on many drugs or a fall-risk drug, and near misses."""
    c = ENF
    six = [
        Rx("paracetamol", -300),
        Rx("omeprazole", -300),
        Rx("amlodipine", -500),
        Rx("lisinopril", -500),
        Rx("atorvastatin", -500),
    ]
    return [
        plant(c, "enf_polypharmacy", {ENF}, 78, Dx("E11.9", -700), Rx("metformin", -700),
              Rx("lisinopril", -600), Rx("amlodipine", -500), Rx("atorvastatin", -600),
              Rx("omeprazole", -300), Rx("levothyroxine", -700), Dx("G62.9", -150),
              tests(-100, "hba1c", "glucose", "vitamin_b12")),
        plant(c, "enf_zolpidem", {ENF}, 82, Dx("E11.9", -800), Rx("metformin", -800),
              Dx("E11.42", -200), tests(-180, "hba1c", "vitamin_b12"), Rx("zolpidem", -90)),
        plant(c, "enf_tramadol", {ENF}, 70, Rx("paracetamol", -100), Dx("G57.91", -100),
              tests(-95, "glucose", "vitamin_b12"), Rx("tramadol", -15, days=30)),
        plant(c, "enf_turns_65_on_as_of", {ENF}, 65, Dx("G62.9", -90), Rx("lorazepam", -80),
              tests(-85, "glucose", "vitamin_b12"), birth=date(1961, 11, 20)),
        plant(c, "enf_sedating_antihistamine", {ENF, NNW}, 88, Dx("E11.9", -780),
              Rx("metformin", -780), Rx("diphenhydramine", -200), Dx("E11.42", -250),
              tests(-100, "hba1c")),
        plant(c, "enf_opioid_and_polypharmacy", {ENF}, 74, six, Dx("G62.9", -60),
              Rx("oxycodone", -50), tests(-55, "glucose", "vitamin_b12")),
        plant(c, "enf_aged_64", (), 64, six, Dx("G62.9", -120), Rx("oxycodone", -110),
              tests(-115, "glucose", "vitamin_b12"), birth=date(1961, 11, 21)),
        plant(c, "enf_numbness_not_lower_limb", (), 80, Rx("diazepam", -200), Dx("R20.2", -90),
              tests(-80, "glucose", "vitamin_b12")),
        plant(c, "enf_four_distinct_drugs", (), 76, Dx("E11.9", -700), Rx("metformin", -700),
              Rx("atorvastatin", -700, end=-300), Rx("lisinopril", -600), Rx("amlodipine", -500),
              Rx("omeprazole", -400), Rx("paracetamol", -400, end=-100), Dx("G62.9", -200),
              tests(-150, "hba1c", "vitamin_b12"), Rx("metformin", -30, days=90)),
        plant(c, "enf_benzodiazepine_stopped", (), 72, Rx("lisinopril", -600),
              Rx("amlodipine", -600), Rx("diazepam", -300, end=-200), Dx("G62.9", -150),
              tests(-140, "glucose", "vitamin_b12")),
    ]  # fmt: skip


def neuropathic_pain_scenarios() -> list[Scenario]:
    """Three or more neuropathic-pain drug trials in 24 months, and the near misses."""
    c = RNP
    return [
        plant(c, "rnp_three_drug_classes", {RNP}, 58, Dx("G62.9", -650),
              Rx("gabapentin", -600, end=-420), Rx("duloxetine", -400, end=-200),
              Rx("amitriptyline", -180)),
        plant(c, "rnp_topical_lidocaine_third", {RNP}, 49, Dx("R20.2", -700),
              Rx("pregabalin", -500, end=-300), Rx("nortriptyline", -280, end=-120),
              Rx("lidocaine_patch", -100)),
        plant(c, "rnp_first_trial_exactly_730_days", {RNP}, 61, Dx("G62.9", -760),
              Rx("gabapentin", -730, end=-500), Rx("carbamazepine", -480, end=-300),
              Rx("capsaicin", -250)),
        plant(c, "rnp_two_gabapentinoids_and_snri", {RNP}, 55, Dx("E11.9", -790),
              Rx("metformin", -790), Dx("E11.42", -780), Rx("gabapentin", -500, end=-350),
              Rx("pregabalin", -340, end=-150), Rx("duloxetine", -140)),
        plant(c, "rnp_same_drug_restarted", (), 52, Dx("G62.9", -640),
              Rx("gabapentin", -600, end=-400), Rx("duloxetine", -380, end=-220),
              Rx("gabapentin", -200)),
        plant(c, "rnp_first_trial_731_days", (), 63, Dx("G62.9", -760),
              Rx("amitriptyline", -731, end=-600), Rx("pregabalin", -550, end=-300),
              Rx("duloxetine", -280)),
        plant(c, "rnp_two_drugs", (), 45, Dx("R20.2", -600), Rx("pregabalin", -400),
              Rx("amitriptyline", -300)),
    ]  # fmt: skip


def all_scenarios() -> list[Scenario]:
    """Every planted patient, grouped by the check each was built for."""
    return [
        *diuretic_scenarios(),
        *cirrhosis_scenarios(),
        *insulin_scenarios(),
        *medication_review_scenarios(),
        *electrolyte_scenarios(),
        *metabolic_scenarios(),
        *numbness_scenarios(),
        *nsaid_scenarios(),
        *elderly_scenarios(),
        *neuropathic_pain_scenarios(),
    ]


def appended_scenarios() -> list[Scenario]:
    """Issue #14: deceased patients, censored and text-only results, same-day results by time.

    Appended after the main draw with a random stream of their own (see build_export), so that
    adding them left every earlier patient, background and planted, exactly as it was. The export
    date is the as-of date and a death after the export date is quarantined, so "dies after as-of,
    still audited, exposures end at death" lives in the spec tests only.
    """
    return [
        # Deceased on or before as-of: out of every check's population, whatever they have.
        plant(DEM, "dem_died_before_as_of_open_diuretic", (), 84, Dx("I50.9", -500),
              Rx("furosemide", -480), tests(-430, *BMP), tests(-200, *VITALS), death=-45),
        plant(CC, "cc_died_on_as_of", (), 63, Dx("K70.30", -500), Rx("spironolactone", -480),
              Dx("R25.2", -60), death=0, deceased="true"),
        plant(RNP, "rnp_deceased_date_unknown", (), 71, Dx("G62.9", -650), Dx("N18.4", -300),
              Rx("gabapentin", -600, end=-420), Rx("duloxetine", -400, end=-200),
              Rx("amitriptyline", -180), Rx("ibuprofen", -60), deceased="true"),
        plant(DEM, "dem_deceased_false_no_labs", {DEM}, 76, Dx("I50.9", -300),
              Rx("bumetanide", -280), tests(-400, *BMP), deceased="false"),
        # Censored results: a result wherever one is asked for, judged on the bound.
        plant(NKD, "nkd_latest_egfr_censored_above_60", (), 72, Dx("M17.11", -400),
              tests(-300, egfr=55), Rx("ibuprofen", -60), result("egfr", -40, ">60"),
              tests(-40, *VITALS)),
        plant(NKD, "nkd_egfr_censored_below_15", {NKD}, 79, Dx("N17.9", -35),
              Rx("naproxen", -90), result("egfr", -30, "<15")),
        plant(IPD, "ipd_censored_potassium_below_2_5", {IPD}, 68, diabetes(),
              tests(-70, potassium=4.2), result("potassium", -25, "<2.5")),
        plant(NNW, "nnw_b12_censored_above_2000", (), 57, Dx("R20.2", -150),
              tests(-140, "glucose"), result("vitamin_b12", -140, ">2000")),
        plant(CMW, "cmw_liver_test_censored", (), 43, Dx("R25.2", -100), workup(-95, omit=LFT),
              result("alt", -95, "<= 5")),
        # Text-only results: the test was done, but there is no number: no result.
        plant(DEM, "dem_only_potassium_haemolysed", {DEM}, 70, Dx("I10", -500),
              Rx("spironolactone", -400), tests(-60, "sodium", "creatinine", "egfr"),
              result("potassium", -60, "haemolysed")),
        plant(DEM, "dem_haemolysed_then_repeated", (), 67, Dx("I10", -600),
              Rx("hydrochlorothiazide", -550), tests(-120, "sodium", "creatinine", "egfr"),
              result("potassium", -120, "haemolysed"), tests(-117, "potassium")),
        plant(NNW, "nnw_b12_see_comment", {NNW}, 50, Dx("G62.9", -120), tests(-110, "glucose"),
              result("vitamin_b12", -110, "see comment", unit="")),
        # Two potassium results on one day: their order is their time, not their value.
        plant(IPD, "ipd_same_day_latest_low", {IPD}, 61, diabetes(),
              tests(-12, clock="04:10", potassium=3.9), tests(-12, clock="13:17", potassium=3.3)),
        plant(IPD, "ipd_same_day_fall_by_time", {IPD}, 74, diabetes("insulin_aspart", -300),
              tests(-33, clock="06:05", potassium=4.7), tests(-33, clock="14:40", potassium=3.6)),
        plant(IPD, "ipd_same_day_rise_by_time", (), 56, diabetes(),
              tests(-33, clock="06:05", potassium=3.6), tests(-33, clock="14:40", potassium=4.7)),
    ]  # fmt: skip


def issue15_scenarios() -> list[Scenario]:
    """Issue #15: a patient for each reviewed rule, with near-miss controls (as of 2026-11-20).

    The last three (review 2026-12) put a repeat medicine's refill gap to the test. Appended after
    the issue #14 patients and the vital signs with a random stream of their own (see
    build_export), so that every earlier patient and row kept its draws.
    """
    return [
        # insulin_potassium_drop: a low result, and the later result of a fall, count only on or
        # after the day insulin started; a fall from above potassium_high (5.0) is a correction.
        plant(IPD, "ipd_low_before_insulin_started", (), 63,
              diabetes("insulin_glargine", day_of("2026-10-02")),
              tests(day_of("2026-10-01"), *BMP, potassium=3.2),
              tests(day_of("2026-10-20"), potassium=4.1)),
        plant(IPD, "ipd_low_on_day_insulin_started", {IPD}, 59,
              diabetes("insulin_glargine", day_of("2026-10-01")),
              tests(day_of("2026-10-01"), potassium=3.2)),
        plant(IPD, "ipd_fall_from_hyperkalaemia", (), 70, diabetes(),
              tests(-20, clock="", potassium=5.8), tests(-19, clock="", potassium=4.6)),
        plant(IPD, "ipd_fall_from_censored_above_6", (), 66, diabetes("insulin_aspart", -400),
              result("potassium", -40, ">6.0", clock=""), tests(-39, clock="", potassium=4.8)),
        plant(IPD, "ipd_low_potassium_on_furosemide", {IPD}, 72, diabetes(), Dx("I50.9", -300),
              Rx("furosemide", -280), tests(-30, *BMP, potassium=3.3)),
        # diuretic_electrolyte_monitoring: started within baseline_days (14) = baseline tests due;
        # a renewal keeps the first start of the course, so it is overdue.
        plant(DEM, "dem_started_14_days_ago_baseline_due", {DEM}, 64, Dx("I10", -400),
              Rx("lisinopril", -390), Rx("indapamide", day_of("2026-11-06"))),
        plant(DEM, "dem_started_15_days_ago_overdue", {DEM}, 69, Dx("I10", -500),
              Rx("amlodipine", -480), Rx("indapamide", day_of("2026-11-05"))),
        plant(DEM, "dem_renewed_diuretic_overdue", {DEM}, 78, Dx("I50.9", -700),
              tests(-450, *BMP),
              Rx("furosemide", day_of("2025-01-01"), end=day_of("2026-11-09")),
              Rx("furosemide", day_of("2026-11-10"))),
        # refractory_neuropathic_pain: a neuropathic pain indication, recorded at any time up to
        # as-of, and each drug counted at its first prescription ever.
        plant(RNP, "rnp_three_drugs_depression_only", (), 48, Dx("F32.9", -500),
              Rx("duloxetine", -480, end=-300), Rx("amitriptyline", -280, end=-120),
              Rx("pregabalin", -100)),
        plant(RNP, "rnp_gabapentin_first_started_before_window", (), 56,
              Dx("G62.9", day_of("2024-05-20")),
              Rx("gabapentin", day_of("2024-06-01"), end=day_of("2024-12-31")),
              Rx("gabapentin", day_of("2025-01-01"), end=-500), Rx("duloxetine", -450, end=-250),
              Rx("nortriptyline", -200)),
        plant(RNP, "rnp_indication_coded_after_drugs", {RNP}, 57,
              Rx("gabapentin", -600, end=-420), Rx("nortriptyline", -400, end=-250),
              Rx("carbamazepine", -230), Dx("G62.9", day_of("2026-06-01")),
              tests(-160, "glucose", "vitamin_b12")),
        # cramps_electrolyte_check: calcium per day as ionised, else corrected from a same-day
        # albumin (total + 0.02 x (40 - albumin), 2 decimals), else total.
        plant(CEC, "cec_low_total_calcium_normal_corrected", (), 46, Dx("R25.2", -120),
              workup(-115, calcium=2.05, albumin=30)),
        plant(CEC, "cec_low_total_calcium_no_albumin", {CEC}, 51, Dx("R25.2", -140),
              workup(-135, omit=("albumin",), calcium=2.05)),
        plant(CEC, "cec_corrected_calcium_exactly_2_10", (), 58, Dx("R25.2", -100),
              workup(-96, calcium=2.20, albumin=45)),
        plant(CEC, "cec_low_ionised_calcium_normal_total", {CEC}, 62, Dx("R25.2", -80),
              workup(-78, calcium=2.30, albumin=40), tests(-78, calcium_ionized=1.10)),
        # nsaid_kidney_disease: CKD stage 4+/dialysis coded is high priority on its own; an NSAID
        # with no end date and no days supply is a 90-day course (day 90 active, day 91 not).
        plant(NKD, "nkd_ckd4_code_no_egfr", {NKD}, 75, Dx("M17.11", -500), Dx("N18.4", -400),
              Rx("ibuprofen", -20, days=30)),
        plant(NKD, "nkd_dialysis_code_only", {NKD}, 67, Dx("Z99.2", -300),
              Rx("naproxen", -25, days=30)),
        plant(NKD, "nkd_open_course_started_90_days_ago", {NKD}, 73, Dx("N18.30", -500),
              Rx("ibuprofen", day_of("2026-08-22"))),
        plant(NKD, "nkd_open_course_started_91_days_ago", (), 70, Dx("N18.30", -500),
              Rx("naproxen", day_of("2026-08-21"))),
        # elderly_numbness_fall_risk: gabapentinoids are fall-risk drugs; a cream of a tricyclic and
        # lithium are not; polypharmacy counts regular systemic medicines (no eye drops, no
        # as-required items, no course planned under 28 days).
        plant(ENF, "enf_pregabalin_only_foot_numbness", {ENF}, 70,
              Dx("309538000", -200, "SNOMED-CT"), tests(-190, "glucose", "vitamin_b12"),
              Rx("pregabalin", -180)),
        plant(ENF, "enf_doxepin_cream_only", (), 74, Dx("G62.9", -300),
              tests(-290, "hba1c", "vitamin_b12"), Rx("doxepin_cream", -100)),
        plant(ENF, "enf_lithium_only", (), 71, Dx("G62.9", -250), tests(-240, "glucose", "vitamin_b12"),
              Rx("lithium", -600)),
        plant(ENF, "enf_four_regular_eye_drops_and_as_required", (), 79, Dx("E11.42", -400),
              tests(-300, "hba1c", "vitamin_b12"), Rx("metformin", -700), Rx("lisinopril", -600),
              Rx("amlodipine", -500), Rx("atorvastatin", -500), Rx("latanoprost_eye_drops", -300),
              Rx("paracetamol_prn", -200)),
        plant(ENF, "enf_28_day_course_counts", {ENF}, 68, Dx("G62.9", -300),
              tests(-290, "glucose", "vitamin_b12"), Rx("lisinopril", -600), Rx("amlodipine", -600),
              Rx("atorvastatin", -500), Rx("omeprazole", -400), Rx("prednisolone", -28, end=0)),
        plant(ENF, "enf_27_day_course_not_counted", (), 76, Dx("G62.9", -300),
              tests(-290, "glucose", "vitamin_b12"), Rx("lisinopril", -600), Rx("amlodipine", -600),
              Rx("atorvastatin", -500), Rx("omeprazole", -400), Rx("prednisolone", -27, end=0)),
        # insulin_potassium_drop priority: only results on or after insulin started make it high;
        # a severe 2.8 the day before insulin does not (the fall after it flags, normal priority).
        plant(IPD, "ipd_severe_low_before_insulin_normal_priority", {IPD}, 61,
              diabetes("insulin_glargine", -49), tests(-50, clock="", potassium=2.8),
              tests(-30, clock="", potassium=4.6), tests(-28, clock="", potassium=3.5)),
        # review 2026-12, repeat prescribing: a repeat medicine is still taken up to refill_gap_days
        # (30) after an issue ends, so a long-term user is not off the drug between two issues.
        plant(DEM, "dem_ended_30_days_before_in_refill_gap", {DEM}, 74, Dx("I50.9", -320),
              Rx("furosemide", -300, end=-30)),
        plant(DEM, "dem_between_28_day_repeat_issues", {DEM}, 81, Dx("I10", -500),
              tests(-420, *BMP), Rx("indapamide", -93, days=28), Rx("indapamide", -62, days=28),
              Rx("indapamide", -31, days=28)),
        plant(CMR, "cmr_cramp_between_statin_issues", {CMR}, 66, Dx("E78.5", -700),
              Rx("atorvastatin", -200, days=28), Rx("atorvastatin", -169, days=28),
              Dx("R25.2", -139), workup(-135), Rx("atorvastatin", -137)),
        # ... and the fall-risk check reads the same gap: the fifth regular medicine, amlodipine on
        # 28-day repeats, ran out 5 days before as-of (flagged); past the gap, four (control)
        plant(ENF, "enf_fifth_medicine_in_refill_gap", {ENF}, 79, Dx("E11.9", -700),
              Rx("metformin", -700), Rx("lisinopril", -600), Rx("atorvastatin", -600),
              Rx("omeprazole", -400), Dx("G62.9", -200), tests(-150, "hba1c", "vitamin_b12"),
              Rx("amlodipine", -61, days=28), Rx("amlodipine", -33, days=28)),
        plant(ENF, "enf_fifth_medicine_past_refill_gap", (), 77, Dx("E11.9", -700),
              Rx("metformin", -700), Rx("lisinopril", -600), Rx("atorvastatin", -600),
              Rx("omeprazole", -400), Dx("G62.9", -200), tests(-150, "hba1c", "vitamin_b12"),
              Rx("amlodipine", -89, days=28), Rx("amlodipine", -59, days=28)),
        # ... but a drug stopped before its supply ran out (an end date before start + days supply
        # - 1) is not taken after its end: 90 days supplied, stopped after 45 (control); the same
        # supply ending on its last day, 11 days before as-of, is still in its gap (flagged)
        plant(DEM, "dem_stopped_before_supply_ran_out", (), 72, Dx("I10", -500),
              Rx("furosemide", -60, end=-15, days=90)),
        plant(DEM, "dem_supply_ran_out_in_refill_gap", {DEM}, 70, Dx("I10", -500),
              Rx("furosemide", -100, end=-11, days=90)),
        # a course is the unbroken use running on as-of: furosemide for three months last winter,
        # never tested, taken again 10 days ago after seven months off is a new start (baseline
        # tests due), not a long-term user overdue
        plant(DEM, "dem_restarted_after_a_break", {DEM}, 76, Dx("I50.9", -400),
              Rx("furosemide", -320, end=-230), Rx("furosemide", -10)),
    ]  # fmt: skip


MAIN_PATIENTS = 300  # the main draw: the first planted scenarios shuffled among background patients
DEFAULT_PATIENTS = MAIN_PATIENTS + len(appended_scenarios()) + len(issue15_scenarios())
