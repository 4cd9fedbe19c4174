"""Patients with muscle cramps whose potassium, calcium and magnesium were not checked, or were low."""

from checks.framework import (
    CRAMPS_MIN_AGE,
    MAGNESIUM_LOW,
    POTASSIUM_LOW,
    CheckDefinition,
    Parameter,
    days,
    last_results,
    lookback,
    low_limit,
)

CHECK = CheckDefinition(
    id="cramps_electrolyte_check",
    title="Cramps without a normal potassium, calcium and magnesium",
    guideline=(
        "Check potassium, calcium, and magnesium levels",
        "May be exacerbated by dehydration, electrolyte imbalances, or medication side effects",
    ),
    population=(
        "Patients with a muscle cramp diagnosis (ICD-10-CM R25.2, G47.62, M62.831; ICD-9-CM 729.82, 327.52; "
        "SNOMED-CT 55300003 cramp, 449918009 cramp in lower leg, 102549009 cramp in lower leg "
        "associated with rest, 424647005 cramp in limb; codelist muscle_cramps) recorded in the lookback, "
        "aged min_age or more on as-of (or of unknown birth date)."
    ),
    flag=(
        "For any cramp in the lookback, its electrolyte window holds no blood potassium, no calcium "
        "(total, corrected or ionised) or no magnesium result, or holds a result below range: "
        "potassium < potassium_low, calcium low in the form it is judged in (below), magnesium < "
        "magnesium_low. The reason names, per cramp, each test "
        "missing and each low result. Calcium is judged per collection day in the best form that day "
        "holds: ionised calcium if measured, else albumin-corrected calcium (as reported by the "
        "laboratory, else computed from a total calcium and an albumin collected the same day: "
        "total + albumin_coefficient x (albumin_reference - albumin)), else total calcium; ionised "
        "below ionized_calcium_low, corrected below corrected_calcium_low, total below calcium_low is low."
    ),
    windows=(
        "Cramps: as-of minus lookback_days (inclusive) to as-of (inclusive). Electrolytes for a cramp: "
        "cramp date minus days_before (inclusive) to the earlier of cramp date plus days_after and "
        "as-of (inclusive). A result counts on its collection date."
    ),
    priority="High when a result in a cramp's window is below range; normal when tests are only missing.",
    evidence=(
        "due_on",
        "cramp_codes",
        "cramp_dates",
        "last_cramp_at",
        "problems",
        *last_results("potassium", "calcium", "magnesium"),
    ),
    # a new cramp or a new result re-opens a review (cramp_dates slides with the window: not in it)
    fingerprint=("cramp_codes", "last_cramp_at", *last_results("potassium", "calcium", "magnesium")),
    codelists=("muscle_cramps", "lab_tests"),
    population_codelists=("muscle_cramps",),
    parameters=(
        lookback(365, "a cramp diagnosis"),
        CRAMPS_MIN_AGE,
        days("days_before", 90, "Electrolytes this many days before a cramp count."),
        days("days_after", 30, "Electrolytes this many days after a cramp count."),
        POTASSIUM_LOW,
        low_limit("calcium", 2.10, label="Total calcium (no same-day albumin)"),
        Parameter(
            "corrected_calcium_low",
            2.10,
            "mmol/L",
            "Albumin-corrected calcium (reported, or computed from a same-day albumin) below this is low.",
        ),
        low_limit("ionized_calcium", 1.15, label="Ionised calcium"),
        MAGNESIUM_LOW,
        Parameter(
            "albumin_reference", 40.0, "g/L", "Albumin the correction adjusts to (Payne 1973: 40 g/L)."
        ),
        Parameter(
            "albumin_coefficient",
            0.02,
            "mmol/L per g/L",
            "Calcium added per g/L of albumin below albumin_reference (Payne 1973: 0.02).",
        ),
    ),
    rationale=(
        "A child is out (min_age, 18; clinical review 2026-12, eighth): NICE CKS 'Leg cramps' covers "
        "adults, and nocturnal leg cramps and growing pains in children are benign and not worked up "
        "with blood tests; a patient of unknown birth date stays in. "
        "Each cramp is judged on its own window, because a normal panel a year before a later cramp "
        "says nothing about that cramp; the window never reaches past as-of, so a past as-of "
        "reproduces that day's audit. Any low result in the window counts, not only the latest: a "
        "low value near the cramp is the finding the guideline asks for, even if it was later "
        "corrected. Only blood results with a numeric value count: a urine electrolyte does not "
        "measure the serum level, and a test without a result (haemolysed, cancelled) leaves the "
        "level unknown. Calcium (issue 15): about 40% of serum calcium is bound to albumin, so a low "
        "total calcium with a low albumin is often a normal free calcium. Ionised calcium measures the "
        "free calcium that drives muscle excitability and is preferred whenever it was measured that "
        "day, against its own lower limit of 1.15 mmol/L (common reference range 1.15-1.30). Else the "
        "albumin-corrected calcium: the laboratory's own adjusted calcium when reported (LOINC 29265-6, "
        "18281-6), else computed from a total calcium and an albumin collected the same day with the "
        "standard correction of Payne et al. (BMJ 1973;4:643-6): corrected = total + 0.02 x (40 - "
        "albumin g/L) mmol/L, equivalently total + 0.8 x (4.0 - albumin g/dL) mg/dL, rounded to two "
        "decimals as laboratories report it (a same-day albumin nearest in time to the calcium; ties: "
        "the higher albumin). A total calcium with no same-day albumin is judged as it is. The choice is "
        "made per collection day, so a low total on a day without an ionised or albumin result still "
        "counts. Each form has its own threshold; corrected and total both default to 2.10 mmol/L (the "
        "issue 5 threshold; UK laboratories often quote 2.20 for adjusted calcium: set "
        "corrected_calcium_low). A censored total or albumin carries its bound into the corrected value "
        "(albumin '<20' makes it a lower bound); bounds on opposite sides leave it unknown, and the "
        "total is judged instead. Albumin is normalised to g/L at ingest (g/dL x 10). Thresholds are "
        "the lower reference limits in common UK/US laboratory use; units are normalised at ingest "
        "(mg/dL and mEq/L converted to mmol/L). A low result is a treatable finding, hence high priority; a "
        "missing test is an omission to close, hence normal. "
        "A censored result ('<2.5', '>60') is a measured result: it counts wherever a result is needed "
        "and is judged on its bound only when the judgement is certain ('<3.5' is below 3.5; '<=3.5' and "
        "'>3.0' are not); a text-only result (haemolysed) is no result. The latest result is the last by "
        "collection timestamp, not by day (several on one identical timestamp: the lowest)."
    ),
    clears=(
        "For every cramp in the lookback, a blood potassium, a calcium and a magnesium result in its "
        "electrolyte window, none below range (calcium judged as ionised, else albumin-corrected, else "
        "total)."
    ),
)
