"""Numbness or peripheral neuropathy without the basic metabolic work-up (glucose/HbA1c and B12)."""

from checks.framework import CheckDefinition, days, lookback

CHECK = CheckDefinition(
    id="numbness_neuropathy_workup",
    title="Numbness or neuropathy without glucose and vitamin B12 work-up",
    guideline=("Assess for diabetes, alcohol use, vitamin deficiencies",),
    population=(
        "Patients with numbness, paraesthesia or peripheral neuropathy recorded in the lookback "
        "(ICD-10-CM R20.0-R20.2, R20.8-R20.9, G56-G64, E08-E13 .40-.42; WHO ICD-10 E10-E14 .4; "
        "ICD-9-CM 782.0, 354-357; "
        "SNOMED-CT numbness, paresthesia, peripheral nerve disease and polyneuropathy concepts)."
    ),
    flag=(
        "No blood glucose or HbA1c result, or no vitamin B12 result, collected in the work-up window; "
        "vitamin B12 replacement (codelist b12_replacement: hydroxocobalamin, cyanocobalamin, "
        "mecobalamin; ATC B03BA; not a multivitamin, a combination or a vitamin B complex, ATC A11) "
        "first started before the first numbness record in the lookback and taken at some time in the "
        "window stands for the B12 result. "
        "Both are needed; the reason names what is missing. A row without a numeric value (test "
        "requested, no result) does not count."
    ),
    windows=(
        "Symptom: recorded from as-of minus lookback_days (inclusive) to as-of (inclusive). Tests: "
        "collected from as-of minus workup_days (inclusive) to as-of (inclusive), on the collection date. "
        "B12 replacement: taken at some time in the same window; one with no end date and no days "
        "supply runs b12_course_days from its start (unless the export says it is still taken)."
    ),
    priority=(
        "High when neither a glucose/HbA1c nor a vitamin B12 result (nor B12 replacement, as above) is "
        "in the window; otherwise normal."
    ),
    evidence=(
        "due_on",
        "numbness_codes",
        "last_numbness_at",
        "last_glucose_or_hba1c_at",
        "last_b12_at",
        "last_b12",
        "b12_replacement",
    ),
    fingerprint=("numbness_codes", "last_numbness_at", "last_glucose_or_hba1c_at", "last_b12_at", "last_b12"),
    codelists=("numbness_neuropathy", "lab_tests", "b12_replacement"),
    population_codelists=("numbness_neuropathy",),
    parameters=(
        lookback(365, "a numbness or neuropathy record"),
        days("workup_days", 365, "How far back a glucose, HbA1c or vitamin B12 result counts."),
        days(
            "b12_course_days",
            90,
            "A vitamin B12 prescription with no end date and no days supply counts this long from its "
            "start (one injection interval: hydroxocobalamin every 2-3 months), not for ever.",
        ),
    ),
    rationale=(
        "Diabetes and B12 deficiency are the two common, treatable, blood-testable causes of a "
        "peripheral neuropathy, so these are the minimum work-up the issue asks for; alcohol use has no "
        "reliable lab marker in exports and is left to the reviewer. Glucose (fasting or random) and "
        "HbA1c are interchangeable screens for diabetes. The work-up window is fixed to the 365 days up "
        "to as-of, as the issue states, rather than anchored on the symptom date, so a test done a few "
        "months before the symptom still counts and an older one does not. A numbness code counts by "
        "its recorded date only: it is a symptom, its resolved date is ignored. A lab row without a "
        "numeric value (cancelled, haemolysed, 'see comment') is not a result: the question is whether "
        "the cause was ruled out. The codelist excludes hyperaesthesia, radiculopathy and central causes, "
        "which the guideline sends down other assessment paths; carpal tunnel (G56.0) is kept because "
        "numbness from it is still worth a glucose and B12 (diabetes and B12 deficiency predispose). "
        "A censored result ('<0.1', '>2000') is a measured result and counts as one; a text-only result "
        "(haemolysed, see comment) is no result. So a B12 of '>2000' is a B12 result (and not low); the "
        "latest B12 shown is the last by timestamp. "
        "Review 2026-12: a patient already on vitamin B12 replacement (hydroxocobalamin injections "
        "every two or three months, or oral cyanocobalamin) has the deficiency the test looks for "
        "found and treated; the British Society for Haematology guideline (2014) advises against "
        "re-testing serum B12 once injections have started, as the level no longer guides treatment. "
        "So B12 replacement taken at some time in the work-up window counts in place of a B12 result "
        "when its current course began before the numbness was first recorded in the lookback (the "
        "deficiency came first); B12 started for the numbness itself, without a level (mecobalamin is "
        "prescribed for neuropathy), leaves the B12 result due, also after a course that ended long "
        "before (GP review 2026-12-03: the first B12 ever prescribed was read, so a month of tablets in "
        "2019 made mecobalamin started for the numbness count). A course runs on while each "
        "prescription follows the last within one injection interval (b12_course_days) after it "
        "lapsed, an injection lasting at least one interval from its start: quarterly injections a "
        "few days late, or one missed, are one course; more than that with no B12 is a new start. "
        "The replacement is shown "
        "(b12_replacement) either way; the glucose or HbA1c is still required. A B12 prescription "
        "with no end date and no days supply is one injection interval (b12_course_days, 90), as an "
        "undated NSAID is a course: a single issue years ago is no current treatment; one the export "
        "says is still taken (Synthea's empty STOP, a FHIR request still active, stopped = no) runs. "
        "A multivitamin "
        "or a combination product (RxNorm names every B12-containing multi-ingredient product with "
        "'cyanocobalamin' or 'vitamin B12'), a vitamin B complex (ATC A11) and a folate combination "
        "are no replacement."
    ),
    clears=(
        "A numeric blood glucose or HbA1c result and a numeric vitamin B12 result (or B12 replacement "
        "taken), both in the work-up window."
    ),
)
