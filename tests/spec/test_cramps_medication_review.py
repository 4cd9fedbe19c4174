"""Spec: cramps_medication_review, as of 2026-11-20 (cramp window starts 2025-11-20)."""

from __future__ import annotations

import json
from datetime import date

from tests.helpers import findings, run_pipeline, table

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
M05        | simvastatin 40 mg                        | 36567       | C10AA01  | 2025-01-01 | 2026-05-31 |
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

EXPECTED = {"M01", "M02", "M03", "M04", "M06", "M09", "M12", "M14", "M15"}
POPULATION = EXPECTED | {"M05", "M07", "M10"}


def run(tmp_path):
    return run_pipeline(tmp_path, AS_OF, (CHECK,), diagnoses=DIAGNOSES, prescriptions=PRESCRIPTIONS)


def test_flags_exactly_the_expected_patients(tmp_path):
    outcome = run(tmp_path)
    assert {f["patient_id"] for f in findings(tmp_path / "audit.duckdb")} == EXPECTED
    (result,) = outcome.checks
    assert (result.denominator, result.flagged) == (len(POPULATION), len(EXPECTED))


def test_priority_and_evidence_name_the_drugs(tmp_path):
    run(tmp_path)
    by_id = {f["patient_id"]: f for f in findings(tmp_path / "audit.duckdb")}
    assert by_id["M15"]["priority"] == "high"
    assert by_id["M01"]["priority"] == "normal"  # a single cramp
    assert by_id["M06"]["priority"] == "normal"  # drug since stopped
    m04 = json.loads(by_id["M04"]["evidence"])
    assert m04["drug_classes"] == "beta-blocker, diuretic"
    assert m04["drugs"] == "bisoprolol / hydrochlorothiazide 5/6.25"
    assert m04["cramp_codes"] == "729.82 (ICD-9-CM)"
    m06 = json.loads(by_id["M06"]["evidence"])
    assert m06["still_active_drugs"] is None and m06["cramp_dates"] == "2026-06-01"
    assert "statin (simvastatin 40 mg)" in by_id["M06"]["reason"]


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
    run_pipeline(
        tmp_path, AS_OF, (CHECK,), diagnoses=CODELIST_DIAGNOSES, prescriptions=CODELIST_PRESCRIPTIONS
    )
    by_id = {f["patient_id"]: f for f in findings(tmp_path / "audit.duckdb")}
    assert set(by_id) == {"B01"}
    assert json.loads(by_id["B01"]["evidence"])["drug_classes"] == "statin"


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
    run_pipeline(tmp_path, AS_OF, (CHECK,), diagnoses=UK_DIAGNOSES, prescriptions=UK_PRESCRIPTIONS)
    by_id = {f["patient_id"]: f for f in findings(tmp_path / "audit.duckdb")}
    assert set(by_id) == {"W01", "W02", "W03", "W04", "W06"}
    # atenolol / amiloride / hydrochlorothiazide: both classes
    assert json.loads(by_id["W02"]["evidence"])["drug_classes"] == "beta-blocker, diuretic"
    assert json.loads(by_id["W01"]["evidence"])["drug_classes"] == "beta-blocker"
