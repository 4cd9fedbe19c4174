"""Patients with muscle cramps recorded while on a drug that can cause them."""

from checks.framework import CheckDefinition, lookback

CHECK = CheckDefinition(
    id="cramps_medication_review",
    title="Cramps on a diuretic, statin or beta-blocker",
    guideline=("Review medications, especially diuretics, statins, and beta-blockers",),
    population=(
        "Patients with a muscle cramp diagnosis (ICD-10-CM R25.2, G47.62; ICD-9-CM 729.82, 327.52; "
        "SNOMED-CT 55300003 cramp, 449918009 cramp in lower leg, 102549009 cramp in lower leg "
        "associated with rest, 424647005 cramp in limb; codelist muscle_cramps) recorded in the lookback."
    ),
    flag=(
        "A cramp in the lookback was recorded on a day when a diuretic, a statin or a systemic "
        "beta-blocker (alone or in a combination product) was active: started on or before that day "
        "and ending on or after it, or open-ended, and first started before that day (not started at "
        "the consultation that recorded the cramp)."
    ),
    windows=(
        "Cramps: as-of minus lookback_days (inclusive) to as-of (inclusive). Drugs: active on the day "
        "the cramp was recorded."
    ),
    priority=(
        "High when cramps were recorded on two or more distinct days in the lookback and a drug that "
        "was active at a cramp is still active on as-of, in any prescription of it (a later repeat "
        "issue or another brand of the same ingredient) (persistent cramps, culprit not stopped); "
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
    parameters=(lookback(365, "a cramp diagnosis"),),
    rationale=(
        "A drug can only explain a cramp it was taken at the time of, so the drug must be active on "
        "the day the cramp was recorded; a statin stopped before the cramp, or started after it, does "
        "not count, nor one first started on the day the cramp was recorded (started at that "
        "consultation, not yet taken; a renewal that day of a drug taken before counts). A drug is "
        "still prescribed when any prescription of it runs on as-of: repeat prescribing writes each "
        "28-day issue as a prescription of its own (review 2026-12). The review is still due when the "
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
        "No diuretic, statin or systemic beta-blocker active on the day of any cramp in the lookback: "
        "the flag clears when the drug is stopped (end date recorded) before a later cramp, or when the "
        "cramps leave the lookback."
    ),
)
