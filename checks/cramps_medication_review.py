"""Patients with muscle cramps recorded while on a drug that can cause them."""

from checks.framework import CheckDefinition, lookback, refill_gap

CHECK = CheckDefinition(
    id="cramps_medication_review",
    title="Cramps on a diuretic, statin or beta-blocker",
    guideline=("Review medications, especially diuretics, statins, and beta-blockers",),
    population=(
        "Patients with a muscle cramp diagnosis (ICD-10-CM R25.2, G47.62, M62.831; ICD-9-CM 729.82, 327.52; "
        "SNOMED-CT 55300003 cramp, 449918009 cramp in lower leg, 102549009 cramp in lower leg "
        "associated with rest, 424647005 cramp in limb; codelist muscle_cramps) recorded in the lookback."
    ),
    flag=(
        "A cramp in the lookback was recorded on a day when a diuretic, a statin or a systemic "
        "beta-blocker (alone or in a combination product) was taken: started on or before that day "
        "and ending on or after that day minus refill_gap_days (also after a stop: the gap is the time "
        "the drug's effect takes to wear off), or open-ended, in a course of the drug that started "
        "before that day (not started, or started again after a break longer than the refill gap, "
        "at most the issue's own length, at the consultation that recorded the cramp)."
    ),
    windows=(
        "Cramps: as-of minus lookback_days (inclusive) to as-of (inclusive). Drugs: taken on the day "
        "the cramp was recorded (a prescription's end plus refill_gap_days)."
    ),
    priority=(
        "High when cramps were recorded on two or more distinct days in the lookback and a drug that "
        "was taken at a cramp is still taken on as-of (refill_gap_days; none after a prescription read "
        "as stopped), in any prescription of it "
        "(a later repeat issue or another brand of the same ingredient) (persistent cramps, culprit "
        "not stopped); "
        "otherwise normal."
    ),
    evidence=(
        "due_on",
        "cramp_codes",
        "cramp_dates",
        "last_cramp_at",
        "drugs",
        "drug_classes",
        "still_active_drugs",
    ),
    # a new cramp (which can make the flag high) re-opens a review; cramp_dates slides with the window
    fingerprint=("cramp_codes", "last_cramp_at", "drugs", "still_active_drugs"),
    codelists=(
        "muscle_cramps",
        "diuretics",
        "statins",
        "beta_blockers",
        "dose_forms_topical",
        "nsaids_topical",
        "nsaids_systemic",
        "dose_forms_patch",  # a patch is topical only when it acts locally (is_topical)
        "acts_locally",
        "systemic_through_skin",
    ),
    population_codelists=("muscle_cramps",),
    parameters=(lookback(365, "a cramp diagnosis"), refill_gap("A cramp")),
    rationale=(
        "A drug can only explain a cramp it was taken at the time of, so the drug must be active on "
        "the day the cramp was recorded; a statin stopped before the cramp, or started after it, does "
        "not count, nor one whose course started on the day the cramp was recorded (started at that "
        "consultation, not yet taken; a renewal that day of a drug taken until then counts, while a "
        "statin stopped years ago and restarted that day is a new course, review 2026-12-03). A drug is "
        "still prescribed when any prescription of it runs on as-of: repeat prescribing writes each "
        "28-day issue as a prescription of its own (review 2026-12). A drug counts as taken "
        "up to refill_gap_days (30) after a prescription ended, on the day of a cramp and on as-of: "
        "issues collected every 31 days leave a few days between them, and a statin user's cramp "
        "recorded in that gap was not blamed on the statin (the grace period pharmacoepidemiology "
        "commonly uses to join refills into continuous use, as the insulin and diuretic checks do; at "
        "most the course's own length, so a 5-day course is not taken for 30 days more). A cramp in "
        "the gap after a drug was stopped still counts: statin muscle symptoms take 2-4 weeks to "
        "settle after stopping, and a diuretic's low potassium or magnesium days to weeks to correct "
        "(second read 2026-12-02); only whether the drug is still taken on as-of reads the stop "
        "(the export's stopped flag, else an end date before start + days_supply - 1). "
        "The review is still due when the "
        "drug has since been stopped (the record should "
        "show the link was considered), but it is most pressing when cramps keep coming back on a drug "
        "still prescribed: the guideline reserves a systematic approach for persistent symptoms, hence "
        "the high priority. Beta-blocker eye drops are not a systemic beta-blocker: ATC S01ED is not "
        "listed, and the names and RxCUI that also catch eye drops (timolol, betaxolol, carteolol) were "
        "removed (issue 15, codelists/SOURCES.md); oral timolol still matches by its ATC code C07AA06. "
        "A combination product such as bisoprolol with hydrochlorothiazide is "
        "listed once with both classes."
    ),
    clears=(
        "No diuretic, statin or systemic beta-blocker taken on the day of any cramp in the lookback: "
        "the flag clears when the drug is stopped (end date recorded) more than refill_gap_days before "
        "a later cramp, or when the "
        "cramps leave the lookback."
    ),
)
