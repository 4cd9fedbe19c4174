"""Spec: a third clinical review (2026-12): codes a clinician expects in a codelist that were
missing, each patient coded only by the new code so the check sees them only through it."""

from __future__ import annotations

from datetime import date

from tests.helpers import table
from tests.spec.harness import check_spec

AS_OF = date(2026, 11, 20)


def test_uk_snomed_ckd_stage_codes_with_proteinuria_or_kdigo_category_are_ckd(tmp_path):
    # UK primary care records CKD stage 3-5 as 'with/without proteinuria' (QOF) or as the KDIGO
    # G/A category concepts, not as the international 'CKD stage 3' concept: an NSAID in any of them
    # is the PINCER hazard. Stage 4-5 concepts are high priority; stage 1-2 (G2A2) is not CKD 3+.
    prescriptions = table(
        "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
        + "\n".join(
            f"{p} | ibuprofen 400 mg tablet | 5640 | M01AE01 | 2026-09-01 | |"
            for p in ("U1", "U2", "U3", "U4", "U5", "U6")
        )
    )
    diagnoses = table("""
    patient_id | code            | code_system | recorded_at | resolved_at
    # CKD stage 3A with proteinuria
    U1         | 324311000000101 | SNOMED-CT   | 2025-03-01  |
    # CKD G3b A1
    U2         | 950061000000103 | SNOMED-CT   | 2025-03-01  |
    # CKD stage 4 without proteinuria
    U3         | 324471000000100 | SNOMED-CT   | 2025-03-01  |
    # CKD G5 A3
    U4         | 950311000000102 | SNOMED-CT   | 2025-03-01  |
    # CKD G2 A2: stage 2, not stage 3 or worse
    U5         | 949561000000100 | SNOMED-CT   | 2025-03-01  |
    # CKD stage 5 with transplant (5T): the graft's own function at stage 5 (review 2026-12-06;
    # first left out as "a working graft", which misread KDIGO's T suffix)
    U6         | 714153000       | SNOMED-CT   | 2025-03-01  |
    """)
    tables = {"prescriptions": prescriptions, "diagnoses": diagnoses}
    expected = {"U1": "normal", "U2": "normal", "U3": "high", "U4": "high", "U5": None, "U6": "high"}
    check_spec(tmp_path, "nsaid_kidney_disease", AS_OF, tables, expected)


def test_diuretics_written_by_name_only_are_diuretics(tmp_path):
    # Thiazides, loops and MRAs the ATC group holds, and US brands, prescribed by name with no code:
    # each needs potassium and sodium monitoring like any other diuretic (no labs: flagged high).
    names = {
        "D1": "Trichlormethiazide 4 mg tablet",
        "D2": "Piretanide 6 mg capsule",
        "D3": "Potassium canrenoate 200 mg/10 mL injection",
        "D4": "HydroDIURIL 25 mg tablet",
        "D5": "Mykrox 0.5 mg tablet",
        "D6": "Uniretic 15/25 mg tablet",
        "D7": "Teveten HCT 600/12.5 mg tablet",
        "D8": "Quinethazone 50 mg tablet",
        # a beta-blocker alone is not a diuretic
        "D9": "Inderal 40 mg tablet",
    }
    prescriptions = table(
        "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
        + "\n".join(f"{p} | {n} | | | 2025-06-01 | |" for p, n in names.items())
    )
    expected = {p: "high" for p in names if p != "D9"}
    check_spec(tmp_path, "diuretic_electrolyte_monitoring", AS_OF, {"prescriptions": prescriptions}, expected)


def test_a_transdermal_patch_is_a_systemic_medicine_in_the_polypharmacy_count(tmp_path):
    # A transdermal patch (estradiol, rivastigmine, glyceryl trinitrate) delivers the drug into the
    # blood: it is a regular systemic medicine, the fifth here. A medicated plaster or gel for the
    # skin (lidocaine, diclofenac) is local and still does not count.
    patients = table("""
    patient_id | birth_date | sex
    T1         | 1945-01-01 | F
    T2         | 1945-01-01 | F
    T3         | 1945-01-01 | M
    T4         | 1945-01-01 | F
    """)
    extra = {
        "T1": "Estradiol 50micrograms/24hours transdermal patches",
        "T2": "Rivastigmine 4.6mg/24hours transdermal patches",
        "T3": "Lidocaine 700mg medicated plasters",
        "T4": "Diclofenac 1% gel",
    }
    oral = (
        "Amlodipine 5mg tablets",
        "Ramipril 5mg capsules",
        "Metformin 500mg tablets",
        "Atorvastatin 20mg tablets",
    )
    prescriptions = table(
        "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
        + "\n".join(f"{p} | {d} | | | 2025-01-01 | |" for p in extra for d in (*oral, extra[p]))
    )
    diagnoses = table(
        "patient_id | code | code_system | recorded_at | resolved_at\n"
        + "\n".join(f"{p} | G62.9 | ICD-10-CM | 2025-06-01 |" for p in extra)
    )
    tables = {"patients": patients, "prescriptions": prescriptions, "diagnoses": diagnoses}
    expected = {"T1": True, "T2": True, "T3": None, "T4": None}
    check_spec(tmp_path, "elderly_numbness_fall_risk", AS_OF, tables, expected)


def test_a_transdermal_patch_of_a_locally_acting_drug_is_still_topical(tmp_path):
    # Second reading of review 3: 'transdermal' alone does not make a product systemic. A topical
    # NSAID patch ('Diclofenac 1% transdermal patches', as dose_forms_topical.csv quotes dm+d;
    # Flector coded M02AA15), a lidocaine or capsaicin patch (a local anaesthetic or counter-irritant,
    # however a system labels it) and a compounded 'transdermal cream' act where they are put: none
    # is the fifth regular systemic medicine. A glyceryl trinitrate or nicotine transdermal patch is
    # (the drug reaches the blood).
    patients = table(
        "patient_id | birth_date | sex\n"
        + "\n".join(f"{p} | 1945-01-01 | F" for p in ("L1", "L2", "L3", "L4", "L5", "L6", "L7", "L8"))
    )
    extra = {
        "L1": ("Diclofenac 1% transdermal patches", ""),
        "L2": ("Flector 1.3% transdermal patch", "M02AA15"),
        "L3": ("Lidocaine 5% transdermal patch", ""),
        "L4": ("Capsaicin 8% transdermal patch", "N01BX04"),
        "L5": ("Ketoprofen 10% transdermal cream", ""),
        "L6": ("Glyceryl trinitrate 5mg/24hours transdermal patches", ""),
        "L7": ("Nicotine 21mg/24hours transdermal patches", ""),
        # a compounded cream of a gabapentinoid: neither a fifth medicine nor a fall-risk drug
        "L8": ("Gabapentin 10% transdermal cream", ""),
    }
    oral = (
        "Amlodipine 5mg tablets",
        "Ramipril 5mg capsules",
        "Metformin 500mg tablets",
        "Atorvastatin 20mg tablets",
    )
    rows = [f"{p} | {d} | | | 2025-01-01 | |" for p in extra for d in oral]
    rows += [f"{p} | {name} | | {atc} | 2025-01-01 | |" for p, (name, atc) in extra.items()]
    prescriptions = table(
        "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
        + "\n".join(rows)
    )
    diagnoses = table(
        "patient_id | code | code_system | recorded_at | resolved_at\n"
        + "\n".join(f"{p} | G62.9 | ICD-10-CM | 2025-06-01 |" for p in extra)
    )
    tables = {"patients": patients, "prescriptions": prescriptions, "diagnoses": diagnoses}
    expected = {p: None for p in extra} | {"L6": True, "L7": True}
    check_spec(tmp_path, "elderly_numbness_fall_risk", AS_OF, tables, expected)


def test_a_beta_blocker_and_thiazide_us_brand_is_both_classes(tmp_path):
    # Inderide (propranolol / HCTZ) and Timolide (oral timolol / HCTZ), added to the diuretics, are
    # beta-blocker combinations too: listed with both classes, as Ziac, Tenoretic and Kalten are.
    diagnoses = table(
        "patient_id | code | code_system | recorded_at | resolved_at\n"
        + "\n".join(f"{p} | R25.2 | ICD-10-CM | 2026-06-01 |" for p in ("B1", "B2"))
    )
    prescriptions = table("""
    patient_id | drug_name                  | rxnorm_code | atc_code | start_date | end_date | days_supply
    B1         | Inderide 40/25 mg tablet   |             |          | 2025-01-01 |          |
    B2         | Timolide 10/25 mg tablet   |             |          | 2025-01-01 |          |
    """)
    tables = {"diagnoses": diagnoses, "prescriptions": prescriptions}
    evidence = {p: {"drug_classes": "beta-blocker, diuretic"} for p in ("B1", "B2")}
    check_spec(
        tmp_path, "cramps_medication_review", AS_OF, tables, {"B1": True, "B2": True}, evidence=evidence
    )
