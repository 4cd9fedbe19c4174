-- nsaid_kidney_disease: one row per patient with a systemic NSAID taken on $as_of.
WITH systemic AS (
    -- every systemic NSAID prescription up to as-of (a gel, cream, patch or eye drop is never
    -- systemic exposure; a 'liquid gel' capsule is oral), read once, each with the last day the
    -- earlier ones leave no break yet (prior_until: the latest course end, an undated one's
    -- open_course_days included, plus the whole refill_gap_days, stopped or run out; one the export
    -- says is still taken runs up to as-of)
    SELECT e.patient_id, e.drug_name, e.start_date, e.planned_end, e.said_ongoing, e.end_effective,
           e.stopped,
           earlier_until(coalesce(days_after(course_end(e.start_date, e.planned_end, e.said_ongoing,
                                                        e.end_effective, $open_course_days),
                                             $refill_gap_days),
                                  $as_of),
                         e.patient_id, e.start_date) AS prior_until
    FROM drugs_started_by(['nsaids_systemic'], $as_of) e
    WHERE NOT is_topical(e.product_id)
),
active AS (
    SELECT patient_id, drug_name, start_date
    FROM systemic
    -- with no end date and no days supply an NSAID is a course, not forever: active for
    -- $open_course_days from its start (PINCER: "prescribed in the last 3 months"), or to a death
    -- before that (end_effective); a death later on does not make an open course run to it. One the
    -- export says is still taken (said_ongoing: Synthea's empty STOP) runs, to a death.
    -- A dated one is taken up to refill_gap_days after its end (taken_until: at most the course's
    -- own length, none after a stop), so a repeat naproxen collected a few days late is still taken
    -- between two issues, as in every check that asks whether a drug is taken (review 2026-12-03)
    WHERE ongoing_on(course_end(start_date, planned_end, said_ongoing, end_effective, $open_course_days), $as_of)
       OR (planned_end IS NOT NULL AND still_taken(start_date, end_effective, stopped, $as_of, $refill_gap_days))
),
course AS (
    -- when this course of NSAIDs started: the last start after a break of more than refill_gap_days
    -- with none (begins_course), as the diuretic course is read. Monthly repeats, a renewal or a
    -- switch to another NSAID keep the first start, so nsaid_since (and due_on, and a review's
    -- fingerprint) does not move with each issue; an NSAID taken again after a longer break is a
    -- new course
    SELECT patient_id, max(start_date) FILTER (begins_course(start_date, prior_until)) AS nsaid_since
    FROM systemic
    GROUP BY patient_id
),
population AS (
    SELECT a.patient_id, listed(a.drug_name) AS nsaids, any_value(c.nsaid_since) AS nsaid_since
    FROM active a
    JOIN course c USING (patient_id)
    GROUP BY a.patient_id
),
restaged AS (
    -- the latest CKD stage 1 or 2 code by as-of: CKD is staged by its latest code (QOF's CKD
    -- register), so a stage 3 code recorded before it was re-staged, after eGFR recovered
    SELECT patient_id, max(recorded_at) AS restaged_at
    FROM diagnoses_by(['ckd_stage1_2'], $as_of)
    WHERE patient_id IN (SELECT patient_id FROM population)
    GROUP BY patient_id
),
ckd AS (
    SELECT c.patient_id, code_labels(c.code_original, c.code_system) AS ckd_codes,
           min(c.recorded_at) AS ckd_since,
           bool_or(c.codelist = 'ckd_stage4plus') AS severe_ckd
    FROM lasting_unresolved_on(['ckd_stage3plus', 'ckd_stage4plus'], $as_of) c
    LEFT JOIN restaged r ON r.patient_id = c.patient_id
    WHERE c.patient_id IN (SELECT patient_id FROM population)
      -- a stage 3 code on the day of the stage 1-2 one still counts (which came last is unknown); a
      -- stage 4-5, ESRD or dialysis code is never re-staged (a kidney recovering from stage 4 is
      -- rare, a transplanted one still calls for avoiding NSAIDs, and one stage 2 code from another
      -- clinician must not hide dialysis)
      AND (c.codelist = 'ckd_stage4plus' OR r.restaged_at IS NULL OR c.recorded_at >= r.restaged_at)
    GROUP BY c.patient_id
),
reported_egfr AS (
    SELECT patient_id, collected_at, day, result, k
    FROM results_by(['egfr'], $as_of)
    WHERE patient_id IN (SELECT patient_id FROM population)
),
estimated_egfr AS (
    -- a creatinine collected on a day with no eGFR reported, as exports without a laboratory's eGFR
    -- (MIMIC, many US exports) have it: the eGFR estimated from it (ckd_epi_2021, the age on the day
    -- and the sex); a censored creatinine gives none. The laboratory's own eGFR of that day stands,
    -- even at another time of day (the same sample's results a few minutes apart, or a date-only eGFR
    -- beside a timed creatinine): near 60 a UK laboratory's CKD-EPI 2009 reads a few units below it
    -- With no birth date (or no patients row) the age is unknown, and CKD-EPI falls with age: the
    -- estimate at 18 is the highest any adult's could be. Kept as that bound ('<=31') only from the
    -- patient's latest creatinine and only when below egfr_threshold (certainly below it); an older
    -- one is not the latest eGFR when a newer creatinine says nothing (creatinine 60: at least 77 at
    -- any adult age), and a higher bound says nothing either: the latest eGFR is then as it was
    SELECT *
    FROM (
        SELECT c.patient_id, c.collected_at, c.day, c.value AS creatinine, c.value_comparator,
               s.birth_date IS NULL AS age_unknown,
               ckd_epi_2021(c.value, coalesce(age_on(s.birth_date, c.day), 18), s.sex) AS estimate,
               c.collected_at = max(c.collected_at) OVER (PARTITION BY c.patient_id) AS latest_creatinine
        FROM results_by(['creatinine'], $as_of) c
        LEFT JOIN src_patient_state s USING (patient_id)
        WHERE c.patient_id IN (SELECT patient_id FROM population)
    ) c
    WHERE c.value_comparator IS NULL
      AND NOT EXISTS (SELECT 1 FROM reported_egfr r WHERE r.patient_id = c.patient_id AND r.day = c.day)
      AND (NOT c.age_unknown OR (c.latest_creatinine AND c.estimate < $egfr_threshold))
),
egfr AS (
    -- the latest eGFR by timestamp (latest_key), reported or estimated, judged on its bound when
    -- censored: a '>60' (as laboratories report a normal eGFR) is not below 60, a '<15' is below 30
    SELECT patient_id, max(day) AS latest_egfr_at, arg_max(latest, k) AS latest
    FROM (
        SELECT patient_id, day, k, {'egfr': result, 'creatinine': CAST(NULL AS DOUBLE), 'age_unknown': false} AS latest
        FROM reported_egfr
        UNION ALL
        SELECT patient_id, day, latest_key(collected_at, estimate, NULL),
               {'egfr': result_of(estimate, CASE WHEN age_unknown THEN '<=' END), 'creatinine': creatinine,
                'age_unknown': age_unknown}
        FROM estimated_egfr
        WHERE estimate IS NOT NULL
    )
    GROUP BY patient_id
),
judged AS (
    SELECT p.*, c.ckd_codes, c.ckd_since, g.latest_egfr_at,
           result_text_of(g.latest.egfr)
           || CASE WHEN g.latest.creatinine IS NOT NULL
                   THEN ' (CKD-EPI 2021' || CASE WHEN g.latest.age_unknown THEN ' at 18, age unknown,' ELSE '' END
                        || ' from creatinine ' || result_text(g.latest.creatinine, NULL) || ' umol/L)'
                   ELSE '' END AS latest_egfr,
           c.ckd_codes IS NOT NULL AS has_ckd,
           coalesce(c.severe_ckd, false) AS severe_ckd,
           coalesce(result_below(g.latest.egfr.value, g.latest.egfr.comparator, $egfr_threshold), false)
               AS low_egfr,
           coalesce(result_below(g.latest.egfr.value, g.latest.egfr.comparator, $egfr_severe), false)
               AS very_low_egfr
    FROM population p
    LEFT JOIN ckd c USING (patient_id)
    LEFT JOIN egfr g USING (patient_id)
)
SELECT
    patient_id,
    has_ckd OR low_egfr AS flagged,
    flag_priority(flagged, very_low_egfr OR severe_ckd) AS priority,
    flag_reason(flagged,
        'on ' || nsaids || ' with '
        || concat_ws('; ',
               CASE WHEN severe_ckd THEN 'CKD stage 4-5, end-stage renal disease or dialysis coded ' || ckd_codes
                    WHEN has_ckd THEN 'CKD stage 3 or worse coded ' || ckd_codes END,
               CASE WHEN low_egfr THEN 'latest eGFR ' || latest_egfr || ' on ' || latest_egfr_at END)) AS reason,
    -- due_on (#20): the day the NSAID and the kidney disease (coded, or the low eGFR) first coexisted
    CASE WHEN flagged THEN greatest(nsaid_since, least(CASE WHEN has_ckd THEN ckd_since END,
                                                       CASE WHEN low_egfr THEN latest_egfr_at END)) END AS due_on,
    nsaids, nsaid_since, ckd_codes, ckd_since, latest_egfr_at, latest_egfr
FROM judged
ORDER BY patient_id
