-- Every codelist row, with codes normalised the way the loaded data is (upper case, no dot). The files
-- ($codelist_files) are the shipped ones plus a clinic's local additions (pipelines/codelists.py), a
-- local file named after the codelist it extends.
CREATE OR REPLACE TEMP TABLE codelist AS
SELECT
    regexp_extract(filename, '([^/\\]+)\.csv$', 1) AS codelist,
    CASE WHEN system = 'name' THEN lower(trim(code)) ELSE replace(upper(trim(code)), '.', '') END AS code,
    system,
    description,
    nullif(trim(ingredient), '') AS ingredient
FROM read_csv($codelist_files, all_varchar = true, union_by_name = true, filename = true);
