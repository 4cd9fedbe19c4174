-- numbness_neuropathy_workup: one row per patient with numbness or neuropathy recorded in the lookback.
WITH numbness AS (
    SELECT patient_id,
           string_agg(DISTINCT code_original || ' (' || code_system || ')', '; '
                      ORDER BY code_original || ' (' || code_system || ')') AS numbness_codes,
           max(recorded_at) AS last_numbness_at
    FROM coded_diagnoses
    WHERE codelist = 'numbness_neuropathy'
      AND recorded_at BETWEEN $as_of - CAST($lookback_days AS INTEGER) AND $as_of
    GROUP BY patient_id
),
tests AS (
    -- Latest numeric results on or before as-of; whether they fall in the window is judged below,
    -- so the evidence also shows how overdue an older test is.
    SELECT patient_id,
           max(collected_at::DATE) FILTER (analyte IN ('glucose', 'hba1c')) AS last_glucose_or_hba1c_at,
           max(collected_at::DATE) FILTER (analyte = 'vitamin_b12') AS last_b12_at,
           -- a censored B12 ('>2000') is a B12 result, shown as written; latest by timestamp
           arg_max(result_text, latest_key(collected_at, value, value_comparator))
               FILTER (analyte = 'vitamin_b12') AS last_b12
    FROM blood_results
    WHERE analyte IN ('glucose', 'hba1c', 'vitamin_b12')
      AND collected_at::DATE <= $as_of
      AND patient_id IN (SELECT patient_id FROM numbness)
    GROUP BY patient_id
),
judged AS (
    SELECT n.*, t.last_glucose_or_hba1c_at, t.last_b12_at, t.last_b12,
           coalesce(t.last_glucose_or_hba1c_at >= $as_of - CAST($workup_days AS INTEGER), false)
               AS has_glucose,
           coalesce(t.last_b12_at >= $as_of - CAST($workup_days AS INTEGER), false) AS has_b12
    FROM numbness n
    LEFT JOIN tests t USING (patient_id)
)
SELECT
    patient_id,
    NOT (has_glucose AND has_b12) AS flagged,
    CASE WHEN has_glucose AND has_b12 THEN NULL
         WHEN NOT has_glucose AND NOT has_b12 THEN 'high'
         ELSE 'normal' END AS priority,
    CASE WHEN NOT (has_glucose AND has_b12) THEN
        'numbness or neuropathy recorded ' || last_numbness_at || ' with no '
        || CASE WHEN NOT has_glucose AND NOT has_b12 THEN 'glucose or HbA1c, and no vitamin B12'
                WHEN NOT has_glucose THEN 'glucose or HbA1c' ELSE 'vitamin B12' END
        || ' result in the ' || $workup_days || ' days to ' || $as_of
    END AS reason,
    numbness_codes, last_numbness_at, last_glucose_or_hba1c_at, last_b12_at, last_b12
FROM judged
ORDER BY patient_id
