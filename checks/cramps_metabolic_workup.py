"""Patients with muscle cramps without a thyroid, kidney, liver and glucose work-up."""

from checks.framework import CRAMPS_MIN_AGE, CheckDefinition, days, lookback

CHECK = CheckDefinition(
    id="cramps_metabolic_workup",
    title="Cramps without a metabolic work-up",
    guideline=(
        "Assess for liver disease, kidney disease, thyroid dysfunction",
        "Check for diabetes and associated neuropathy",
    ),
    population=(
        "Patients with a muscle cramp diagnosis (ICD-10-CM R25.2, G47.62, M62.831; ICD-9-CM 729.82, 327.52; "
        "SNOMED-CT 55300003 cramp, 449918009 cramp in lower leg, 102549009 cramp in lower leg "
        "associated with rest, 424647005 cramp in limb; codelist muscle_cramps) recorded in the lookback, "
        "aged min_age or more on as-of (or of unknown birth date)."
    ),
    flag=(
        "In the work-up window, no blood result in at least one of four groups: thyroid (TSH); kidney "
        "(creatinine or eGFR); liver (ALT, AST, bilirubin or albumin); glucose or HbA1c. The reason "
        "lists every missing group."
    ),
    windows=(
        "Cramps: as-of minus lookback_days (inclusive) to as-of (inclusive). Work-up: as-of minus "
        "workup_days (inclusive) to as-of (inclusive). A result counts on its collection date."
    ),
    priority="High when none of the four groups was tested in the work-up window; otherwise normal.",
    evidence=(
        "due_on",
        "cramp_codes",
        "last_cramp_at",
        "missing_groups",
        "last_tsh_at",
        "last_kidney_test_at",
        "last_liver_test_at",
        "last_glucose_test_at",
    ),
    fingerprint=(
        "cramp_codes",
        "last_cramp_at",
        "last_tsh_at",
        "last_kidney_test_at",
        "last_liver_test_at",
        "last_glucose_test_at",
    ),
    codelists=("muscle_cramps", "lab_tests"),
    population_codelists=("muscle_cramps",),
    parameters=(
        lookback(365, "a cramp diagnosis"),
        CRAMPS_MIN_AGE,
        days("workup_days", 365, "How far back a work-up result counts."),
    ),
    rationale=(
        "A child is out (min_age, 18; clinical review 2026-12, eighth): NICE CKS 'Leg cramps' covers "
        "adults, and nocturnal leg cramps and growing pains in children are benign and not worked up "
        "with blood tests; a patient of unknown birth date stays in. "
        "The issue measures the work-up in the 365 days up to as-of, not around each cramp: these are "
        "slowly changing conditions, so a test in the year before a recent cramp still rules them in "
        "or out. One test per group is enough, because each group screens one organ: any of ALT, AST, "
        "bilirubin or albumin counts as a liver test (albumin also reflects synthetic function in "
        "cirrhosis), creatinine or eGFR as a kidney test, glucose or HbA1c for diabetes. Free T4 alone "
        "does not count for thyroid: TSH is the recommended first-line test. Only blood results with a "
        "numeric value count (urine glucose does not screen for diabetes, and a test without a result "
        "leaves the question open). The evidence shows the latest date of each group on or before "
        "as-of, even outside the window, so the reviewer sees how overdue it is. A patient with no "
        "work-up at all has had none of the guideline's metabolic causes considered, hence high "
        "priority. "
        "A censored result ('<0.1', '>2000') is a measured result and counts as one; a text-only result "
        "(haemolysed, see comment) is no result."
    ),
    clears=(
        "A blood result in the work-up window in each of the four groups: TSH; creatinine or eGFR; ALT, "
        "AST, bilirubin or albumin; glucose or HbA1c."
    ),
)
