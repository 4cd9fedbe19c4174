-- numbness_neuropathy_workup: one row per patient with numbness or neuropathy recorded in the lookback.
WITH numbness AS (
    SELECT patient_id, codes AS numbness_codes, first_at AS first_numbness_at, last_at AS last_numbness_at
    FROM diagnosed_in_window(['numbness_neuropathy'], $as_of, $lookback_days)
),
tests AS (
    -- Latest numeric results on or before as-of; whether they fall in the window is judged below,
    -- so the evidence also shows how overdue an older test is.
    SELECT patient_id,
           max(day) FILTER (analyte IN ('glucose', 'hba1c')) AS last_glucose_or_hba1c_at,
           max(day) FILTER (analyte = 'vitamin_b12') AS last_b12_at,
           -- a censored B12 ('>2000') is a B12 result, shown as written; latest by timestamp
           result_text_of(arg_max(result, k) FILTER (analyte = 'vitamin_b12')) AS last_b12
    FROM results_by(['glucose', 'hba1c', 'vitamin_b12'], $as_of)
    WHERE patient_id IN (SELECT patient_id FROM numbness)
    GROUP BY patient_id
),
b12_given AS (
    -- vitamin B12 replacement (hydroxocobalamin injections, oral cyanocobalamin): every prescription
    -- up to as-of, with its course_end (with no end date and no days supply, one injection interval,
    -- b12_course_days, not for ever, unless the export says it is still taken) and the last day the earlier ones leave no break yet
    -- (prior_until: the latest of their ends, each at least one interval from its start, as an
    -- injection recorded as a one-day supply lasts months, plus another interval, so a missed or
    -- late injection is no new start). A multivitamin or a combination (RxNorm names
    -- 'ascorbic acid / cyanocobalamin / ...', 'pregabalin and methylcobalamin') is no replacement,
    -- nor a vitamin B complex (ATC A11).
    SELECT e.patient_id, e.drug_name, e.start_date,
           course_end(e.start_date, e.planned_end, e.said_ongoing, e.end_effective, $b12_course_days)
               AS course_end,
           earlier_until(days_after(greatest(coalesce(course_end(e.start_date, e.planned_end, e.said_ongoing,
                                                                 e.end_effective, $b12_course_days),
                                                      $as_of),
                                             days_after(e.start_date, $b12_course_days)), $b12_course_days),
                         e.patient_id, e.start_date) AS prior_until
    FROM drugs_started_by(['b12_replacement'], $as_of) e
    WHERE e.patient_id IN (SELECT patient_id FROM numbness)
      AND NOT starts_with(coalesce(e.atc_code, ''), 'A11')
      AND NOT is_combination(e.drug_name)
      AND NOT regexp_matches(lower(e.drug_name), '[a-z0-9]\s*,\s*[a-z]|multi|complex|compound|fol(ic|ate)')
),
b12_treated AS (
    -- B12 replacement taken in the work-up window (b12_replacement) and when its course began
    -- (b12_since: the last start after a break, begins_course). A course begun before the numbness
    -- was first recorded means the deficiency was found and is being treated, which is what the B12
    -- test would find out, and once injections have started a serum B12 no longer guides treatment
    -- (BSH 2014). B12 started for the numbness itself without a level (mecobalamin for neuropathy)
    -- leaves the B12 result due, even after a course that ended long before.
    SELECT patient_id,
           listed(CASE WHEN ongoing_on(course_end, window_start($as_of, $workup_days)) THEN drug_name END)
               AS b12_replacement,
           max(start_date) FILTER (begins_course(start_date, prior_until)) AS b12_since
    FROM b12_given
    GROUP BY patient_id
),
judged AS (
    SELECT n.*, t.last_glucose_or_hba1c_at, t.last_b12_at, t.last_b12, r.b12_replacement,
           coalesce(t.last_glucose_or_hba1c_at >= window_start($as_of, $workup_days), false) AS has_glucose,
           coalesce(t.last_b12_at >= window_start($as_of, $workup_days), false)
               OR coalesce(r.b12_replacement IS NOT NULL AND r.b12_since < n.first_numbness_at, false)
               AS has_b12,
           -- a result on day d covers the work-up through d + workup_days (#20, due_on)
           days_after(t.last_glucose_or_hba1c_at, $workup_days) AS glucose_covered_to,
           days_after(t.last_b12_at, $workup_days) AS b12_covered_to
    FROM numbness n
    LEFT JOIN tests t USING (patient_id)
    LEFT JOIN b12_treated r USING (patient_id)
)
SELECT
    patient_id,
    NOT (has_glucose AND has_b12) AS flagged,
    flag_priority(flagged, NOT has_glucose AND NOT has_b12) AS priority,
    flag_reason(flagged,
        'numbness or neuropathy recorded ' || last_numbness_at || ' with no '
        || CASE WHEN NOT has_glucose AND NOT has_b12 THEN 'glucose or HbA1c, and no vitamin B12'
                WHEN NOT has_glucose THEN 'glucose or HbA1c' ELSE 'vitamin B12' END
        || ' result in the ' || $workup_days || ' days to ' || $as_of) AS reason,
    -- due_on (flagged only: a work-up is due once, at presentation, so there is no next due date):
    -- the first record of the symptom in the lookback, or later when an earlier test still covered
    -- the work-up then, until the first missing test stopped covering it
    CASE WHEN flagged THEN greatest(first_numbness_at, least(
        CASE WHEN NOT has_glucose THEN coalesce(glucose_covered_to, first_numbness_at) END,
        CASE WHEN NOT has_b12 THEN coalesce(b12_covered_to, first_numbness_at) END)) END AS due_on,
    numbness_codes, last_numbness_at, last_glucose_or_hba1c_at, last_b12_at, last_b12, b12_replacement
FROM judged
ORDER BY patient_id
