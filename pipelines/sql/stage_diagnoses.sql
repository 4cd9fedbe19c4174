-- raw (all text) -> typed_diagnoses (projection only, file order kept).
-- Codes are compared without the dot (K70.31 = K7031).
SELECT
    _skip,  -- NULL, or why the profile leaves the row out of the audit
    _note,  -- NULL, or the name of the profile's note on a row it repaired
    clean(patient_id) AS patient_id,
    upper(clean(code)) AS code_original,
    replace(upper(clean(code)), '.', '') AS code,
    clean(code_system) AS code_system_text,
    code_system_name(code_system) AS code_system,
    clean(recorded_at) AS recorded_at_text,
    iso_date(recorded_at) AS recorded_at,
    clean(resolved_at) AS resolved_at_text,
    iso_date(resolved_at) AS resolved_at
FROM raw
