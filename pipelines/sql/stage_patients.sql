-- raw (all text, straight from the CSV reader) -> typed_patients. Projection only: no joins, so
-- DuckDB keeps file order and rowid stays the record number.
SELECT
    clean(patient_id) AS patient_id,
    clean(birth_date) AS birth_date_text,
    iso_date(birth_date) AS birth_date,
    clean(sex) AS sex_text,
    CASE upper(clean(sex))
        WHEN 'F' THEN 'F' WHEN 'FEMALE' THEN 'F' WHEN 'M' THEN 'M' WHEN 'MALE' THEN 'M'
        WHEN 'O' THEN 'O' WHEN 'OTHER' THEN 'O' WHEN 'U' THEN 'U' WHEN 'UNKNOWN' THEN 'U'
    END AS sex
FROM raw
