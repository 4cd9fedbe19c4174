-- The vocabulary implemented for Spark: only the words whose DuckDB body (checks/sql/_results.sql,
-- _phrases.sql) Spark reads differently, each with the same meaning, in Spark SQL. Every other word,
-- and every check, is translated from the DuckDB text (checks/translate.py). Same syntax as the
-- DuckDB files, so one parser reads both; tests/spark/ hold each word to its DuckDB twin.

-- DuckDB: later - earlier is a day count; Spark's date minus date is an interval.
CREATE OR REPLACE TEMP MACRO days_between(earlier, later) AS datediff(later, earlier);

-- A result as text, as DuckDB writes it (_results.sql): two decimals, or two significant digits
-- under 0.1 as C's printf('%.2g') writes them ('0.004', '0.0045', '4.5e-05'). Java's '%g' keeps
-- trailing zeros and rounds the decimal form, and Java writes 1.2345678E7 where DuckDB writes
-- 12345678.0, so each piece is spelled out here with DuckDB's rounding (round_half_away). A value
-- used several times is bound once (transform over a one-item array), so that the words inside,
-- expanded in place, do not copy the expression they are given.
CREATE OR REPLACE TEMP MACRO result_text(value, comparator) AS
    coalesce(comparator, '')
    || element_at(transform(array(CAST(value AS DOUBLE)), tv ->
           CASE WHEN abs(tv) >= 0.1 OR tv = 0 THEN double_text(round_half_away(tv, 2))
                ELSE two_significant(round_half_away(tv, 1 - floor(log10(abs(tv))))) END), 1);

-- A double rounded to at most two decimals as DuckDB casts it to text: Java's own text below 1e7,
-- from 1e7 the decimal digits (Java would write an exponent), one decimal at least ('45.0').
CREATE OR REPLACE TEMP MACRO double_text(x) AS
    element_at(transform(array(x), dx ->
        CASE WHEN abs(dx) < 10000000 THEN CAST(dx AS STRING)
             ELSE regexp_replace(regexp_replace(CAST(CAST(dx AS DECIMAL(38, 2)) AS STRING), '0+$', ''),
                                 '[.]$', '.0') END), 1);

-- C's '%.2g' of a number already rounded to two significant digits, under 0.1: fixed decimals with
-- the trailing zeros dropped, or under 1e-4 a mantissa and a two-digit exponent ('4.5e-05').
CREATE OR REPLACE TEMP MACRO two_significant(r) AS
    element_at(transform(array(r), sx ->
        CASE WHEN abs(sx) < 0.0001
             THEN concat(regexp_replace(printf('%.1f', sx / power(10, decade(sx))), '[.]0$', ''),
                         'e-', lpad(CAST(-decade(sx) AS STRING), 2, '0'))
             ELSE regexp_replace(regexp_replace(printf(concat('%.', CAST(1 - decade(sx) AS STRING), 'f'), sx),
                                                '0+$', ''), '[.]$', '') END), 1);
-- The power of ten of a nonzero number's leading digit (log10 corrected where it rounds across one).
CREATE OR REPLACE TEMP MACRO decade(r) AS
    CASE WHEN abs(r) >= power(10, floor(log10(abs(r))) + 1) THEN floor(log10(abs(r))) + 1
         WHEN abs(r) < power(10, floor(log10(abs(r)))) THEN floor(log10(abs(r))) - 1
         ELSE floor(log10(abs(r))) END;

-- DuckDB's round(x, n) rounds the double's exact binary value half away from zero: round(66.315, 2)
-- is 66.31, the double being 66.31499999...; Spark's rounds its shortest decimal form (66.32), so
-- checks/translate.py writes every DuckDB round() as this. x is scaled by 10^n; when the product
-- lands exactly on a half, the product's rounding error says on which side the exact value lies;
-- otherwise the nearest whole number is the same either way.
CREATE OR REPLACE TEMP MACRO round_half_away(x, n) AS
    element_at(transform(array(CAST(x AS DOUBLE)), hx -> round_scaled(hx, power(10, n))), 1) / power(10, n);
CREATE OR REPLACE TEMP MACRO round_scaled(x, s) AS
    CASE WHEN x * s - floor(x * s) = 0.5
         THEN CASE WHEN product_error(x, s) > 0 OR (product_error(x, s) = 0 AND x > 0)
                   THEN CAST(ceil(x * s) AS DOUBLE) ELSE CAST(floor(x * s) AS DOUBLE) END
         ELSE round(x * s, 0) END;
-- The exact x * s minus the double x * s, its sign and zero exact (Dekker 1971): x split into two
-- halves of 26 bits, each times s exactly while s has at most 26 significant bits (10^n, n <= 11).
CREATE OR REPLACE TEMP MACRO product_error(x, s) AS (split_high(x) * s - x * s) + (x - split_high(x)) * s;
CREATE OR REPLACE TEMP MACRO split_high(a) AS
    CAST(134217729 AS DOUBLE) * a - (CAST(134217729 AS DOUBLE) * a - a);

-- DuckDB builtins Spark spells differently: a whole number of years or days as an interval.
CREATE OR REPLACE TEMP MACRO to_years(n) AS make_ym_interval(n, 0);
CREATE OR REPLACE TEMP MACRO to_days(n) AS make_dt_interval(n, 0, 0, 0);
