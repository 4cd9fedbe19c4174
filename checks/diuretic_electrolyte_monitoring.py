"""Patients on a diuretic without a recent potassium and sodium result (optionally renal function)."""

from checks.framework import CheckDefinition, Parameter, last_results, lookback, refill_gap

CHECK = CheckDefinition(
    id="diuretic_electrolyte_monitoring",
    title="Diuretic without electrolyte monitoring",
    guideline=(
        "Periodic laboratory testing for electrolytes if on diuretics",
        "Review medications, especially diuretics",
    ),
    population=(
        "Patients with a diuretic (loop, thiazide or thiazide-like, potassium-sparing or MRA, a "
        "vasopressin antagonist (tolvaptan: ATC C03X), alone or in a combination product) in a "
        "systemic form (not a cream or other topical form) "
        "taken on the as-of date: started on or before as-of and ending on or after as-of minus "
        "refill_gap_days (a repeat not yet collected; the gap at most the course's length, and none "
        "after a diuretic read as stopped: the export's stopped flag, else an end date before start + "
        "days_supply - 1), or open-ended. Left out: a woman aged skin_min_age to skin_max_age whose every "
        "diuretic taken on as-of is spironolactone alone (diuretics_for_skin), with acne or hirsutism "
        "(spironolactone_skin_indications) unresolved on as-of or recorded in the last skin_indication_days, "
        "and no reason to monitor recorded by as-of: heart failure, CKD stage 3 or worse, cirrhosis or "
        "spironolactone_monitoring_conditions (hyperaldosteronism, hypertension, cardiomyopathy, nephrotic "
        "syndrome, ascites, oedema, gender identity, organ transplant, hyperkalaemia, Addison's disease, "
        "anuria, acute kidney injury) ever coded, an eGFR below 60 (reported, or estimated from a "
        "creatinine on a day with none reported: CKD-EPI 2021) or a "
        "potassium above skin_potassium_limit ever, or a systemic drug raising potassium "
        "(potassium_raising_drugs) taken on as-of."
    ),
    flag=(
        "No blood (serum/plasma) potassium result, or no blood sodium result, collected in the "
        "lookback window; with require_renal = 1, also no blood creatinine and no eGFR result in the "
        "window. Urine tests do not count, nor does a test without a numeric result (the level stays "
        "unknown, as after a haemolysed sample). A flag is labelled 'baseline tests due' when the "
        "course taken on as-of started within the last baseline_days days (diuretic_since on or "
        "after as-of minus baseline_days), otherwise 'overdue'. With post_start_days > 0, a course "
        "that started in the lookback also needs a potassium and a sodium result collected on or "
        "after its start: once post_start_days have passed without one, a result taken before the "
        "start no longer counts and the flag is labelled 'post-start check overdue'."
    ),
    windows=(
        "Lookback: as-of minus lookback_days (inclusive) to as-of (inclusive). Baseline: diuretic_since "
        "from as-of minus baseline_days (inclusive) to as-of. diuretic_since is the start of the "
        "course running on as-of: among the diuretic prescriptions taken at some time in the lookback "
        "(each one's end plus refill_gap_days on or after the lookback's first day), the last start "
        "after a break: more than refill_gap_days with no diuretic since every earlier one ended "
        "(stopped or run out, whatever the issue's length). Renewals (even late ones), a switch of "
        "diuretic, weekly issues resumed after a fortnight and a restart soon after a stop keep the "
        "first start; a diuretic taken again after a longer break is a new start."
    ),
    priority=(
        "High when neither potassium nor sodium was measured in the window (new starter or not; with an "
        "overdue post-start check, neither since the start); otherwise normal."
    ),
    evidence=(
        "monitoring",
        "due_on",
        "diuretics",
        "diuretic_since",
        *last_results("potassium", "sodium", "creatinine", "egfr"),
    ),
    fingerprint=(
        "diuretics",
        "diuretic_since",
        "last_potassium_at",
        "last_potassium",
        "last_sodium_at",
        "last_sodium",
        "last_creatinine_at",
        "last_creatinine",
        "last_egfr_at",
        "last_egfr",
    ),
    codelists=(
        "diuretics",
        "lab_tests",
        "dose_forms_topical",  # read by is_topical, the one topical definition
        "nsaids_topical",
        "nsaids_systemic",
        "dose_forms_patch",  # a patch is topical only when it acts locally (is_topical)
        "acts_locally",
        "systemic_through_skin",
        # spironolactone for the skin (taken_for_skin): left out when given alone to a healthy woman
        "diuretics_for_skin",
        "beta_blockers",  # Spiroprop: propranolol beside the spironolactone
        "spironolactone_skin_indications",
        "spironolactone_monitoring_conditions",
        "heart_failure",
        "ckd_stage3plus",
        "ckd_stage4plus",
        "cirrhosis",
        "potassium_raising_drugs",
    ),
    population_codelists=("diuretics",),
    parameters=(
        lookback(365, "a monitoring result"),
        refill_gap("A diuretic"),
        Parameter(
            "require_renal",
            0,
            "0/1",
            "1 adds renal function (a blood creatinine or eGFR in the lookback) to what monitoring "
            "requires, as HEDIS and PINCER do; 0 (default) keeps the guideline's electrolytes.",
        ),
        Parameter(
            "baseline_days",
            14,
            "days",
            "A diuretic started within this many days is 'baseline tests due', not 'overdue'.",
        ),
        Parameter(
            "post_start_days",
            0,
            "days",
            "0 (default): any potassium and sodium in the lookback count, as the guideline's periodic "
            "testing reads. N > 0 (NHS SPS: 7-14): a course started in the lookback must be re-tested on "
            "or after its start within N days; a result taken only before the start then stops counting.",
        ),
        Parameter(
            "skin_max_age",
            45,
            "years",
            "A woman up to this age on spironolactone alone for acne or hirsutism, with no reason to monitor "
            "recorded, is left out (Plovanich 2015: 18-45; AAD 2024); 0 keeps every spironolactone user in.",
        ),
        Parameter(
            "skin_min_age",
            12,
            "years",
            "The youngest age of that exception (AAD 2024 covers adolescents; a child on spironolactone is "
            "treated for the heart or kidneys).",
        ),
        Parameter(
            "skin_indication_days",
            730,
            "days",
            "Acne or hirsutism recorded this many days before as-of, or unresolved on it, is the indication.",
        ),
        Parameter(
            "skin_potassium_limit",
            5.0,
            "mmol/L",
            "A potassium above this (the upper reference limit) at any time keeps the patient monitored.",
        ),
    ),
    rationale=(
        "Review 2026-12 (repeat prescribing in real exports): each 28-day repeat issue is a "
        "prescription of its own, and issues collected every 31 days leave a long-term user three "
        "days 'off' the diuretic between them; on those days the patient fell out of the population "
        "and an overdue flag disappeared. A diuretic taken up to refill_gap_days (30, the grace period "
        "pharmacoepidemiology commonly uses to join refills into continuous use, as the insulin check "
        "does) before as-of still counts. The gap is at most the course's own length, so a 5-day "
        "course of furosemide is taken for 5 more days, not 30. The evidence names every diuretic "
        "taken, running or in its gap, so the list changes when a drug starts or its gap runs out and "
        "not with the day of the repeat cycle (after a switch, the old diuretic is named until its "
        "gap runs out). No gap follows a diuretic read as stopped: the export says so (the optional "
        "stopped column; FHIR status 'stopped'), or its end date comes before the supply's last day "
        "(start + days_supply - 1, OMOP's convention for a supply run out). Otherwise an end date may "
        "be an issue's end or a stop, and the gap follows it; set refill_gap_days = 0 where an "
        "export's end dates are stop dates. PINCER's monitoring indicators read exposure more widely still "
        "(prescribed in the previous six months). "
        "The guideline names no interval; 365 days matches the annual monitoring used by PINCER-style "
        "indicators and most renal-function monitoring guidance for stable diuretic users. The end of a "
        "prescription is its end_date, else start_date + days_supply; with neither it is ongoing. The "
        "last results shown in the evidence may be older than the window, so the reviewer sees how "
        "overdue monitoring is. "
        "A censored result ('<0.1', '>2000') is a measured result and counts as one; a text-only result "
        "(haemolysed, see comment) is no result. The latest result shown is the last by timestamp. "
        "Issue 15 (clinical review against the measures clinicians use): the guideline asks for "
        "'electrolytes', so potassium and sodium stay the default requirement; HEDIS 'Annual "
        "Monitoring for Patients on Persistent Medications' (diuretics: a serum potassium AND a serum "
        "creatinine in the year) and PINCER (urea and electrolytes, which include creatinine) also "
        "require renal function, which require_renal = 1 adds (a creatinine or an eGFR, as eGFR is "
        "computed from creatinine). The last creatinine and eGFR are always shown, because a falling "
        "eGFR changes what the diuretic needs. NHS SPS monitoring advice for diuretics is electrolytes "
        "and renal function at baseline, again 1-2 weeks after starting, then at least annually; so a "
        "patient whose diuretic started within baseline_days (14 = the 2 weeks of that first check) "
        "has tests due, not overdue, and the flag says 'baseline tests due'. A patient treated without "
        "a break since earlier in the lookback is a continuing user: a renewal or a switch of diuretic "
        "does not make them new. Review 2026-12: a diuretic taken again after a break of more than "
        "refill_gap_days (30) with none (seven months off) is a new start, as NHS SPS reads 'after "
        "starting': with no result in the lookback its baseline tests are due, and with "
        "post_start_days the re-test falls due after the restart, not after the first course. The "
        "break is the whole refill gap, not the shorter one that counts a drug as still taken (at "
        "most an issue's length, none after a stop): a week off after a stop, or a fortnight of "
        "weekly issues uncollected during an admission, does not make a clinician start monitoring "
        "afresh. Left open: a second diuretic added to a running one (an MRA added to a loop "
        "diuretic, which NICE heart-failure guidance re-checks potassium after) continues the "
        "course, so no post-start check is asked for it; an as-needed diuretic issued months apart "
        "starts a new course with each issue. The re-test 1-2 weeks "
        "after starting is a parameter, post_start_days, off by default: the guideline asks for "
        "periodic testing and counts the baseline taken just "
        "before a start as a result; set 14 to follow NHS SPS, so that a course started in the lookback "
        "(a first start, or a restart) with only pre-start results is flagged once 14 days "
        "have passed. A course is new when it began in the lookback after a break in use, or when no "
        "diuretic was taken at the start of the lookback. A long-term user "
        "whose export holds only recent prescriptions looks like a new course to it, which is why it "
        "is not the default. "
        "Review 2026-11: a topical form of a diuretic (spironolactone 5% cream, used off-label for acne "
        "and hair loss) is not systemic exposure and needs no electrolyte monitoring, so it neither "
        "brings a patient into the population nor starts a course; 'topical' is the one definition every "
        "check uses (is_topical: the form in the name from dose_forms_topical, a topical NSAID, or ATC D "
        "or M02). Eye drops of a carbonic anhydrase inhibitor are local too. "
        "Review 2026-12 (eighth): oral spironolactone is prescribed off-label to healthy young women for "
        "acne and hirsutism, and routine potassium monitoring is not needed there: Plovanich et al., JAMA "
        "Dermatol 2015 (hyperkalaemia in 0.72% of 1,802 tests in women aged 18-45, the population's own "
        "rate), the American Academy of Dermatology acne guideline (2024: against routine monitoring in "
        "healthy patients) and the British Association of Dermatologists. The export carries no "
        "indication, so the check reads it from the record, and keeps in anyone the guidance would "
        "monitor. Left out: a woman (sex F; an unknown sex stays in) aged skin_min_age (12; the AAD "
        "guideline covers adolescents, while a child on spironolactone is treated for the heart or "
        "kidneys) to skin_max_age (45, the upper end of Plovanich's cohort; an unknown birth date stays "
        "in) whose every diuretic taken on as-of is spironolactone alone (a combination with a thiazide "
        "or propranolol, by its ingredients, its name or an ATC code other than C03DA, is for the heart "
        "or blood pressure), with acne or hirsutism unresolved on as-of "
        "or recorded in the last skin_indication_days (730: acne coded in adolescence and resolved since "
        "is no indication for a spironolactone started at 40). Kept in, whatever the skin: heart "
        "failure, CKD stage 3 or worse, cirrhosis (spironolactone for ascites), hyperaldosteronism, "
        "hypertension, cardiomyopathy, nephrotic syndrome, ascites, oedema, gender identity treatment "
        "(Endocrine Society: monitor potassium), an organ transplant, or a contraindication the BNF and "
        "the SmPCs list (hyperkalaemia, Addison's disease, anuria, acute kidney injury) ever coded, "
        "resolved or not; an "
        "eGFR below 60 or a potassium above skin_potassium_limit (5.0) ever reported; or a systemic "
        "drug raising potassium taken on as-of (ACE inhibitor, ARB, aliskiren, potassium, trimethoprim, "
        "ciclosporin, tacrolimus; eye drops and ointments aside). Review 2026-12-06: an eGFR below 60 "
        "estimated from a creatinine (CKD-EPI 2021, her age on the day, as nsaid_kidney_disease "
        "estimates one) also ends the exception, on a day with no eGFR reported (the laboratory's "
        "stands): exports without a laboratory eGFR (MIMIC, many US exports) left a woman of 36 with a "
        "creatinine of 200 umol/L (eGFR about 27) out of monitoring as a healthy young woman on "
        "spironolactone for acne, while renal impairment is the hyperkalaemia risk the SmPC warns of "
        "and the dermatology guidance (AAD 2024, Plovanich 2015) covers healthy women only. A "
        "creatinine '>x' counts by its bound (its eGFR is at most the estimate); one '<x' says nothing."
    ),
    clears=(
        "A numeric blood potassium and a numeric blood sodium result (and, with require_renal = 1, a "
        "creatinine or eGFR), all collected in the lookback window (with post_start_days > 0 and a "
        "course started in it: collected on or after the start), or the diuretic ended more than "
        "refill_gap_days before as-of (or was stopped before as-of: no gap)."
    ),
)
