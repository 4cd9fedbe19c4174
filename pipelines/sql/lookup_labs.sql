-- One row per distinct (LOINC, test name, unit) in the staged labs: the analyte (from the LOINC code,
-- else the test name), the specimen, the LOINC check digit, the unit factor and plausible range.
-- A few hundred rows even for millions of results, so every per-row lookup is one cheap join.
CREATE OR REPLACE TEMP TABLE lab_keys AS
WITH keys AS (
    SELECT lab_key, any_value(loinc_code) AS loinc_code, lower(any_value(test_name)) AS name_key,
           unit_key(any_value(unit_original)) AS unit_key
    FROM typed_labs GROUP BY lab_key
),
mapped AS (
    SELECT k.*,
           coalesce(by_code.analyte, by_name.analyte) AS analyte,
           coalesce(by_code.specimen, by_name.specimen) AS specimen,
           loinc_check_ok(k.loinc_code) AS loinc_check_ok
    FROM keys k
    LEFT JOIN ref_lab_codes by_code ON by_code.code = k.loinc_code
    LEFT JOIN ref_lab_names by_name ON by_name.name = k.name_key
)
SELECT m.lab_key, m.analyte, m.specimen, m.loinc_check_ok,
       a.analyte IS NOT NULL AS has_reference,
       a.canonical_unit, a.plausible_low, a.plausible_high,
       c.factor
FROM mapped m
LEFT JOIN ref_analytes a ON a.analyte = m.analyte AND m.specimen = 'blood'
LEFT JOIN ref_unit_conversions c ON c.analyte = a.analyte AND c.unit = m.unit_key;

CREATE OR REPLACE TEMP VIEW checked_labs AS
SELECT t.*, k.analyte, k.specimen, k.loinc_check_ok, k.plausible_low, k.plausible_high,
       CASE
           WHEN NOT k.has_reference OR t.value_original IS NULL THEN 'n/a'
           WHEN t.unit_original IS NULL THEN 'assumed'
           WHEN k.factor IS NULL THEN 'unknown'
           ELSE 'ok'
       END AS unit_status,
       CASE WHEN NOT k.has_reference THEN t.value_original
            ELSE t.value_original * coalesce(k.factor, CASE WHEN t.unit_original IS NULL THEN 1 END)
       END AS value,
       coalesce(k.canonical_unit, t.unit_original) AS unit
FROM numbered_labs t
JOIN lab_keys k USING (lab_key);
