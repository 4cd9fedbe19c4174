-- refractory_neuropathic_pain: one row per patient with a neuropathic pain drug started in the lookback.
WITH started AS (
    SELECT e.patient_id, e.ingredient, e.start_date, e.drug_name
    FROM drug_exposures e
    WHERE e.codelist = 'neuropathic_pain_drugs'
      AND e.start_date BETWEEN $as_of - CAST($lookback_days AS INTEGER) AND $as_of
      -- Lidocaine shares its codes with injected local anaesthetic: count only topical forms.
      AND (e.ingredient <> 'lidocaine'
           OR starts_with(coalesce(e.atc_code, ''), 'D04AB')
           OR regexp_matches(lower(e.drug_name), '\b(lidoderm|ztlido|versatis)\b')
           OR EXISTS (
               SELECT 1 FROM drug_exposures t
               WHERE t.codelist = 'dose_forms_topical'
                 AND t.drug_name = e.drug_name
                 AND t.rxnorm_code IS NOT DISTINCT FROM e.rxnorm_code
                 AND t.atc_code IS NOT DISTINCT FROM e.atc_code
           ))
),
trials AS (
    SELECT patient_id, ingredient, min(start_date) AS first_start
    FROM started
    GROUP BY patient_id, ingredient
),
population AS (
    SELECT patient_id,
           count(*) AS trial_count,
           string_agg(ingredient || ' (' || first_start || ')', '; ' ORDER BY first_start, ingredient) AS trials,
           min(first_start) AS first_trial_at,
           max(first_start) AS last_trial_at
    FROM trials
    GROUP BY patient_id
)
SELECT
    patient_id,
    trial_count >= $min_trials AS flagged,
    CASE WHEN trial_count < $min_trials THEN NULL
         WHEN trial_count >= $high_priority_trials THEN 'high' ELSE 'normal' END AS priority,
    CASE WHEN trial_count >= $min_trials THEN
        trial_count || ' neuropathic pain drugs started in the ' || $lookback_days || ' days to '
        || $as_of || ': ' || trials
    END AS reason,
    trial_count, trials, first_trial_at, last_trial_at
FROM population
ORDER BY patient_id
