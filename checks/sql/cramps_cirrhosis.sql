-- cramps_cirrhosis: one row per patient with unresolved cirrhosis on $as_of.
WITH cirrhosis AS (
    SELECT patient_id,
           string_agg(DISTINCT code_original, '; ' ORDER BY code_original) AS cirrhosis_codes,
           min(recorded_at) AS cirrhosis_since
    FROM coded_diagnoses
    WHERE codelist = 'cirrhosis'
      AND recorded_at <= $as_of
      AND (resolved_at IS NULL OR resolved_at > $as_of)
    GROUP BY patient_id
),
cramps AS (
    SELECT patient_id,
           string_agg(DISTINCT code_original || ' (' || code_system || ')', '; '
                      ORDER BY code_original || ' (' || code_system || ')') AS cramp_codes,
           max(recorded_at) AS last_cramp_at
    FROM coded_diagnoses
    WHERE codelist = 'muscle_cramps'
      AND recorded_at BETWEEN $as_of - CAST($lookback_days AS INTEGER) AND $as_of
      AND patient_id IN (SELECT patient_id FROM cirrhosis)
    GROUP BY patient_id
),
drugs AS (
    SELECT patient_id,
           string_agg(DISTINCT drug_name, '; ' ORDER BY drug_name)
               FILTER (codelist = 'diuretics' AND (end_effective IS NULL OR end_effective >= $as_of))
               AS current_diuretics,
           bool_or(codelist = 'baclofen') AS baclofen_prescribed,
           -- human albumin infusion; albumin-bound paclitaxel (Abraxane) is chemotherapy, not albumin
           bool_or(codelist = 'albumin'
                   AND NOT regexp_matches(lower(drug_name), 'paclitaxel|abraxane|protein-bound|albumin-bound'))
               AS albumin_prescribed
    FROM drug_exposures
    WHERE codelist IN ('diuretics', 'baclofen', 'albumin')
      AND start_date <= $as_of
      AND (end_effective IS NULL OR end_effective >= $as_of - CAST($lookback_days AS INTEGER))
      AND patient_id IN (SELECT patient_id FROM cirrhosis)
    GROUP BY patient_id
),
electrolytes AS (
    -- the latest result of each by its full timestamp (latest_key, _vocabulary.sql), judged on its
    -- bound when censored: '<3.5' is below 3.5, '>130' is never known to be low
    SELECT patient_id,
           max(collected_at) FILTER (analyte = 'potassium')::DATE AS last_potassium_at,
           arg_max(result_of(value, value_comparator), k) FILTER (analyte = 'potassium') AS potassium,
           max(collected_at) FILTER (analyte = 'sodium')::DATE AS last_sodium_at,
           arg_max(result_of(value, value_comparator), k) FILTER (analyte = 'sodium') AS sodium,
           max(collected_at) FILTER (analyte = 'magnesium')::DATE AS last_magnesium_at,
           arg_max(result_of(value, value_comparator), k) FILTER (analyte = 'magnesium') AS magnesium
    FROM (SELECT *, latest_key(collected_at, value, value_comparator) AS k FROM blood_results)
    WHERE analyte IN ('potassium', 'sodium', 'magnesium')
      AND collected_at::DATE <= $as_of
      AND patient_id IN (SELECT patient_id FROM cramps)
    GROUP BY patient_id
),
judged AS (
    SELECT c.*, k.cramp_codes, k.last_cramp_at,
           d.current_diuretics,
           coalesce(d.baclofen_prescribed, false) AS baclofen_prescribed,
           coalesce(d.albumin_prescribed, false) AS albumin_prescribed,
           e.last_potassium_at, result_text_of(e.potassium) AS last_potassium,
           e.last_sodium_at, result_text_of(e.sodium) AS last_sodium,
           e.last_magnesium_at, result_text_of(e.magnesium) AS last_magnesium,
           coalesce(greatest(e.last_potassium_at, e.last_sodium_at, e.last_magnesium_at)
                    >= $as_of - CAST($electrolyte_recent_days AS INTEGER), false) AS any_recent,
           coalesce(result_below(e.potassium.value, e.potassium.comparator, $potassium_low)
                    OR result_below(e.sodium.value, e.sodium.comparator, $sodium_low)
                    OR result_below(e.magnesium.value, e.magnesium.comparator, $magnesium_low), false)
               AS any_low
    FROM cirrhosis c
    LEFT JOIN cramps k USING (patient_id)
    LEFT JOIN drugs d USING (patient_id)
    LEFT JOIN electrolytes e USING (patient_id)
)
SELECT
    patient_id,
    last_cramp_at IS NOT NULL AS flagged,
    CASE WHEN last_cramp_at IS NULL THEN NULL
         WHEN NOT any_recent OR any_low THEN 'high' ELSE 'normal' END AS priority,
    CASE WHEN last_cramp_at IS NOT NULL THEN
        'muscle cramps recorded ' || last_cramp_at || ' with cirrhosis ('
        || cirrhosis_codes || ')'
        || CASE WHEN NOT any_recent THEN '; no potassium, sodium or magnesium in the last '
                     || $electrolyte_recent_days || ' days'
                WHEN any_low THEN '; latest electrolytes below range' ELSE '' END
        || CASE WHEN NOT baclofen_prescribed AND NOT albumin_prescribed
                THEN '; no baclofen or albumin prescribed' ELSE '' END
    END AS reason,
    cirrhosis_codes, cirrhosis_since, cramp_codes, last_cramp_at, current_diuretics,
    baclofen_prescribed, albumin_prescribed, last_potassium_at, last_potassium,
    last_sodium_at, last_sodium, last_magnesium_at, last_magnesium
FROM judged
ORDER BY patient_id
