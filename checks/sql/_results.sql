-- The checks' vocabulary for lab results: small macros every check composes, each with its own spec
-- test (tests/unit/test_check_vocabulary.py). Created per connection (TEMP) before _concepts.sql. The
-- phrases over the concept views (drugs active on a day, diagnosed in a window, results by a day,
-- the flag's priority) are in _phrases.sql, created after it.

-- A censored result ('<2.5', '>60') is a measured result whose value is its bound. A threshold is
-- judged the way a clinician reads it, with "certainly" semantics: a result is below a threshold
-- only when its true value must be below it.
--   plain 3.2 below 3.5: 3.2 < 3.5            '<3.5' below 3.5: yes (the true value is under 3.5)
--   '<=3.5' below 3.5: no (it may be 3.5)     '>2.5' or '>=2.5' below anything: never known
-- result_above is the mirror image. A NULL value (no numeric result) is neither: NULL.
CREATE OR REPLACE TEMP MACRO result_below(value, comparator, threshold) AS
    CASE WHEN value IS NULL THEN NULL
         WHEN comparator IN ('>', '>=') THEN false
         WHEN comparator = '<' THEN value <= threshold
         ELSE value < threshold  -- plain, or '<=' (which may equal its bound)
    END;
CREATE OR REPLACE TEMP MACRO result_above(value, comparator, threshold) AS
    CASE WHEN value IS NULL THEN NULL
         WHEN comparator IN ('<', '<=') THEN false
         WHEN comparator = '>' THEN value >= threshold
         ELSE value > threshold  -- plain, or '>=' (which may equal its bound)
    END;

-- A fall of at least `amount` from an earlier result to a later one, known only when certain: the
-- earlier result's true value is at least its bound (plain, '>' or '>='), the later one's at most
-- its bound (plain, '<' or '<='); '<5.5' -> 4.0 or 5.0 -> '>3.9' is no known fall. Rounded to 0.001
-- so 4.5 -> 3.5 is exactly 1.0 despite floating point.
CREATE OR REPLACE TEMP MACRO result_fell(prev_value, prev_comparator, value, comparator, amount) AS
    coalesce(prev_comparator, '') NOT IN ('<', '<=')
    AND coalesce(comparator, '') NOT IN ('>', '>=')
    AND round(prev_value - value, 3) >= amount;

-- A result as a clinician reads it: the comparator, then the value in the canonical unit to two
-- decimals (3.2, <2.5, >2000.0, 45.0), as the checks' evidence has always shown values; a value
-- under 0.1 keeps two significant digits instead, so a small bound never reads as 0 ('<0.004').
CREATE OR REPLACE TEMP MACRO result_text(value, comparator) AS
    coalesce(comparator, '')
    || CASE WHEN abs(value) >= 0.1 OR value = 0 THEN CAST(round(value, 2) AS VARCHAR)
            ELSE printf('%.2g', value) END;

-- A result kept whole, to pick with arg_max and show once (result_text_of) rather than formatting
-- every candidate row: arg_max(result_of(value, value_comparator), latest_key(...)).
CREATE OR REPLACE TEMP MACRO result_of(value, comparator) AS {'value': value, 'comparator': comparator};
CREATE OR REPLACE TEMP MACRO result_text_of(result) AS result_text(result.value, result.comparator);

-- "The last result by time": the sort key to give arg_max, so that
-- arg_max(x, latest_key(collected_at, value, value_comparator)) is x of the latest result. The full
-- timestamp decides; several results on one identical timestamp (duplicates of one draw, or a
-- date-only export) are resolved towards the lowest: the smaller value, and at an equal value '<'
-- before '<=' before a plain result before '>=' before '>'. Every check here looks for low results,
-- so a tie never hides one, and the choice does not depend on row order.
CREATE OR REPLACE TEMP MACRO latest_key(collected_at, value, comparator) AS
    (collected_at, -value,
     CASE comparator WHEN '<' THEN 2 WHEN '<=' THEN 1 WHEN '>=' THEN -1 WHEN '>' THEN -2 ELSE 0 END);

-- Albumin-corrected ("adjusted") calcium from a total calcium (mmol/L) and an albumin (g/L), the
-- standard correction of Payne et al. (BMJ 1973;4:643): total + coefficient x (reference - albumin),
-- with coefficient 0.02 mmol/L per g/L and reference 40 g/L (mg/dL form: + 0.8 x (4.0 - albumin g/dL)).
-- Rounded to two decimals, as laboratories report it.
CREATE OR REPLACE TEMP MACRO albumin_corrected_calcium(total, albumin, reference, coefficient) AS
    round(total + coefficient * (reference - albumin), 2);
-- The comparator of that corrected value when either input is censored. Albumin enters with a minus
-- sign, so an albumin '<20' makes the corrected value a lower bound ('>'). Bounds of the same side
-- combine (strict when either is); bounds of opposite sides ('<2.0' with albumin '<20') say nothing
-- about the corrected value: 'unknown', and the caller judges the total instead. Plain: NULL.
CREATE OR REPLACE TEMP MACRO corrected_comparator(total_cmp, albumin_cmp) AS
    CASE
        WHEN total_cmp IS NULL AND albumin_cmp IS NULL THEN NULL
        WHEN albumin_cmp IS NULL THEN total_cmp
        WHEN total_cmp IS NULL THEN CASE albumin_cmp WHEN '<' THEN '>' WHEN '<=' THEN '>='
                                                     WHEN '>' THEN '<' ELSE '<=' END
        WHEN (total_cmp IN ('<', '<=')) = (albumin_cmp IN ('>', '>='))
            THEN CASE WHEN total_cmp IN ('<', '<=')
                      THEN CASE WHEN '<' IN (total_cmp, CASE albumin_cmp WHEN '>' THEN '<' END) THEN '<' ELSE '<=' END
                      ELSE CASE WHEN '>' IN (total_cmp, CASE albumin_cmp WHEN '<' THEN '>' END) THEN '>' ELSE '>=' END
                 END
        ELSE 'unknown'
    END;

-- eGFR (mL/min/1.73m2) estimated from a serum creatinine (umol/L), the age in completed years and
-- the sex, by the race-free CKD-EPI 2021 creatinine equation (Inker et al., N Engl J Med
-- 2021;385:1737; recommended by the NKF-ASN task force 2021): 142 x min(Scr/k, 1)^a x
-- max(Scr/k, 1)^-1.200 x 0.9938^age, x 1.012 for a woman; Scr in mg/dL (umol/L / 88.42, the
-- conversion lab_concepts uses), k 0.7 (F) or 0.9 (M), a -0.241 (F) or -0.302 (M). Rounded to a
-- whole number, as laboratories report eGFR. With a sex other than F or M (or none), the higher of
-- the two, so that an estimate below a threshold is below it whatever the sex ("certainly below").
-- NULL under 18 (the equation is for adults) and for a creatinine under 20 umol/L (0.23 mg/dL: no
-- adult's serum creatinine, but a mg/dL value exported without its unit, 6.1 read as 6.1 umol/L).
CREATE OR REPLACE TEMP MACRO ckd_epi_2021_of(creatinine, age, female) AS
    round(142 * pow(least(creatinine / 88.42 / CASE WHEN female THEN 0.7 ELSE 0.9 END, 1.0),
                    CASE WHEN female THEN -0.241 ELSE -0.302 END)
              * pow(greatest(creatinine / 88.42 / CASE WHEN female THEN 0.7 ELSE 0.9 END, 1.0), -1.2)
              * pow(0.9938, age) * CASE WHEN female THEN 1.012 ELSE 1.0 END, 0);
CREATE OR REPLACE TEMP MACRO ckd_epi_2021(creatinine, age, sex) AS
    CASE WHEN age >= 18 AND creatinine >= 20 THEN
        CASE coalesce(sex, '') WHEN 'F' THEN ckd_epi_2021_of(creatinine, age, true)
                               WHEN 'M' THEN ckd_epi_2021_of(creatinine, age, false)
             ELSE greatest(ckd_epi_2021_of(creatinine, age, true), ckd_epi_2021_of(creatinine, age, false)) END
    END;
