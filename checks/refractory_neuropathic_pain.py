"""Patients who have tried three or more neuropathic pain drugs: candidates for a pain referral."""

from checks.framework import CheckDefinition, Parameter, days

CHECK = CheckDefinition(
    id="refractory_neuropathic_pain",
    title="Refractory neuropathic pain: several failed drug trials",
    guideline=("For refractory neuropathic pain", "When multiple medication trials have failed"),
    population=(
        "Patients with a neuropathic pain indication (neuropathic pain, neuralgia incl. post-herpetic "
        "and trigeminal, radiculopathy or sciatica, peripheral neuropathy incl. diabetic and entrapment, "
        "complex regional pain syndrome, central or phantom limb pain; codelist "
        "neuropathic_pain_indication) recorded on or before as-of, or a numbness or paraesthesia "
        "symptom (neuropathic_pain_symptoms) recorded at most symptom_lookback_days before the first "
        "trial of the lookback or since, either not resolved on or before that first trial's start day "
        "(a resolution on its record day is the record's end, not one), and at least "
        "one neuropathic "
        "pain drug (gabapentinoid, SNRI, tricyclic, carbamazepine, topical capsaicin or topical "
        "lidocaine) first started in the lookback."
    ),
    flag=(
        "min_trials or more distinct neuropathic pain drugs (by ingredient) whose first prescription "
        "started in the lookback. A drug's first start is its earliest prescription on or before "
        "as-of: a renewal or restart is not a new start, so a drug first started before the lookback "
        "does not count even when renewed in it. Gabapentin and pregabalin are two drugs. Lidocaine "
        "counts only in a topical form for the skin (patch, plaster, cream, ointment, gel; "
        "Lidoderm/Ztlido/Versatis; ATC D04AB01), not as a local anaesthetic for the eye, ear, nose, "
        "mouth, throat, teeth, urethra or anus (Minims eye drops, Instillagel, viscous or dental "
        "lidocaine; ATC S, R02, A01, C05) nor for a procedure (lidocaine with prilocaine/EMLA, LMX4, "
        "an injection, a catheter or wound gel), and only alone, not combined with another drug."
    ),
    windows=(
        "Lookback: a drug's first start from as-of minus lookback_days (inclusive) to as-of "
        "(inclusive). Indication: a condition recorded at any time on or before as-of (before or after "
        "the drugs); a symptom recorded from the first trial's start minus symptom_lookback_days "
        "(inclusive) to as-of; either without a resolution, or resolved on its record day (the "
        "record's end) or after the first trial's start."
    ),
    priority="High when high_priority_trials or more distinct drugs were tried; otherwise normal.",
    evidence=(
        "due_on",
        "trial_count",
        "trials",
        "first_trial_at",
        "last_trial_at",
        "indications",
        "indication_since",
    ),
    fingerprint=("last_trial_at", "indications", "indication_since"),
    codelists=(
        "neuropathic_pain_drugs",
        "dose_forms_topical",
        "nsaids_topical",  # read by is_topical, the one topical definition
        "nsaids_systemic",
        "dose_forms_patch",  # a patch is topical only when it acts locally (is_topical)
        "acts_locally",
        "systemic_through_skin",
        "neuropathic_pain_indication",
        "neuropathic_pain_symptoms",
    ),
    population_codelists=("neuropathic_pain_indication", "neuropathic_pain_symptoms"),
    parameters=(
        days("lookback_days", 730, "How far back a drug start counts (730 days = 24 months)."),
        Parameter("min_trials", 3, "drugs", "Distinct drugs first started in the lookback that flag."),
        Parameter("high_priority_trials", 4, "drugs", "Distinct drugs from which the flag is high priority."),
        days(
            "symptom_lookback_days",
            730,
            "A numbness or paraesthesia symptom code (neuropathic_pain_symptoms) is an indication when "
            "recorded at most this many days before the first trial, or since; a condition at any time.",
        ),
    ),
    rationale=(
        "The export carries no reason for stopping, so 'trials that failed' is read from prescribing: a "
        "patient who has started three different first- and second-line neuropathic pain drugs in two "
        "years has, in practice, not been helped by the first two (NICE CG173 and NeuPSIG list these "
        "classes as first- and second-line). Three is the smallest reading of 'multiple' that means more "
        "than one switch. Trials are counted by ingredient, not by class: gabapentin then pregabalin is "
        "a real second trial, as is duloxetine then venlafaxine. The issue counts drugs 'started' in the "
        "24 months, so a drug started earlier and still taken does not count, and a restart counts once. "
        "Issue 15 (clinical review) makes this exact: a drug counts on its FIRST prescription on or before "
        "as-of, so a drug first started before the window and renewed or restarted inside it is not a new "
        "trial (a renewal is continuation, not a trial that failed; HEDIS likewise dates a new treatment "
        "episode by its index prescription after a negative medication history, not by the latest "
        "dispensing). "
        "Lidocaine's codes are shared with injected local anaesthetic for procedures, so it counts only "
        "in a topical form; capsaicin products are all topical. Review 2026-11: 'topical' there means "
        "for the skin, where lidocaine treats localised neuropathic pain (the 5% medicated plaster for "
        "post-herpetic neuralgia, Versatis' licensed use): "
        "eye drops (Minims lidocaine and fluorescein), urethral and catheter gels (Instillagel), "
        "mucosal sprays, viscous, dental, throat and haemorrhoidal products and the pre-venepuncture "
        "creams (lidocaine with prilocaine, EMLA, LMX4) are local anaesthesia for a procedure or a "
        "mucosa, not a neuropathic pain trial; so is a lidocaine combined with another drug (with "
        "chlorhexidine in a catheter gel, with adrenaline and tetracaine for a wound) and a gel named "
        "for catheterisation (Cathejell, pre-filled syringes) (review 2026-12-03). A plain lidocaine "
        "cream or ointment for the skin counts "
        "(the choice left open: it may have been for a procedure too; the trial list shows it). "
        "Oxcarbazepine, other antiepileptics and "
        "opioids are not counted. Carbamazepine, tricyclics and SNRIs are also given for epilepsy, "
        "depression or migraine, and gabapentinoids for epilepsy or anxiety: since issue 15 the guideline's "
        "'refractory neuropathic pain' requires a coded neuropathic pain indication (the conditions NICE "
        "CG173 names: painful diabetic neuropathy, post-herpetic and trigeminal neuralgia, radiculopathy; "
        "plus the neuropathies, entrapments and the complex regional, central and phantom limb pain of "
        "the Manchester/GM-SDE neuropathic pain code set; see codelists/SOURCES.md). Numbness and "
        "paraesthesia count, because the guideline's 'Management for Numbness' treats them as neuropathic "
        "symptoms, but only when recorded at most symptom_lookback_days (730, as long as the window the "
        "trials are counted in) before the first trial, or since (clinical review 2026-12, eighth): the "
        "trials follow the symptom they treat, and a transient pins and needles resolved in 2010 "
        "makes no indication of pregabalin for anxiety, duloxetine for depression and amitriptyline for "
        "migraine in 2025-26 (NICE CG113, NG222, CG150), as elderly_numbness_fall_risk counts its "
        "symptom codes for a year. A condition may be recorded before or after the drugs (it is often "
        "coded late), but not after as-of. A record resolved after the first trial started still "
        "counts (the trials were for it); one resolved before it does not (clinical review "
        "2026-12-07: sciatica resolved in 2012 is no indication of duloxetine, venlafaxine and "
        "amitriptyline switched in 2025-26 for recurrent depression). "
        "The trials "
        "are listed with their first-start dates and the indication codes, so the reviewer can confirm."
    ),
    clears=(
        "A specialist (pain or neurology) referral is the action; the flag clears only when fewer than "
        "min_trials distinct neuropathic pain drugs were first started in the lookback, as older first "
        "starts leave the window."
    ),
)
