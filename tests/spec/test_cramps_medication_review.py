"""Spec: cramps_medication_review, as of 2026-11-20 (cramp window starts 2025-11-20)."""

from __future__ import annotations

from datetime import date
from functools import partial

from tests.helpers import table
from tests.spec.harness import OUT, check_spec

AS_OF = date(2026, 11, 20)
CHECK = "cramps_medication_review"

DIAGNOSES = table("""
patient_id | code     | code_system | recorded_at | resolved_at
# ICD-10-CM with the dot
M01        | R25.2    | ICD-10-CM   | 2026-06-01  |
# without the dot
M02        | R252     | ICD-10-CM   | 2026-06-01  |
# SNOMED-CT
M03        | 55300003 | SNOMED-CT   | 2026-06-01  |
# ICD-9-CM
M04        | 729.82   | ICD-9-CM    | 2026-06-01  |
M05        | R25.2    | ICD-10-CM   | 2026-06-01  |
M06        | R25.2    | ICD-10-CM   | 2026-06-01  |
M07        | R25.2    | ICD-10-CM   | 2026-06-01  |
# cramp 366 days before as-of: outside the lookback
M08        | R25.2    | ICD-10-CM   | 2025-11-19  |
# cramp exactly 365 days before as-of: inside
M09        | R25.2    | ICD-10-CM   | 2025-11-20  |
M10        | R25.2    | ICD-10-CM   | 2026-06-01  |
M12        | R25.2    | ICD-10-CM   | 2026-06-01  |
# cramp after as-of
M13        | R25.2    | ICD-10-CM   | 2026-11-21  |
# sleep-related leg cramps
M14        | G47.62   | ICD-10-CM   | 2026-06-01  |
# cramps on two days, drug still active: high priority
M15        | R25.2    | ICD-10-CM   | 2026-03-01  |
M15        | R25.2    | ICD-10-CM   | 2026-09-01  |
# muscle spasm is not a cramp
M16        | M62.830  | ICD-10-CM   | 2026-06-01  |
""")

PRESCRIPTIONS = table("""
patient_id | drug_name                                | rxnorm_code | atc_code | start_date | end_date   | days_supply
M01        | atorvastatin 20 mg tablet                | 83367       | C10AA05  | 2025-01-01 |            |
# brand name only
M02        | Lopressor 50 mg                          |             |          | 2025-01-01 |            |
# ATC code only
M03        | XYZ 25 mg                                |             | C03AA03  | 2025-01-01 |            |
# combination of a beta-blocker and a diuretic
M04        | bisoprolol / hydrochlorothiazide 5/6.25  |             | C07BB07  | 2025-01-01 |            |
# ended the day before the cramp
M05        | simvastatin 40 mg                        | 36567       | C10AA01  | 2025-01-01 | 2026-05-01 |
# ends on the cramp day
M06        | simvastatin 40 mg                        | 36567       | C10AA01  | 2025-01-01 | 2026-06-01 |
# starts the day after the cramp (active on as-of, but not at the cramp)
M07        | simvastatin 40 mg                        | 36567       | C10AA01  | 2026-06-02 |            |
M08        | simvastatin 40 mg                        | 36567       | C10AA01  | 2025-01-01 |            |
M09        | simvastatin 40 mg                        | 36567       | C10AA01  | 2025-01-01 |            |
# not one of the three classes
M10        | lisinopril 10 mg                         | 29046       | C09AA03  | 2025-01-01 |            |
# on a statin, no cramp
M11        | simvastatin 40 mg                        | 36567       | C10AA01  | 2025-01-01 |            |
# only days_supply: 2026-05-02 + 30 days = 2026-06-01, the cramp day
M12        | pravastatin 20 mg                        |             | C10AA03  | 2026-05-02 |            | 30
M13        | simvastatin 40 mg                        | 36567       | C10AA01  | 2025-01-01 |            |
# RxNorm code only
M14        | tablet (see pharmacy)                    | 301542      |          | 2025-01-01 |            |
M15        | simvastatin 40 mg                        | 36567       | C10AA01  | 2025-01-01 |            |
M16        | simvastatin 40 mg                        | 36567       | C10AA01  | 2025-01-01 |            |
""")

TABLES = {"diagnoses": DIAGNOSES, "prescriptions": PRESCRIPTIONS}

EXPECTED = {
    "M01": "normal",  # a statin, a single cramp
    "M02": "normal",  # brand name only
    "M03": "normal",  # ATC code only
    "M04": "normal",  # a beta-blocker and diuretic combination
    "M05": None,  # ended 31 days before the cramp: past the refill gap (refill_gap_days 30)
    "M06": "normal",  # ends on the cramp day, since stopped
    "M07": None,  # starts the day after the cramp
    "M08": OUT,  # cramp 366 days before as-of
    "M09": "normal",  # cramp exactly 365 days before as-of
    "M10": None,  # not one of the three classes
    "M11": OUT,  # on a statin, no cramp
    "M12": "normal",  # days_supply only, ending on the cramp day
    "M13": OUT,  # cramp after as-of
    "M14": "normal",  # RxNorm code only; sleep-related leg cramps
    "M15": "high",  # cramps on two days, drug still active
    "M16": OUT,  # muscle spasm is not a cramp
}
spec = partial(check_spec, check=CHECK, as_of=AS_OF, tables=TABLES, expected=EXPECTED)


def test_flags_exactly_the_expected_patients(tmp_path):
    spec(tmp_path)


def test_priority_and_evidence_name_the_drugs(tmp_path):
    spec(
        tmp_path,
        reason={"M06": "...statin (simvastatin 40 mg)..."},
        evidence={
            "M04": {
                "drug_classes": "beta-blocker, diuretic",
                "drugs": "bisoprolol / hydrochlorothiazide 5/6.25",
                "cramp_codes": "729.82 (ICD-9-CM)",
            },
            "M06": {"still_active_drugs": None, "cramp_dates": "2026-06-01"},
        },
    )


# Issue 15: a UK brand added to statins.csv is seen; timolol eye drops are not a systemic
# beta-blocker (the bare name "timolol" and its ingredient RxCUI left beta_blockers.csv).
CODELIST_DIAGNOSES = table("""
patient_id | code      | code_system | recorded_at | resolved_at
B01        | 449918009 | SNOMED-CT   | 2026-06-01  |
B02        | R25.2     | ICD-10-CM   | 2026-06-01  |
B03        | R25.2     | ICD-10-CM   | 2026-06-01  |
""")

CODELIST_PRESCRIPTIONS = table("""
patient_id | drug_name                          | rxnorm_code | atc_code | start_date | end_date | days_supply
B01        | Lipostat 40 mg tablets             |             |          | 2025-01-01 |          |
B02        | Timolol 0.5% eye drops             |             | S01ED01  | 2025-01-01 |          |
B03        | Timolol 0.25% w/v eye drops        |             |          | 2025-01-01 |          |
""")


def test_new_brand_seen_and_ophthalmic_timolol_not_a_beta_blocker(tmp_path):
    tables = {"diagnoses": CODELIST_DIAGNOSES, "prescriptions": CODELIST_PRESCRIPTIONS}
    expected = {"B01": True, "B02": None, "B03": None}
    check_spec(tmp_path, CHECK, AS_OF, tables, expected, evidence={"B01": {"drug_classes": "statin"}})


# Issue 15, round 2: UK systemic beta-blocker brands and combinations (Exeter drug-name list). Beta-Adalat
# is atenolol with nifedipine; Adalat alone is nifedipine and not one of the three classes.
UK_DIAGNOSES = table("""
patient_id | code  | code_system | recorded_at | resolved_at
W01        | R25.2 | ICD-10-CM   | 2026-06-01  |
W02        | R25.2 | ICD-10-CM   | 2026-06-01  |
W03        | R25.2 | ICD-10-CM   | 2026-06-01  |
W04        | R25.2 | ICD-10-CM   | 2026-06-01  |
W05        | R25.2 | ICD-10-CM   | 2026-06-01  |
W06        | R25.2 | ICD-10-CM   | 2026-06-01  |
""")

UK_PRESCRIPTIONS = table("""
patient_id | drug_name                   | rxnorm_code | atc_code | start_date | end_date | days_supply
W01        | Sotacor 80mg tablets        |             |          | 2025-01-01 |          |
W02        | Kalten capsules             |             |          | 2025-01-01 |          |
W03        | Eucardic 12.5mg tablets     |             |          | 2025-01-01 |          |
W04        | Blocadren 10mg tablets      |             |          | 2025-01-01 |          |
W05        | Adalat LA 30mg tablets      |             |          | 2025-01-01 |          |
W06        | Beta-Adalat capsules        |             |          | 2025-01-01 |          |
""")


def test_uk_beta_blocker_brands_are_seen(tmp_path):
    tables = {"diagnoses": UK_DIAGNOSES, "prescriptions": UK_PRESCRIPTIONS}
    expected = {"W01": True, "W02": True, "W03": True, "W04": True, "W05": None, "W06": True}
    evidence = {
        "W02": {"drug_classes": "beta-blocker, diuretic"},  # atenolol / amiloride / hydrochlorothiazide
        "W01": {"drug_classes": "beta-blocker"},
    }
    check_spec(tmp_path, CHECK, AS_OF, tables, expected, evidence=evidence)


# Helper review 2026-11-30: a topical diuretic (spironolactone cream, for acne or hirsutism) is not the
# systemic exposure that causes cramps; the oral form is.
TOPICAL_DIAGNOSES = table("""
patient_id | code  | code_system | recorded_at | resolved_at
T01        | R25.2 | ICD-10-CM   | 2026-10-01  |
T02        | R25.2 | ICD-10-CM   | 2026-10-01  |
""")
TOPICAL_PRESCRIPTIONS = table("""
patient_id | drug_name                  | rxnorm_code | atc_code | start_date | end_date | days_supply
T01        | spironolactone 5% cream    |             |          | 2020-01-01 |          |
T02        | spironolactone 25mg tablet |             |          | 2020-01-01 |          |
""")


def test_a_topical_diuretic_does_not_explain_a_cramp(tmp_path):
    tables = {"diagnoses": TOPICAL_DIAGNOSES, "prescriptions": TOPICAL_PRESCRIPTIONS}
    check_spec(tmp_path, CHECK, AS_OF, tables, {"T01": None, "T02": True})


# GP review 2026-12-03: a statin stopped years ago and started again at the consultation that
# recorded the cramp had not been taken before the cramp, whatever the earlier course; a renewal
# that day of a statin taken until then, or a restart within the refill gap, is the same course.
RESTART_DIAGNOSES = table(
    "patient_id | code | code_system | recorded_at | resolved_at\n"
    + "\n".join(f"{p} | 449918009 | SNOMED-CT | 2026-06-10 |" for p in ("S01", "S02", "S03", "S04", "S05"))
)
RESTART_PRESCRIPTIONS = table("""
patient_id | drug_name                  | rxnorm_code | atc_code | start_date | end_date   | days_supply | stopped
# simvastatin 2023-2024, stopped; started again on the cramp day, monthly since: a new course
S01        | Simvastatin 40mg tablets   |             | C10AA01  | 2023-01-05 | 2024-03-01 |             | yes
S01        | Simvastatin 40mg tablets   |             | C10AA01  | 2026-06-10 |            | 28          |
S01        | Simvastatin 40mg tablets   |             | C10AA01  | 2026-07-08 |            | 28          |
# the same without the old course: first started that day
S02        | Simvastatin 40mg tablets   |             | C10AA01  | 2026-06-10 |            | 28          |
S02        | Simvastatin 40mg tablets   |             | C10AA01  | 2026-07-08 |            | 28          |
# monthly issues since March, one renewed on the cramp day: taken before it
S03        | Simvastatin 40mg tablets   |             | C10AA01  | 2026-03-15 |            | 28          |
S03        | Simvastatin 40mg tablets   |             | C10AA01  | 2026-04-12 |            | 28          |
S03        | Simvastatin 40mg tablets   |             | C10AA01  | 2026-05-10 |            | 28          |
S03        | Simvastatin 40mg tablets   |             | C10AA01  | 2026-06-10 |            | 28          |
# the last issue ran out 2026-05-20 and was stopped; re-issued on the cramp day, 21 days later:
# within the refill gap, still the same course (its effect takes weeks to wear off)
S04        | Atorvastatin 20mg tablets  |             | C10AA05  | 2026-01-01 | 2026-05-20 |             | yes
S04        | Atorvastatin 20mg tablets  |             | C10AA05  | 2026-06-10 |            | 28          |
# S01's restart issued as two strengths on the cramp day: both start the new course, whichever
# sorts first (second read: a ROWS frame let one of them see the 2023 course)
S05        | Simvastatin 40mg tablets   |             | C10AA01  | 2023-01-05 | 2024-03-01 |             | yes
S05        | Simvastatin 20mg tablets   |             | C10AA01  | 2026-06-10 |            | 28          |
S05        | Simvastatin 40mg tablets   |             | C10AA01  | 2026-06-10 |            | 28          |
""")


def test_a_statin_started_again_at_the_cramp_consultation_is_a_new_course(tmp_path):
    tables = {"diagnoses": RESTART_DIAGNOSES, "prescriptions": RESTART_PRESCRIPTIONS}
    check_spec(
        tmp_path, CHECK, AS_OF, tables, {"S01": None, "S02": None, "S03": True, "S04": True, "S05": None}
    )
