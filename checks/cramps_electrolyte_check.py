"""Patients with muscle cramps whose potassium, calcium and magnesium were not checked, or were low."""

from checks.framework import CheckDefinition, Parameter

CHECK = CheckDefinition(
    id="cramps_electrolyte_check",
    title="Cramps without a normal potassium, calcium and magnesium",
    guideline=(
        "Check potassium, calcium, and magnesium levels",
        "May be exacerbated by dehydration, electrolyte imbalances, or medication side effects",
    ),
    population=(
        "Patients with a muscle cramp diagnosis (ICD-10-CM R25.2, G47.62; ICD-9-CM 729.82, 327.52; "
        "SNOMED-CT 55300003) recorded in the lookback."
    ),
    flag=(
        "For any cramp in the lookback, its electrolyte window holds no blood potassium, no calcium "
        "(total, corrected or ionised) or no magnesium result, or holds a result below range: "
        "potassium < potassium_low, total or corrected calcium < calcium_low, ionised calcium < "
        "ionized_calcium_low, magnesium < magnesium_low. The reason names, per cramp, each test "
        "missing and each low result."
    ),
    windows=(
        "Cramps: as-of minus lookback_days (inclusive) to as-of (inclusive). Electrolytes for a cramp: "
        "cramp date minus days_before (inclusive) to the earlier of cramp date plus days_after and "
        "as-of (inclusive). A result counts on its collection date."
    ),
    priority="High when a result in a cramp's window is below range; normal when tests are only missing.",
    evidence=(
        "cramp_codes",
        "cramp_dates",
        "problems",
        "last_potassium_at",
        "last_potassium",
        "last_calcium_at",
        "last_calcium",
        "last_magnesium_at",
        "last_magnesium",
    ),
    codelists=("muscle_cramps", "lab_tests"),
    parameters=(
        Parameter("lookback_days", 365, "days", "How far back a cramp diagnosis counts."),
        Parameter("days_before", 90, "days", "Electrolytes this many days before a cramp count."),
        Parameter("days_after", 30, "days", "Electrolytes this many days after a cramp count."),
        Parameter("potassium_low", 3.5, "mmol/L", "Potassium below this is low."),
        Parameter("calcium_low", 2.10, "mmol/L", "Total or albumin-corrected calcium below this is low."),
        Parameter("ionized_calcium_low", 1.15, "mmol/L", "Ionised calcium below this is low."),
        Parameter("magnesium_low", 0.70, "mmol/L", "Magnesium below this is low."),
    ),
    rationale=(
        "Each cramp is judged on its own window, because a normal panel a year before a later cramp "
        "says nothing about that cramp; the window never reaches past as-of, so a past as-of "
        "reproduces that day's audit. Any low result in the window counts, not only the latest: a "
        "low value near the cramp is the finding the guideline asks for, even if it was later "
        "corrected. Only blood results with a numeric value count: a urine electrolyte does not "
        "measure the serum level, and a test without a result (haemolysed, cancelled) leaves the "
        "level unknown. Calcium results are compared as exported, total or albumin-corrected, with "
        "one threshold as the issue states; an ionised calcium is the better measure of the free "
        "calcium that drives muscle excitability, so it also counts as a calcium test, against its "
        "own lower limit of 1.15 mmol/L (common reference range 1.15-1.30). Thresholds are the lower "
        "reference limits in common UK/US laboratory use; units are normalised at ingest (mg/dL and "
        "mEq/L converted to mmol/L). A low result is a treatable finding, hence high priority; a "
        "missing test is an omission to close, hence normal. "
        "A censored result ('<2.5', '>60') is a measured result: it counts wherever a result is needed "
        "and is judged on its bound only when the judgement is certain ('<3.5' is below 3.5; '<=3.5' and "
        "'>3.0' are not); a text-only result (haemolysed) is no result. The latest result is the last by "
        "collection timestamp, not by day (several on one identical timestamp: the lowest)."
    ),
    clears=(
        "For every cramp in the lookback, a blood potassium, a calcium and a magnesium result in its "
        "electrolyte window, none below range."
    ),
)
