"""Spec: elderly_numbness_fall_risk, as of 2026-11-20 (65th birthday on as-of: born 1961-11-20)."""

from __future__ import annotations

from datetime import date
from functools import partial

from tests.helpers import cli, table
from tests.spec.harness import OUT, check_spec

AS_OF = date(2026, 11, 20)
CHECK = "elderly_numbness_fall_risk"

PATIENTS = table("""
patient_id | birth_date | sex
E01        | 1950-01-01 | F
E02        | 1950-01-01 | M
E03        | 1961-11-20 | F
E04        | 1961-11-21 | M
E05        | 1950-01-01 | F
E06        | 1950-01-01 | M
E07        | 1950-01-01 | F
E08        | 1950-01-01 | M
E09        | 1950-01-01 | F
E10        | 1950-01-01 | M
E11        | 1950-01-01 | F
E12        | 1950-01-01 | M
E13        | 1950-01-01 | F
E14        | 1950-01-01 | M
E15        | 1950-01-01 | F
E16        |            | M
E17        | 1950-01-01 | F
E18        | 1950-01-01 | M
E19        | 1950-01-01 | F
E20        | 1950-01-01 | M
""")

DIAGNOSES = table("""
patient_id | code      | code_system | recorded_at | resolved_at
E01        | G62.9     | ICD-10-CM   | 2026-01-01  |
E02        | G62.9     | ICD-10-CM   | 2026-01-01  |
E03        | G57.91    | ICD-10-CM   | 2026-01-01  |
E04        | G62.9     | ICD-10-CM   | 2026-01-01  |
# numbness without a body site is not lower-limb
E05        | R20.2     | ICD-10-CM   | 2026-01-01  |
# without the dot
E06        | E1142     | ICD-10-CM   | 2026-01-01  |
# ICD-9-CM diabetic polyneuropathy
E07        | 357.2     | ICD-9-CM    | 2026-01-01  |
# SNOMED-CT polyneuropathy
E08        | 42345000  | SNOMED-CT   | 2026-01-01  |
E09        | G62.9     | ICD-10-CM   | 2026-01-01  |
E10        | G57.92    | ICD-10-CM   | 2026-01-01  |
E11        | G62.9     | ICD-10-CM   | 2026-01-01  |
E12        | G62.9     | ICD-10-CM   | 2026-01-01  |
# resolved on the as-of date: no longer present
E13        | G62.9     | ICD-10-CM   | 2020-01-01  | 2026-11-20
# recorded long ago, never resolved: still present
E14        | G62.9     | ICD-10-CM   | 2015-01-01  |
E15        | G62.9     | ICD-10-CM   | 2026-01-01  |
E16        | G62.9     | ICD-10-CM   | 2026-01-01  |
E17        | G62.9     | ICD-10-CM   | 2026-01-01  |
E18        | G62.9     | ICD-10-CM   | 2026-01-01  |
E19        | G62.9     | ICD-10-CM   | 2026-01-01  |
E20        | G62.9     | ICD-10-CM   | 2026-01-01  |
""")

PRESCRIPTIONS = table("""
patient_id | drug_name                                   | rxnorm_code | atc_code | start_date | end_date   | days_supply
# five distinct ordinary drugs: polypharmacy
E01        | metformin 500 mg tablet                     | 6809        | A10BA02  | 2025-01-01 |            |
E01        | lisinopril 10 mg tablet                     | 29046       | C09AA03  | 2025-01-01 |            |
E01        | amlodipine 5 mg tablet                      | 17767       | C08CA01  | 2025-01-01 |            |
E01        | atorvastatin 20 mg tablet                   | 83367       | C10AA05  | 2025-01-01 |            |
E01        | omeprazole 20 mg capsule                    | 7646        | A02BC01  | 2025-01-01 |            |
# four drugs; metformin renewed as an uncoded row at another strength counts once
E02        | metformin 500 mg tablet                     | 6809        | A10BA02  | 2025-01-01 | 2026-12-31 |
E02        | metformin 1000 mg tablet                    |             |          | 2026-06-01 |            |
E02        | lisinopril 10 mg tablet                     | 29046       | C09AA03  | 2025-01-01 |            |
E02        | amlodipine 5 mg tablet                      | 17767       | C08CA01  | 2025-01-01 |            |
E02        | omeprazole 20 mg capsule                    | 7646        | A02BC01  | 2025-01-01 |            |
E03        | lorazepam 1 mg tablet                       | 6470        | N05BA06  | 2026-06-01 |            |
E04        | oxycodone 5 mg tablet                       | 7804        | N02AA05  | 2026-06-01 |            |
E05        | diazepam 5 mg tablet                        | 3322        | N05BA01  | 2026-06-01 |            |
E06        | zolpidem 5 mg tablet                        | 39993       | N05CF02  | 2026-06-01 |            |
# opioid by name only
E07        | tramadol 50 mg capsule                      |             |          | 2026-11-01 |            | 30
E08        | diphenhydramine 25 mg tablet                | 3498        | R06AA02  | 2026-06-01 |            |
# a topical antihistamine is not a fall-risk drug
E09        | diphenhydramine 2% cream                    |             |          | 2026-06-01 |            |
# an opioid patch is systemic
E10        | fentanyl 25 mcg/hr transdermal patch        | 4337        | N02AB03  | 2026-06-01 |            |
# benzodiazepine ended 31 days before as-of: past its refill gap
E11        | diazepam 5 mg tablet                        | 3322        | N05BA01  | 2026-01-01 | 2026-10-20 |
# polypharmacy and an opioid: high priority
E12        | metformin 500 mg tablet                     | 6809        | A10BA02  | 2025-01-01 |            |
E12        | lisinopril 10 mg tablet                     | 29046       | C09AA03  | 2025-01-01 |            |
E12        | amlodipine 5 mg tablet                      | 17767       | C08CA01  | 2025-01-01 |            |
E12        | atorvastatin 20 mg tablet                   | 83367       | C10AA05  | 2025-01-01 |            |
E12        | omeprazole 20 mg capsule                    | 7646        | A02BC01  | 2025-01-01 |            |
E12        | oxycodone 5 mg tablet                       | 7804        | N02AA05  | 2026-10-01 |            |
E13        | lorazepam 1 mg tablet                       | 6470        | N05BA06  | 2026-06-01 |            |
E14        | lorazepam 1 mg tablet                       | 6470        | N05BA06  | 2026-06-01 |            |
# a combination product is one drug, distinct from its parts
E15        | lisinopril / hydrochlorothiazide 20/12.5 mg |             | C09BA03  | 2025-01-01 |            |
E15        | hydrochlorothiazide 25 mg tablet            | 5487        | C03AA03  | 2025-01-01 |            |
E15        | lisinopril 10 mg tablet                     | 29046       | C09AA03  | 2025-01-01 |            |
E15        | amlodipine 5 mg tablet                      | 17767       | C08CA01  | 2025-01-01 |            |
E15        | omeprazole 20 mg capsule                    | 7646        | A02BC01  | 2025-01-01 |            |
# no birth date: left out
E16        | lorazepam 1 mg tablet                       | 6470        | N05BA06  | 2026-06-01 |            |
# four active drugs; a fifth starts the day after as-of
E17        | metformin 500 mg tablet                     | 6809        | A10BA02  | 2025-01-01 |            |
E17        | lisinopril 10 mg tablet                     | 29046       | C09AA03  | 2025-01-01 |            |
E17        | amlodipine 5 mg tablet                      | 17767       | C08CA01  | 2025-01-01 |            |
E17        | omeprazole 20 mg capsule                    | 7646        | A02BC01  | 2025-01-01 |            |
E17        | atorvastatin 20 mg tablet                   | 83367       | C10AA05  | 2026-11-21 |            |
# four long-term drugs and a fifth that only has days_supply and is still running
E18        | metformin 500 mg tablet                     | 6809        | A10BA02  | 2025-01-01 |            |
E18        | lisinopril 10 mg tablet                     | 29046       | C09AA03  | 2025-01-01 |            |
E18        | amlodipine 5 mg tablet                      | 17767       | C08CA01  | 2025-01-01 |            |
E18        | omeprazole 20 mg capsule                    | 7646        | A02BC01  | 2025-01-01 |            |
E18        | levothyroxine 50 microgram tablet           |             |          | 2026-11-01 |            | 30
# a brand and its generic are one drug: four distinct
E19        | Lasix 40 mg tablet                          |             |          | 2026-01-01 |            |
E19        | furosemide 20 mg tablet                     | 4603        | C03CA01  | 2026-01-01 |            |
E19        | metformin 500 mg tablet                     | 6809        | A10BA02  | 2025-01-01 |            |
E19        | lisinopril 10 mg tablet                     | 29046       | C09AA03  | 2025-01-01 |            |
E19        | amlodipine 5 mg tablet                      | 17767       | C08CA01  | 2025-01-01 |            |
# issue 15: polypharmacy counts regular systemic medicines: the diclofenac gel is not one, so four
E20        | diclofenac 50 mg tablet                     | 3355        | M01AB05  | 2026-01-01 |            |
E20        | diclofenac 1% gel                           | 3355        | M02AA15  | 2026-01-01 |            |
E20        | metformin 500 mg tablet                     | 6809        | A10BA02  | 2025-01-01 |            |
E20        | lisinopril 10 mg tablet                     | 29046       | C09AA03  | 2025-01-01 |            |
E20        | amlodipine 5 mg tablet                      | 17767       | C08CA01  | 2025-01-01 |            |
""")

TABLES = {"patients": PATIENTS, "diagnoses": DIAGNOSES, "prescriptions": PRESCRIPTIONS}

EXPECTED = {
    "E01": "normal",  # five distinct ordinary drugs: polypharmacy
    "E02": None,  # four drugs; metformin renewed uncoded counts once
    "E03": "normal",  # 65 on as-of, G57.91, lorazepam
    "E04": OUT,  # 65 the day after as-of
    "E05": OUT,  # numbness without a body site is not lower-limb
    "E06": "normal",  # code without the dot
    "E07": "normal",  # ICD-9-CM; opioid by name only
    "E08": "normal",  # SNOMED-CT polyneuropathy
    "E09": None,  # a topical antihistamine is not a fall-risk drug
    "E10": "normal",  # an opioid patch is systemic
    "E11": None,  # benzodiazepine ended 31 days before as-of (past refill_gap_days)
    "E12": "high",  # polypharmacy and an opioid
    "E13": OUT,  # resolved on the as-of date: no longer present
    "E14": "normal",  # recorded long ago, never resolved
    "E15": "normal",  # a combination product is one drug, distinct from its parts
    "E16": OUT,  # no birth date: left out
    "E17": None,  # four active drugs; a fifth starts the day after as-of
    "E18": "normal",  # a fifth drug with days_supply still running
    "E19": None,  # a brand and its generic are one drug: four distinct
    "E20": None,  # a diclofenac gel is not a regular systemic medicine: four
}
spec = partial(check_spec, check=CHECK, as_of=AS_OF, tables=TABLES, expected=EXPECTED)


def test_flags_exactly_the_expected_patients(tmp_path):
    spec(tmp_path)


def test_reason_evidence_and_priority(tmp_path):
    spec(
        tmp_path,
        reason={
            "E03": "aged 65 with lower-limb numbness coded G57.91 (ICD-10-CM); "
            "fall-risk drugs: lorazepam 1 mg tablet (benzodiazepine)",
            "E01": "...; 5 distinct active drugs",
            "E10": "...fentanyl...",
        },
        evidence={
            "E12": {"active_drug_count": 6, "age": 76, "fall_risk_drugs": "oxycodone 5 mg tablet (opioid)"},
        },
    )


# Issue 15, round 2: SNOMED CT numbness by body site (OpenSAFELY peripheral-neuropathy symptom codelist).
# Numbness of the foot is a lower-limb code; numbness of the hand is not, so L53 is not in the population.
SITE_PATIENTS = table("""
patient_id | birth_date | sex
L51        | 1940-01-01 | F
L52        | 1940-01-01 | M
L53        | 1940-01-01 | F
""")

SITE_DIAGNOSES = table("""
patient_id | code              | code_system | recorded_at | resolved_at
L51        | 309538000         | SNOMED-CT   | 2026-01-01  |
L52        | 16026551000119108 | SNOMED-CT   | 2026-01-01  |
L53        | 309521004         | SNOMED-CT   | 2026-01-01  |
""")

SITE_PRESCRIPTIONS = table("""
patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date | days_supply
L51        | zopiclone 7.5 mg tablet |             | N05CF01  | 2025-01-01 |          |
L52        | zopiclone 7.5 mg tablet |             | N05CF01  | 2025-01-01 |          |
L53        | zopiclone 7.5 mg tablet |             | N05CF01  | 2025-01-01 |          |
""")


def test_lower_limb_numbness_by_site_is_seen_and_hand_numbness_is_not(tmp_path):
    tables = {"patients": SITE_PATIENTS, "diagnoses": SITE_DIAGNOSES, "prescriptions": SITE_PRESCRIPTIONS}
    check_spec(tmp_path, CHECK, AS_OF, tables, {"L51": True, "L52": True, "L53": OUT})


# Issue 15: the Beers 2023 fall-risk classes (gabapentinoids, tricyclics, SNRIs, SSRIs, antiepileptics,
# antipsychotics) and polypharmacy of regular systemic medicines only. Everyone is 76, with G62.9.
BEERS_PRESCRIPTIONS = table("""
patient_id | drug_name                              | rxnorm_code | atc_code | start_date | end_date   | days_supply
B01        | gabapentin 300 mg capsule              | 25480       | N02BF01  | 2026-06-01 |            |
# brand only, UK
B02        | Lyrica 75mg capsules                   |             |          | 2026-06-01 |            |
# legacy ATC only
B03        | pregabalin (see pharmacy)              |             | N03AX16  | 2026-06-01 |            |
B04        | amitriptyline 10 mg tablet             | 704         | N06AA09  | 2026-06-01 |            |
B05        | Cymbalta 60 mg capsule                 |             |          | 2026-06-01 |            |
B06        | venlafaxine 75 mg tablet               | 39786       |          | 2026-06-01 |            |
B07        | sertraline 50 mg tablet                |             | N06AB06  | 2026-06-01 |            |
B08        | levetiracetam 500 mg tablet            |             | N03AX14  | 2026-06-01 |            |
B09        | Epilim Chrono 500 tablets              |             |          | 2026-06-01 |            |
B10        | quetiapine 25 mg tablet                |             | N05AH04  | 2026-06-01 |            |
B11        | haloperidol 0.5 mg tablet              | 5093        |          | 2026-06-01 |            |
# an antipsychotic known only by its ATC group
B12        | prothipendyl 40 mg tablet              |             | N05AX07  | 2026-06-01 |            |
# lithium is not an antipsychotic here; nor is a doxepin cream a fall-risk drug
B13        | lithium carbonate 400 mg tablet        |             | N05AN01  | 2026-06-01 |            |
B13        | doxepin 5% cream                       |             |          | 2026-06-01 |            |
# clonazepam is a benzodiazepine (N03AE01), named once, not also an antiepileptic
B14        | clonazepam 0.5 mg tablet               |             | N03AE01  | 2026-06-01 |            |
# a gabapentin course that ended 31 days before as-of: past its refill gap
B15        | gabapentin 300 mg capsule              | 25480       | N02BF01  | 2026-06-01 | 2026-10-20 |
# five regular medicines, one of them only as needed: four
P01        | metformin 500 mg tablet                | 6809        | A10BA02  | 2025-01-01 |            |
P01        | lisinopril 10 mg tablet                | 29046       | C09AA03  | 2025-01-01 |            |
P01        | amlodipine 5 mg tablet                 | 17767       | C08CA01  | 2025-01-01 |            |
P01        | atorvastatin 20 mg tablet              | 83367       | C10AA05  | 2025-01-01 |            |
P01        | paracetamol 500 mg tablets PRN         | 161         | N02BE01  | 2025-01-01 |            |
# four regular medicines and eye drops: four
P02        | metformin 500 mg tablet                | 6809        | A10BA02  | 2025-01-01 |            |
P02        | lisinopril 10 mg tablet                | 29046       | C09AA03  | 2025-01-01 |            |
P02        | amlodipine 5 mg tablet                 | 17767       | C08CA01  | 2025-01-01 |            |
P02        | atorvastatin 20 mg tablet              | 83367       | C10AA05  | 2025-01-01 |            |
P02        | latanoprost 0.005% eye drops           |             | S01EE01  | 2025-01-01 |            |
# four regular medicines and a 7-day antibiotic course: four
P03        | metformin 500 mg tablet                | 6809        | A10BA02  | 2025-01-01 |            |
P03        | lisinopril 10 mg tablet                | 29046       | C09AA03  | 2025-01-01 |            |
P03        | amlodipine 5 mg tablet                 | 17767       | C08CA01  | 2025-01-01 |            |
P03        | atorvastatin 20 mg tablet              | 83367       | C10AA05  | 2025-01-01 |            |
P03        | amoxicillin 500 mg capsule             |             | J01CA04  | 2026-11-15 |            | 7
# four regular medicines and a fifth exactly 28 days long: five (the boundary counts)
P04        | metformin 500 mg tablet                | 6809        | A10BA02  | 2025-01-01 |            |
P04        | lisinopril 10 mg tablet                | 29046       | C09AA03  | 2025-01-01 |            |
P04        | amlodipine 5 mg tablet                 | 17767       | C08CA01  | 2025-01-01 |            |
P04        | atorvastatin 20 mg tablet              | 83367       | C10AA05  | 2025-01-01 |            |
P04        | omeprazole 20 mg capsule               | 7646        | A02BC01  | 2026-11-01 |            | 28
# ... and 27 days long: four
P05        | metformin 500 mg tablet                | 6809        | A10BA02  | 2025-01-01 |            |
P05        | lisinopril 10 mg tablet                | 29046       | C09AA03  | 2025-01-01 |            |
P05        | amlodipine 5 mg tablet                 | 17767       | C08CA01  | 2025-01-01 |            |
P05        | atorvastatin 20 mg tablet              | 83367       | C10AA05  | 2025-01-01 |            |
P05        | omeprazole 20 mg capsule               | 7646        | A02BC01  | 2026-11-01 |            | 27
# a long-term drug supplied weekly: each supply is 7 days, but it was first started long ago: five
P06        | metformin 500 mg tablet                | 6809        | A10BA02  | 2025-01-01 |            |
P06        | lisinopril 10 mg tablet                | 29046       | C09AA03  | 2025-01-01 |            |
P06        | amlodipine 5 mg tablet                 | 17767       | C08CA01  | 2025-01-01 |            |
P06        | atorvastatin 20 mg tablet              | 83367       | C10AA05  | 2025-01-01 |            |
P06        | omeprazole 20 mg capsule               | 7646        | A02BC01  | 2026-10-23 |            | 7
P06        | omeprazole 20 mg capsule               | 7646        | A02BC01  | 2026-10-30 |            | 7
P06        | omeprazole 20 mg capsule               | 7646        | A02BC01  | 2026-11-06 |            | 7
P06        | omeprazole 20 mg capsule               | 7646        | A02BC01  | 2026-11-13 |            | 7
P06        | omeprazole 20 mg capsule               | 7646        | A02BC01  | 2026-11-20 |            | 7
P06        | chloramphenicol 0.5% eye drops         |             | S01AA01  | 2026-11-18 |            | 7
# five regular medicines including an insulin injection and an inhaler: five
P07        | metformin 500 mg tablet                | 6809        | A10BA02  | 2025-01-01 |            |
P07        | lisinopril 10 mg tablet                | 29046       | C09AA03  | 2025-01-01 |            |
P07        | amlodipine 5 mg tablet                 | 17767       | C08CA01  | 2025-01-01 |            |
P07        | insulin glargine 100 units/mL pen      | 274783      | A10AE04  | 2025-01-01 |            |
P07        | salbutamol 100 micrograms inhaler      |             | R03AC02  | 2025-01-01 |            |
""")

BEERS_IDS = sorted({row["patient_id"] for row in BEERS_PRESCRIPTIONS})
BEERS_PATIENTS = table(
    "patient_id | birth_date | sex\n" + "\n".join(f"{pid} | 1950-01-01 | F" for pid in BEERS_IDS)
)
BEERS_DIAGNOSES = table(
    "patient_id | code | code_system | recorded_at | resolved_at\n"
    + "\n".join(f"{pid} | G62.9 | ICD-10-CM | 2026-01-01 |" for pid in BEERS_IDS)
)
BEERS_FLAGGED = {f"B{n:02d}" for n in range(1, 13)} | {"B14", "P04", "P06", "P07"}
BEERS_EXPECTED = {pid: pid in BEERS_FLAGGED for pid in BEERS_IDS}
CLASSES = {
    "B01": "gabapentinoid",
    "B02": "gabapentinoid",
    "B03": "gabapentinoid",
    "B04": "tricyclic antidepressant",
    "B05": "SNRI",
    "B06": "SNRI",
    "B07": "SSRI",
    "B08": "antiepileptic",
    "B09": "antiepileptic",
    "B10": "antipsychotic",
    "B11": "antipsychotic",
    "B12": "antipsychotic",
    "B14": "benzodiazepine",
}


def test_beers_2023_fall_risk_classes_and_regular_systemic_polypharmacy(tmp_path):
    tables = {"patients": BEERS_PATIENTS, "diagnoses": BEERS_DIAGNOSES, "prescriptions": BEERS_PRESCRIPTIONS}
    fall_risk = {pid: {"fall_risk_drugs": f"...({drug_class})"} for pid, drug_class in CLASSES.items()}
    check_spec(
        tmp_path,
        CHECK,
        AS_OF,
        tables,
        BEERS_EXPECTED,
        reason={"P04": "...; 5 distinct active drugs"},
        evidence={
            **fall_risk,
            "B14": {"fall_risk_drugs": "clonazepam 0.5 mg tablet (benzodiazepine)"},
            "P04": {"active_drug_count": 5},
            "P06": {
                "active_drug_count": 5,
                "drugs_not_counted": "chloramphenicol 0.5% eye drops",
                "active_drugs": "...omeprazole 20 mg capsule...",
            },
            "P07": {"active_drug_count": 5},
        },
    )


# Review of issue 15: UK opioid compounds and brands are fall-risk opioids; appliances and local
# products do not count as medicines for polypharmacy. Everyone is 76, with G62.9; each R patient
# takes four regular medicines plus the item named.
REVIEW_IDS = [f"R{i:02d}" for i in range(1, 11)]
REVIEW_PATIENTS = table(
    "patient_id | birth_date | sex\n" + "\n".join(f"{p} | 1950-01-01 | F" for p in REVIEW_IDS)
)
REVIEW_DIAGNOSES = table(
    "patient_id | code | code_system | recorded_at | resolved_at\n"
    + "\n".join(f"{p} | G62.9 | ICD-10-CM | 2026-01-01 |" for p in REVIEW_IDS)
)
FOUR = [
    "amlodipine 5 mg tablet",
    "ramipril 5 mg capsule",
    "metformin 500 mg tablet",
    "atorvastatin 20 mg tablet",
]
EXTRA = {
    "R01": "Co-codamol 30/500 tablets",  # codeine: an opioid
    "R02": "Zomorph 10mg capsules",  # morphine
    "R03": "Palexia SR 50mg tablets",  # tapentadol
    "R04": "BD Micro-Fine Ultra pen needles 4mm",  # appliances: not medicines
    "R05": "Glucose test strips",
    "R06": "Class 2 compression hosiery below knee",
    "R07": "Estradiol 10microgram vaginal tablets",  # local products: not systemic
    "R08": "Chlorhexidine 0.2% mouthwash",
    "R09": "Zerobase emollient cream",
    "R10": "Omeprazole 20mg gastro-resistant capsules",  # a fifth regular systemic medicine
}
REVIEW_PRESCRIPTIONS = table(
    "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
    + "\n".join(f"{p} | {d} | | | 2026-01-01 | |" for p in REVIEW_IDS for d in [*FOUR, EXTRA[p]])
)


def test_uk_opioid_names_count_and_appliances_and_local_products_do_not(tmp_path):
    tables = {
        "patients": REVIEW_PATIENTS,
        "diagnoses": REVIEW_DIAGNOSES,
        "prescriptions": REVIEW_PRESCRIPTIONS,
    }
    expected = {pid: pid in ("R01", "R02", "R03", "R10") for pid in REVIEW_IDS}
    evidence = {
        **{pid: {"fall_risk_drugs": "...(opioid)"} for pid in ("R01", "R02", "R03")},
        "R10": {"active_drug_count": 5},
    }
    check_spec(tmp_path, CHECK, AS_OF, tables, expected, evidence=evidence)


# GP review 2026-12-03: a medicine supplied in a pre-filled syringe is a medicine (denosumab, every six
# months, is common in this fall-prone group), an insulin syringe is an appliance; and a local form of a
# drug is a drug of its own, so a nasal spray or a pessary does not take the inhaler or the patches out
# of the count. Each S patient takes the four regular medicines and the items named.
DEVICE_EXTRA = {
    "S01": ["Denosumab 60mg/1ml solution for injection pre-filled syringes"],
    "S02": ["1 ML denosumab 60 MG/ML Prefilled Syringe [Prolia]"],
    "S03": ["BD Micro-Fine insulin syringes 0.5ml/50units 30gauge 8mm"],
    "S04": [
        "Beclometasone 100micrograms/dose inhaler CFC free",
        "Beclometasone 50micrograms/dose nasal spray",
    ],
    "S05": ["Estradiol 50micrograms/24hours transdermal patches", "Estradiol 10microgram pessaries"],
    "S06": ["enoxaparin 40 mg/0.4 mL subcutaneous syringe"],  # a US (First Databank) name
    "S07": ["Sodium chloride 0.9% solution for injection 10ml pre-filled syringes"],  # a flush: a device
}


def four_and(extra: dict[str, list[str]], born: str = "1950-01-01") -> dict[str, list[dict[str, str]]]:
    """Women born `born` with G62.9 since January 2026, each on the FOUR regular medicines and their
    `extra` items from 2026-01-01."""
    return {
        "patients": table("patient_id | birth_date | sex\n" + "\n".join(f"{p} | {born} | F" for p in extra)),
        "diagnoses": table(
            "patient_id | code | code_system | recorded_at | resolved_at\n"
            + "\n".join(f"{p} | G62.9 | ICD-10-CM | 2026-01-01 |" for p in extra)
        ),
        "prescriptions": table(
            "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
            + "\n".join(
                f"{p} | {d} | | | 2026-01-01 | |" for p, items in extra.items() for d in [*FOUR, *items]
            )
        ),
    }


def device_tables(ids: list[str]) -> dict[str, list[dict[str, str]]]:
    return four_and({p: DEVICE_EXTRA[p] for p in ids}, born="1942-01-01")


def test_a_medicine_in_a_syringe_counts_and_a_syringe_or_a_flush_does_not(tmp_path):
    ids = ["S01", "S02", "S03", "S06", "S07"]
    expected = {p: p in ("S01", "S02", "S06") for p in ids}
    evidence = {p: {"active_drug_count": 5} for p in ("S01", "S02", "S06")}
    check_spec(tmp_path, CHECK, AS_OF, device_tables(ids), expected, evidence=evidence)


def test_a_local_form_of_a_drug_leaves_its_systemic_form_counted(tmp_path):
    evidence = {
        "S04": {"active_drug_count": 5, "drugs_not_counted": "Beclometasone 50micrograms/dose nasal spray"},
        "S05": {"active_drug_count": 5, "drugs_not_counted": "Estradiol 10microgram pessaries"},
    }
    check_spec(
        tmp_path, CHECK, AS_OF, device_tables(["S04", "S05"]), {"S04": True, "S05": True}, evidence=evidence
    )


def test_born_on_29_february_aged_65_on_28_february_and_shown_so(tmp_path):
    """Aged 65 on the day birth_date + 65 years reaches: 28 February in a common year. The age
    shown is the one the population used (it once read 64 beside the '65+' it was audited for)."""
    tables = {
        "patients": table("""
patient_id | birth_date | sex
F01        | 1960-02-29 | F
F02        | 1960-03-01 | M
"""),
        "diagnoses": table("""
patient_id | code  | code_system | recorded_at | resolved_at
F01        | G62.9 | ICD-10-CM   | 2024-01-01  |
F02        | G62.9 | ICD-10-CM   | 2024-01-01  |
"""),
        "prescriptions": table("""
patient_id | drug_name             | rxnorm_code | atc_code | start_date | end_date | days_supply
F01        | lorazepam 1 mg tablet | 6470        | N05BA06  | 2024-06-01 |          |
F02        | lorazepam 1 mg tablet | 6470        | N05BA06  | 2024-06-01 |          |
"""),
    }
    check_spec(
        tmp_path,
        CHECK,
        date(2025, 2, 28),
        tables,
        {"F01": "normal", "F02": OUT},
        evidence={"F01": {"age": 65}},
    )


# Review 2026-11: the SNOMED CT concepts that correspond to the ICD-10-CM codes the lower-limb list
# holds (E08-E13 .42 diabetic polyneuropathy; G60-G63 polyneuropathies) are lower-limb neuropathy.
# Diabetic neuropathy without a type or site (as E1x.40) and diabetic mononeuropathy (E1x.41) stay
# out, as their ICD-10-CM codes do. Everyone is 76, on zopiclone.
SNOMED_CODES = {
    "N01": "424736006",  # peripheral neuropathy due to diabetes mellitus
    "N02": "1511000119107",  # ... due to type 2 diabetes (US Edition)
    "N03": "71791000119104",  # ... due to type 1 diabetes (US Edition)
    "N04": "110181000119105",  # peripheral sensory neuropathy due to type 2 diabetes (US Edition)
    "N05": "193186008",  # polyneuropathy associated with another disorder (G63)
    "N06": "789588003",  # peripheral sensory neuropathy
    "N07": "230572002",  # neuropathy due to diabetes mellitus, unspecified (as E1x.40): out
    "N08": "230577008",  # mononeuropathy due to diabetes mellitus (as E1x.41): out
}
SNOMED_PATIENTS = table(
    "patient_id | birth_date | sex\n" + "\n".join(f"{p} | 1950-01-01 | F" for p in SNOMED_CODES)
)
SNOMED_DIAGNOSES = table(
    "patient_id | code | code_system | recorded_at | resolved_at\n"
    + "\n".join(f"{p} | {code} | SNOMED-CT | 2025-01-01 |" for p, code in SNOMED_CODES.items())
)
SNOMED_PRESCRIPTIONS = table(
    "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
    + "\n".join(f"{p} | Zopiclone 7.5mg tablets | | | 2026-01-01 | |" for p in SNOMED_CODES)
)


def test_snomed_diabetic_peripheral_neuropathy_is_lower_limb_neuropathy(tmp_path):
    tables = {
        "patients": SNOMED_PATIENTS,
        "diagnoses": SNOMED_DIAGNOSES,
        "prescriptions": SNOMED_PRESCRIPTIONS,
    }
    expected = {p: OUT if p in ("N07", "N08") else "normal" for p in SNOMED_CODES}
    evidence = {
        "N01": {"leg_codes": "424736006 (SNOMED-CT)", "fall_risk_drugs": "Zopiclone 7.5mg tablets (z-drug)"}
    }
    check_spec(tmp_path, CHECK, AS_OF, tables, expected, evidence=evidence)


# Review 2026-11: UK and US brand names of the fall-risk classes, as prescribed and bought over the
# counter (BNF/dm+d product names), each alone on the patient's list. Feminax Ultra is naproxen, no
# opioid. Everyone is 76, with G62.9.
BRANDS = {
    "Q01": ("Zamadol 50mg capsules", "opioid"),
    "Q02": ("Tramal 50mg capsules", "opioid"),
    "Q03": ("Tramacet 37.5mg/325mg tablets", "opioid"),
    "Q04": ("Solpadol 30mg/500mg caplets", "opioid"),
    "Q05": ("Shortec 5mg capsules", "opioid"),
    "Q06": ("Matrifen 25micrograms/hour transdermal patches", "opioid"),
    "Q07": ("Abstral 100microgram sublingual tablets", "opioid"),
    "Q08": ("Actiq 200microgram lozenges", "opioid"),
    "Q09": ("Targinact 10mg/5mg prolonged-release tablets", "opioid"),
    "Q10": ("Transtec 35micrograms/hour transdermal patches", "opioid"),
    "Q11": ("Temgesic 200microgram sublingual tablets", "opioid"),
    "Q12": ("Physeptone 1mg/ml oral solution", "opioid"),
    "Q13": ("Remedeine tablets", "opioid"),
    "Q14": ("Meptazinol 200mg tablets", "opioid"),
    "Q15": ("Nurofen Plus tablets", "opioid"),
    "Q16": ("Migraleve Pink tablets", "opioid"),
    "Q17": ("Syndol tablets", "opioid"),
    "Q18": ("Solpadeine Max tablets", "opioid"),
    "Q19": ("Solpadeine Plus soluble tablets", "opioid"),
    "Q20": ("Paramol tablets", "opioid"),
    "Q21": ("Diamorphine 5mg powder for solution for injection", "opioid"),
    "Q22": ("Frisium 10mg tablets", "benzodiazepine"),
    "Q23": ("Mogadon 5mg tablets", "benzodiazepine"),
    "Q24": ("Buccolam 5mg oromucosal solution", "benzodiazepine"),
    "Q25": ("Loprazolam 1mg tablets", "benzodiazepine"),
    "Q26": ("Biquelle XL 50mg tablets", "antipsychotic"),
    "Q27": ("Serenace 500microgram capsules", "antipsychotic"),
    "Q28": ("Oxactin 20mg capsules", "SSRI"),
    "Q29": ("Vensir XL 75mg capsules", "SNRI"),
    "Q30": ("Ucerax 25mg tablets", "sedating antihistamine"),
    "Q31": ("Feminax Ultra 250mg gastro-resistant tablets", None),
    # GP review 2026-12-03: Migraleve Ultra is sumatriptan, the UK's Benadryl Allergy Relief acrivastine
    "Q32": ("Migraleve Ultra 50mg tablets", None),
    "Q33": ("Benadryl Allergy Relief 8mg capsules", None),
    "Q34": ("Migraleve Yellow tablets", "opioid"),
    "Q35": ("Migraleve tablets", "opioid"),
}
BRAND_PATIENTS = table("patient_id | birth_date | sex\n" + "\n".join(f"{p} | 1950-01-01 | F" for p in BRANDS))
BRAND_DIAGNOSES = table(
    "patient_id | code | code_system | recorded_at | resolved_at\n"
    + "\n".join(f"{p} | G62.9 | ICD-10-CM | 2026-01-01 |" for p in BRANDS)
)
BRAND_PRESCRIPTIONS = table(
    "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
    + "\n".join(f"{p} | {name} | | | 2026-06-01 | |" for p, (name, _) in BRANDS.items())
)


def test_uk_and_us_brands_of_the_fall_risk_classes_are_fall_risk_drugs(tmp_path):
    tables = {"patients": BRAND_PATIENTS, "diagnoses": BRAND_DIAGNOSES, "prescriptions": BRAND_PRESCRIPTIONS}
    expected = {p: ("normal" if cls else None) for p, (_, cls) in BRANDS.items()}
    evidence = {p: {"fall_risk_drugs": f"{name} ({cls})"} for p, (name, cls) in BRANDS.items() if cls}
    check_spec(tmp_path, CHECK, AS_OF, tables, expected, evidence=evidence)


# Review 2026-12-07: a neuropathy lasts. An export that writes each visit's diagnosis with an end on the
# day it was recorded (OMOP ETLs from claims, encounter-based EHR extracts) ends the record, not the
# neuropathy: it stays, as cirrhosis and CKD do. An end later than the recorded date is a resolution;
# a symptom code closed on its day is over (symptoms count only while recent). Everyone is 81 on a Z-drug.
CLOSED = {
    "V01": ("G62.9", "2024-01-01", "2024-01-01", "normal"),  # polyneuropathy closed on its visit's day
    "V02": ("E11.42", "2026-10-01", "2026-10-01", "normal"),  # diabetic polyneuropathy, the same
    "V03": ("G62.9", "2024-01-01", "2024-03-01", OUT),  # resolved two months after it was recorded
    "V04": ("G62.9", "2024-01-01", "", "normal"),  # never resolved
    "V05": ("309538000", "2026-10-01", "2026-10-01", OUT),  # numbness of foot, a symptom: over that day
    "V06": ("309538000", "2026-10-01", "", "normal"),  # the same symptom left open: recent, counts
}
CLOSED_TABLES = {
    "patients": table("patient_id | birth_date | sex\n" + "\n".join(f"{p} | 1945-01-01 | M" for p in CLOSED)),
    "diagnoses": table(
        "patient_id | code | code_system | recorded_at | resolved_at\n"
        + "\n".join(
            f"{p} | {c} | {'SNOMED-CT' if c.isdigit() else 'ICD-10-CM'} | {at} | {end}"
            for p, (c, at, end, _) in CLOSED.items()
        )
    ),
    "prescriptions": table(
        "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
        + "\n".join(f"{p} | zopiclone 7.5 mg tablet | | N05CF01 | 2026-06-01 | |" for p in CLOSED)
    ),
}


def test_a_neuropathy_closed_on_the_day_it_was_recorded_still_counts(tmp_path):
    check_spec(tmp_path, CHECK, AS_OF, CLOSED_TABLES, {p: want for p, (*_, want) in CLOSED.items()})


# Review 2026-11 round 2: only diabetic polyneuropathy (E08-E13 .42), length-dependent and so in the feet, is
# lower-limb neuropathy. "Diabetic neuropathy, unspecified" (.40), mononeuropathy (.41, any nerve) and
# the WHO 4-character "with neurological complications" E11.4 (it also covers autonomic neuropathy and
# amyotrophy) carry no site, as R20.x does not: they stay out. Everyone is 76 on a Z-drug.
DIABETIC_CODES = {
    "F01": "E11.42",
    "F02": "E13.42",
    "F03": "E11.40",
    "F04": "E10.41",
    "F05": "E11.4",
    "F06": "E10.4",
    "F07": "G63.2*",  # WHO ICD-10's asterisk code for diabetic polyneuropathy: in, as CM's G63
    "F08": "E11.4",  # WHO ICD-10's E11.4: no site, out as CM's E11.40
}
WHO_CODED = {"F07", "F08"}
DIABETIC_TABLES = {
    "patients": table(
        "patient_id | birth_date | sex\n" + "\n".join(f"{p} | 1950-01-01 | F" for p in DIABETIC_CODES)
    ),
    "diagnoses": table(
        "patient_id | code | code_system | recorded_at | resolved_at\n"
        + "\n".join(
            f"{p} | {c} | {'ICD10WHO' if p in WHO_CODED else 'ICD-10-CM'} | 2026-01-01 |"
            for p, c in DIABETIC_CODES.items()
        )
    ),
    "prescriptions": table(
        "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
        + "\n".join(f"{p} | Zopiclone 7.5mg tablets | | | 2026-01-01 | |" for p in DIABETIC_CODES)
    ),
}


def test_only_diabetic_polyneuropathy_is_lower_limb_among_diabetic_neuropathies(tmp_path):
    expected = {"F01": "normal", "F02": "normal", "F03": OUT, "F04": OUT, "F05": OUT, "F06": OUT}
    expected |= {"F07": "normal", "F08": OUT}
    check_spec(tmp_path, CHECK, AS_OF, DIABETIC_TABLES, expected)


# Helper review 2026-11-30: a death after as-of does not turn a new regular drug into an "acute course"
# (one planned for under acute_course_days): the plan is what was written. P01 (died after as-of) and P02
# (alive) each take five regular drugs, omeprazole started five days before as-of, open-ended for P01
# and P02, a year's end date for P03 (died after as-of too): all flagged for polypharmacy.
PLANNED_DRUGS = (
    ("metformin 500 mg tablet", "A10BA02", "2025-01-01", ""),
    ("ramipril 5 mg capsule", "C09AA05", "2025-01-01", ""),
    ("amlodipine 5 mg tablet", "C08CA01", "2025-01-01", ""),
    ("simvastatin 40 mg tablet", "C10AA01", "2025-01-01", ""),
)
PLANNED_TABLES = {
    "patients": table("""
    patient_id | birth_date | sex | death_date
    P01        | 1940-01-01 | F   | 2026-11-23
    P02        | 1940-01-01 | F   |
    P03        | 1940-01-01 | F   | 2026-11-23
    """),
    "diagnoses": table(
        "patient_id | code | code_system | recorded_at | resolved_at\n"
        + "\n".join(f"{p} | G57.91 | ICD-10-CM | 2020-01-01 |" for p in ("P01", "P02", "P03"))
    ),
    "prescriptions": table(
        "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
        + "\n".join(
            f"{p} | {name} | | {atc} | {start} | {end} |"
            for p in ("P01", "P02", "P03")
            for name, atc, start, end in (
                *PLANNED_DRUGS,
                ("omeprazole 20 mg capsule", "A02BC01", "2026-11-15", "2027-11-14" if p == "P03" else ""),
            )
        )
    ),
}


def test_a_death_after_as_of_does_not_make_a_new_regular_drug_an_acute_course(tmp_path):
    expected = {"P01": True, "P02": True, "P03": True}
    check_spec(tmp_path, CHECK, AS_OF, PLANNED_TABLES, expected)


# Review 2026-12: a patch that delivers its drug into the blood is a systemic medicine whether or not
# its name says "transdermal": dm+d names many without it (Evorel 50 patches, Scopoderm 1.5mg patch,
# Nicorette Invisi 25mg patch, Estradot 50micrograms patches), and clinics shorten the rest ("fentanyl
# 25 mcg/hr patch"). A patch or plaster that acts where it is put (an NSAID, lidocaine, capsaicin)
# stays local. Everyone is 76, with G62.9, on four regular medicines plus the item named.
PATCHES = {
    "T01": ("Evorel 50 patches", True),  # estradiol HRT
    "T02": ("Scopoderm 1.5mg patch", True),  # hyoscine
    "T03": ("Nicorette Invisi 25mg patch", True),  # nicotine
    "T04": ("Estradot 50micrograms patches", True),  # estradiol
    "T05": ("Exelon 4.6mg/24hours patch", True),  # rivastigmine
    "T06": ("Voltarol 140mg medicated plaster", False),  # diclofenac, acts locally
    "T07": ("Flector 1.3% patch", False),  # diclofenac epolamine, acts locally
    "T08": ("Lidocaine 5% patch", False),  # acts locally
    "T09": ("Qutenza 179mg cutaneous patch", False),  # capsaicin, acts locally
    "T10": ("Ketoprofen 100mg patch", False),  # an NSAID, acts locally
}
PATCH_PATIENTS = table(
    "patient_id | birth_date | sex\n" + "\n".join(f"{p} | 1950-01-01 | F" for p in PATCHES)
)
PATCH_DIAGNOSES = table(
    "patient_id | code | code_system | recorded_at | resolved_at\n"
    + "\n".join(f"{p} | G62.9 | ICD-10-CM | 2026-01-01 |" for p in PATCHES)
)
PATCH_PRESCRIPTIONS = table(
    "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
    + "\n".join(
        f"{p} | {d} | | | 2026-01-01 | |" for p, (patch, _) in PATCHES.items() for d in [*FOUR, patch]
    )
)


def test_a_systemic_patch_counts_towards_polypharmacy_without_the_word_transdermal(tmp_path):
    tables = {"patients": PATCH_PATIENTS, "diagnoses": PATCH_DIAGNOSES, "prescriptions": PATCH_PRESCRIPTIONS}
    expected = {p: systemic for p, (_, systemic) in PATCHES.items()}
    evidence = {
        p: {"active_drug_count": 5, "active_drugs": f"...{n}..."} for p, (n, s) in PATCHES.items() if s
    }
    check_spec(tmp_path, CHECK, AS_OF, tables, expected, evidence=evidence)


# Review 2026-12, third round: the patch rule is the shared topical definition (dose_forms_patch.csv,
# acts_locally.csv). A patch with no drug the blood takes up (a hydrocolloid cold sore patch, a
# salicylate and menthol rub patch) is local; a transdermal form that is no patch and no skin form
# (estradiol transdermal spray) is systemic. Everyone is 76, with G62.9, on four regular medicines
# plus the item named.
MORE_PATCHES = {
    "U01": ("Compeed cold sore patches", False),  # hydrocolloid dressing, no drug
    "U02": ("Salonpas pain relief patch methyl salicylate / menthol", False),  # rubefacient
    "U03": ("Lenzetto 1.53mg/dose transdermal spray", True),  # estradiol HRT: systemic
    "U04": ("Neupro 4mg/24hours transdermal patches", True),  # rotigotine
    "U05": ("Lignocaine 5% patch", False),  # lidocaine under its former name
    "U06": ("Nicotine 21mg/24hours transdermal patches", True),
}


def test_a_skin_patch_with_no_systemic_drug_is_local_and_a_transdermal_spray_systemic(tmp_path):
    tables = four_and({p: [item] for p, (item, _) in MORE_PATCHES.items()})
    expected = {p: systemic for p, (_, systemic) in MORE_PATCHES.items()}
    evidence = {
        p: {"active_drug_count": 5, "active_drugs": f"...{n}..."} for p, (n, s) in MORE_PATCHES.items() if s
    }
    check_spec(tmp_path, CHECK, AS_OF, tables, expected, evidence=evidence)


# Review 2026-12, drug identity: Synthea and OMOP exports code every prescription with an RxNorm
# clinical drug, which names one strength (real codes and names, as in the Eunomia Synthea OMOP
# sample). A dose change is one drug, and so are the extended-release and immediate-release forms
# of one substance; the new strength starts the day the old one ends, and the old one is still
# taken in its refill gap, so counting by RxNorm code would count each changed drug twice.
SCD_PATIENTS = table(
    "patient_id | birth_date | sex\n" + "\n".join(f"G0{i} | 1950-01-01 | M" for i in range(1, 5))
)
SCD_DIAGNOSES = table(
    "patient_id | code | code_system | recorded_at | resolved_at\n"
    + "\n".join(f"G0{i} | 49455004 | SNOMED-CT | 2026-01-01 |" for i in range(1, 5))
)
SCD_PRESCRIPTIONS = table("""
patient_id | drug_name                                                         | rxnorm_code | atc_code | start_date | end_date   | days_supply
# four drugs, three of them stepped up in the last month: four, not seven
G01        | lisinopril 10 MG Oral Tablet                                      | 314076      |          | 2025-01-01 | 2026-11-05 |
G01        | lisinopril 20 MG Oral Tablet                                      | 314077      |          | 2026-11-05 |            |
G01        | amlodipine 2.5 MG Oral Tablet                                     | 308136      |          | 2025-01-01 | 2026-11-01 |
G01        | amlodipine 5 MG Oral Tablet                                       | 197361      |          | 2026-11-01 |            |
G01        | simvastatin 10 MG Oral Tablet                                     | 314231      |          | 2025-01-01 | 2026-10-25 |
G01        | simvastatin 20 MG Oral Tablet                                     | 312961      |          | 2026-10-25 |            |
G01        | clopidogrel 75 MG Oral Tablet                                     | 309362      |          | 2025-01-01 |            |
# control: five different drugs, one strength each
G02        | lisinopril 10 MG Oral Tablet                                      | 314076      |          | 2025-01-01 |            |
G02        | amlodipine 5 MG Oral Tablet                                       | 197361      |          | 2025-01-01 |            |
G02        | simvastatin 20 MG Oral Tablet                                     | 312961      |          | 2025-01-01 |            |
G02        | clopidogrel 75 MG Oral Tablet                                     | 309362      |          | 2025-01-01 |            |
G02        | 24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet | 860975      |          | 2025-01-01 |            |
# metformin switched to modified release 10 days ago, and an uncoded renewal of the ATC-coded
# simvastatin at another strength: four
G03        | metformin hydrochloride 500 MG Oral Tablet                        | 861007      |          | 2025-01-01 | 2026-11-10 |
G03        | 24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet | 860975      |          | 2026-11-10 |            |
G03        | simvastatin 10 MG Oral Tablet                                     | 314231      | C10AA01  | 2025-01-01 | 2026-11-01 |
G03        | Simvastatin 40mg tablets                                          |             |          | 2026-11-01 |            |
G03        | lisinopril 10 MG Oral Tablet                                      | 314076      |          | 2025-01-01 |            |
G03        | amlodipine 5 MG Oral Tablet                                       | 197361      |          | 2025-01-01 |            |
# control: inhalers and an injection whose names begin with a quantity are five different drugs
G04        | 120 ACTUAT fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler | 895994 |          | 2025-01-01 |            |
G04        | NDA020503 200 ACTUAT albuterol 0.09 MG/ACTUAT Metered Dose Inhaler | 2123111    |          | 2025-01-01 |            |
G04        | 1 ML medroxyprogesterone acetate 150 MG/ML Injection              | 1000126     |          | 2026-09-01 |            |
G04        | lisinopril 10 MG Oral Tablet                                      | 314076      |          | 2025-01-01 |            |
G04        | amlodipine 5 MG Oral Tablet                                       | 197361      |          | 2025-01-01 |            |
""")


def test_strengths_and_forms_of_one_rxnorm_drug_count_once(tmp_path):
    tables = {"patients": SCD_PATIENTS, "diagnoses": SCD_DIAGNOSES, "prescriptions": SCD_PRESCRIPTIONS}
    expected = {"G01": None, "G02": "normal", "G03": None, "G04": "normal"}
    evidence = {"G02": {"active_drug_count": 5}, "G04": {"active_drug_count": 5}}
    check_spec(tmp_path, CHECK, AS_OF, tables, expected, evidence=evidence)


# Review 2026-12-07 (the sample's P0340): a short course that has ended is not a regular medicine in
# the refill gap after it. Each patient is 76, with G62.9, on four regular medicines plus prednisolone
# as below, as of 2026-11-20. The rule "taken without a break since acute_course_days before as-of"
# is for a renewed supply (weekly issues of a long-term drug); a 25-day course that began 2026-10-20
# and ended 2026-11-14 had "begun 28 days before" and was counted for weeks after it finished.
SHORT_COURSES = {
    # one 25-day course, ended six days ago, in its refill gap: acute, not counted
    "S01": [("2026-10-20", "2026-11-14")],
    # the same course running on as-of (began 27 days ago): acute
    "S02": [("2026-10-24", "2026-11-20")],
    # weekly issues since September, the last ended three days ago (collected late): regular
    "S03": [
        ("2026-09-05", "2026-09-12"),
        ("2026-09-12", "2026-09-19"),
        ("2026-09-19", "2026-09-26"),
        ("2026-09-26", "2026-10-03"),
        ("2026-10-03", "2026-10-10"),
        ("2026-10-10", "2026-10-17"),
        ("2026-10-17", "2026-10-24"),
        ("2026-10-24", "2026-10-31"),
        ("2026-10-31", "2026-11-07"),
        ("2026-11-07", "2026-11-17"),
    ],
    # two strengths of one course issued together, ended six days ago: still one course, acute
    "S04": [("2026-10-20", "2026-11-14"), ("2026-10-20", "2026-11-14")],
    # 28-day repeats written OMOP's way (end = start + 27), the last collected ten days late and now
    # 19 days overdue: the issue before it ended before the last 28 days, yet the drug is a repeat
    # (helper 187): regular
    "S05": [("2026-08-28", "2026-09-24"), ("2026-10-05", "2026-11-01")],
}
STRENGTHS = ("prednisolone 5 mg tablet", "prednisolone 1 mg tablet")
SHORT_TABLES = {
    "patients": table(
        "patient_id | birth_date | sex\n" + "\n".join(f"{p} | 1950-01-01 | F" for p in SHORT_COURSES)
    ),
    "diagnoses": table(
        "patient_id | code | code_system | recorded_at | resolved_at\n"
        + "\n".join(f"{p} | G62.9 | ICD-10-CM | 2026-01-01 |" for p in SHORT_COURSES)
    ),
    "prescriptions": table(
        "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
        + "\n".join(f"{p} | {d} | | | 2025-01-01 | |" for p in SHORT_COURSES for d in FOUR)
        + "\n"
        + "\n".join(
            f"{p} | {STRENGTHS[i % 2] if p == 'S04' else STRENGTHS[0]} | | | {start} | {end} |"
            for p, issues in SHORT_COURSES.items()
            for i, (start, end) in enumerate(issues)
        )
    ),
}


def test_a_short_course_ended_is_not_a_regular_medicine_in_its_refill_gap(tmp_path, capsys):
    expected = {"S01": False, "S02": False, "S03": True, "S04": False, "S05": True}
    run = check_spec(tmp_path, CHECK, AS_OF, SHORT_TABLES, expected)
    # the course is shown as taken and not counted (a NULL for "not renewed" lost it from the list)
    for patient in ("S01", "S02"):
        args = ["explain", patient, "--check", CHECK, "--as-of", AS_OF.isoformat(), "--db", str(run.db)]
        assert cli(*args) == 0
        out = capsys.readouterr().out
        assert "drugs_not_counted: prednisolone 5 mg tablet" in out and "active_drug_count: 4" in out, out
