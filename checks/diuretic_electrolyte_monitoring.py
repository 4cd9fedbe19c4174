"""Patients on a diuretic without a recent potassium and sodium result."""

from checks.framework import CheckDefinition, Parameter

CHECK = CheckDefinition(
    id="diuretic_electrolyte_monitoring",
    title="Diuretic without electrolyte monitoring",
    guideline=(
        "Periodic laboratory testing for electrolytes if on diuretics",
        "Review medications, especially diuretics",
    ),
    population=(
        "Patients with a diuretic (loop, thiazide or thiazide-like, potassium-sparing or MRA, "
        "alone or in a combination product) active on the as-of date: started on or before as-of "
        "and ending on or after as-of, or open-ended."
    ),
    flag=(
        "No blood (serum/plasma) potassium result, or no blood sodium result, collected in the "
        "lookback window. Urine electrolytes do not count, nor does a test without a numeric "
        "result (the level stays unknown, as after a haemolysed sample)."
    ),
    windows="Lookback: as-of minus lookback_days (inclusive) to as-of (inclusive).",
    priority="High when neither potassium nor sodium was measured in the window; otherwise normal.",
    evidence=(
        "diuretics",
        "diuretic_since",
        "last_potassium_at",
        "last_potassium",
        "last_sodium_at",
        "last_sodium",
    ),
    codelists=("diuretics", "lab_tests"),
    parameters=(
        Parameter("lookback_days", 365, "days", "How far back a potassium or sodium result counts."),
    ),
    rationale=(
        "The guideline names no interval; 365 days matches the annual monitoring used by PINCER-style "
        "indicators and most renal-function monitoring guidance for stable diuretic users. The end of a "
        "prescription is its end_date, else start_date + days_supply; with neither it is ongoing. The "
        "last results shown in the evidence may be older than the window, so the reviewer sees how "
        "overdue monitoring is. "
        "A censored result ('<0.1', '>2000') is a measured result and counts as one; a text-only result "
        "(haemolysed, see comment) is no result. The latest result shown is the last by timestamp."
    ),
    clears=(
        "A numeric blood potassium and a numeric blood sodium result, both collected in the lookback "
        "window (or the diuretic ended)."
    ),
)
