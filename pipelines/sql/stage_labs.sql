-- raw_labs (all text) -> typed_labs: parsed values, the analyte the test measures, and the value in
-- the analyte's canonical unit. The analyte comes from the LOINC code, else from the test name.
CREATE OR REPLACE TEMP TABLE typed_labs AS
WITH loinc_codes AS (
    SELECT code, loinc_check_ok(code) AS ok
    FROM (SELECT DISTINCT upper(clean(loinc_code)) AS code FROM raw_labs WHERE clean(loinc_code) IS NOT NULL)
),
parsed AS (
    SELECT
        r._rec,
        clean(r.patient_id) AS patient_id,
        clean(r.collected_at) AS collected_at_text,
        iso_timestamp(r.collected_at) AS collected_at,
        upper(clean(r.loinc_code)) AS loinc_code,
        clean(r.test_name) AS test_name,
        clean(r.value) AS value_text,
        try_cast(clean(r.value) AS DOUBLE) AS value_original,
        clean(r.unit) AS unit_original,
        coalesce(by_code.analyte, by_name.analyte) AS analyte,
        coalesce(by_code.specimen, by_name.specimen) AS specimen
    FROM raw_labs r
    LEFT JOIN ref_lab_codes by_code ON by_code.code = upper(clean(r.loinc_code))
    LEFT JOIN ref_lab_names by_name ON by_name.name = lower(clean(r.test_name))
)
SELECT
    p.*,
    lc.ok AS loinc_check_ok,
    a.plausible_low,
    a.plausible_high,
    CASE
        WHEN a.analyte IS NULL OR p.value_original IS NULL THEN 'n/a'
        WHEN p.unit_original IS NULL THEN 'assumed'
        WHEN c.factor IS NULL THEN 'unknown'
        ELSE 'ok'
    END AS unit_status,
    CASE WHEN a.analyte IS NULL THEN p.value_original
         ELSE p.value_original * coalesce(c.factor, CASE WHEN p.unit_original IS NULL THEN 1 END)
    END AS value,
    coalesce(a.canonical_unit, p.unit_original) AS unit
FROM parsed p
LEFT JOIN loinc_codes lc ON lc.code = p.loinc_code
LEFT JOIN ref_analytes a ON a.analyte = p.analyte AND p.specimen = 'blood'
LEFT JOIN ref_unit_conversions c ON c.analyte = a.analyte AND c.unit = unit_key(p.unit_original);
