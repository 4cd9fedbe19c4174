"""What the writer and the independent oracle share: the as-of date, the check ids, the file headers."""

from __future__ import annotations

from datetime import date

AS_OF = date(2026, 11, 20)  # the export date of the sample, and the audit's as-of date
HISTORY_START = date(2024, 9, 1)
FIRST_DAY = (HISTORY_START - AS_OF).days  # -810; every event day is an offset from AS_OF
DEFAULT_SEED = 20261120

DEM = "diuretic_electrolyte_monitoring"
CC = "cramps_cirrhosis"
IPD = "insulin_potassium_drop"
CMR = "cramps_medication_review"
CEC = "cramps_electrolyte_check"
CMW = "cramps_metabolic_workup"
NNW = "numbness_neuropathy_workup"
NKD = "nsaid_kidney_disease"
ENF = "elderly_numbness_fall_risk"
RNP = "refractory_neuropathic_pain"
CHECK_IDS = (DEM, CC, IPD, CMR, CEC, CMW, NNW, NKD, ENF, RNP)

HEADERS: dict[str, tuple[str, ...]] = {
    "patients.csv": ("patient_id", "birth_date", "sex", "death_date", "deceased"),
    "labs.csv": ("patient_id", "collected_at", "loinc_code", "test_name", "value", "unit"),
    "prescriptions.csv": (
        "patient_id",
        "drug_name",
        "rxnorm_code",
        "atc_code",
        "start_date",
        "end_date",
        "days_supply",
    ),
    "diagnoses.csv": ("patient_id", "code", "code_system", "recorded_at", "resolved_at"),
}
