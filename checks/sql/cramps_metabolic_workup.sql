-- cramps_metabolic_workup: one row per patient with a cramp recorded in the lookback up to $as_of,
-- aged min_age or more then (or of unknown age).
WITH cramps AS (
    SELECT patient_id, codes AS cramp_codes, first_at AS first_cramp_at, last_at AS last_cramp_at
    FROM diagnosed_in_window(['muscle_cramps'], $as_of, $lookback_days) c
    -- NOT EXISTS, not NOT IN: on Spark NOT IN is a null-aware anti join, always broadcast
    WHERE NOT EXISTS (SELECT 1 FROM younger_on($min_age, $as_of) y WHERE y.patient_id = c.patient_id)
),
workup AS (
    SELECT patient_id,
           max(day) FILTER (analyte = 'tsh') AS last_tsh_at,
           max(day) FILTER (analyte IN ('creatinine', 'egfr')) AS last_kidney_test_at,
           max(day) FILTER (analyte IN ('alt', 'ast', 'bilirubin', 'albumin')) AS last_liver_test_at,
           max(day) FILTER (analyte IN ('glucose', 'hba1c')) AS last_glucose_test_at
    FROM results_by(['tsh', 'creatinine', 'egfr', 'alt', 'ast', 'bilirubin', 'albumin', 'glucose', 'hba1c'],
                    $as_of)
    WHERE patient_id IN (SELECT patient_id FROM cramps)
    GROUP BY patient_id
),
judged AS (
    -- a group is missing when its last test is older than the work-up window, or there is none
    SELECT c.*, w.last_tsh_at, w.last_kidney_test_at, w.last_liver_test_at, w.last_glucose_test_at,
           concat_ws(', ',
               CASE WHEN coalesce(w.last_tsh_at < since, true) THEN 'thyroid (TSH)' END,
               CASE WHEN coalesce(w.last_kidney_test_at < since, true)
                    THEN 'kidney (creatinine or eGFR)' END,
               CASE WHEN coalesce(w.last_liver_test_at < since, true)
                    THEN 'liver (ALT, AST, bilirubin or albumin)' END,
               CASE WHEN coalesce(w.last_glucose_test_at < since, true) THEN 'glucose or HbA1c' END
           ) AS missing,
           coalesce(greatest(w.last_tsh_at, w.last_kidney_test_at, w.last_liver_test_at,
                             w.last_glucose_test_at) < since, true) AS none_tested,
           -- due_on (#20, flagged only: a work-up is due once, at presentation): the first cramp in
           -- the lookback, or later when an earlier test still covered its group then (a result on
           -- day d covers it through d + workup_days), until the first missing group stopped being
           -- covered
           greatest(c.first_cramp_at, least(
               CASE WHEN coalesce(w.last_tsh_at < since, true)
                    THEN coalesce(days_after(w.last_tsh_at, $workup_days), c.first_cramp_at) END,
               CASE WHEN coalesce(w.last_kidney_test_at < since, true)
                    THEN coalesce(days_after(w.last_kidney_test_at, $workup_days), c.first_cramp_at) END,
               CASE WHEN coalesce(w.last_liver_test_at < since, true)
                    THEN coalesce(days_after(w.last_liver_test_at, $workup_days), c.first_cramp_at) END,
               CASE WHEN coalesce(w.last_glucose_test_at < since, true)
                    THEN coalesce(days_after(w.last_glucose_test_at, $workup_days), c.first_cramp_at) END
           )) AS workup_due
    FROM (SELECT *, window_start($as_of, $workup_days) AS since FROM cramps) c
    LEFT JOIN workup w USING (patient_id)
)
SELECT
    patient_id,
    missing <> '' AS flagged,
    flag_priority(flagged, none_tested) AS priority,
    flag_reason(flagged,
        'muscle cramps recorded ' || last_cramp_at || ' with no ' || missing || ' result in the '
        || $workup_days || ' days to ' || $as_of) AS reason,
    CASE WHEN missing <> '' THEN workup_due END AS due_on,
    cramp_codes, last_cramp_at, nullif(missing, '') AS missing_groups,
    last_tsh_at, last_kidney_test_at, last_liver_test_at, last_glucose_test_at
FROM judged
ORDER BY patient_id
