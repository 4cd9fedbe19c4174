-- The vocabulary implemented for Spark: only the words whose DuckDB body (checks/sql/_results.sql,
-- _phrases.sql) Spark reads differently, each with the same meaning, in Spark SQL. Every other word,
-- and every check, is translated from the DuckDB text (checks/translate.py). Same syntax as the
-- DuckDB files, so one parser reads both; tests/spark/ hold each word to its DuckDB twin.

-- DuckDB: later - earlier is a day count; Spark's date minus date is an interval.
CREATE OR REPLACE TEMP MACRO days_between(earlier, later) AS datediff(later, earlier);

-- DuckDB's printf('%.2g') is C's; Java's '%g' keeps trailing zeros and switches to exponents
-- sooner. Two significant digits as fixed decimals, trailing zeros dropped ('0.004', '0.0045').
CREATE OR REPLACE TEMP MACRO result_text(value, comparator) AS
    coalesce(comparator, '')
    || CASE WHEN abs(value) >= 0.1 OR value = 0 THEN CAST(round(value, 2) AS STRING)
            ELSE regexp_replace(
                     printf(concat('%.', CAST(1 - floor(log10(abs(value))) AS STRING), 'f'), value),
                     '0+$', '') END;

-- DuckDB builtins Spark spells differently: a whole number of years or days as an interval.
CREATE OR REPLACE TEMP MACRO to_years(n) AS make_ym_interval(n, 0);
CREATE OR REPLACE TEMP MACRO to_days(n) AS make_dt_interval(n, 0, 0, 0);
