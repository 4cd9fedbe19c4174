"""Patients with cirrhosis and recent muscle cramps: a treatable, often missed combination."""

from checks.framework import (
    MAGNESIUM_LOW,
    POTASSIUM_LOW,
    SODIUM_LOW,
    CheckDefinition,
    days,
    last_results,
    lookback,
    refill_gap,
)

CHECK = CheckDefinition(
    id="cramps_cirrhosis",
    title="Muscle cramps in cirrhosis",
    guideline=(
        "Muscle cramps are common in cirrhosis",
        "Baclofen and albumin may be particularly effective",
        "Monitor for electrolyte abnormalities",
    ),
    population=(
        "Patients with cirrhosis of the liver recorded on or before as-of and not resolved on or before "
        "as-of (ICD-10-CM K70.3x, K71.7, K74.3-K74.6x, K72.1x end-stage liver disease, P78.81; ICD-9-CM "
        "571.2, 571.5, 571.6; SNOMED-CT). A resolved date on the day the cirrhosis was recorded is no "
        "resolution (the end of a visit's record, not of the disease). After a liver transplant, only a "
        "cirrhosis recorded after it (codelist liver_transplant)."
    ),
    flag="A muscle cramp diagnosis (ICD-10-CM R25.2, ICD-9-CM 729.82, SNOMED-CT) recorded in the lookback.",
    windows=(
        "Cramps: as-of minus lookback_days (inclusive) to as-of (inclusive). Electrolytes for priority: "
        "as-of minus electrolyte_recent_days to as-of. Baclofen/albumin: prescribed in the cramp lookback "
        "or active on as-of."
    ),
    priority=(
        "High when none of potassium, sodium and magnesium was measured in the last "
        "electrolyte_recent_days, or when the latest of any of them, collected in that window, is "
        "below its threshold."
    ),
    evidence=(
        "due_on",
        "cirrhosis_codes",
        "cirrhosis_since",
        "cramp_codes",
        "last_cramp_at",
        "current_diuretics",
        "baclofen_prescribed",
        "albumin_prescribed",
        *last_results("potassium", "sodium", "magnesium"),
    ),
    fingerprint=(
        "cirrhosis_codes",
        "cirrhosis_since",
        "last_cramp_at",
        "current_diuretics",
        "baclofen_prescribed",
        "albumin_prescribed",
        *last_results("potassium", "sodium", "magnesium"),  # a new result can make the flag high
    ),
    codelists=(
        "cirrhosis",
        "liver_transplant",
        "muscle_cramps",
        "diuretics",
        "baclofen",
        "albumin",
        "lab_tests",
        "dose_forms_topical",
        "nsaids_topical",
        "nsaids_systemic",
        "dose_forms_patch",  # a patch is topical only when it acts locally (is_topical)
        "acts_locally",
        "systemic_through_skin",
    ),
    population_codelists=("cirrhosis",),
    parameters=(
        lookback(365, "a cramp diagnosis"),
        days("electrolyte_recent_days", 90, "Window in which electrolytes count as recent."),
        refill_gap("A diuretic (shown as current)"),
        POTASSIUM_LOW,
        SODIUM_LOW,
        MAGNESIUM_LOW,
    ),
    rationale=(
        "Cramps in cirrhosis respond to correcting electrolytes and to baclofen or albumin, so every "
        "flag shows whether those were tried and the latest electrolytes. 'Not resolved on or before "
        "as-of' keeps a cirrhosis resolved after as-of in the population, so a past as-of reproduces "
        "that day's audit. Cirrhosis does not resolve the day it is recorded: a resolved date equal to "
        "the recorded date is how visit-based exports close every record (OMOP's condition_end_date is "
        "the end of the record; ETLs from claims set it to the start), so it does not resolve it "
        "(review 2026-11-30). Thresholds are the lower reference limits in common UK/US laboratory use. "
        "A censored result ('<2.5', '>60') is a measured result: it counts wherever a result is needed "
        "and is judged on its bound only when the judgement is certain ('<3.5' is below 3.5; '<=3.5' and "
        "'>3.0' are not); a text-only result (haemolysed) is no result. The latest result is the last by "
        "collection timestamp, not by day (several on one identical timestamp: the lowest). A low "
        "result older than electrolyte_recent_days does not make the flag high on its own: it says "
        "nothing about this cramp (as in cramps_electrolyte_check), and a patient with no recent "
        "result at all is high anyway (review 2026-11). Baclofen is oral baclofen (a compounded "
        "baclofen cream is no cramp treatment) and albumin the human albumin infusion: not "
        "albumin-bound paclitaxel, and not a radiolabelled albumin, a diagnostic agent (ATC V; Tc-99m "
        "macroaggregated albumin before radioembolisation, I-125 albumin) (review 2026-12). After a "
        "liver transplant a cirrhosis recorded before it was the native liver's and no longer applies "
        "(a problem list seldom closes it): only a cirrhosis recorded after the first transplant record "
        "(codelist liver_transplant: Z94.4, T86.4, V42.7, 996.82 and their SNOMED CT counterparts; "
        "not an auxiliary transplant, which leaves the native liver in place) puts "
        "a transplanted patient in the "
        "population, as recurrent disease of the graft (review 2026-12)."
    ),
    clears=(
        "No cramp recorded in the lookback: the flag clears once the last cramp diagnosis is older than "
        "lookback_days, or the cirrhosis is recorded as resolved (the patient leaves the population). "
        "Review cramp management (e.g. albumin, electrolytes, medication) meanwhile."
    ),
)
