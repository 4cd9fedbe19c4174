-- The vocabulary implemented for Spark: only the words whose DuckDB body (checks/sql/_results.sql,
-- _phrases.sql) Spark reads differently, each with the same meaning, in Spark SQL. Every other word,
-- and every check, is translated from the DuckDB text (checks/translate.py). Same syntax as the
-- DuckDB files, so one parser reads both; tests/spark/ hold each word to its DuckDB twin.

-- DuckDB: later - earlier is a day count; Spark's date minus date is an interval.
CREATE OR REPLACE TEMP MACRO days_between(earlier, later) AS datediff(later, earlier);

-- A result as text, as DuckDB writes it (_results.sql): two decimals, or two significant digits
-- under 0.1 as printf('%.2g') writes them ('0.004', '0.0045', '4.5e-05'). Java's '%g' keeps trailing
-- zeros and rounds the decimal form, and Java writes 1.2345678E7 where DuckDB writes 12345678.0, so
-- each piece is spelled out here with DuckDB's rounding (exact_round). A value used several times is
-- bound once (transform over a one-item array), so that the words inside, expanded in place, do not
-- copy the expression they are given.
CREATE OR REPLACE TEMP MACRO result_text(value, comparator) AS
    coalesce(comparator, '')
    || element_at(transform(array(CAST(value AS DOUBLE)), tv ->
           CASE WHEN abs(tv) >= 0.1 OR tv = 0 THEN double_text(exact_round(tv, 2, false))
                ELSE two_significant(exact_round(tv, 1 - floor(log10(abs(tv))), true)) END), 1);

-- A double rounded to at most two decimals as DuckDB casts it to text: Java's own text below 1e7;
-- from 1e7 the decimal digits, one decimal at least ('12345678.0', where Java writes 1.2345678E7);
-- from 1e16 an exponent as DuckDB writes it (exponent_text).
CREATE OR REPLACE TEMP MACRO double_text(x) AS
    element_at(transform(array(x), dx ->
        CASE WHEN abs(dx) < 10000000 THEN CAST(dx AS STRING)
             WHEN abs(dx) < 10000000000000000
             THEN regexp_replace(regexp_replace(CAST(CAST(dx AS DECIMAL(38, 2)) AS STRING), '0+$', ''),
                                 '[.]$', '.0')
             ELSE exponent_text(dx) END), 1);
-- A double from 1e16 as DuckDB writes it: the fewest significant digits (15, 16, else 17) that read
-- back as the same double, rounded from its exact value, in exponent form ('1e+16', '1.5e+16',
-- '-7.387629526543395e+16'). Java 17's own text may carry a digit more (-7.3876295265433952E16), and
-- its printf rounds that text, not the exact value (-5.705224179642987e+18 for DuckDB's ...986e+18).
-- The exact value is a whole number, m * 2^k with m below 2^55: its digits, exact below 1e34 (DECIMAL);
-- from 1e34 (no lab value) printf's digits are used.
CREATE OR REPLACE TEMP MACRO exponent_text(x) AS
    CASE WHEN x < 0 THEN '-' ELSE '' END
    || CASE WHEN abs(x) < 1e34
            THEN element_at(transform(array(exact_digits_rounded(abs(x))), hd ->
                 element_at(transform(array(regexp_replace(CAST(hd.head AS STRING), '0+$', '')), dg ->
                     substr(dg, 1, 1) || CASE WHEN length(dg) > 1 THEN '.' || substr(dg, 2) ELSE '' END
                     || 'e+' || lpad(CAST(length(CAST(hd.head AS STRING)) - 1 + hd.shift AS STRING), 2, '0')), 1)), 1)
            ELSE regexp_replace(
                     element_at(filter(array(printf('%.14e', abs(x)), printf('%.15e', abs(x)), printf('%.16e', abs(x))),
                                       ex -> CAST(ex AS DOUBLE) = abs(x)), 1),
                     '[.]?0*e', 'e') END;
-- A positive whole double below 1e34 as head * 10^shift, head its first 15, 16, else 17 digits rounded
-- half up from its exact value: the fewest that read back as the same double.
CREATE OR REPLACE TEMP MACRO exact_digits_rounded(ax) AS
    element_at(transform(array(greatest(CAST(floor(log2(ax)) AS INT) - 53, 0)), ek ->
    element_at(transform(array(CAST(CAST(CAST(ax / power(2, ek) AS BIGINT) AS DECIMAL(19, 0))
                                    * CAST(shiftleft(CAST(1 AS BIGINT), ek) AS DECIMAL(19, 0)) AS STRING)), ed ->
    element_at(filter(transform(array(15, 16, 17), en ->
        named_struct('head', CAST(substr(ed, 1, en) AS BIGINT)
                             + CASE WHEN substr(ed, en + 1, 1) >= '5' THEN 1 ELSE 0 END,
                     'shift', length(ed) - en)),
        hd -> CAST(concat(CAST(hd.head AS STRING), 'e', CAST(hd.shift AS STRING)) AS DOUBLE) = ax), 1)), 1)), 1);

-- printf's '%.2g' of a number already rounded to two significant digits, under 0.1: fixed decimals
-- with the trailing zeros dropped, or under 1e-4 a mantissa and an exponent of two digits at least
-- ('4.5e-05', '1e-100').
CREATE OR REPLACE TEMP MACRO two_significant(r) AS
    element_at(transform(array(r), sx -> element_at(transform(array(decade(sx)), dg ->
        CASE WHEN abs(sx) < 0.0001
             THEN concat(regexp_replace(printf('%.1f', sx / power(10, dg)), '[.]0$', ''), 'e-',
                         lpad(CAST(-dg AS STRING), greatest(2, length(CAST(-dg AS STRING))), '0'))
             ELSE regexp_replace(regexp_replace(printf(concat('%.', CAST(1 - dg AS STRING), 'f'), sx),
                                                '0+$', ''), '[.]$', '') END), 1)), 1);
-- The power of ten of a nonzero number's leading digit (log10 corrected where it rounds across one).
CREATE OR REPLACE TEMP MACRO decade(r) AS
    element_at(transform(array(floor(log10(abs(r)))), lg ->
        CASE WHEN abs(r) >= power(10, lg + 1) THEN lg + 1 WHEN abs(r) < power(10, lg) THEN lg - 1 ELSE lg END), 1);

-- DuckDB's round(x, n) of a double rounds its exact binary value, half away from zero:
-- round(66.315, 2) is 66.31, the double being 66.31499999...; Spark's rounds the shortest decimal
-- form (66.32). checks/translate.py writes DuckDB's round() as this (the checks round doubles: lab
-- values; a DECIMAL would be rounded as a double here).
CREATE OR REPLACE TEMP MACRO round_half_away(x, n) AS exact_round(x, n, false);
-- x rounded to n decimals by its exact value. x is scaled by 10^n; a product infinite or not a number
-- is x itself, as in DuckDB; a product already whole (from 2^52) is divided back, as DuckDB does
-- (round(123456789012345.67, 2) is 123456789012345.69 there: the product and the quotient are
-- rounded doubles; x itself read .67 on Spark); a product exactly on a half is decided
-- by the product's rounding error, which says on which side the exact value lies, and an exact tie
-- goes away from zero (round) or to the even digit (printf's rule: 0.0625 is '0.062'); a negative
-- rounded to zero stays -0.0, as in DuckDB; any other product rounds to its nearest whole number,
-- the same either way. Each value is bound once (lambdas), which keeps Spark's generated code small.
CREATE OR REPLACE TEMP MACRO exact_round(x, n, ties_to_even) AS
    element_at(transform(array(CAST(x AS DOUBLE)), hx -> element_at(transform(array(power(10, n)), sc ->
        element_at(transform(array(hx * sc), pr ->
            CASE WHEN isnan(pr) OR abs(pr) = CAST('Infinity' AS DOUBLE) THEN hx
                 WHEN abs(pr) >= 4503599627370496 THEN pr / sc
                 ELSE round_product(pr, hx, sc, ties_to_even) / sc END), 1)), 1)), 1);
CREATE OR REPLACE TEMP MACRO round_product(p, x, s, ties_to_even) AS
    CASE WHEN p - floor(p) = 0.5
         THEN element_at(transform(array(product_error(x, s, p)), er ->
                  CASE WHEN er > 0 OR (er = 0 AND NOT ties_to_even AND p > 0)
                            OR (er = 0 AND ties_to_even AND floor(p) % 2 <> 0)
                       THEN CAST(ceil(p) AS DOUBLE) ELSE CAST(floor(p) AS DOUBLE) END), 1)
         WHEN p > -0.5 AND (p < 0 OR CAST(x AS STRING) LIKE '-%') THEN -CAST(0 AS DOUBLE)
         ELSE round(p, 0) END;
-- The exact x * s minus p, the double x * s, its sign and zero exact (Dekker 1971): x split into two
-- halves of 26 bits, each times s exactly while s has at most 26 significant bits (10^n, n <= 11).
CREATE OR REPLACE TEMP MACRO product_error(x, s, p) AS
    element_at(transform(array(CAST(134217729 AS DOUBLE) * x - (CAST(134217729 AS DOUBLE) * x - x)), hi ->
        (hi * s - p) + (x - hi) * s), 1);

-- DuckDB's lower(): each letter lowercased on its own, in no locale. Java's maps 'İ' (U+0130) to 'i'
-- and a combining dot, and a final 'Σ' to 'ς'; of every Unicode letter and digit only these two differ
-- (tests/spark/test_lowercase_spark.py). And Java lowercases a name with any character beyond ASCII
-- in the JVM's default locale: in Turkish or Azeri 'I' is the dotless 'ı' ('BD MICRO-FINE™ INSULIN
-- SYRINGE' read 'ınsulın syrınge'), in Lithuanian 'I', 'J', 'Į', 'Ì', 'Í', 'Ĩ' gain a combining dot.
-- Those are the only letters with a locale's own rule (Java's special casing), so each is lowercased
-- first as DuckDB does (translate, one letter for one). checks/translate.py writes lower() as this.
CREATE OR REPLACE TEMP MACRO lower_as_duckdb(s) AS lower(translate(s, 'İΣIJĮÌÍĨ', 'iσijįìíĩ'));

-- DuckDB's epoch(): seconds since 1970 with their fraction (a double); Spark's unix_timestamp(),
-- sqlglot's word for it, drops the fraction. A timestamp without a time zone is read in the session's,
-- UTC (pipelines/engines/spark.py), so the wall-clock time counts, as in DuckDB.
CREATE OR REPLACE TEMP MACRO epoch_seconds(t) AS unix_micros(CAST(t AS TIMESTAMP)) / 1000000;

-- DuckDB builtins Spark spells differently: a whole number of years or days as an interval.
CREATE OR REPLACE TEMP MACRO to_years(n) AS make_ym_interval(n, 0);
CREATE OR REPLACE TEMP MACRO to_days(n) AS make_dt_interval(n, 0, 0, 0);
