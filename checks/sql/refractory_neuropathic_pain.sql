-- refractory_neuropathic_pain: one row per patient with a neuropathic pain indication recorded by
-- $as_of and a neuropathic pain drug first started in the lookback.
WITH prescribed AS (
    -- every neuropathic pain drug prescription up to as-of, so a drug's first start is known
    SELECT e.patient_id, e.ingredient, e.start_date, e.drug_name
    FROM drugs_started_by(['neuropathic_pain_drugs'], $as_of) e
    WHERE e.ingredient <> 'lidocaine' OR (
        -- Lidocaine shares its codes with injected local anaesthetic: only a form for the skin counts
        -- (plaster, patch, cream, ointment, gel; Lidoderm, Ztlido, Versatis; ATC D04AB01), the way
        -- it treats localised neuropathic pain. A local anaesthetic for the eye, ear, nose, mouth,
        -- throat, teeth, urethra or anus (Minims eye drops, Instillagel, viscous or dental lidocaine;
        -- ATC S, R02, A01, C05) or for a procedure (lidocaine with prilocaine, EMLA, LMX4 before
        -- venepuncture; an injection) is no neuropathic pain trial, whatever its form word says, nor
        -- a lidocaine combined with another drug (with chlorhexidine in a catheter gel, with
        -- adrenaline and tetracaine for a wound, with prilocaine): the plaster is lidocaine alone.
        is_topical(e.product_id)
        AND NOT is_combination(e.drug_name)
        AND NOT list_has_any([left(coalesce(e.atc_code, ''), 1), left(coalesce(e.atc_code, ''), 3)],
                             ['S', 'R02', 'A01', 'C05'])
        AND NOT regexp_matches(lower(e.drug_name),
            '(^|[^a-z])(eyes?|ophthalmic|minims|ears?|otic|aural|nasal|nose|intranasal|oral|mouth'
            || '|mouthwash|oromucosal|buccal|throat|oropharyngeal|dental|gingival|gums?|teething|viscous'
            || '|lozenges?|pastilles?|gargle|urethral|catheter|instillagel|cathejell|syringes?|rectal|anal|haemorrhoidal'
            || '|hemorrhoidal|haemorrhoids|hemorrhoids|suppositor(y|ies)|injection|infusion|prilocaine'
            || '|emla|lmx)([^a-z]|$)')
    )
),
trials AS (
    -- a trial starts at the drug's first prescription; a renewal or a restart is the same trial,
    -- so a drug first started before the lookback is not a trial of the lookback
    SELECT patient_id, ingredient, min(start_date) AS first_start
    FROM prescribed
    GROUP BY patient_id, ingredient
    HAVING min(start_date) >= window_start($as_of, $lookback_days)
),
first_trial AS (
    SELECT patient_id, min(first_start) AS first_start FROM trials GROUP BY patient_id
),
indication AS (
    -- a neuropathic pain condition recorded on or before as-of, at any time; a symptom (numbness,
    -- paraesthesia) only when recorded at most symptom_lookback_days before the first trial of the
    -- lookback, or since: GP systems seldom resolve a symptom code, and a transient one from years
    -- before the drugs is no indication for them. Neither counts when resolved before the first
    -- trial started (a resolution on its record day is the record's end, as lasting_unresolved_on
    -- reads it): drugs started after it were not for it
    SELECT d.patient_id, code_labels(d.code_original, d.code_system) AS indications,
           min(d.recorded_at) AS indication_since
    FROM (
        SELECT patient_id, code_original, code_system, recorded_at, resolved_at, false AS symptom
        FROM diagnoses_by(['neuropathic_pain_indication'], $as_of)
        UNION ALL
        SELECT patient_id, code_original, code_system, recorded_at, resolved_at, true AS symptom
        FROM diagnoses_by(['neuropathic_pain_symptoms'], $as_of)
    ) d
    JOIN first_trial f USING (patient_id)
    WHERE (NOT d.symptom OR d.recorded_at >= window_start(f.first_start, $symptom_lookback_days))
      AND (d.resolved_at IS NULL OR d.resolved_at = d.recorded_at OR d.resolved_at > f.first_start)
    GROUP BY d.patient_id
),
population AS (
    SELECT t.patient_id,
           count(*) AS trial_count,
           string_agg(t.ingredient || ' (' || t.first_start || ')', '; '
                      ORDER BY t.first_start, t.ingredient) AS trials,
           min(t.first_start) AS first_trial_at,
           max(t.first_start) AS last_trial_at,
           -- the day the min_trials-th drug was started: when the pain became refractory
           list_sort(list(t.first_start))[CAST($min_trials AS INTEGER)] AS refractory_since,
           any_value(i.indications) AS indications,
           any_value(i.indication_since) AS indication_since
    FROM trials t
    JOIN indication i USING (patient_id)
    GROUP BY t.patient_id
)
SELECT
    patient_id,
    trial_count >= $min_trials AS flagged,
    flag_priority(flagged, trial_count >= $high_priority_trials) AS priority,
    flag_reason(flagged,
        trial_count || ' neuropathic pain drugs started in the ' || $lookback_days || ' days to '
        || $as_of || ': ' || trials || '; neuropathic pain indication: ' || indications) AS reason,
    -- due_on (#20): refractory (the min_trials-th start) with the indication recorded
    CASE WHEN flagged THEN greatest(refractory_since, indication_since) END AS due_on,
    trial_count, trials, first_trial_at, last_trial_at, indications, indication_since
FROM population
ORDER BY patient_id
