"""Spec: clinical review 2026-12-06 (a second read of the checks by a clinical informatician).

nsaid_kidney_disease: CKD stage 5 with transplant (SNOMED CT 714153000, "CKD 5T": KDIGO's T marks a
transplant recipient, the stage is the graft's function) and dialysis coded as the procedure
(265764009 renal dialysis, as UK GP records write it; 302497006 haemodialysis;
71192002 peritoneal dialysis; 108241001 dialysis procedure) are stage 5: an NSAID with any of them,
no eGFR in the export, is flagged high (KDIGO 2024, AGS Beers 2023: avoid NSAIDs). A kidney
transplant with no stage (Z94.0) is not, as before. As of 2026-11-20.
"""

from __future__ import annotations

from datetime import date

from tests.helpers import table
from tests.spec.harness import OUT, check_spec

AS_OF = date(2026, 11, 20)

CODES = {
    "K01": ("714153000", "SNOMED-CT"),
    "K02": ("265764009", "SNOMED-CT"),
    "K03": ("302497006", "SNOMED-CT"),
    "K04": ("71192002", "SNOMED-CT"),
    "K05": ("108241001", "SNOMED-CT"),
    "K06": ("Z94.0", "ICD-10-CM"),
}


def nsaid_spec(tmp_path, drugs: dict[str, str], codes: dict[str, tuple[str, str]], expected: dict) -> None:
    """nsaid_kidney_disease as of AS_OF: each patient on their drug since 2026-10-20 (56 days), with
    their (code, system) recorded 2024-03-01."""
    prescriptions = table(
        "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
        + "\n".join(f"{p} | {d} | | | 2026-10-20 | | 56" for p, d in drugs.items())
    )
    diagnoses = table(
        "patient_id | code | code_system | recorded_at | resolved_at\n"
        + "\n".join(f"{p} | {code} | {system} | 2024-03-01 |" for p, (code, system) in codes.items())
    )
    tables = {"prescriptions": prescriptions, "diagnoses": diagnoses}
    check_spec(tmp_path, "nsaid_kidney_disease", AS_OF, tables, expected)


def test_stage_5_with_transplant_and_dialysis_procedures_are_stage_5(tmp_path):
    drugs = dict.fromkeys(CODES, "Naproxen 500mg tablets")
    nsaid_spec(tmp_path, drugs, CODES, {p: "high" for p in CODES} | {"K06": None})


def test_an_nsaid_spray_or_mousse_for_the_skin_is_topical(tmp_path):
    """nsaid_kidney_disease, CKD stage 3 coded: 'Ibuprofen 5% spray' (the generic of Ibuspray, a
    cutaneous spray solution, ATC M02AA13) and 'Ibuprofen 5% mousse' are for the skin, as the brands
    Ibuleve and Ibumousse already were: topical NSAIDs are the advice in CKD (NICE CG182), not a
    flag. Ketorolac as a nasal spray is absorbed (Sprix): still flagged, as a tablet is."""
    drugs = {
        "T1": "Ibuprofen 5% spray",
        "T2": "Ibuprofen 5% mousse",
        "T3": "Ketorolac tromethamine 15.75 mg/spray nasal spray",
        "T4": "Ibuprofen 400mg tablets",
    }
    codes = dict.fromkeys(drugs, ("N18.31", "ICD-10-CM"))
    nsaid_spec(tmp_path, drugs, codes, {"T1": OUT, "T2": OUT, "T3": "normal", "T4": "normal"})
