-- diuretic_electrolyte_monitoring: one row per patient with a diuretic active on $as_of.
WITH active AS (
    SELECT patient_id, drug_name, start_date
    FROM drug_exposures
    WHERE codelist = 'diuretics'
      AND start_date <= $as_of
      AND (end_effective IS NULL OR end_effective >= $as_of)
),
population AS (
    SELECT patient_id,
           string_agg(DISTINCT drug_name, '; ' ORDER BY drug_name) AS diuretics,
           min(start_date) AS diuretic_since
    FROM active
    GROUP BY patient_id
),
electrolytes AS (
    -- a censored result ('<2.5') is a result; the latest is the latest by timestamp (latest_key)
    SELECT patient_id,
           max(collected_at) FILTER (analyte = 'potassium')::DATE AS last_potassium_at,
           arg_max(result_text, latest_key(collected_at, value, value_comparator))
               FILTER (analyte = 'potassium') AS last_potassium,
           max(collected_at) FILTER (analyte = 'sodium')::DATE AS last_sodium_at,
           arg_max(result_text, latest_key(collected_at, value, value_comparator))
               FILTER (analyte = 'sodium') AS last_sodium
    FROM blood_results
    WHERE analyte IN ('potassium', 'sodium')
      AND collected_at::DATE <= $as_of
      AND patient_id IN (SELECT patient_id FROM population)
    GROUP BY patient_id
),
judged AS (
    SELECT p.*, e.last_potassium_at, e.last_potassium, e.last_sodium_at, e.last_sodium,
           coalesce(e.last_potassium_at >= $as_of - CAST($lookback_days AS INTEGER), false) AS has_potassium,
           coalesce(e.last_sodium_at >= $as_of - CAST($lookback_days AS INTEGER), false) AS has_sodium
    FROM population p
    LEFT JOIN electrolytes e USING (patient_id)
)
SELECT
    patient_id,
    NOT (has_potassium AND has_sodium) AS flagged,
    CASE WHEN has_potassium AND has_sodium THEN NULL
         WHEN NOT has_potassium AND NOT has_sodium THEN 'high'
         ELSE 'normal' END AS priority,
    CASE WHEN has_potassium AND has_sodium THEN NULL
         ELSE 'on a diuretic with no '
              || CASE WHEN NOT has_potassium AND NOT has_sodium THEN 'potassium or sodium'
                      WHEN NOT has_potassium THEN 'potassium' ELSE 'sodium' END
              || ' result in the ' || $lookback_days || ' days to ' || $as_of
    END AS reason,
    diuretics, diuretic_since, last_potassium_at, last_potassium, last_sodium_at, last_sodium
FROM judged
ORDER BY patient_id
