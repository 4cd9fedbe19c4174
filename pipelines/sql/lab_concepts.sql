-- lab_concepts := every (LOINC code, test name, unit) staged before or now (the temp view
-- new_lab_keys), mapped under the current codelists: the analyte (from the LOINC code, else the test
-- name), the specimen, the LOINC code's shape and check digit, the unit factor and the plausible
-- range. A few hundred rows even for millions of results, so rebuilding it every run is cheap, and
-- results loaded long ago follow a codelist change.
CREATE OR REPLACE TEMP TABLE mapped_lab_concepts AS
WITH keys AS (
    SELECT loinc_code, test_name, unit_original FROM lab_concepts
    UNION
    SELECT loinc_code, test_name, unit_original FROM new_lab_keys
),
mapped AS (
    SELECT k.*,
           coalesce(by_code.analyte, by_name.analyte) AS analyte,
           coalesce(by_code.specimen, by_name.specimen) AS specimen
    FROM keys k
    LEFT JOIN ref_lab_codes by_code ON by_code.code = k.loinc_code
    -- The test name speaks only for a row without a usable LOINC code: a valid code that no codelist
    -- lists (24-hour urine potassium 2829-0 named "Potassium") is another test, never rescued by name.
    LEFT JOIN ref_lab_names by_name
      ON by_name.name = lower(k.test_name)
     AND NOT coalesce(loinc_check_ok(k.loinc_code), false)
)
SELECT m.loinc_code, m.test_name, m.unit_original, m.analyte, m.specimen,
       loinc_format_ok(m.loinc_code) AS loinc_format_ok,
       loinc_check_ok(m.loinc_code) AS loinc_check_ok,
       a.analyte IS NOT NULL AS has_reference,
       a.canonical_unit,
       -- value = value_original * factor: 1 for tests without a canonical unit and for a missing
       -- unit (assumed canonical: a unitless magnesium of a "Mass/volume" LOINC code is as often an
       -- SI value under a mis-mapped code as a US mg/dL one, so no unit is guessed from the code),
       -- NULL for a unit the reference cannot convert.
       CASE WHEN a.analyte IS NULL OR m.unit_original IS NULL THEN 1 ELSE c.factor END AS factor,
       a.plausible_low, a.plausible_high, a.decimals
FROM mapped m
LEFT JOIN ref_analytes a ON a.analyte = m.analyte AND m.specimen = 'blood'
LEFT JOIN ref_unit_conversions c ON c.analyte = a.analyte AND c.unit = unit_key(m.unit_original);

DELETE FROM lab_concepts;
INSERT INTO lab_concepts BY NAME SELECT * FROM mapped_lab_concepts;
