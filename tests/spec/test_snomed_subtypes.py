"""SNOMED CT codes match exactly, so a codelist must list the subtypes an export records: a young
woman on spironolactone alone for acne is left out of electrolyte monitoring only when no reason to
watch her potassium is coded, and a reason coded as a subtype (benign essential hypertension,
chronic diastolic heart failure) is as much a reason as its parent (review of 2026-12-05; sources
in checks/codelists/SOURCES.md: the NHS Digital HYP_COD refset, the VSAC Heart Failure value set).
Likewise a liver transplant recorded as "history of liver recipient" or as the graft's rejection
ends a cirrhosis recorded before it (OpenSAFELY's solid organ transplantation codelist).
"""

from __future__ import annotations

from datetime import date

from tests.helpers import table
from tests.spec.harness import OUT, check_spec

AS_OF = date(2026, 11, 20)
CHECK = "diuretic_electrolyte_monitoring"

# code recorded beside acne (L70.0, 2025-06-01), and what the clinician expects
REASONS = {
    "S01": ("1201005", "high"),  # benign essential hypertension
    "S02": ("78975002", "high"),  # malignant essential hypertension
    "S03": ("169465000", "high"),  # hypertension caused by the oral contraceptive pill
    "S04": ("31992008", "high"),  # secondary hypertension
    "S05": ("441530006", "high"),  # chronic diastolic heart failure
    "S06": ("788950000", "high"),  # heart failure with mid range ejection fraction (NHS)
    "S07": ("153941000119100", "high"),  # chronic combined systolic and diastolic (US extension)
    "S08": ("52254009", "high"),  # nephrotic syndrome
    "S09": ("40095003", "high"),  # injury of kidney: Synthea's acute kidney injury
    "S10": ("", OUT),  # acne alone: the exception as designed
    "S11": ("851941000000103", "high"),  # acute kidney injury stage 2 (UK extension)
    "S12": ("35455006", "high"),  # acute tubular necrosis
    "S13": ("190507007", "high"),  # primary aldosteronism
    "S14": ("102572006", "high"),  # oedema of lower extremity
    "S15": ("93461009", "high"),  # gender dysphoria: spironolactone as an antiandrogen
}
PATIENTS = table("patient_id | birth_date | sex\n" + "\n".join(f"{p} | 2001-04-01 | F" for p in REASONS))
DIAGNOSES = table(
    "patient_id | code | code_system | recorded_at | resolved_at\n"
    + "\n".join(f"{p} | L70.0 | ICD-10-CM | 2025-06-01 |" for p in REASONS)
    + "\n"
    + "\n".join(f"{p} | {code} | SNOMED-CT | 2025-09-01 |" for p, (code, _) in REASONS.items() if code)
)
PRESCRIPTIONS = table(
    "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
    + "\n".join(f"{p} | Spironolactone 50mg tablets | | | 2025-07-01 | |" for p in REASONS)
)


def test_a_reason_to_monitor_coded_as_a_snomed_subtype_ends_the_skin_exception(tmp_path):
    tables = {"patients": PATIENTS, "diagnoses": DIAGNOSES, "prescriptions": PRESCRIPTIONS}
    check_spec(tmp_path, CHECK, AS_OF, tables, {p: expected for p, (_, expected) in REASONS.items()})


# Alcoholic cirrhosis (SNOMED CT 420054005) since 2015, a liver transplant in 2019 recorded as a
# subtype, cramp in lower leg (449918009) in 2026: the cirrhosis was the native liver's.
TRANSPLANTS = {
    "L01": ("161671001", OUT),  # history of liver recipient (how a UK GP record states it)
    "L02": ("174425003", OUT),  # orthotopic liver transplant
    "L03": ("235911006", OUT),  # liver transplant rejection: there is a transplanted liver
    "L04": ("", "high"),  # no transplant: cramps in cirrhosis
}
TRANSPLANT_DIAGNOSES = table(
    "patient_id | code | code_system | recorded_at | resolved_at\n"
    + "\n".join(f"{p} | 420054005 | SNOMED-CT | 2015-06-01 |" for p in TRANSPLANTS)
    + "\n"
    + "\n".join(f"{p} | 449918009 | SNOMED-CT | 2026-09-01 |" for p in TRANSPLANTS)
    + "\n"
    + "\n".join(f"{p} | {code} | SNOMED-CT | 2019-03-14 |" for p, (code, _) in TRANSPLANTS.items() if code)
)


def test_a_liver_transplant_coded_as_a_snomed_subtype_ends_the_native_cirrhosis(tmp_path):
    expected = {p: e for p, (_, e) in TRANSPLANTS.items()}
    check_spec(tmp_path, "cramps_cirrhosis", AS_OF, {"diagnoses": TRANSPLANT_DIAGNOSES}, expected)
