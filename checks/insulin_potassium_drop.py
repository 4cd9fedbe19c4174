"""Patients on insulin with a low potassium or a rapid potassium fall: a reversible cause of cramps."""

from checks.framework import POTASSIUM_LOW, CheckDefinition, Parameter, days, last_results, refill_gap

CHECK = CheckDefinition(
    id="insulin_potassium_drop",
    title="Potassium drop on insulin",
    guideline=(
        "Rapid drops in potassium (e.g., after insulin administration) can trigger cramps",
        "Check for potassium drops after insulin administration",
    ),
    population=(
        "Patients with an insulin prescription active at some time in the lookback: started on or "
        "before as-of and ending on or after as-of minus lookback_days, or open-ended. A product that "
        "names or is coded as an insulin is insulin, whatever device it is for (a pump cartridge); "
        "supplies and devices that name no insulin (syringes, pen needles, lancets, test strips, pumps, "
        "reservoirs, infusion sets, cannulae, pods) are not, nor is insulin-like growth factor "
        "(mecasermin)."
    ),
    flag=(
        "While on insulin: in the lookback, a blood potassium below potassium_low collected while on "
        "insulin (from an insulin prescription's start to refill_gap_days after its end; to its end "
        "when read as stopped), or a fall of "
        "at least fall_mmol between two consecutive blood potassium results that are both in the "
        "lookback and at most max_gap_days calendar days apart, whose later result was collected on such "
        "a day (the earlier one may be the pre-insulin baseline), unless the falling run it belongs to "
        "was above potassium_high within max_gap_days before its later result (a fall from "
        "hyperkalaemia is its correction, not a drop: 6.6 -> 4.9 -> 3.8 in a day is one fall from "
        "6.6). A falling run: each result no higher than the one before and at most max_gap_days after "
        "it; a rise or a longer gap begins a new one; it is followed back before the lookback. Several "
        "results with "
        "one identical timestamp (one draw, or one date in a date-only export) count as the lowest of "
        "them, so they never make a fall (and any of them above potassium_high makes that timestamp "
        "above it). Urine potassium, a post-dialysis potassium and results "
        "without a numeric value do not count."
    ),
    windows=(
        "Lookback: as-of minus lookback_days (inclusive) to as-of (inclusive), for both the insulin "
        "and the potassium results. A result counts on its collection date; 'while on insulin' compares "
        "that date with each insulin prescription's start and its end plus refill_gap_days (both days "
        "count; a low result weeks after the last course ended is not blamed on insulin; no gap after "
        "a prescription read as stopped: the export's stopped flag, else an end date before start + "
        "days_supply - 1)."
    ),
    priority=(
        "High when a potassium in the lookback collected while on insulin is below "
        "potassium_severe, or the latest potassium on or before as-of is still below potassium_low; "
        "otherwise normal."
    ),
    evidence=(
        "due_on",
        "insulins",
        "insulin_since",
        "potassium_results",
        "low_potassium",
        "potassium_falls",
        *last_results("potassium"),
        "concurrent_diuretics",
    ),
    fingerprint=("insulins", "insulin_since", "last_potassium_at", "last_potassium", "concurrent_diuretics"),
    codelists=("insulins", "lab_tests", "diuretics", "diuretics_not_potassium_lowering"),
    population_codelists=("insulins",),
    parameters=(
        days("lookback_days", 90, "Window for the insulin and the potassium results."),
        POTASSIUM_LOW,
        Parameter("potassium_severe", 3.0, "mmol/L", "Potassium below this makes the flag high priority."),
        Parameter("fall_mmol", 1.0, "mmol/L", "A fall of at least this between consecutive results."),
        days("max_gap_days", 7, "Consecutive results at most this many days apart."),
        refill_gap("A result"),
        Parameter(
            "potassium_high",
            5.0,
            "mmol/L",
            "A fall whose falling run was above this within max_gap_days before it (hyperkalaemia "
            "being corrected) is not a drop; "
            "set it high (e.g. 99) to count falls from any level.",
        ),
    ),
    rationale=(
        "Prescribing data record when insulin was prescribed, not each administration, so 'after "
        "insulin administration' is read as 'while insulin was prescribed in the lookback': on a day "
        "an insulin prescription was active (review 2026-11-30: a low result weeks after the insulin "
        "stopped was blamed on it; insulin lowers potassium within hours, so an ended course explains "
        "nothing), allowing refill_gap_days after a course's end, because the end of a prescription is "
        "its estimated supply and repeats come late: the 30-day grace period pharmacoepidemiology "
        "commonly uses to join refills into continuous use (a second read found a severe low between "
        "two monthly insulin supplies dropped from the priority). "
        "Issue 15 (clinical review against the guideline's 'potassium drops after insulin "
        "administration'): a low result, and the later result of a fall, count only when collected on "
        "or after the day insulin started, so hypokalaemia found before insulin (the day before it "
        "started) is not blamed on it; the earlier result of a fall may predate insulin, as the "
        "pre-insulin baseline is what a drop is measured from. A fall that starts above the upper "
        "reference limit (potassium_high, 5.0 mmol/L: the usual 3.5-5.0 mmol/L adult serum reference "
        "interval whose lower limit is potassium_low) is the correction of hyperkalaemia - often by "
        "insulin itself, the standard emergency treatment - and not a drop that causes cramps; a "
        "correction that overshoots below potassium_low is still flagged as low. Review 2026-12-03: "
        "hyperkalaemia treated with insulin and glucose is sampled in steps (UK Kidney Association 2020: "
        "at 0, 1, 2, 4, 6 and 24 hours), so a fall is judged by its falling run, not only the result "
        "before (6.6 -> 4.9 -> 3.8 is the correction, not a drop from 4.9; so is 6.6 -> 4.9 -> 4.9 -> "
        "3.8, and a date-only day's 6.6 and 4.9 then 3.8); a rise or a gap of more than max_gap_days ends "
        "the run, which is followed back before the lookback (a run that began the day before it is not "
        "flagged when the 6.6 ages out). The high result must be within max_gap_days of the fall's later "
        "result: a slow decline 5.2, 4.9, 4.5, 3.5 over three weeks is not the correction of a borderline "
        "5.2 (second read 2026-12-03). A post-dialysis potassium (LOINC 29349-8) is its own analyte, read "
        "by no check: haemodialysis lowers potassium by design, so neither the pre -> post fall nor a "
        "post-dialysis low is insulin's doing or the patient's level; the pre-dialysis result counts. "
        "MIMIC-IV's 'Insulin Pump (Self Administering Medication)' is the patient's own pump insulin "
        "(codelist insulins). Labs whose range ends at 5.3 (UK Pathology Harmony) or 5.5 can set "
        "potassium_high. Loop and thiazide diuretics lower potassium too (NHS SPS monitoring advice for "
        "diuretics: check electrolytes), so a loop or thiazide diuretic (alone or in a combination) "
        "active in the lookback on or after insulin started is shown in the evidence and the reason; it "
        "does not change the flag. A potassium-sparing diuretic or mineralocorticoid antagonist "
        "(spironolactone, eplerenone, amiloride, triamterene) or tolvaptan is not shown: it raises "
        "potassium or leaves it, and offering it as the cause of a low potassium points the wrong way "
        "(codelist diuretics_not_potassium_lowering; review 2026-12). "
        "'Consecutive' means adjacent in the patient's blood potassium series in the lookback (every "
        "result in it, on insulin or not), so any result between two others breaks the pair; both results"
        " of a fall must be in the lookback, so the fall is recent. Results on the same timestamp are "
        "ordered by value ascending, so two results of one draw never make a fall. The fall is rounded to"
        " 0.001 mmol/L before comparing, so 4.5 -> 3.5 counts as exactly 1.0 despite floating point. A "
        "test without a numeric result (haemolysed, cancelled) tells nothing about the level, so it "
        "neither counts "
        "as low nor takes part in a pair. Rows whose name says syringe, needle, lancet, strip, pump, "
        "reservoir, infusion set, cannula or pod (as whole words) and that name no insulin beyond the "
        "class word 'insulin' are supplies or devices, so they are ignored (see codelists/SOURCES.md); "
        "review 2026-11: a product that names an insulin ingredient or brand, or is coded as insulin "
        "(ATC A10A, an insulin RxNorm code), contains insulin and is insulin however its name mentions"
        " the pump ('NovoRapid PumpCart', 'insulin lispro for insulin pump'), and insulin-like growth "
        "factor 1 (mecasermin, Increlex; ATC H01AC03) is a growth hormone axis drug, not insulin, though"
        " its name says 'insulin'. 3.5 "
        "mmol/L is the usual lower reference limit; below 3.0 mmol/L is moderate-to-severe "
        "hypokalaemia, and a potassium still low at its latest result is unresolved: both warrant "
        "prompt review, hence high priority. "
        "A censored result ('<2.5', '>60') is a measured result: it counts wherever a result is needed "
        "and is judged on its bound only when the judgement is certain ('<3.5' is below 3.5; '<=3.5' and "
        "'>3.0' are not); a text-only result (haemolysed) is no result. The latest result is the last by "
        "collection timestamp, not by day (several on one identical timestamp: the lowest). The "
        "priority's 'latest potassium' is therefore the later of two results on one day (3.9 at 04:10, "
        "3.3 at 13:17: 3.3, still low). A fall is computed between the bounds (4.0 -> '<2.5' is a fall of "
        "1.5)."
    ),
    clears=(
        "No blood potassium below potassium_low and no fall of fall_mmol or more between close "
        "consecutive results in the lookback: the flag clears once those results leave the lookback "
        "window."
    ),
)
