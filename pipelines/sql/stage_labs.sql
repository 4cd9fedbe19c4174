-- raw (all text) -> typed_labs. Projection only (file order kept); what the test measures, its
-- unit conversion and plausible range are looked up afterwards per distinct key (lab_concepts.sql).
SELECT
    _skip,  -- NULL, or why the profile leaves the row out of the audit
    _note,  -- NULL, or the name of the profile's note on a row it repaired
    clean_id(patient_id) AS patient_id,
    clean(collected_at) AS collected_at_text,
    export_timestamp(collected_at) AS collected_at,
    upper(clean(loinc_code)) AS loinc_code,
    clean(test_name) AS test_name,
    clean(value) AS value_text,
    result_number(value) AS value_original,  -- a censored result ('<0.5') keeps its bound here
    -- value_comparator is computed in numbered_labs (LABS.computed, pipelines/contract.py), not
    -- here: with it in this projection, DuckDB 2.0.1 wrote a few rows of a 400k-row file out of order
    -- (rowid is the record number, tests/functional/test_ingest_robustness.py).
    clean(unit) AS unit_original,
    clean(result_id) AS result_id  -- the source's name for the result, if it gives one
FROM raw
