-- cramps_medication_review: one row per patient with a cramp recorded in the lookback up to $as_of.
WITH cramps AS (
    SELECT patient_id, recorded_at, code_original, code_system
    FROM coded_diagnoses
    WHERE codelist = 'muscle_cramps'
      AND recorded_at BETWEEN $as_of - CAST($lookback_days AS INTEGER) AND $as_of
),
drugs AS (
    SELECT patient_id, drug_name, start_date, end_effective,
           CASE codelist WHEN 'diuretics' THEN 'diuretic' WHEN 'statins' THEN 'statin'
                ELSE 'beta-blocker' END AS drug_class
    FROM drug_exposures
    WHERE codelist IN ('diuretics', 'statins', 'beta_blockers')
      AND start_date <= $as_of
      AND patient_id IN (SELECT patient_id FROM cramps)
),
on_drug AS (
    -- each cramp with every implicated drug active on the day it was recorded
    SELECT c.patient_id, c.recorded_at, d.drug_name, d.drug_class,
           d.end_effective IS NULL OR d.end_effective >= $as_of AS still_active
    FROM cramps c
    JOIN drugs d
      ON d.patient_id = c.patient_id
     AND d.start_date <= c.recorded_at
     AND (d.end_effective IS NULL OR d.end_effective >= c.recorded_at)
),
implicated AS (
    SELECT patient_id,
           string_agg(DISTINCT recorded_at::VARCHAR, '; ' ORDER BY recorded_at::VARCHAR) AS cramp_dates,
           string_agg(DISTINCT drug_name, '; ' ORDER BY drug_name) AS drugs,
           string_agg(DISTINCT drug_class, ', ' ORDER BY drug_class) AS drug_classes,
           string_agg(DISTINCT drug_name, '; ' ORDER BY drug_name) FILTER (still_active)
               AS still_active_drugs
    FROM on_drug
    GROUP BY patient_id
),
population AS (
    SELECT patient_id,
           string_agg(DISTINCT code_original || ' (' || code_system || ')', '; '
                      ORDER BY code_original || ' (' || code_system || ')') AS cramp_codes,
           count(DISTINCT recorded_at) AS cramp_days
    FROM cramps
    GROUP BY patient_id
)
SELECT
    patient_id,
    i.drugs IS NOT NULL AS flagged,
    CASE WHEN i.drugs IS NULL THEN NULL
         WHEN p.cramp_days >= 2 AND i.still_active_drugs IS NOT NULL THEN 'high'
         ELSE 'normal' END AS priority,
    CASE WHEN i.drugs IS NOT NULL THEN
        'muscle cramps recorded ' || i.cramp_dates || ' while on a ' || i.drug_classes
        || ' (' || i.drugs || '); review whether the drug may cause the cramps'
    END AS reason,
    p.cramp_codes, i.cramp_dates, i.drugs, i.drug_classes, i.still_active_drugs
FROM population p
LEFT JOIN implicated i USING (patient_id)
ORDER BY patient_id
