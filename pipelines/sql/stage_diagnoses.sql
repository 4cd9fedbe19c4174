-- raw (all text) -> typed_diagnoses (projection only, file order kept).
-- Codes are compared without the dot (K70.31 = K7031), and without the dagger-and-asterisk marks of
-- WHO ICD-10 and ICD-10-GM (E11.4†, G63.2*, U69.10!), which say how the code was used, not what it is.
SELECT
    _skip,  -- NULL, or why the profile leaves the row out of the audit
    _note,  -- NULL, or the name of the profile's note on a row it repaired
    clean_id(patient_id) AS patient_id,
    regexp_replace(upper(clean(code)), '\s*[†‡*!+]$', '') AS code_original,
    replace(regexp_replace(upper(clean(code)), '\s*[†‡*!+]$', ''), '.', '') AS code,
    clean(code_system) AS code_system_text,
    code_system_name(code_system) AS code_system,
    clean(recorded_at) AS recorded_at_text,
    export_date(recorded_at) AS recorded_at,
    clean(resolved_at) AS resolved_at_text,
    export_date(resolved_at) AS resolved_at,
    clean(diagnosis_id) AS diagnosis_id  -- the source's name for the condition, if it gives one
FROM raw
