-- insulin_potassium_drop: one row per patient with insulin active in the lookback up to $as_of.
WITH insulin_products AS (
    -- Which drug descriptors the insulins codelist matched are insulin. A product that names an
    -- insulin (an insulin ingredient or brand: 'NovoRapid PumpCart', 'insulin lispro for insulin
    -- pump') or is coded as one (ATC A10A, an insulin RxNorm code) is insulin, whatever device word
    -- its name also carries. A row matched only by the class word 'insulin' (or a class-level brand
    -- such as Hypurin) is a supply or device when its name has a device word as a whole word
    -- (syringe, needle, lancet, test strip, pump, reservoir, infusion set, cannula, pod). Insulin-like
    -- growth factor (mecasermin, Increlex) is not insulin at all.
    SELECT product_id
    FROM drug_concepts
    WHERE codelist = 'insulins'
    GROUP BY product_id, drug_name
    HAVING NOT regexp_matches(lower(drug_name), '(insulin[^a-z]*like|mecasermin|increlex|(^|[^a-z])igf[^a-z]*(1|i)([^a-z0-9]|$))')
       AND (bool_or(matched_by <> 'name' OR NOT starts_with(ingredient, '<'))
            OR NOT regexp_matches(lower(drug_name),
                                  '(^|[^a-z])(syringes?|needles?|lancets?|(test )?strips?|pumps?|reservoirs?'
                                  || '|infusion sets?|cannulae?|cannulas|pods?)([^a-z]|$)'))
),
insulin_courses AS (
    -- every insulin course whose refill gap reaches into the lookback: a supply that ended just
    -- before the lookback still covers the results of its gap
    SELECT e.patient_id, e.drug_name, e.start_date, e.end_effective, e.stopped,
           active_in_window(e.start_date, e.end_effective, $as_of, $lookback_days) AS in_lookback
    FROM drugs_active_in_window(['insulins'], $as_of,
                                CAST($lookback_days AS INTEGER) + CAST($refill_gap_days AS INTEGER)) e
    JOIN insulin_products p ON p.product_id = e.product_id
),
insulin AS (
    -- the population: insulin active at some time in the lookback
    SELECT patient_id, listed(drug_name) AS insulins, min(start_date) AS insulin_since
    FROM insulin_courses
    WHERE in_lookback
    GROUP BY patient_id
),
potassium_lowering AS (
    -- the diuretics that lower potassium: one with an ingredient known and not in
    -- diuretics_not_potassium_lowering (spironolactone, eplerenone, amiloride; tolvaptan, which
    -- point a reviewer the wrong way), a loop or thiazide alone or in a combination (co-amilofruse);
    -- or one known only by its class (<diuretic>, ATC C03 with no ingredient): shown, as before
    SELECT c.product_id
    FROM drug_concepts c
    LEFT JOIN codelist n ON n.codelist = 'diuretics_not_potassium_lowering' AND n.code = c.ingredient
    WHERE c.codelist = 'diuretics'
    GROUP BY c.product_id
    HAVING bool_or(n.code IS NULL AND NOT starts_with(coalesce(c.ingredient, '<'), '<'))
        OR NOT bool_or(NOT starts_with(coalesce(c.ingredient, '<'), '<'))
),
diuretic AS (
    -- a potassium-lowering diuretic active at some time in the lookback on or after insulin
    -- started: shown, not judged
    SELECT d.patient_id, listed(d.drug_name) AS concurrent_diuretics
    FROM drugs_started_by(['diuretics'], $as_of) d
    JOIN insulin i USING (patient_id)
    JOIN potassium_lowering k ON k.product_id = d.product_id
    WHERE ongoing_on(d.end_effective, greatest(window_start($as_of, $lookback_days), i.insulin_since))
    GROUP BY d.patient_id
),
latest AS (
    -- the latest result up to as-of, in the lookback or before it (evidence, and the priority)
    SELECT patient_id, max(day) AS last_potassium_at,
           -- by its full timestamp (two results of one day: the later one)
           arg_max(result_text, k) AS last_potassium,
           coalesce(arg_max(result_below(value, value_comparator, $potassium_low), k), false) AS last_low
    FROM results_by(['potassium'], $as_of)
    WHERE patient_id IN (SELECT patient_id FROM insulin)
    GROUP BY patient_id
),
potassium_history AS (
    -- every result of the patients ever on insulin, whatever the as-of date: what drawn, series and
    -- runs compute from a result reads only the results before it, so they are the same up to any
    -- as-of date, and the monthly measures compute them once rather than once a month (the as-of
    -- cut is made in `recent`)
    SELECT *
    FROM results_of(['potassium'])
    WHERE patient_id IN (SELECT patient_id FROM patients_on_drugs(['insulins']))
),
drawn AS (
    -- every result up to as-of, one per timestamp: several on one identical timestamp (one draw
    -- sent twice, or a date-only export) count as the lowest, as "the latest result" does
    -- (latest_key), so two results of one draw never make a fall; `high`: any of them was above
    -- potassium_high (a date-only export's 6.6 and 4.9 of the day hyperkalaemia was treated)
    SELECT *,
           bool_or(result_above(value, value_comparator, $potassium_high))
               OVER (PARTITION BY patient_id, collected_at) AS high
    FROM potassium_history
    QUALIFY row_number() OVER (PARTITION BY patient_id, collected_at ORDER BY k DESC) = 1
),
series AS (
    -- the blood potassium series, so "consecutive" is judged on every result in it; a censored
    -- result ('<2.5') takes part with its bound
    SELECT b.patient_id, b.collected_at, b.day, b.value, b.value_comparator, b.k, b.result_text, b.high,
           lag(b.day) OVER w AS prev_day,
           lag(b.value) OVER w AS prev_value,
           lag(b.value_comparator) OVER w AS prev_comparator,
           lag(b.result_text) OVER w AS prev_text
    FROM drawn b
    WINDOW w AS (PARTITION BY b.patient_id ORDER BY b.collected_at)
),
runs AS (
    -- falling runs: a result no higher than the one before, within max_gap_days of it, continues
    -- the run; any other begins one. Hyperkalaemia treated with insulin and glucose is sampled in
    -- steps (6.6 -> 4.9 -> 3.8 in a day): that is one fall, from 6.6. Judged on every result up to
    -- as-of, so a run that began before the lookback is seen whole. Each result with when its run
    -- began and when the last result before it above potassium_high was collected (read from the
    -- results before it, so the same up to any as-of date, like the series above): one window,
    -- where a second partitioned by run cost a sort of the whole series again
    SELECT *,
           max(CASE WHEN begins_run THEN collected_at END) OVER w_before_and_now AS run_began,
           max(CASE WHEN high THEN collected_at END) OVER w_before AS last_high_at
    FROM (SELECT *,
                 NOT coalesce(prev_day IS NOT NULL AND value <= prev_value
                              AND days_between(prev_day, day) <= CAST($max_gap_days AS INTEGER), false)
                     AS begins_run
          FROM series)
    WINDOW w_before_and_now AS (PARTITION BY patient_id ORDER BY collected_at ROWS UNBOUNDED PRECEDING),
           w_before AS (PARTITION BY patient_id ORDER BY collected_at
                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
runs_high AS (
    -- the last day before each result that its falling run was above potassium_high: the last high
    -- result before it, when that was collected since its run began (results are one per timestamp)
    SELECT *, CASE WHEN last_high_at >= run_began THEN CAST(last_high_at AS DATE) END AS high_on
    FROM runs
),
recent AS (
    -- the results in the lookback (a fall needs both of its results there: one before it never
    -- starts one)
    SELECT *
    FROM runs_high
    WHERE in_window(day, $as_of, $lookback_days)
      AND patient_id IN (SELECT patient_id FROM insulin)
),
insulin_days AS (
    -- the days a result was collected while on insulin: from a course's start to its end, and up to
    -- refill_gap_days after it (a days supply is an estimate; the next repeat often comes late)
    SELECT DISTINCT s.patient_id, s.day
    FROM recent s
    JOIN insulin_courses c  -- recent holds only the population's patients
      ON c.patient_id = s.patient_id
     AND taken_on(c.start_date, c.end_effective, c.stopped, s.day, $refill_gap_days)
),
marked AS (
    -- "after insulin": a low result, and the later result of a fall, count only when collected while
    -- on insulin (insulin_days: not weeks after the last course stopped);
    -- a fall is the correction of hyperkalaemia when its falling run was above the upper limit
    -- within max_gap_days before its later result (an overshoot below potassium_low is still a
    -- low result; a slow decline weeks after a borderline high is not excused by it)
    SELECT s.*,
           o.patient_id IS NOT NULL AS on_insulin,
           result_below(s.value, s.value_comparator, $potassium_low) AS is_low,
           s.prev_day >= window_start($as_of, $lookback_days)
               AND days_between(s.prev_day, s.day) <= CAST($max_gap_days AS INTEGER)
               AND result_fell(s.prev_value, s.prev_comparator, s.value, s.value_comparator, $fall_mmol)
               AND NOT coalesce(days_between(s.high_on, s.day) <= CAST($max_gap_days AS INTEGER), false)
               AS is_fall
    FROM recent s
    LEFT JOIN insulin_days o ON o.patient_id = s.patient_id AND o.day = s.day
),
potassium AS (
    SELECT patient_id,
           string_agg(day || ': ' || result_text, '; ' ORDER BY collected_at, value) AS potassium_results,
           string_agg(result_text || ' on ' || day, '; ' ORDER BY collected_at, value)
               FILTER (on_insulin AND is_low) AS low_potassium,
           string_agg(prev_text || ' -> ' || result_text
                      || ' (' || prev_day || ' -> ' || day || ')', '; ' ORDER BY collected_at, value)
               FILTER (on_insulin AND is_fall) AS potassium_falls,
           -- what flags, as booleans: the texts above are evidence (not evaluated for the monthly measures)
           coalesce(bool_or(on_insulin AND (is_low OR is_fall)), false) AS hit,
           coalesce(bool_or(result_below(value, value_comparator, $potassium_severe))
                        FILTER (on_insulin), false) AS any_severe,
           -- the first low result or fall on insulin in the lookback: when action fell due (due_on)
           min(day) FILTER (on_insulin AND (is_low OR is_fall)) AS first_hit_at
    FROM marked
    GROUP BY patient_id
),
judged AS (
    SELECT i.*, p.potassium_results, p.low_potassium, p.potassium_falls, p.first_hit_at,
           l.last_potassium_at, l.last_potassium, d.concurrent_diuretics, p.hit,
           coalesce(p.any_severe OR l.last_low, false) AS urgent
    FROM insulin i
    LEFT JOIN potassium p USING (patient_id)
    LEFT JOIN latest l USING (patient_id)
    LEFT JOIN diuretic d USING (patient_id)
)
SELECT
    patient_id,
    coalesce(hit, false) AS flagged,
    flag_priority(flagged, urgent) AS priority,
    flag_reason(flagged,
        'on insulin (' || insulins || ')'
        || coalesce('; potassium below ' || $potassium_low || ' mmol/L: ' || low_potassium, '')
        || coalesce('; potassium fell by ' || $fall_mmol || ' mmol/L or more within '
                    || $max_gap_days || ' days: ' || potassium_falls, '')
        || ' in the ' || $lookback_days || ' days to ' || $as_of
        || coalesce('; also on a diuretic (' || concurrent_diuretics || ')', '')) AS reason,
    CASE WHEN flagged THEN first_hit_at END AS due_on,
    insulins, insulin_since, potassium_results, low_potassium, potassium_falls,
    last_potassium_at, last_potassium, concurrent_diuretics
FROM judged
ORDER BY patient_id
