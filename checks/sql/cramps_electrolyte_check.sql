-- cramps_electrolyte_check: one row per patient with a cramp recorded in the lookback up to $as_of,
-- aged min_age or more then (or of unknown age).
WITH cramps AS (
    SELECT patient_id, recorded_at, code_original, code_system
    FROM diagnoses_in_window(['muscle_cramps'], $as_of, $lookback_days) c
    -- NOT EXISTS, not NOT IN: on Spark NOT IN is a null-aware anti join, always broadcast
    WHERE NOT EXISTS (SELECT 1 FROM younger_on($min_age, $as_of) y WHERE y.patient_id = c.patient_id)
),
cramp_days AS (
    SELECT DISTINCT patient_id, recorded_at AS cramp_day,
           window_start(recorded_at, $days_before) AS lo,
           least(days_after(recorded_at, $days_after), $as_of::DATE) AS hi
    FROM cramps
),
tests(test, ord) AS (VALUES ('potassium', 1), ('calcium', 2), ('magnesium', 3)),
calcium_results AS (
    -- every calcium result in any form, numbered so that each can take its own same-day albumin
    -- (numbered in a fixed order: the CTE is read twice and must number the same way both times)
    SELECT row_number() OVER (ORDER BY patient_id, collected_at, analyte, value, value_comparator) AS rid,
           patient_id, collected_at, day, analyte, value, value_comparator
    FROM results_by(['calcium', 'calcium_corrected', 'calcium_ionized'], $as_of)
    WHERE patient_id IN (SELECT patient_id FROM cramps)
),
albumin_pairs AS (
    -- a total calcium's albumin: one collected the same day, the nearest in time (ties: the higher
    -- albumin, which gives the lower corrected value, as every tie here leans towards a low result)
    SELECT rid, albumin, albumin_cmp FROM (
        SELECT c.rid, a.value AS albumin, a.value_comparator AS albumin_cmp,
               row_number() OVER (
                   PARTITION BY c.rid
                   ORDER BY abs(epoch(c.collected_at) - epoch(a.collected_at)), a.value DESC,
                            a.value_comparator NULLS FIRST
               ) AS nearest
        FROM calcium_results c
        JOIN blood_results a
          ON a.patient_id = c.patient_id AND a.analyte = 'albumin' AND a.collected_at::DATE = c.day
        WHERE c.analyte = 'calcium'
    )
    WHERE nearest = 1
),
calcium_forms AS (
    -- each calcium result in the form it is judged in: 1 ionised, 2 corrected as reported,
    -- 3 corrected here from the total and a same-day albumin, 4 total alone
    SELECT c.patient_id, c.collected_at, c.day, c.analyte, c.value AS total, c.value_comparator AS total_cmp,
           p.albumin, p.albumin_cmp,
           c.analyte = 'calcium' AND p.albumin IS NOT NULL
               AND corrected_comparator(c.value_comparator, p.albumin_cmp) IS DISTINCT FROM 'unknown'
               AS computed
    FROM calcium_results c
    LEFT JOIN albumin_pairs p USING (rid)
),
calcium_judged AS (
    SELECT patient_id, collected_at, day, total,
           CASE WHEN analyte = 'calcium_ionized' THEN 1 WHEN analyte = 'calcium_corrected' THEN 2
                WHEN computed THEN 3 ELSE 4 END AS form_rank,
           CASE WHEN computed THEN albumin_corrected_calcium(total, albumin, $albumin_reference,
                                                             $albumin_coefficient)
                ELSE total END AS value,
           CASE WHEN computed THEN corrected_comparator(total_cmp, albumin_cmp) ELSE total_cmp END
               AS value_comparator,
           CASE WHEN computed THEN ' (total ' || result_text(total, total_cmp) || ', albumin '
                                   || result_text(albumin, albumin_cmp) || ')'
                ELSE '' END AS working
    FROM calcium_forms
),
calcium_best AS (
    -- ionised, else corrected (reported, else computed), else total: per collection day, only the
    -- best form that day holds is judged
    SELECT *, CASE form_rank WHEN 1 THEN 'ionised calcium' WHEN 4 THEN 'calcium'
                             ELSE 'corrected calcium' END AS label
    FROM calcium_judged
    QUALIFY form_rank = min(form_rank) OVER (PARTITION BY patient_id, day)
),
electrolytes AS (
    -- a censored result counts as a result and is low only when certainly below ('<0.6' is
    -- below 0.7; '>0.6' never is): result_below, _results.sql
    -- (result_text formatted here, once the cramp patients' results are picked: it is costly)
    SELECT patient_id, collected_at, day, value, value_comparator,
           result_text(value, value_comparator) AS result_text, k,
           analyte AS test, analyte AS label, 0.0 AS lean,
           CASE analyte
               WHEN 'potassium' THEN result_below(value, value_comparator, $potassium_low)
               WHEN 'magnesium' THEN result_below(value, value_comparator, $magnesium_low)
           END AS is_low
    FROM results_by(['potassium', 'magnesium'], $as_of)
    WHERE patient_id IN (SELECT patient_id FROM cramps)
    UNION ALL
    SELECT patient_id, collected_at, day, value, value_comparator,
           result_text(value, value_comparator) || working AS result_text,
           latest_key(collected_at, value, value_comparator) AS k,
           -- two totals of one time may correct to one value (2.2949 and 2.2951 with albumin
           -- 39.95: both 2.30): the latest key ties, and the lower total is shown (lean)
           'calcium' AS test, label, -total AS lean,
           CASE form_rank
               WHEN 1 THEN result_below(value, value_comparator, $ionized_calcium_low)
               WHEN 4 THEN result_below(value, value_comparator, $calcium_low)
               ELSE result_below(value, value_comparator, $corrected_calcium_low)
           END AS is_low
    FROM calcium_best
),
per_test AS (
    -- every cramp x every test, with what its window holds
    SELECT c.patient_id, c.cramp_day, t.test, t.ord,
           count(e.value) AS results,
           string_agg(e.label || ' ' || e.result_text || ' on ' || e.day, ', '
                      -- in time order, fully: equal days, labels and values read in another
                      -- file order gave another text
                      ORDER BY e.day, e.label, e.collected_at, e.value, coalesce(e.value_comparator, ''))
                      FILTER (e.is_low) AS low_results
    FROM cramp_days c
    CROSS JOIN tests t
    LEFT JOIN electrolytes e
      ON e.patient_id = c.patient_id AND e.test = t.test AND e.day BETWEEN c.lo AND c.hi
    GROUP BY c.patient_id, c.cramp_day, t.test, t.ord
),
per_cramp AS (
    SELECT patient_id, cramp_day,
           string_agg(test, ', ' ORDER BY ord) FILTER (results = 0) AS missing,
           string_agg(low_results, ', ' ORDER BY ord) AS lows
    FROM per_test
    GROUP BY patient_id, cramp_day
),
problems AS (
    SELECT patient_id,
           string_agg('cramp ' || cramp_day || ': '
                      || concat_ws('; ', 'no ' || missing, 'low ' || lows), ' | ' ORDER BY cramp_day)
               FILTER (missing IS NOT NULL OR lows IS NOT NULL) AS problems,
           -- due_on (#20): the earliest cramp with a problem: a missing test fell due at the end of
           -- its window after the cramp, a low result needed action from the cramp on
           min(CASE WHEN missing IS NOT NULL THEN days_after(cramp_day, $days_after) ELSE cramp_day END)
               FILTER (missing IS NOT NULL OR lows IS NOT NULL) AS due_on,
           bool_or(lows IS NOT NULL) AS any_low
    FROM per_cramp
    GROUP BY patient_id
),
population AS (
    SELECT patient_id, code_labels(code_original, code_system) AS cramp_codes,
           listed(recorded_at::VARCHAR) AS cramp_dates, max(recorded_at) AS last_cramp_at
    FROM cramps
    GROUP BY patient_id
),
latest AS (
    SELECT patient_id,
           max(day) FILTER (test = 'potassium') AS last_potassium_at,
           arg_max(result_text, k) FILTER (test = 'potassium') AS last_potassium,
           max(day) FILTER (test = 'calcium') AS last_calcium_at,
           arg_max(label || ' ' || result_text, (k, lean)) FILTER (test = 'calcium') AS last_calcium,
           max(day) FILTER (test = 'magnesium') AS last_magnesium_at,
           arg_max(result_text, k) FILTER (test = 'magnesium') AS last_magnesium
    FROM electrolytes
    GROUP BY patient_id
)
SELECT
    patient_id,
    x.problems IS NOT NULL AS flagged,
    flag_priority(flagged, x.any_low) AS priority,
    flag_reason(flagged,
        'potassium, calcium and magnesium around muscle cramps (' || $days_before || ' days before to '
        || $days_after || ' days after): ' || x.problems) AS reason,
    x.due_on,
    p.cramp_codes, p.cramp_dates, p.last_cramp_at, x.problems,
    l.last_potassium_at, l.last_potassium, l.last_calcium_at, l.last_calcium,
    l.last_magnesium_at, l.last_magnesium
FROM population p
LEFT JOIN problems x USING (patient_id)
LEFT JOIN latest l USING (patient_id)
ORDER BY patient_id
