"""Spec: an adversarial review (2026-12-06) of the MIMIC-IV path with exports shaped as the hosp
module ships them. An inpatient's orders list intravenous fluids, diluents, flushes and the bag
itself beside the medicines ('Bag', '0.9% Sodium Chloride', 'Dextrose 5%', 'SW', 'Sodium Chloride
0.9%  Flush'): an 80-year-old with diabetic neuropathy and none but those was flagged with "6
distinct active drugs". As of 2026-11-20."""

from __future__ import annotations

from datetime import date

from tests.helpers import table
from tests.spec.harness import check_spec
from tests.spec.test_clinical_review_5 import FOUR  # four regular medicines: a fifth is polypharmacy

AS_OF = date(2026, 11, 20)
# Names as MIMIC-IV's prescriptions.drug writes them (drug_type MAIN or BASE), and as UK and US
# exports write fluids; none is a medicine in the polypharmacy sense.
FLUIDS = (
    "Bag",
    "0.9% Sodium Chloride",
    "Sodium Chloride 0.9%  Flush",
    "Dextrose 5%",
    "5% Dextrose",
    "SW",
    "Sterile Water",
    "Iso-Osmotic Dextrose",
    "Iso-Osmotic Sodium Chloride",
    "D5W",
    "D5 1/2NS",
    "NS",
    "Lactated Ringers",
    "Heparin Flush (10 units/ml)",
    "Sodium chloride 0.9% 1000 mL infusion",
    # a second read: bracketed notes, plurals, forms and volumes after the fluid, and other fluids
    "0.9% Sodium Chloride (Mini Bag Plus)",
    "Water for injections 10ml",
    "Sodium chloride 0.9% solution for infusion 1000ml bags",
    "Compound sodium lactate",
    "Ringers",
    "dextrose 5 % in water",
    "Plasma-Lyte 148 solution for infusion 1000 ml",
    "Sodium chloride 0.9% w/v 10ml",
    "0.45% Sodium Chloride",
)
# A fluid with a drug in it, a treatment strength (glucose 50 % for hypoglycaemia, hypertonic
# saline), a salt tablet, a bare 'Sodium chloride' (GP records' tablets), a
# heparin injection: medicines.
MEDICINES = (
    "Potassium Chloride 20 mEq / 1000 mL D5 1/2 NS",
    "Sodium Chloride 1 gm Tab",
    "Dextrose 50%",
    "Glucose 50% 50ml",
    "Dextrose 50% injection",
    "Sodium Chloride 3%",
    "Sodium chloride 23.4%",
    "Sodium chloride",
    "Glucose",
    "Sodium chloride 1g tablets",
    "Heparin sodium 5000 units/ml injection",
)


def _tables(drugs: dict[str, tuple[str, ...]]) -> dict[str, object]:
    ids = list(drugs)
    rows = [f"{p} | {d} | | | 2026-10-01 | |" for p, names in drugs.items() for d in names]
    return {
        "patients": table(
            "patient_id | birth_date | sex\n" + "\n".join(f"{p} | 1946-01-01 | M" for p in ids)
        ),
        "diagnoses": table(
            "patient_id | code | code_system | recorded_at | resolved_at\n"
            + "\n".join(f"{p} | E11.42 | ICD-10-CM | 2025-01-01 |" for p in ids)
        ),
        "prescriptions": table(
            "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
            + "\n".join(rows)
        ),
    }


def test_intravenous_fluids_flushes_and_bags_are_not_medicines_for_polypharmacy(tmp_path):
    drugs = {"F00": FLUIDS} | {f"F{i:02d}": (*FOUR, fluid) for i, fluid in enumerate(FLUIDS, 1)}
    check_spec(tmp_path, "elderly_numbness_fall_risk", AS_OF, _tables(drugs), dict.fromkeys(drugs))


def test_a_fluid_with_a_drug_in_it_and_a_salt_tablet_are_medicines(tmp_path):
    drugs = {f"M{i}": (*FOUR, name) for i, name in enumerate(MEDICINES, 1)}
    check_spec(
        tmp_path,
        "elderly_numbness_fall_risk",
        AS_OF,
        _tables(drugs),
        dict.fromkeys(drugs, "normal"),
        reason=dict.fromkeys(
            drugs, "aged 80 with lower-limb numbness coded E11.42 (ICD-10-CM); 5 distinct active drugs"
        ),
    )
