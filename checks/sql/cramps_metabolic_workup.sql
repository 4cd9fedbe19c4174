-- cramps_metabolic_workup: one row per patient with a cramp recorded in the lookback up to $as_of.
WITH cramps AS (
    SELECT patient_id,
           string_agg(DISTINCT code_original || ' (' || code_system || ')', '; '
                      ORDER BY code_original || ' (' || code_system || ')') AS cramp_codes,
           max(recorded_at) AS last_cramp_at
    FROM coded_diagnoses
    WHERE codelist = 'muscle_cramps'
      AND recorded_at BETWEEN $as_of - CAST($lookback_days AS INTEGER) AND $as_of
    GROUP BY patient_id
),
workup AS (
    SELECT patient_id,
           max(collected_at::DATE) FILTER (analyte = 'tsh') AS last_tsh_at,
           max(collected_at::DATE) FILTER (analyte IN ('creatinine', 'egfr')) AS last_kidney_test_at,
           max(collected_at::DATE) FILTER (analyte IN ('alt', 'ast', 'bilirubin', 'albumin'))
               AS last_liver_test_at,
           max(collected_at::DATE) FILTER (analyte IN ('glucose', 'hba1c')) AS last_glucose_test_at
    FROM blood_results
    WHERE analyte IN ('tsh', 'creatinine', 'egfr', 'alt', 'ast', 'bilirubin', 'albumin', 'glucose', 'hba1c')
      AND collected_at::DATE <= $as_of
      AND patient_id IN (SELECT patient_id FROM cramps)
    GROUP BY patient_id
),
judged AS (
    SELECT c.*, w.last_tsh_at, w.last_kidney_test_at, w.last_liver_test_at, w.last_glucose_test_at,
           concat_ws(', ',
               CASE WHEN coalesce(w.last_tsh_at < since, true) THEN 'thyroid (TSH)' END,
               CASE WHEN coalesce(w.last_kidney_test_at < since, true)
                    THEN 'kidney (creatinine or eGFR)' END,
               CASE WHEN coalesce(w.last_liver_test_at < since, true)
                    THEN 'liver (ALT, AST, bilirubin or albumin)' END,
               CASE WHEN coalesce(w.last_glucose_test_at < since, true) THEN 'glucose or HbA1c' END
           ) AS missing,
           greatest(w.last_tsh_at, w.last_kidney_test_at, w.last_liver_test_at, w.last_glucose_test_at)
               IS NULL
               OR greatest(w.last_tsh_at, w.last_kidney_test_at, w.last_liver_test_at,
                           w.last_glucose_test_at) < since AS none_tested
    FROM (SELECT *, $as_of - CAST($workup_days AS INTEGER) AS since FROM cramps) c
    LEFT JOIN workup w USING (patient_id)
)
SELECT
    patient_id,
    missing <> '' AS flagged,
    CASE WHEN missing = '' THEN NULL WHEN none_tested THEN 'high' ELSE 'normal' END AS priority,
    CASE WHEN missing <> '' THEN
        'muscle cramps recorded ' || last_cramp_at || ' with no ' || missing || ' result in the '
        || $workup_days || ' days to ' || $as_of
    END AS reason,
    cramp_codes, last_cramp_at, nullif(missing, '') AS missing_groups,
    last_tsh_at, last_kidney_test_at, last_liver_test_at, last_glucose_test_at
FROM judged
ORDER BY patient_id
