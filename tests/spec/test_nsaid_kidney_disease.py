"""Spec: nsaid_kidney_disease, as of 2026-11-20."""

from __future__ import annotations

import json
from datetime import date

from tests.helpers import findings, run_pipeline, table

AS_OF = date(2026, 11, 20)
CHECK = "nsaid_kidney_disease"

PRESCRIPTIONS = table("""
patient_id | drug_name                          | rxnorm_code | atc_code | start_date | end_date   | days_supply
# CKD 3 with the dot
K01        | ibuprofen 400 mg tablet            | 5640        | M01AE01  | 2026-01-01 |            |
# CKD 4 without the dot
K02        | naproxen 500 mg tablet             | 7258        | M01AE02  | 2026-01-01 |            |
# ICD-9-CM CKD stage 3
K03        | diclofenac 50 mg tablet            | 3355        | M01AB05  | 2026-01-01 |            |
# SNOMED-CT CKD stage 3
K04        | ibuprofen 200 mg tablet            | 5640        | M01AE01  | 2026-01-01 |            |
# topical diclofenac: ingredient code matches, but it is a gel
K05        | diclofenac 1% gel                  | 3355        | M02AA15  | 2026-01-01 |            |
# topical brand, name only
K06        | Voltaren Gel 1%                    |             |          | 2026-01-01 |            |
# ended the day before as-of
K07        | naproxen 500 mg tablet             | 7258        | M01AE02  | 2026-01-01 | 2026-11-19 |
# ends on as-of; low eGFR, no CKD code
K08        | naproxen 250 mg tablet             | 7258        | M01AE02  | 2026-01-01 | 2026-11-20 |
# only days_supply, still running; latest eGFR 25: high priority
K09        | ibuprofen 400 mg tablet            | 5640        | M01AE01  | 2026-11-01 |            | 30
# CKD stage 2 and a normal eGFR
K10        | ibuprofen 400 mg tablet            | 5640        | M01AE01  | 2026-01-01 |            |
# an earlier low eGFR, but the latest is normal
K11        | naproxen 500 mg tablet             | 7258        | M01AE02  | 2026-01-01 |            |
# CKD resolved before as-of
K12        | naproxen 500 mg tablet             | 7258        | M01AE02  | 2026-01-01 |            |
# starts after as-of
K13        | naproxen 500 mg tablet             | 7258        | M01AE02  | 2026-11-21 |            |
# brand name only; eGFR 59.9
K14        | Advil 200 mg                       |             |          | 2026-01-01 |            |
# eGFR exactly 60 is not below 60
K15        | ibuprofen 400 mg tablet            | 5640        | M01AE01  | 2026-01-01 |            |
# RxNorm code only
K16        | tablet (see pharmacy)              | 5640        |          | 2026-01-01 |            |
# "liquid gel" capsules are oral
K17        | ibuprofen 200 mg liquid gel capsule |            |          | 2026-01-01 |            |
# CKD recorded and eGFR collected only after as-of
K18        | ibuprofen 400 mg tablet            | 5640        | M01AE01  | 2026-01-01 |            |
# eGFR by test name only
K19        | meloxicam 7.5 mg tablet            | 41493       | M01AC06  | 2026-01-01 |            |
# CKD resolved only after as-of: still present on as-of
K20        | ibuprofen 400 mg tablet            | 5640        | M01AE01  | 2026-01-01 |            |
# combination product recognised by ATC
K21        | hydrocodone / ibuprofen 7.5/200 mg |             | N02AJ23  | 2026-01-01 |            |
# CKD but no NSAID
K22        | paracetamol 500 mg tablet          | 161         | N02BE01  | 2026-01-01 |            |
""")

DIAGNOSES = table("""
patient_id | code      | code_system | recorded_at | resolved_at
K01        | N18.30    | ICD-10-CM   | 2025-01-01  |
K02        | N184      | ICD-10-CM   | 2025-01-01  |
K03        | 585.3     | ICD-9-CM    | 2020-01-01  |
K04        | 433144002 | SNOMED-CT   | 2025-01-01  |
K05        | N18.30    | ICD-10-CM   | 2025-01-01  |
K06        | N18.30    | ICD-10-CM   | 2025-01-01  |
K07        | N18.4     | ICD-10-CM   | 2025-01-01  |
K10        | N18.2     | ICD-10-CM   | 2025-01-01  |
K12        | N18.30    | ICD-10-CM   | 2025-01-01  | 2026-01-01
K13        | N18.30    | ICD-10-CM   | 2025-01-01  |
K16        | N18.31    | ICD-10-CM   | 2025-01-01  |
K17        | N18.32    | ICD-10-CM   | 2025-01-01  |
K18        | N18.30    | ICD-10-CM   | 2026-11-21  |
K20        | N18.4     | ICD-10-CM   | 2025-01-01  | 2026-11-21
K21        | N18.5     | ICD-10-CM   | 2025-01-01  |
K22        | N18.30    | ICD-10-CM   | 2025-01-01  |
""")

LABS = table("""
patient_id | collected_at | loinc_code | test_name | value | unit
K08        | 2026-10-01   | 33914-3    |           | 45    | mL/min/1.73m2
K09        | 2026-06-01   | 33914-3    |           | 35    | mL/min/1.73m2
K09        | 2026-10-01   | 62238-1    |           | 25    | mL/min/1.73m2
K10        | 2026-10-01   | 33914-3    |           | 72    | mL/min/1.73m2
K11        | 2025-06-01   | 33914-3    |           | 55    | mL/min/1.73m2
K11        | 2026-06-01   | 33914-3    |           | 66    | mL/min/1.73m2
K14        | 2026-10-01   | 33914-3    |           | 59.9  | mL/min/1.73m2
K15        | 2026-10-01   | 33914-3    |           | 60    | mL/min/1.73m2
K18        | 2026-11-21   | 33914-3    |           | 40    | mL/min/1.73m2
K19        | 2020-03-01   |            | eGFR      | 40    | mL/min/1.73m2
""")

EXPECTED = {"K01", "K02", "K03", "K04", "K08", "K09", "K14", "K16", "K17", "K19", "K20", "K21"}
POPULATION = EXPECTED | {"K10", "K11", "K12", "K15", "K18"}


def _run(tmp_path):
    return run_pipeline(
        tmp_path, AS_OF, (CHECK,), prescriptions=PRESCRIPTIONS, diagnoses=DIAGNOSES, labs=LABS
    )


def test_flags_exactly_the_expected_patients(tmp_path):
    outcome = _run(tmp_path)
    assert {f["patient_id"] for f in findings(tmp_path / "audit.duckdb")} == EXPECTED
    (result,) = outcome.checks
    assert (result.denominator, result.flagged) == (len(POPULATION), len(EXPECTED))


def test_reason_evidence_and_priority(tmp_path):
    _run(tmp_path)
    by_id = {f["patient_id"]: f for f in findings(tmp_path / "audit.duckdb")}
    assert (
        by_id["K01"]["reason"]
        == "on ibuprofen 400 mg tablet with CKD stage 3 or worse coded N18.30 (ICD-10-CM)"
    )
    assert by_id["K01"]["priority"] == "normal"
    assert by_id["K08"]["reason"] == "on naproxen 250 mg tablet with latest eGFR 45.0 on 2026-10-01"
    assert by_id["K09"]["priority"] == "high"
    evidence = json.loads(by_id["K09"]["evidence"])
    assert evidence["latest_egfr"] == "25.0" and evidence["latest_egfr_at"] == "2026-10-01"
    assert evidence["nsaid_since"] == "2026-11-01" and evidence["ckd_codes"] is None
    assert json.loads(by_id["K02"]["evidence"])["ckd_codes"] == "N184 (ICD-10-CM)"
    assert by_id["K21"]["reason"].endswith("coded N18.5 (ICD-10-CM)") and by_id["K21"]["priority"] == "normal"


# Issue 15, round 2: UK brands from the OpenSAFELY BNF 10.1.1/10.3.2 dm+d codelists. Oral brands are
# systemic NSAIDs; a topical-only brand or the dm+d plural "medicated plasters" is not, even when the
# row carries the systemic ingredient's RxNorm code or a systemic brand name.
UK_PRESCRIPTIONS = table("""
patient_id | drug_name                                                   | rxnorm_code | atc_code | start_date | end_date   | days_supply
U01        | Voltarol Retard 100mg tablets                               |             |          | 2026-09-01 |          |
# ketoprofen brand that also names a gel; the capsule is oral
U02        | Tiloket CR 200mg capsules                                   |             |          | 2026-09-01 |          |
U03        | Nurofen Joint & Muscular Pain Relief 200mg medicated plasters |           |          | 2026-09-01 |          |
U04        | Ibuleve Speed Relief 5% spray                               | 5640        |          | 2026-09-01 |          |
# ibuprofen lysine; other Feminax products are paracetamol/codeine
U05        | Feminax Express 342mg tablets                               |             |          | 2026-09-01 |          |
U06        | Flexin-75 Continus tablets                                  |             |          | 2026-09-01 |          |
""")

UK_DIAGNOSES = table("""
patient_id | code  | code_system | recorded_at | resolved_at
U01        | N18.4 | ICD-10-CM   | 2025-01-01  |
U02        | N18.4 | ICD-10-CM   | 2025-01-01  |
U03        | N18.4 | ICD-10-CM   | 2025-01-01  |
U04        | N18.4 | ICD-10-CM   | 2025-01-01  |
U05        | N18.4 | ICD-10-CM   | 2025-01-01  |
U06        | N18.4 | ICD-10-CM   | 2025-01-01  |
""")


def test_uk_oral_brands_seen_and_topical_brands_and_plasters_not(tmp_path):
    run_pipeline(tmp_path, AS_OF, (CHECK,), prescriptions=UK_PRESCRIPTIONS, diagnoses=UK_DIAGNOSES)
    assert {f["patient_id"] for f in findings(tmp_path / "audit.duckdb")} == {"U01", "U02", "U05", "U06"}
