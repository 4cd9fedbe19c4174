-- raw_patients (all text) -> typed_patients
CREATE OR REPLACE TEMP TABLE typed_patients AS
SELECT
    _rec,
    clean(patient_id) AS patient_id,
    clean(birth_date) AS birth_date_text,
    iso_date(birth_date) AS birth_date,
    clean(sex) AS sex_text,
    CASE upper(clean(sex))
        WHEN 'F' THEN 'F' WHEN 'FEMALE' THEN 'F' WHEN 'M' THEN 'M' WHEN 'MALE' THEN 'M'
        WHEN 'O' THEN 'O' WHEN 'OTHER' THEN 'O' WHEN 'U' THEN 'U' WHEN 'UNKNOWN' THEN 'U'
    END AS sex
FROM raw_patients;
