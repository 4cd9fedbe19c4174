-- Helpers used by the staging queries. Created per connection (TEMP), never stored.
-- Empty or blank -> NULL, padding trimmed: exactly nullif(trim(x), ''), but trim() copies every
-- string, so it runs only where it can change something: a value starting or ending with a space, or
-- holding non-ASCII text (trim also strips Unicode spaces such as U+00A0). ~0.2 s less per 10M rows
-- of six columns; tests/unit/test_macros.py holds it to trim's results.
CREATE OR REPLACE TEMP MACRO clean(x) AS
    CASE WHEN x LIKE ' %' OR x LIKE '% ' OR strlen(x) <> length(x) THEN nullif(trim(x), '')
         ELSE nullif(x, '') END;
-- A patient id, cleaned further: an id is what joins a patient's files, so padding no eye sees
-- cannot be part of it: a tab (a tab-padded Excel cell), a byte-order mark (two Excel files joined
-- into one) or a zero-width space at either end made 'P0001<TAB>' another patient, audited alone
-- while the real one's drug went unaudited. Control, format (Unicode Cf) and space characters are
-- stripped from both ends; inside, the id is as sent. Only ids: the test costs most on every value.
CREATE OR REPLACE TEMP MACRO clean_id(x) AS
    CASE WHEN x LIKE ' %' OR x LIKE '% ' OR strlen(x) <> length(x) OR x[1] < ' ' OR x[-1] < ' '
              OR x[1] = chr(127) OR x[-1] = chr(127)
         THEN nullif(regexp_replace(x, '^[\s\p{Z}\p{Cc}\p{Cf}]+|[\s\p{Z}\p{Cc}\p{Cf}]+$', '', 'g'), '')
         ELSE nullif(x, '') END;
-- A unit written many ways compares as one key: case and spaces aside, micro as µ, μ, u, mc or
-- 'micro' (µmol/L, umol/L, mcmol/L, micromol/L: the BNF's and many NHS laboratories' spelling),
-- units spelled out as UCUM's display names write them (millimole per liter, milligram per
-- deciliter, milliequivalent per liter), litre or liter as l, ' per ' as '/' (mmol per litre,
-- mL/min per 1.73m2). Most units need none of it (mmol/L, mg/dL): they are only lowercased, which
-- keeps the key cheap where it is taken per row (known_unit: an OMOP measurement's unit).
CREATE OR REPLACE TEMP MACRO spelled_unit_key(x) AS
    replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
    replace(replace(replace(replace(replace(replace(replace(
        lower(trim(x)), 'µ', 'u'), 'μ', 'u'), ' per ', '/'), ' ', ''),
        'micromole', 'umol'), 'micromol', 'umol'), 'mcmol', 'umol'), 'millimole', 'mmol'),
        'millimol', 'mmol'), 'milliequivalent', 'meq'), 'millilitre', 'ml'), 'milliliter', 'ml'),
        'decilitre', 'dl'), 'deciliter', 'dl'), 'litre', 'l'), 'liter', 'l'),
        'milligram', 'mg'), 'microgram', 'ug'), 'gram', 'g');
CREATE OR REPLACE TEMP MACRO unit_key(x) AS
    CASE WHEN regexp_matches(x, '(?i)[ µμ]|mc|mic|mil|lit|gram') THEN spelled_unit_key(x) ELSE lower(x) END;
-- ISO 8601 date or datetime (YYYY-MM-DD, optional time with T or space, optional Z or offset, whose
-- wall-clock time is kept). DuckDB's cast is strict about impossible dates (2025-02-30 -> NULL) but
-- reads text that is no ISO 8601 date: 'epoch' (1970-01-01), 'infinity', '2026/01/05', '2026-1-5';
-- so the text must have the shape first (a LIKE costs nothing measurable on 10M values).
CREATE OR REPLACE TEMP MACRO iso_timestamp(x) AS
    try_cast(CASE WHEN clean(x) LIKE '____-__-__%' THEN clean(x) END AS TIMESTAMP);
-- A date or datetime as the export writes it: ISO 8601 always; with the `date_order` setting (the
-- variable date_order, set per load: 'day-first' or 'month-first') also a numeric date with a
-- four-digit year, its parts separated by / . or - alike, optionally followed by HH:MM or HH:MM:SS
-- (with a fraction of up to six digits, '14:05:00.000' as SQL Server and .NET write it), 24-hour or
-- with AM/PM ('31/05/2026 14:05' day-first, '05/31/2026 2:05 PM' month-first), as UK and US clinical
-- systems and spreadsheets write them. A two-digit year ('31/05/26') stays unread: its century is a
-- guess (a birth in 1926 or 2026). Unset, only ISO 8601 is read.
-- Text `x` of ordered_timestamp's shape, `y` the same with slashes between the date's parts, read in
-- the date order `d` ('%d/%m/%Y' or '%m/%d/%Y') and the one time format of the text's shape: given
-- a list of formats, try_strptime tries each in turn (3.9 s, not 0.4 s, per 5M '31/05/2026 14:05').
-- The shape is judged on `x`, so `y` (a regexp_replace) is computed once per value, in its branch.
CREATE OR REPLACE TEMP MACRO timestamp_in_shape(x, y, d) AS
    CASE WHEN NOT contains(x, ':') THEN try_strptime(y, d)
         WHEN x ILIKE '%m' THEN CASE WHEN x LIKE '%:%:%.%' THEN try_strptime(y, d || ' %I:%M:%S.%f %p')
                                     WHEN x LIKE '%:%:%' THEN try_strptime(y, d || ' %I:%M:%S %p')
                                     ELSE try_strptime(y, d || ' %I:%M %p') END
         WHEN x LIKE '%:%:%.%' THEN try_strptime(y, d || ' %H:%M:%S.%f')
         WHEN x LIKE '%:%:%' THEN try_strptime(y, d || ' %H:%M:%S')
         ELSE try_strptime(y, d || ' %H:%M') END;
-- The date's separators (not a fraction's dot) as slashes.
CREATE OR REPLACE TEMP MACRO slashed_date(x) AS
    CASE WHEN x LIKE '%/%' THEN x ELSE regexp_replace(x, '^([0-9]+)[.-]([0-9]+)[.-]', '\1/\2/') END;
CREATE OR REPLACE TEMP MACRO ordered_timestamp(x, order_) AS
    CASE WHEN NOT regexp_full_match(x, '[0-9]{1,2}(/[0-9]{1,2}/|\.[0-9]{1,2}\.|-[0-9]{1,2}-)[0-9]{4}'
                                       || '( [0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?( [AaPp][Mm])?)?')
         THEN NULL
         WHEN order_ = 'day-first' THEN timestamp_in_shape(x, slashed_date(x), '%d/%m/%Y')
         WHEN order_ = 'month-first' THEN timestamp_in_shape(x, slashed_date(x), '%m/%d/%Y')
    END;
-- An ISO date with a 12-hour clock ('2026-09-01 1:30:00 PM', a Windows English (Canada) locale's
-- short date and long time) is read at the time it says: DuckDB's cast would drop the PM.
CREATE OR REPLACE TEMP MACRO export_timestamp(x) AS
    CASE WHEN clean(x) LIKE '____-__-__ %' AND clean(x) ILIKE '%m'
         THEN timestamp_in_shape(clean(x), clean(x), '%Y-%m-%d')
         WHEN clean(x) LIKE '____-__-__%' THEN try_cast(clean(x) AS TIMESTAMP)
         WHEN getvariable('date_order') IN ('day-first', 'month-first')
         THEN ordered_timestamp(clean(x), getvariable('date_order')) END;
CREATE OR REPLACE TEMP MACRO export_date(x) AS CAST(export_timestamp(x) AS DATE);
-- LOINC code shape: up to seven digits, a hyphen, the check digit.
CREATE OR REPLACE TEMP MACRO loinc_format_ok(code) AS regexp_full_match(code, '[0-9]{1,7}-[0-9]');
-- LOINC check digit: the mod-10 scheme LOINC publishes (double every other digit from the right).
CREATE OR REPLACE TEMP MACRO loinc_check_ok(code) AS
    CASE WHEN loinc_format_ok(code) THEN
        (10 - list_sum(list_transform(
            range(length(split_part(code, '-', 1))),
            lambda i: CASE WHEN i % 2 = 0
                 THEN (2 * CAST(substr(reverse(split_part(code, '-', 1)), i + 1, 1) AS INTEGER)) // 10
                    + (2 * CAST(substr(reverse(split_part(code, '-', 1)), i + 1, 1) AS INTEGER)) % 10
                 ELSE CAST(substr(reverse(split_part(code, '-', 1)), i + 1, 1) AS INTEGER) END
        )) % 10) % 10 = CAST(split_part(code, '-', 2) AS INTEGER)
    END;
-- The code systems the generic export allows, however they are spelled: 'ICD10' is the US clinical
-- modification; WHO ICD-10 is 'ICD-10' once staged (the format profiles write it 'ICD-10-WHO').
CREATE OR REPLACE TEMP MACRO code_system_name(x) AS
    CASE regexp_replace(upper(trim(x)), '[^A-Z0-9]', '', 'g')
        WHEN 'ICD10CM' THEN 'ICD-10-CM' WHEN 'ICD10' THEN 'ICD-10-CM'
        WHEN 'ICD10WHO' THEN 'ICD-10' WHEN 'WHOICD10' THEN 'ICD-10'
        WHEN 'ICD9CM' THEN 'ICD-9-CM' WHEN 'ICD9' THEN 'ICD-9-CM'
        WHEN 'SNOMEDCT' THEN 'SNOMED-CT' WHEN 'SNOMED' THEN 'SNOMED-CT' WHEN 'SCT' THEN 'SNOMED-CT'
    END;
-- A yes/no flag however it is written (true/false, yes/no, y/n, 1/0); NULL when empty or unknown.
CREATE OR REPLACE TEMP MACRO yes_no(x) AS
    CASE lower(clean(x))
        WHEN 'true' THEN true WHEN 'yes' THEN true WHEN 'y' THEN true WHEN '1' THEN true WHEN 't' THEN true
        WHEN 'false' THEN false WHEN 'no' THEN false WHEN 'n' THEN false WHEN '0' THEN false
        WHEN 'f' THEN false
    END;
-- A JSON array field as a list of JSON: its items; a lone object (the array written as its one
-- element, as some exporters write a FHIR `category` or `coding`) as a list of it; anything else (a
-- string, a number) as none. A plain CAST fails the whole file's query on one such resource.
CREATE OR REPLACE TEMP MACRO json_list(x) AS
    CASE json_type(x) WHEN 'ARRAY' THEN CAST(x AS JSON[]) WHEN 'OBJECT' THEN [x] END;
-- A count as written: '28', or '28.0' / '28.00' (a spreadsheet's or pandas' whole number: a column
-- with an empty cell is written as floats); '2.5', '1e3' or '28 days' is not one (NULL).
CREATE OR REPLACE TEMP MACRO whole_number(x) AS
    CASE WHEN regexp_full_match(clean(x), '-?[0-9]+(\.0+)?')
         THEN try_cast(split_part(clean(x), '.', 1) AS INTEGER) END;
-- A lab result as written: a number, or a censored number ('<0.5', '> 2000', '<=5', '≥ 60').
-- result_comparator gives the comparator ('<', '<=', '>', '>='), result_number the number (the
-- bound of a censored result); text that is neither ('haemolysed', 'see comment') gives NULL for both.
-- An explicit '=' ('=5', '= 5', as some laboratory systems write an exact result) is a plain number.
-- Any space may follow the comparator: a spreadsheet writes '<' and the number apart with a no-break
-- space (U+00A0), which RE2's \s does not match.
-- The regular expressions run only on values starting with a comparator (cheap on 10M plain numbers).
-- (contains, not IN or list_contains: DuckDB 2.0.1 plans either as a join, which no query can prune,
-- so every scan of numbered_labs paid for the comparator even when it read none; a value starting
-- with a digit, nearly every one, is settled before clean() runs)
CREATE OR REPLACE TEMP MACRO censored(x) AS
    NOT ascii(x) BETWEEN 48 AND 57 AND contains('<>≤≥=', left(clean(x), 1));
CREATE OR REPLACE TEMP MACRO result_prefix(x) AS
    regexp_extract(clean(x), '^(<=|>=|=<|=>|<|>|≤|≥|=)[\s\p{Z}]*[-+]?[0-9.]', 1);
CREATE OR REPLACE TEMP MACRO result_comparator(x) AS
    CASE WHEN censored(x) THEN
        CASE result_prefix(x)
            WHEN '<' THEN '<' WHEN '<=' THEN '<=' WHEN '=<' THEN '<=' WHEN '≤' THEN '<='
            WHEN '>' THEN '>' WHEN '>=' THEN '>=' WHEN '=>' THEN '>=' WHEN '≥' THEN '>='
        END
    END;
-- DuckDB's cast reads '1_40' as 140 (digit separators) and 'NaN', 'inf' as numbers: none of them
-- is a lab value ('NaN' holds no digit, so it loads as a result without a numeric value).
CREATE OR REPLACE TEMP MACRO finite(v) AS CASE WHEN isfinite(v) THEN v END;
-- A number written with a decimal comma ('4,1', '<0,5', '5,6 H'): one comma between digits and no
-- point, read with a point. Used on the lab values of semicolon-separated files only (a spreadsheet
-- in a decimal-comma locale), where a comma cannot be a thousands separator of a lab value.
CREATE OR REPLACE TEMP MACRO decimal_comma(x) AS
    CASE WHEN contains(x, ',') AND NOT contains(x, '.') AND regexp_matches(x, '^[^,]*[0-9],[0-9][^,]*$')
         THEN replace(x, ',', '.') ELSE x END;
-- A laboratory system's abnormal flag printed after the number ('5.6 H', '3.1L', '7.2 (HH)', '12 *',
-- '0.3 A', '4.1 N', '2.9 L*': HL7 v2 table 0078, N for normal, a mark after the letter) or before
-- it ('H 5.6') is dropped: the number is the result, the flag says what the checks work out from
-- it. Tried only when the text is not a plain number (plain_or_flagged, result_number).
CREATE OR REPLACE TEMP MACRO flagged_number(x) AS
    finite(try_cast(regexp_extract(x,
        '(?i)^(?:\(?(?:h|hh|l|ll|hi|lo|high|low|n|a|aa|abn|abnormal)\)?\*?\s+)?([-+]?[0-9]*\.?[0-9]+)\s*'
        || '(\(?(h|hh|l|ll|hi|lo|high|low|n|a|aa|abn|abnormal)\)?(\*+|!+)?|\*+|!+)?$', 1)
        AS DOUBLE));
-- A CASE, not coalesce(): DuckDB 2.0.1 evaluates every argument of a coalesce on every row, and the
-- regular expression on 10 M plain numbers cost 1.4 s.
CREATE OR REPLACE TEMP MACRO plain_or_flagged(x) AS
    CASE WHEN finite(try_cast(x AS DOUBLE)) IS NOT NULL THEN finite(try_cast(x AS DOUBLE))
         ELSE flagged_number(x) END;
-- The text as sent is tried as a plain number first, and nearly every result is one (clean() and the
-- censored test then run on the few others only). It reads the same either way: a text the cast
-- takes is ASCII (the cast skips only ASCII whitespace around the number, and accepts no comparator
-- before it), so clean() would only have trimmed spaces the cast skips too.
CREATE OR REPLACE TEMP MACRO result_number(x) AS
    CASE WHEN contains(x, '_') THEN NULL
         WHEN finite(try_cast(x AS DOUBLE)) IS NOT NULL THEN finite(try_cast(x AS DOUBLE))
         WHEN NOT censored(x) THEN plain_or_flagged(clean(x))
         WHEN result_prefix(x) <> ''
         THEN plain_or_flagged(regexp_replace(clean(x), '^(<=|>=|=<|=>|<|>|≤|≥|=)[\s\p{Z}]*', '')) END;
