-- diuretic_electrolyte_monitoring: one row per patient with a diuretic active on $as_of.
WITH active AS (
    SELECT patient_id, drug_name, start_date
    FROM drug_exposures
    WHERE codelist = 'diuretics'
      AND start_date <= $as_of
      AND (end_effective IS NULL OR end_effective >= $as_of)
),
treated AS (
    -- when this course of diuretics started: the earliest start of a diuretic prescription active
    -- at some time in the lookback, so a renewal does not make a long-term user look new
    SELECT patient_id, min(start_date) AS diuretic_since
    FROM drug_exposures
    WHERE codelist = 'diuretics'
      AND start_date <= $as_of
      AND (end_effective IS NULL OR end_effective >= $as_of - CAST($lookback_days AS INTEGER))
      AND patient_id IN (SELECT patient_id FROM active)
    GROUP BY patient_id
),
population AS (
    SELECT a.patient_id,
           string_agg(DISTINCT a.drug_name, '; ' ORDER BY a.drug_name) AS diuretics,
           any_value(t.diuretic_since) AS diuretic_since
    FROM active a
    JOIN treated t USING (patient_id)
    GROUP BY a.patient_id
),
electrolytes AS (
    -- a censored result ('<2.5') is a result; the latest is the latest by timestamp (latest_key),
    -- kept as (value, comparator) and shown as written once per patient (result_text)
    SELECT patient_id,
           max(collected_at) FILTER (analyte = 'potassium')::DATE AS last_potassium_at,
           arg_max(result_of(value, value_comparator), k) FILTER (analyte = 'potassium') AS potassium,
           max(collected_at) FILTER (analyte = 'sodium')::DATE AS last_sodium_at,
           arg_max(result_of(value, value_comparator), k) FILTER (analyte = 'sodium') AS sodium,
           max(collected_at) FILTER (analyte = 'creatinine')::DATE AS last_creatinine_at,
           arg_max(result_of(value, value_comparator), k) FILTER (analyte = 'creatinine') AS creatinine,
           max(collected_at) FILTER (analyte = 'egfr')::DATE AS last_egfr_at,
           arg_max(result_of(value, value_comparator), k) FILTER (analyte = 'egfr') AS egfr
    FROM (SELECT *, latest_key(collected_at, value, value_comparator) AS k FROM blood_results)
    WHERE analyte IN ('potassium', 'sodium', 'creatinine', 'egfr')
      AND collected_at::DATE <= $as_of
      AND patient_id IN (SELECT patient_id FROM population)
    GROUP BY patient_id
),
judged AS (
    SELECT p.*, e.last_potassium_at, result_text_of(e.potassium) AS last_potassium,
           e.last_sodium_at, result_text_of(e.sodium) AS last_sodium,
           e.last_creatinine_at, result_text_of(e.creatinine) AS last_creatinine,
           e.last_egfr_at, result_text_of(e.egfr) AS last_egfr,
           coalesce(e.last_potassium_at >= $as_of - CAST($lookback_days AS INTEGER), false) AS has_potassium,
           coalesce(e.last_sodium_at >= $as_of - CAST($lookback_days AS INTEGER), false) AS has_sodium,
           -- renal function is required only when asked for; a creatinine or an eGFR satisfies it
           CAST($require_renal AS INTEGER) = 0
               OR coalesce(greatest(e.last_creatinine_at, e.last_egfr_at)
                           >= $as_of - CAST($lookback_days AS INTEGER), false) AS has_renal,
           p.diuretic_since >= $as_of - CAST($baseline_days AS INTEGER) AS new_starter
    FROM population p
    LEFT JOIN electrolytes e USING (patient_id)
),
missing AS (
    SELECT *,
           list_filter([CASE WHEN NOT has_potassium THEN 'potassium' END,
                        CASE WHEN NOT has_sodium THEN 'sodium' END,
                        CASE WHEN NOT has_renal THEN 'renal function (creatinine or eGFR)' END],
                       lambda x: x IS NOT NULL) AS tests
    FROM judged
)
SELECT
    patient_id,
    len(tests) > 0 AS flagged,
    CASE WHEN len(tests) = 0 THEN NULL
         WHEN NOT has_potassium AND NOT has_sodium THEN 'high'
         ELSE 'normal' END AS priority,
    CASE WHEN len(tests) > 0 THEN
        CASE WHEN new_starter THEN 'baseline tests due: on a diuretic started ' || diuretic_since || ' with no '
             ELSE 'overdue: on a diuretic with no ' END
        || CASE len(tests) WHEN 1 THEN tests[1]
                           WHEN 2 THEN tests[1] || ' or ' || tests[2]
                           ELSE tests[1] || ', ' || tests[2] || ' or ' || tests[3] END
        || ' result in the ' || $lookback_days || ' days to ' || $as_of
    END AS reason,
    CASE WHEN len(tests) = 0 THEN NULL WHEN new_starter THEN 'baseline tests due' ELSE 'overdue' END
        AS monitoring,
    diuretics, diuretic_since, last_potassium_at, last_potassium, last_sodium_at, last_sodium,
    last_creatinine_at, last_creatinine, last_egfr_at, last_egfr
FROM missing
ORDER BY patient_id
