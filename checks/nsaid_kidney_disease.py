"""Patients on a systemic NSAID with chronic kidney disease stage 3 or worse, or a low eGFR."""

from checks.framework import CheckDefinition, Parameter, refill_gap

CHECK = CheckDefinition(
    id="nsaid_kidney_disease",
    title="Systemic NSAID with chronic kidney disease",
    guideline=("NSAIDs may help with pain but can cause side effects including kidney problems",),
    population=(
        "Patients with a systemic NSAID taken on the as-of date: started on or before as-of and ending "
        "on or after as-of minus refill_gap_days (end date, else start + days supply; the gap at most "
        "the course's own length, none after a stop); a prescription with neither an end "
        "date nor a days supply is a course active for open_course_days from its start (start + "
        "open_course_days on or after as-of), not forever, unless the export says it is still taken "
        "(said not stopped: Synthea's empty STOP, an active FHIR request, stopped = no). Topical and "
        "ophthalmic NSAIDs (ATC M02AA, "
        "S01BC, D11AX18, R02AX, topical brands, or a topical dose form such as gel, cream, patch in "
        "the drug name) are not systemic."
    ),
    flag=(
        "Chronic kidney disease stage 3 or worse recorded on or before as-of and not resolved on or "
        "before as-of (ICD-10-CM N18.3-N18.6, I12.0, I13.2, dialysis Z99.2, Z49.x; ICD-9-CM "
        "585.3-585.6, 403.x1, 404.x2/x3, dialysis V45.11, V56.x; SNOMED-CT CKD stage 3-5, ESRD and "
        "dialysis concepts; a resolved date on the day the code was recorded is no resolution; a stage "
        "3 code recorded before a later CKD stage 1 or 2 code, codelist ckd_stage1_2, was re-staged "
        "and no longer counts), or the "
        "latest numeric blood eGFR collected on or before as-of is below "
        "egfr_threshold: a reported eGFR, or one estimated (CKD-EPI 2021, from the age on the day and "
        "the sex) from a serum creatinine collected on a day with no eGFR reported."
    ),
    windows=(
        "NSAID: taken on as-of (active, or ended up to refill_gap_days before; an undated course: "
        "open_course_days from its start). CKD: present on "
        "as-of (no lookback: CKD is chronic). eGFR: the latest "
        "result on or before as-of, however old, reported or estimated from a creatinine."
    ),
    priority=(
        "High when CKD stage 4 or 5, end-stage renal disease or dialysis is coded (ckd_stage4plus), or "
        "the latest eGFR is below egfr_severe (CKD stage 4-5 range); otherwise normal."
    ),
    evidence=("due_on", "nsaids", "nsaid_since", "ckd_codes", "ckd_since", "latest_egfr_at", "latest_egfr"),
    fingerprint=("nsaids", "nsaid_since", "ckd_codes", "ckd_since", "latest_egfr_at", "latest_egfr"),
    codelists=(
        "nsaids_systemic",
        "nsaids_topical",
        "dose_forms_patch",  # a patch is topical only when it acts locally (is_topical)
        "acts_locally",
        "systemic_through_skin",
        "dose_forms_topical",
        "ckd_stage3plus",
        "ckd_stage4plus",
        "ckd_stage1_2",
        "lab_tests",
    ),
    population_codelists=("nsaids_systemic",),
    parameters=(
        Parameter("egfr_threshold", 60.0, "mL/min/1.73m2", "Latest eGFR below this flags (CKD stage 3)."),
        Parameter(
            "egfr_severe", 30.0, "mL/min/1.73m2", "Latest eGFR below this makes the flag high priority."
        ),
        Parameter(
            "open_course_days",
            90,
            "days",
            "An NSAID with no end date and no days supply, not said to be still taken, is active this "
            "long from its start.",
        ),
        refill_gap("An NSAID"),
    ),
    rationale=(
        "Stage 3 (eGFR < 60) is where KDIGO and the Beers criteria start to advise avoiding long-term "
        "NSAIDs, and eGFR < 30 is where they advise avoiding them altogether, hence the priority split. "
        "Threshold (issue 15): OpenSAFELY PINCER indicator K (KI_P3K, opensafely/pincer-measures "
        "analysis/ehrQL/measure_definition.py) flags an oral NSAID in the last 3 months with a latest "
        "eGFR of 1 to < 45. The default stays at 60 because the guideline warns of kidney problems for "
        "any CKD, AGS Beers 2023 advises avoiding NSAIDs from CrCl < 30 and caution below 60, and "
        "NICE NG203 lists NSAIDs among nephrotoxic drugs to review in CKD G3a (45-59), the band PINCER "
        "leaves out; set egfr_threshold = 45 to reproduce PINCER's audit. CKD stage 4 or 5, end-stage "
        "renal disease and dialysis codes (ckd_stage4plus: N18.4-N18.6, I12.0, I13.2, Z99.2, Z49.x; "
        "585.4-585.6, 403.x1, 404.x2/x3, V45.11, V56.x; the matching SNOMED CT concepts) are high "
        "priority even without an eGFR, as an eGFR < 30 is: NSAIDs are to be avoided there (KDIGO, "
        "Beers). A dialysis code implies CKD stage 5, so it flags on its own. An NSAID with neither an "
        "end date nor a days supply is a course active for open_course_days (90) from its start, as "
        "PINCER counts an NSAID 'prescribed in the last 3 months'; NSAIDs are mostly short courses, so "
        "an undated one-off is not taken for lifelong use. One the export says is still taken is no "
        "one-off (Synthea leaves STOP empty only for a medication active when its simulation ends, a "
        "chronic osteoarthritis NSAID; a FHIR request still active; stopped = no): it runs, as any "
        "open-ended medicine does. A dated NSAID is taken up to "
        "refill_gap_days after its end, as every check reads a repeat medicine (review 2026-12-03: a "
        "patient on monthly naproxen two days late collecting the next issue left the audit between "
        "issues; PINCER counts any NSAID issued in the last 3 months); the gap is at most the "
        "course's own length, so a 7-day course counts 7 days more, and none follows a stop. "
        "nsaid_since is when the current course of NSAIDs began: the last start after a break of "
        "more than refill_gap_days with none after the last one ended, stopped or run out, as the "
        "diuretic course is read (an undated one counts open_course_days; the refill gap here is the "
        "whole gap, not the capped one that decides whether a drug is still taken: a week off, or a "
        "stop and a restart within the gap, is no new course). Monthly repeats, a renewal or a switch "
        "to another NSAID keep the first "
        "start; it was the oldest issue still running, which moved with every repeat and with it "
        "due_on and the facts a review is kept by, so an exception recorded for a patient on "
        "long-term naproxen re-opened each month (review 2026-12-03). "
        "Topical NSAIDs give systemic levels of a few percent of oral dosing and are the recommended "
        "alternative in CKD, so any prescription that looks topical (topical ATC, topical-only brand, or "
        "a topical dose-form word in the name) is excluded even when its ingredient code or name also "
        "matches a systemic NSAID; intranasal ketorolac stays systemic. Aspirin is not counted: "
        "low-dose aspirin is cardioprotective and the issue names NSAIDs for pain. Either arm is "
        "enough: a CKD code without a recent eGFR still flags, and so does a low eGFR without a code. "
        "The latest eGFR is used without a lookback because it is the best available estimate of "
        "kidney function; an earlier low eGFR followed by a normal one does not flag. CKD stage 1-2 or "
        "unstaged codes do not flag on their own. CKD is staged by its latest stage code, as QOF's CKD "
        "register reads it (review 2026-12): a patient coded CKD stage 3 after one low eGFR and "
        "re-staged CKD stage 2 when it recovered is no longer CKD stage 3, so a stage 3 code "
        "recorded before a later stage 1-2 code does not count (one recorded on the same day still "
        "does, and a stage 3 code recorded again after it counts); a low latest eGFR still flags on "
        "its own. A stage 4-5, end-stage renal disease or dialysis code (ckd_stage4plus) is never "
        "re-staged: recovery from stage 4 is rare, NSAIDs are still avoided after a kidney "
        "transplant, and a single stage 2 code from another clinician must not hide dialysis. A "
        "KDIGO G1/G2 code with heavy albuminuria (A3) re-stages a G3 code too: the stage follows G. "
        "An unresolved CKD code counts however old it is; a "
        "resolved date after as-of leaves it present on as-of, so a past as-of reproduces that day's audit. "
        "A resolved date equal to the recorded date is the end of a visit's record, as OMOP ETLs from "
        "claims write condition_end_date, not recovery from CKD stage 3-5 (review 2026-11-30). "
        "A censored result ('<2.5', '>60') is a measured result: it counts wherever a result is needed "
        "and is judged on its bound only when the judgement is certain ('<3.5' is below 3.5; '<=3.5' and "
        "'>3.0' are not); a text-only result (haemolysed) is no result. The latest result is the last by "
        "collection timestamp, not by day (several on one identical timestamp: the lowest). So '>60', as "
        "many laboratories report a normal eGFR, is not below 60, and '<15' is below 30. Review 2026-12: "
        "exports without a laboratory's eGFR (MIMIC-IV, many US exports) carry the serum creatinine "
        "only, and a creatinine of 150 umol/L at 75 is CKD stage 3b function; where a plain creatinine "
        "was collected on a day with no eGFR reported, the eGFR is estimated from it by the race-free "
        "CKD-EPI 2021 creatinine equation (Inker et al. 2021, recommended by the NKF-ASN task force), "
        "from the age on the day and the sex, and shown as such in latest_egfr. The laboratory's own "
        "eGFR of the day stands, even a few minutes apart from the creatinine of its sample: UK "
        "laboratories report CKD-EPI 2009 without its ethnicity coefficient, a few units below 2021's "
        "near 60. With the sex not recorded as F or M, the higher of the two estimates (below a "
        "threshold whatever the sex); none under 18, from a censored creatinine, or from one under 20 "
        "umol/L (no adult's; a mg/dL value exported without its unit). With no birth date (review "
        "2026-12: an export without patients.csv, or a record without the date) the age is unknown, "
        "and CKD-EPI falls with age: the estimate at 18 is the highest any adult's could be. From the "
        "patient's latest creatinine, and only when below egfr_threshold, it is the latest eGFR as "
        "that bound, certainly below the threshold: '<=31 (CKD-EPI 2021 at 18, age unknown, ...)' "
        "(creatinine 200 umol/L: at most 42 for a man, 31 for a woman). A higher bound says nothing, "
        "and an older creatinine is not the latest eGFR when a newer one says nothing (a creatinine of "
        "60 is at least 77 at any adult age): the latest eGFR is then as it was. The estimate is from the "
        "creatinine as stored, in whole umol/L (1.00 mg/dL is 88 umol/L: 65 rather than 64 at 60 for a "
        "woman). A single creatinine in acute kidney injury is judged as a single low eGFR always was: "
        "an NSAID then deserves review too."
    ),
    clears=(
        "The systemic NSAID stopped (an end date before as-of, or an undated course started more than "
        "open_course_days before as-of), or no CKD stage 3 recorded on or after the latest CKD stage "
        "1-2 code, no stage 4-5, ESRD or dialysis recorded "
        "and a latest blood eGFR at or above egfr_threshold."
    ),
)
