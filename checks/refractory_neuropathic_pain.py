"""Patients who have tried three or more neuropathic pain drugs: candidates for a pain referral."""

from checks.framework import CheckDefinition, Parameter

CHECK = CheckDefinition(
    id="refractory_neuropathic_pain",
    title="Refractory neuropathic pain: several failed drug trials",
    guideline=("For refractory neuropathic pain", "When multiple medication trials have failed"),
    population=(
        "Patients with at least one neuropathic pain drug (gabapentinoid, SNRI, tricyclic, "
        "carbamazepine, topical capsaicin or topical lidocaine) started in the lookback."
    ),
    flag=(
        "min_trials or more distinct neuropathic pain drugs (by ingredient) started in the lookback. "
        "A restarted or renewed drug counts once; gabapentin and pregabalin are two drugs. Lidocaine "
        "counts only in a topical form (patch, plaster, cream, gel, Lidoderm/Ztlido/Versatis, ATC D04AB01)."
    ),
    windows="Lookback: start date from as-of minus lookback_days (inclusive) to as-of (inclusive).",
    priority="High when high_priority_trials or more distinct drugs were tried; otherwise normal.",
    evidence=("trial_count", "trials", "first_trial_at", "last_trial_at"),
    codelists=("neuropathic_pain_drugs", "dose_forms_topical"),
    parameters=(
        Parameter("lookback_days", 730, "days", "How far back a drug start counts (730 days = 24 months)."),
        Parameter("min_trials", 3, "drugs", "Distinct drugs started in the lookback that flag."),
        Parameter("high_priority_trials", 4, "drugs", "Distinct drugs from which the flag is high priority."),
    ),
    rationale=(
        "The export carries no reason for stopping, so 'trials that failed' is read from prescribing: a "
        "patient who has started three different first- and second-line neuropathic pain drugs in two "
        "years has, in practice, not been helped by the first two (NICE CG173 and NeuPSIG list these "
        "classes as first- and second-line). Three is the smallest reading of 'multiple' that means more "
        "than one switch. Trials are counted by ingredient, not by class: gabapentin then pregabalin is "
        "a real second trial, as is duloxetine then venlafaxine. The issue counts drugs 'started' in the "
        "24 months, so a drug started earlier and still taken does not count, and a restart counts once. "
        "Lidocaine's codes are shared with injected local anaesthetic for procedures, so it counts only "
        "in a topical form; capsaicin products are all topical. Oxcarbazepine, other antiepileptics and "
        "opioids are not counted. Carbamazepine and tricyclics are also given for epilepsy, trigeminal "
        "neuralgia, depression or migraine, and the export carries no indication, so the reviewer should "
        "confirm a neuropathic indication; that is why the trials are listed with their start dates."
    ),
    clears=(
        "A specialist (pain or neurology) referral is the action; the flag clears only when fewer than "
        "min_trials distinct neuropathic pain drugs were started in the lookback, as older starts leave "
        "the window."
    ),
)
