-- raw (all text, straight from the CSV reader) -> typed_patients. Projection only: no joins, so
-- DuckDB keeps file order and rowid stays the record number.
SELECT
    _skip,  -- NULL, or why the profile leaves the row out of the audit
    _note,  -- NULL, or the name of the profile's note on a row it repaired
    clean_id(patient_id) AS patient_id,
    clean(birth_date) AS birth_date_text,
    export_date(birth_date) AS birth_date,
    clean(sex) AS sex_text,
    CASE upper(clean(sex))
        WHEN 'F' THEN 'F' WHEN 'FEMALE' THEN 'F' WHEN 'M' THEN 'M' WHEN 'MALE' THEN 'M'
        WHEN 'O' THEN 'O' WHEN 'OTHER' THEN 'O' WHEN 'U' THEN 'U' WHEN 'UNKNOWN' THEN 'U'
    END AS sex,
    clean(death_date) AS death_date_text,
    export_date(death_date) AS death_date,
    clean(deceased) AS deceased_text,
    yes_no(deceased) AS deceased_stated,  -- the deceased column as written (NULL: empty or not yes/no)
    -- dead when a death date is given, or when the export says so without a date (FHIR
    -- deceasedBoolean); NULL (not known dead) otherwise. An explicit "false" stays false.
    CASE WHEN clean(death_date) IS NOT NULL THEN true
         ELSE yes_no(deceased) END AS deceased,
    clean(site_id) AS site_id,  -- the practice or clinic the patient is registered with (optional)
    clean(clinician_id) AS clinician_id,  -- their responsible clinician (optional)
    clean(registered_until) AS registered_until_text,
    export_date(registered_until) AS registered_until,  -- the last day registered (optional)
    clean(registered) AS registered_text,
    yes_no(registered) AS registered_stated,  -- the registered column as written (NULL: empty or not yes/no)
    -- left the practice when a registration end is given, or when the export says the patient is not
    -- registered without a date (FHIR Patient.active false); false when it says registered; NULL
    -- (nothing said) otherwise
    CASE WHEN clean(registered_until) IS NOT NULL THEN true
         ELSE NOT yes_no(registered) END AS deregistered
FROM raw
