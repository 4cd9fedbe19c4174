-- Staged labs with what each result measures (lab_concepts, just rebuilt with the staged keys): the
-- analyte and specimen, the canonical value, and what the plausibility and unit rules need.
CREATE OR REPLACE TEMP VIEW checked_labs AS
SELECT t.*, c.analyte, c.specimen, c.loinc_format_ok, c.loinc_check_ok,
       c.plausible_low, c.plausible_high,
       c.factor IS NOT NULL OR t.value_original IS NULL AS unit_known,
       t.value_original * c.factor AS value
FROM numbered_labs t
JOIN lab_concepts c
    ON c.loinc_code IS NOT DISTINCT FROM t.loinc_code
   AND c.test_name IS NOT DISTINCT FROM t.test_name
   AND c.unit_original IS NOT DISTINCT FROM t.unit_original;
