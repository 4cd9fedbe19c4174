"""Spec: a clinical red-team review (2026-12) of elderly_numbness_fall_risk, insulin_potassium_drop,
nsaid_kidney_disease and refractory_neuropathic_pain on exports shaped as real ones: each case a
clinician would object to, fixed (each failed before its fix), and the cases checked that already
held, kept as cover. As of 2026-11-20."""

from __future__ import annotations

from datetime import date

from tests.helpers import table
from tests.spec.harness import OUT, check_spec

AS_OF = date(2026, 11, 20)
# Four regular systemic medicines: with a fifth, polypharmacy (elderly_numbness_fall_risk).
FOUR = (
    "amlodipine 5 mg tablet",
    "ramipril 5 mg capsule",
    "metformin 500 mg tablet",
    "atorvastatin 20 mg tablet",
)


def _patients(ids, birth="1950-01-01"):
    return table("patient_id | birth_date | sex\n" + "\n".join(f"{p} | {birth} | F" for p in ids))


def _diagnoses(ids, code="G62.9", system="ICD-10-CM", recorded="2025-01-01"):
    return table(
        "patient_id | code | code_system | recorded_at | resolved_at\n"
        + "\n".join(f"{p} | {code} | {system} | {recorded} |" for p in ids)
    )


# ---------------------------------------------------------------------------------------------
# refractory_neuropathic_pain: UK dm+d brand names of the counted ingredients. The same brands are
# already in fall_risk_drugs.csv (as pregabalin, venlafaxine, nortriptyline, carbamazepine), so the
# export's names are known to the tool, but neuropathic_pain_drugs.csv lacks them: a UK patient who
# tried pregabalin (Alzain), venlafaxine (Efexor XL) and nortriptyline (Allegron) for painful diabetic
# neuropathy has three trials (NICE CG173 first/second line drugs) and should be referred.
# ---------------------------------------------------------------------------------------------
UK_BRAND_PRESCRIPTIONS = table("""
patient_id | drug_name                                      | rxnorm_code | atc_code | start_date | end_date   | days_supply
# three UK brands only
X01        | Alzain 75mg capsules                           |             |          | 2025-01-01 | 2025-06-01 |
X01        | Efexor XL 75mg capsules                        |             |          | 2025-07-01 | 2026-01-01 |
X01        | Allegron 10mg tablets                          |             |          | 2026-02-01 |            |
# two generics and a third trial written as a UK pregabalin brand
X02        | Amitriptyline 10mg tablets                     |             |          | 2025-01-01 | 2025-06-01 |
X02        | Duloxetine 30mg gastro-resistant capsules      |             |          | 2025-07-01 | 2026-01-01 |
X02        | Lecaent 75mg capsules                          |             |          | 2026-02-01 |            |
# trigeminal neuralgia: carbamazepine as a UK brand after gabapentin and amitriptyline
X03        | Gabapentin 300mg capsules                      |             |          | 2025-01-01 | 2025-06-01 |
X03        | Amitriptyline 10mg tablets                     |             |          | 2025-07-01 | 2026-01-01 |
X03        | Carbagen SR 200mg prolonged-release tablets    |             |          | 2026-02-01 |            |
# venlafaxine as a UK MR brand
X04        | Gabapentin 300mg capsules                      |             |          | 2025-01-01 | 2025-06-01 |
X04        | Amitriptyline 10mg tablets                     |             |          | 2025-07-01 | 2026-01-01 |
X04        | Vensir XL 75mg capsules                        |             |          | 2026-02-01 |            |
# control: the generic names are counted
X05        | Pregabalin 75mg capsules                       |             |          | 2025-01-01 | 2025-06-01 |
X05        | Venlafaxine 75mg modified-release capsules     |             |          | 2025-07-01 | 2026-01-01 |
X05        | Nortriptyline 10mg tablets                     |             |          | 2026-02-01 |            |
# lidocaine 5% plaster as the UK branded generic of Versatis (BNF 1502010J0BW)
X06        | Pregabalin 75mg capsules                       |             |          | 2025-01-01 | 2025-06-01 |
X06        | Amitriptyline 10mg tablets                     |             |          | 2025-07-01 | 2026-01-01 |
X06        | Ralvo 700mg medicated plasters                 |             |          | 2026-02-01 |            |
# carbamazepine as another UK brand
X07        | Gabapentin 300mg capsules                      |             |          | 2025-01-01 | 2025-06-01 |
X07        | Amitriptyline 10mg tablets                     |             |          | 2025-07-01 | 2026-01-01 |
X07        | Epimaz 200mg tablets                           |             |          | 2026-02-01 |            |
""")
UK_BRAND_DIAGNOSES = table("""
patient_id | code  | code_system | recorded_at | resolved_at
X01        | E11.42 | ICD-10-CM  | 2024-06-01  |
X02        | E11.42 | ICD-10-CM  | 2024-06-01  |
X03        | G50.0  | ICD-10-CM  | 2024-06-01  |
X04        | E11.42 | ICD-10-CM  | 2024-06-01  |
X05        | E11.42 | ICD-10-CM  | 2024-06-01  |
X06        | B02.29 | ICD-10-CM  | 2024-06-01  |
X07        | G50.0  | ICD-10-CM  | 2024-06-01  |
""")


def test_refractory_uk_brands_of_pregabalin_venlafaxine_nortriptyline_carbamazepine_are_trials(tmp_path):
    tables = {"prescriptions": UK_BRAND_PRESCRIPTIONS, "diagnoses": UK_BRAND_DIAGNOSES}
    expected = {
        "X01": "normal",
        "X02": "normal",
        "X03": "normal",
        "X04": "normal",
        "X05": "normal",
        "X06": "normal",
        "X07": "normal",
    }
    check_spec(tmp_path, "refractory_neuropathic_pain", AS_OF, tables, expected)


# ---------------------------------------------------------------------------------------------
# elderly_numbness_fall_risk: UK strong-opioid brands as dm+d AMP names (BNF 4.7.2). Each patient is
# 76 with G62.9 and takes only the named opioid: Beers 2023 Table 3 (history of falls) lists opioids.
# ---------------------------------------------------------------------------------------------
UK_OPIOIDS = {
    "O01": "MXL 30mg modified-release capsules",  # morphine sulfate once daily
    "O02": "Filnarine SR 10mg tablets",  # morphine sulfate MR
    "O03": "Abtard 10mg modified-release tablets",  # oxycodone MR
    "O04": "Oxylan 10mg modified-release tablets",  # oxycodone MR
    "O05": "Carexil 10mg modified-release tablets",  # oxycodone MR
    "O06": "Hapoctasin 35micrograms/hour transdermal patches",  # buprenorphine
    "O07": "Zomorph 10mg modified-release capsules",  # control: known brand
}


def test_elderly_uk_strong_opioid_brands_are_fall_risk_drugs(tmp_path):
    ids = list(UK_OPIOIDS)
    prescriptions = table(
        "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
        + "\n".join(f"{p} | {d} | | | 2026-06-01 | |" for p, d in UK_OPIOIDS.items())
    )
    tables = {"patients": _patients(ids), "diagnoses": _diagnoses(ids), "prescriptions": prescriptions}
    expected = dict.fromkeys(ids, "normal")
    evidence = {p: {"fall_risk_drugs": "...(opioid)"} for p in ids}
    check_spec(tmp_path, "elderly_numbness_fall_risk", AS_OF, tables, expected, evidence=evidence)


# ---------------------------------------------------------------------------------------------
# elderly_numbness_fall_risk: licensed transdermal hormone gels are systemic medicines (BNF:
# estradiol gel and testosterone gel act systemically; ATC G03, not D or M02), like the estradiol
# patches the check already counts. Four regular medicines plus the gel: five, polypharmacy.
# ---------------------------------------------------------------------------------------------
HORMONE_GELS = {
    "H01": ("Oestrogel Pump-Pack 750micrograms/actuation gel", "G03CA03"),
    "H02": ("Testogel 40.5mg/2.5g gel sachets", "G03BA03"),
    "H03": ("Estradot 50micrograms/24hours patches", "G03CA03"),  # control: a patch counts
}


def test_elderly_systemic_hormone_gels_count_as_regular_systemic_medicines(tmp_path):
    ids = list(HORMONE_GELS)
    rows = [f"{p} | {d} | | | 2026-01-01 | |" for p in ids for d in FOUR]
    rows += [f"{p} | {name} | | {atc} | 2026-01-01 | |" for p, (name, atc) in HORMONE_GELS.items()]
    prescriptions = table(
        "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
        + "\n".join(rows)
    )
    tables = {"patients": _patients(ids), "diagnoses": _diagnoses(ids), "prescriptions": prescriptions}
    evidence = {p: {"active_drug_count": 5} for p in ids}
    check_spec(
        tmp_path, "elderly_numbness_fall_risk", AS_OF, tables, dict.fromkeys(ids, "normal"), evidence=evidence
    )


# ---------------------------------------------------------------------------------------------
# nsaid_kidney_disease: CKD re-staged. A stage 3 code from an intercurrent illness in 2021 was later
# superseded by a stage 2 code, and the latest eGFR is 72. The QOF CKD register (NHS England QOF
# business rules, CKD_COD / CKD1AND2_COD) takes the LATEST CKD staging code: a later stage 1-2 code
# removes the patient from the stage 3-5 register. Flagging this NSAID user as "CKD stage 3 or worse"
# is wrong. K01: ICD-10-CM; K02: UK SNOMED CT (CKD 3A without proteinuria, then CKD stage 2).
# K03 (control): the same stage 3 code with no later re-staging stays flagged.
# ---------------------------------------------------------------------------------------------
RESTAGE_PRESCRIPTIONS = table("""
patient_id | drug_name                  | rxnorm_code | atc_code | start_date | end_date | days_supply
K01        | Naproxen 500mg tablets     |             |          | 2026-10-01 |          | 60
K02        | Naproxen 500mg tablets     |             |          | 2026-10-01 |          | 60
K03        | Naproxen 500mg tablets     |             |          | 2026-10-01 |          | 60
""")
RESTAGE_DIAGNOSES = table("""
patient_id | code            | code_system | recorded_at | resolved_at
K01        | N18.30          | ICD-10-CM   | 2021-03-01  |
K01        | N18.2           | ICD-10-CM   | 2024-03-01  |
K02        | 324341000000100 | SNOMED-CT   | 2021-03-01  |
K02        | 431856006       | SNOMED-CT   | 2024-03-01  |
K03        | N18.30          | ICD-10-CM   | 2021-03-01  |
""")
RESTAGE_LABS = table("""
patient_id | collected_at | loinc_code | test_name | value | unit
K01        | 2026-09-15   | 33914-3    |           | 72    | mL/min/1.73m2
K02        | 2026-09-15   | 33914-3    |           | 72    | mL/min/1.73m2
K03        | 2026-09-15   | 33914-3    |           | 72    | mL/min/1.73m2
""")


# ---------------------------------------------------------------------------------------------
# nsaid_kidney_disease: eGFR as UK GP systems export it, by its Read/CTV3/SNOMED term and no LOINC
# code ("GFR calculated abbreviated MDRD", Read 451E; "eGFR using creatinine (CKD-EPI) per 1.73
# square metres", Read 451N / CTV3 XacUK, the QOF CKD term since 2019). An eGFR of 25 on naproxen is
# CKD G4 range, where NSAIDs are to be avoided (KDIGO 2024, Beers 2023, NICE NG203).
# ---------------------------------------------------------------------------------------------
def test_nsaid_egfr_by_its_uk_read_snomed_term_is_an_egfr(tmp_path):
    ids = ["G01", "G02", "G03"]
    prescriptions = table(
        "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
        + "\n".join(f"{p} | Naproxen 500mg tablets | | | 2026-10-01 | | 60" for p in ids)
    )
    labs = table("""
patient_id | collected_at | loinc_code | test_name                                               | value | unit
G01        | 2026-10-15   |            | eGFR using creatinine (CKD-EPI) per 1.73 square metres | 25    | mL/min/1.73m2
G02        | 2026-10-15   |            | GFR calculated abbreviated MDRD                         | 25    | mL/min/1.73m2
G03        | 2026-10-15   |            | eGFR (CKD-EPI)                                          | 25    | mL/min/1.73m2
""")
    tables = {"prescriptions": prescriptions, "labs": labs}
    check_spec(tmp_path, "nsaid_kidney_disease", AS_OF, tables, {"G01": "high", "G02": "high", "G03": "high"})


# ---------------------------------------------------------------------------------------------
# Checked and passing (kept as regression guards): NSAID product names as UK dm+d and US RxNorm
# write them. Systemic: flagged (all have CKD stage 4). Topical or throat lozenge: out.
# ---------------------------------------------------------------------------------------------
NSAID_NAMES = {
    "N01": ("Naprosyn EC 500mg gastro-resistant tablets", "high"),
    "N02": ("Nurofen Plus tablets", "high"),  # ibuprofen / codeine
    "N03": ("Arthrotec 75 modified-release tablets", "high"),  # diclofenac / misoprostol
    "N04": ("Vimovo 500mg/20mg modified-release tablets", "high"),  # naproxen / esomeprazole
    "N05": ("Advil Liqui-Gels 200 MG Oral Capsule", "high"),
    "N06": ("Ibuprofen 200mg soft gel capsules", "high"),
    "N07": ("Sprix 15.75 MG/SPRAY Nasal Spray", "high"),  # intranasal ketorolac is systemic
    "N08": ("Diclofenac sodium 100mg suppositories", "high"),
    "N09": ("naproxen sodium 220 MG Oral Tablet [Aleve]", "high"),
    "N10": ("Etoricoxib 60mg tablets", "high"),
    "N11": ("Mefenamic acid 500mg tablets", "high"),
    "N12": ("Voltarol 75mg/3ml solution for injection ampoules", "high"),
    "N13": ("Ibuprofen 5% cream", OUT),
    "N14": ("Ketoprofen 2.5% gel", OUT),
    "N15": ("Flurbiprofen 8.75mg lozenges", OUT),
    "N16": ("Nurofen Joint & Back Pain Relief 10% gel", OUT),
}


def test_nsaid_product_names_as_uk_and_us_exports_write_them(tmp_path):
    ids = list(NSAID_NAMES)
    prescriptions = table(
        "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
        + "\n".join(f"{p} | {n} | | | 2026-10-01 | | 60" for p, (n, _) in NSAID_NAMES.items())
    )
    tables = {"prescriptions": prescriptions, "diagnoses": _diagnoses(ids, code="N18.4")}
    check_spec(tmp_path, "nsaid_kidney_disease", AS_OF, tables, {p: w for p, (_, w) in NSAID_NAMES.items()})


# ---------------------------------------------------------------------------------------------
# insulin_potassium_drop: the reason offers "also on a diuretic" as a co-cause of the low potassium.
# The rationale grounds it on loop and thiazide diuretics lowering potassium; mineralocorticoid
# antagonists and amiloride are potassium-SPARING (they raise potassium: BNF, NHS SPS), so naming
# spironolactone or eplerenone beside a low potassium points the reviewer the wrong way.
# J03 (control): furosemide is shown. All stay flagged (high: the latest potassium is still low).
# ---------------------------------------------------------------------------------------------
J_IDS = ("J01", "J02", "J03", "J04", "J05", "J06", "J07")


def test_insulin_potassium_sparing_diuretic_is_not_offered_as_a_cause_of_low_potassium(tmp_path):
    prescriptions = table("""
patient_id | drug_name                                       | rxnorm_code | atc_code | start_date | end_date | days_supply
J01        | Insulin glargine 100units/ml SoloStar pens       |             | A10AE04  | 2026-01-01 |          |
J01        | Spironolactone 25mg tablets                      |             |          | 2026-01-01 |          |
J02        | Insulin glargine 100units/ml SoloStar pens       |             | A10AE04  | 2026-01-01 |          |
J02        | Eplerenone 25mg tablets                          |             |          | 2026-01-01 |          |
J03        | Insulin glargine 100units/ml SoloStar pens       |             | A10AE04  | 2026-01-01 |          |
J03        | Furosemide 40mg tablets                          |             |          | 2026-01-01 |          |
J04        | Insulin glargine 100units/ml SoloStar pens       |             | A10AE04  | 2026-01-01 |          |
J04        | Spironolactone 25mg tablets                      | 313096      | C03DA01  | 2026-01-01 |          |
J05        | Insulin glargine 100units/ml SoloStar pens       |             | A10AE04  | 2026-01-01 |          |
J05        | Tolvaptan 15mg tablets                           |             | C03XA01  | 2026-01-01 |          |
J06        | Insulin glargine 100units/ml SoloStar pens       |             | A10AE04  | 2026-01-01 |          |
J06        | Co-amilofruse 5mg/40mg tablets                   |             | C03EB01  | 2026-01-01 |          |
J07        | Insulin glargine 100units/ml SoloStar pens       |             | A10AE04  | 2026-01-01 |          |
J07        | Water tablet                                     |             | C03     | 2026-01-01 |          |
""")
    labs = table(
        "patient_id | collected_at | loinc_code | test_name | value | unit\n"
        + "\n".join(f"{p} | 2026-10-15 | 2823-3 | | 3.2 | mmol/L" for p in J_IDS)
    )
    tables = {"prescriptions": prescriptions, "labs": labs}
    evidence = {
        "J01": {"concurrent_diuretics": None},
        "J02": {"concurrent_diuretics": None},
        # coded as its ATC code says (every C03 code is also the class row <diuretic>): still spared
        "J04": {"concurrent_diuretics": None},
        "J05": {"concurrent_diuretics": None},
        # furosemide in a combination lowers potassium; a diuretic known only by its class is shown
        "J06": {"concurrent_diuretics": "Co-amilofruse 5mg/40mg tablets"},
        "J07": {"concurrent_diuretics": "Water tablet"},
        "J03": {"concurrent_diuretics": "Furosemide 40mg tablets"},
    }
    check_spec(
        tmp_path,
        "insulin_potassium_drop",
        AS_OF,
        tables,
        dict.fromkeys(J_IDS, "high"),  # latest potassium still low: high
        evidence=evidence,
    )


# ---------------------------------------------------------------------------------------------
# elderly_numbness_fall_risk: appliances on an older patient's repeat list are not medicines (Drug
# Tariff Part IX appliances; the rationale: "an appliance ... is not a medicine"). Inhaler spacers,
# urinary sheaths and catheters, drainage bags and stoma bags are as common on UK repeats of the
# over-65s as pen needles. Each patient takes four regular medicines plus the appliance: four.
# ---------------------------------------------------------------------------------------------
APPLIANCES = {
    "A01": "AeroChamber Plus Flow-Vu spacer",
    "A02": "Volumatic spacer",
    "A03": "Conveen Optima male external catheter 30mm",
    "A04": "Urine drainage leg bag 500ml",
    "A05": "SenSura Mio closed colostomy bag",
}


def test_elderly_spacers_catheters_and_stoma_bags_are_appliances_not_medicines(tmp_path):
    ids = list(APPLIANCES)
    rows = [f"{p} | {d} | | | 2026-01-01 | |" for p in ids for d in [*FOUR, APPLIANCES[p]]]
    prescriptions = table(
        "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
        + "\n".join(rows)
    )
    tables = {"patients": _patients(ids), "diagnoses": _diagnoses(ids), "prescriptions": prescriptions}
    check_spec(tmp_path, "elderly_numbness_fall_risk", AS_OF, tables, dict.fromkeys(ids))


# ---------------------------------------------------------------------------------------------
# Checked and passing (kept as regression guards): insulin products as US RxNorm and UK dm+d name
# them, each with a potassium of 3.2 on 2026-10-15; a syringe alone is a device (out).
# ---------------------------------------------------------------------------------------------
INSULIN_NAMES = {
    "I01": ("insulin glargine-yfgn 100 UNT/ML Pen Injector [Semglee]", "high"),
    "I02": ("Humulin I KwikPen 100units/ml suspension for injection", "high"),
    "I03": ("Insuman Comb 25 100units/ml SoloStar", "high"),
    "I04": ("Hypurin Porcine Neutral 100units/ml cartridges", "high"),
    "I05": ("NPH insulin human 100 UNT/ML Injectable Suspension", "high"),
    "I06": ("Insulin aspart 100units/ml 3ml cartridges for pump use", "high"),
    "I07": ("Awiqli 700units/ml FlexTouch pre-filled pens", "high"),  # insulin icodec, weekly
    "I08": ("BD Micro-Fine insulin syringe 0.5ml 30G", OUT),
}


def test_insulin_names_as_us_and_uk_exports_write_them(tmp_path):
    prescriptions = table(
        "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
        + "\n".join(f"{p} | {n} | | | 2026-06-01 | |" for p, (n, _) in INSULIN_NAMES.items())
    )
    labs = table(
        "patient_id | collected_at | loinc_code | test_name | value | unit\n"
        + "\n".join(f"{p} | 2026-10-15 | | Serum potassium level | 3.2 | mmol/L" for p in INSULIN_NAMES)
    )
    tables = {"prescriptions": prescriptions, "labs": labs}
    check_spec(
        tmp_path, "insulin_potassium_drop", AS_OF, tables, {p: w for p, (_, w) in INSULIN_NAMES.items()}
    )


# Checked and passing: fall-risk drugs in liquid, buccal, nasal and as-needed forms stay fall-risk drugs.
FORMS = {
    "Q01": ("Oramorph 10mg/5ml oral solution as required", "opioid"),
    "Q02": ("Buccolam 5mg/1ml oromucosal solution pre-filled syringes", "benzodiazepine"),
    "Q03": ("Pregabalin 20mg/ml oral solution sugar free", "gabapentinoid"),
    "Q04": ("Co-dydramol 10mg/500mg tablets", "opioid"),
    "Q05": ("Instanyl 50micrograms/dose nasal spray", "opioid"),
    "Q06": ("Amitriptyline 10mg/5ml oral solution sugar free", "tricyclic antidepressant"),
}


def test_elderly_fall_risk_drugs_in_liquid_buccal_nasal_and_prn_forms(tmp_path):
    ids = list(FORMS)
    prescriptions = table(
        "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
        + "\n".join(f"{p} | {n} | | | 2026-06-01 | |" for p, (n, _) in FORMS.items())
    )
    tables = {"patients": _patients(ids), "diagnoses": _diagnoses(ids), "prescriptions": prescriptions}
    evidence = {p: {"fall_risk_drugs": f"...({c})"} for p, (_, c) in FORMS.items()}
    check_spec(
        tmp_path, "elderly_numbness_fall_risk", AS_OF, tables, dict.fromkeys(ids, "normal"), evidence=evidence
    )
