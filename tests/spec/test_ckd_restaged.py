"""Spec: CKD is staged by its latest stage code (review 2026-12), as the QOF CKD register reads it. A
patient coded CKD stage 3 after one low eGFR and re-staged CKD stage 2 when it recovered is not a
patient with CKD stage 3 on an NSAID; a stage 3 code recorded before a later stage 1-2 code
(ckd_stage1_2.csv) no longer counts, one recorded on the same day or again after it still does, a
stage 4-5 or dialysis code is never re-staged, and the eGFR arm is untouched. As of 2026-11-20."""

from __future__ import annotations

from datetime import date

from tests.helpers import table
from tests.spec.harness import check_spec

AS_OF = date(2026, 11, 20)
IDS = ("K01", "K02", "K03", "K04", "K05", "K06", "K07", "K08", "K09")

PRESCRIPTIONS = table(
    "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
    + "\n".join(f"{p} | Naproxen 500mg tablets | | | 2026-11-01 | | 28" for p in IDS)
)
DIAGNOSES = table("""
patient_id | code             | code_system | recorded_at | resolved_at
# stage 3 after one low eGFR, re-staged stage 2 when it recovered: not CKD stage 3
K01        | N18.30           | ICD-10-CM   | 2024-01-10  |
K01        | N18.2            | ICD-10-CM   | 2025-06-01  |
# stage 2, then stage 3: CKD stage 3
K02        | N18.2            | ICD-10-CM   | 2024-01-10  |
K02        | N18.3            | ICD-10-CM   | 2025-06-01  |
# UK codes: stage 3A re-staged stage 2 without proteinuria, but the latest eGFR is 52 (eGFR arm)
K03        | 324341000000100  | SNOMED-CT   | 2024-01-10  |
K03        | 324211000000106  | SNOMED-CT   | 2025-06-01  |
# stage 3 and stage 2 on one day: which came last is unknown, stage 3 still counts
K04        | 433144002        | SNOMED-CT   | 2025-06-01  |
K04        | 431856006        | SNOMED-CT   | 2025-06-01  |
# dialysis before a kidney transplant, stage 2 with the graft since: dialysis is never re-staged
# (NSAIDs are still avoided after a kidney transplant)
K05        | Z99.2            | ICD-10-CM   | 2020-03-01  |
K05        | Z94.0            | ICD-10-CM   | 2022-05-01  |
K05        | N18.2            | ICD-10-CM   | 2023-01-15  |
# control: stage 3 never re-staged
K06        | N18.3            | ICD-10-CM   | 2024-01-10  |
# stage 4, then a stage 2 code from another clinician: stage 4 is never re-staged (high)
K09        | N18.4            | ICD-10-CM   | 2023-01-10  |
K09        | N18.2            | ICD-10-CM   | 2025-06-01  |
# stage 4, re-staged 2, then stage 4 again: high priority
K07        | N18.4            | ICD-10-CM   | 2023-01-10  |
K07        | N18.2            | ICD-10-CM   | 2024-06-01  |
K07        | N18.4            | ICD-10-CM   | 2026-03-01  |
# an unstaged CKD code (N18.9) after stage 3 does not re-stage
K08        | N18.3            | ICD-10-CM   | 2024-01-10  |
K08        | N18.9            | ICD-10-CM   | 2025-06-01  |
""")
LABS = table("""
patient_id | collected_at | loinc_code | test_name | value | unit
K01        | 2025-06-01   | 98979-8    | eGFR      | 68    | mL/min/1.73m2
K03        | 2026-09-01   | 98979-8    | eGFR      | 52    | mL/min/1.73m2
K05        | 2026-05-01   | 98979-8    | eGFR      | 71    | mL/min/1.73m2
""")


def test_ckd_is_staged_by_its_latest_stage_code(tmp_path):
    tables = {"prescriptions": PRESCRIPTIONS, "diagnoses": DIAGNOSES, "labs": LABS}
    expected = {
        "K01": None,
        "K02": "normal",
        "K03": "normal",
        "K04": "normal",
        "K05": "high",
        "K06": "normal",
        "K07": "high",
        "K08": "normal",
        "K09": "high",
    }
    reason = {"K03": "on Naproxen 500mg tablets with latest eGFR 52.0 on 2026-09-01"}
    evidence = {"K03": {"ckd_codes": None}, "K09": {"ckd_codes": "N18.4 (ICD-10-CM)"}}
    check_spec(tmp_path, "nsaid_kidney_disease", AS_OF, tables, expected, reason=reason, evidence=evidence)
