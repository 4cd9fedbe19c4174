-- diuretic_electrolyte_monitoring: one row per patient taking a diuretic on $as_of.
WITH prescribed_on_as_of AS (
    -- taken on as-of: a prescription running on it, or one that ended up to refill_gap_days before
    -- it (28-day repeats collected every 31 days leave a long-term user a few days between issues;
    -- the gap is at most the course's own length, so a 5-day course is not taken for 30 days more)
    SELECT patient_id, product_id, drug_name, rxnorm_code, atc_code, start_date, end_effective, stopped
    FROM drugs_taken_on(['diuretics'], $as_of, $refill_gap_days)
),
systemic AS (
    -- a cream or other topical form of a diuretic (spironolactone 5% cream for acne or hair loss) is
    -- not systemic exposure and needs no electrolyte monitoring: is_topical, the one topical definition
    SELECT d.*
    FROM prescribed_on_as_of d
    WHERE NOT is_topical(d.product_id)
),
skin_products AS (
    -- whether a diuretic product is one given alone for the skin (diuretics_for_skin: spironolactone):
    -- every ingredient diuretics and beta_blockers give it is spironolactone or a class (ATC C03 says
    -- nothing), so a combination (Aldactazide, or Spiroprop, which beta_blockers knows holds
    -- propranolol: the only spironolactone combination outside the diuretics) is not, nor a drug
    -- neither list gives spironolactone; nor a product whose name lists a second drug or whose ATC
    -- code is not an aldosterone antagonist's alone (C03DA): C03EA04, spironolactone with altizide,
    -- a thiazide no codelist knows. A property of the product, read from the concepts (small)
    SELECT c.product_id,
           bool_or(s.code IS NOT NULL)
               AND bool_and(s.code IS NOT NULL OR c.ingredient IS NULL OR starts_with(c.ingredient, '<'))
               AND NOT is_combination(c.drug_name)
               AND (c.atc_code IS NULL OR starts_with(c.atc_code, 'C03DA'))
               AS for_skin
    FROM drug_concepts c
    LEFT JOIN codelist s ON s.codelist = 'diuretics_for_skin' AND s.code = c.ingredient
    WHERE c.codelist IN ('diuretics', 'beta_blockers')
    GROUP BY c.product_id, c.drug_name, c.atc_code
),
skin_age_women AS (
    -- the women aged skin_min_age to skin_max_age on as-of: the only patients the exception below
    -- can leave out, and the only ones whose records it reads (an unknown sex or birth date: none)
    SELECT patient_id
    FROM src_patient_state
    WHERE CAST($skin_max_age AS INTEGER) > 0
      AND sex = 'F'
      AND age_on(birth_date, $as_of) BETWEEN CAST($skin_min_age AS INTEGER) AND CAST($skin_max_age AS INTEGER)
),
skin_evidence AS (
    -- acne or hirsutism now (skin): unresolved on as-of, or recorded in the last
    -- skin_indication_days (a code resolved as the treatment clears the skin still counts; acne coded
    -- at 15 and resolved since says nothing of a spironolactone started at 40).
    -- What the guidance names as a reason to monitor (monitor), at any time before as-of, resolved
    -- or not: heart failure, CKD stage 3 or worse (coded, or an eGFR below 60, reported or estimated
    -- from a creatinine), cirrhosis, another
    -- reason to take spironolactone or to watch potassium (hyperaldosteronism, hypertension,
    -- cardiomyopathy, nephrotic syndrome, ascites, oedema, gender-affirming treatment, an organ
    -- transplant, or a contraindication: hyperkalaemia, Addison's disease, anuria, acute kidney
    -- injury), a potassium above skin_potassium_limit; or a systemic drug raising potassium
    -- taken on as-of
    SELECT patient_id, true AS skin, false AS monitor
    FROM diagnoses_unresolved_on(['spironolactone_skin_indications'], $as_of)
    WHERE patient_id IN (SELECT patient_id FROM skin_age_women)
    UNION ALL
    SELECT patient_id, true, false
    FROM diagnoses_in_window(['spironolactone_skin_indications'], $as_of, $skin_indication_days)
    WHERE patient_id IN (SELECT patient_id FROM skin_age_women)
    UNION ALL
    SELECT patient_id, false, true
    FROM diagnoses_by(['heart_failure', 'ckd_stage3plus', 'ckd_stage4plus', 'cirrhosis',
                       'spironolactone_monitoring_conditions'], $as_of)
    WHERE patient_id IN (SELECT patient_id FROM skin_age_women)
    UNION ALL
    SELECT patient_id, false, true FROM results_by(['egfr'], $as_of)
    WHERE patient_id IN (SELECT patient_id FROM skin_age_women) AND result_below(value, value_comparator, 60)
    UNION ALL
    -- an eGFR below 60 estimated from a creatinine (ckd_epi_2021, her age on the day), as exports
    -- without a laboratory eGFR have it: on a day with no eGFR reported (the laboratory's stands, as in
    -- nsaid_kidney_disease); a creatinine '>x' is at least x, so its eGFR at most the estimate
    SELECT c.patient_id, false, true
    FROM results_by(['creatinine'], $as_of) c
    JOIN src_patient_state s ON s.patient_id = c.patient_id
    WHERE c.patient_id IN (SELECT patient_id FROM skin_age_women)
      AND coalesce(c.value_comparator, '>') IN ('>', '>=')
      AND ckd_epi_2021(c.value, age_on(s.birth_date, c.day), s.sex) < 60
      AND NOT EXISTS (SELECT 1 FROM results_by(['egfr'], $as_of) r WHERE r.patient_id = c.patient_id AND r.day = c.day)
    UNION ALL
    SELECT patient_id, false, true FROM results_by(['potassium'], $as_of)
    WHERE patient_id IN (SELECT patient_id FROM skin_age_women)
      AND result_above(value, value_comparator, $skin_potassium_limit)
    UNION ALL
    -- (is_topical takes qualified columns: unqualified, its subquery would read topical_products' own)
    SELECT r.patient_id, false, true
    FROM drugs_taken_on(['potassium_raising_drugs'], $as_of, $refill_gap_days) r
    WHERE r.patient_id IN (SELECT patient_id FROM skin_age_women)
      AND NOT is_topical(r.product_id)
),
taken_for_skin AS (
    -- spironolactone alone for acne or hirsutism in a young woman with no reason to monitor
    -- recorded: no routine potassium monitoring (Plovanich 2015, AAD 2024); out of the population
    -- when every diuretic she takes on as-of is such a product (below)
    SELECT patient_id
    FROM skin_evidence
    GROUP BY patient_id
    HAVING bool_or(skin) AND NOT bool_or(monitor)
),
marked AS (
    -- each diuretic taken on as-of, and whether every one the patient takes is for the skin
    SELECT d.patient_id, d.drug_name, d.start_date, d.end_effective, d.stopped,
           bool_and(coalesce(k.for_skin, false)) OVER (PARTITION BY d.patient_id) AS only_for_skin
    FROM systemic d
    LEFT JOIN skin_products k ON k.product_id = d.product_id
),
active AS (
    -- a left join rather than NOT IN: on Spark a NOT IN is a null-aware anti join, always broadcast
    SELECT m.patient_id, m.drug_name, m.start_date, m.end_effective, m.stopped
    FROM marked m
    LEFT JOIN taken_for_skin t ON t.patient_id = m.patient_id AND m.only_for_skin
    WHERE t.patient_id IS NULL
),
taken_in_lookback AS (
    -- every diuretic prescription taken at some time in the lookback (still taken on its first day,
    -- or started later), each with the last day a break after the earlier ones would not yet have
    -- begun (prior_until: the latest end plus refill_gap_days, whether the issue ran out or was
    -- stopped; as-of while one runs on with no end)
    SELECT d.patient_id, d.start_date,
           earlier_until(coalesce(days_after(d.end_effective, $refill_gap_days), $as_of), d.patient_id, d.start_date)
               AS prior_until
    FROM drugs_started_by(['diuretics'], $as_of) d
    WHERE ongoing_on(days_after(d.end_effective, $refill_gap_days), window_start($as_of, $lookback_days))
      AND d.patient_id IN (SELECT patient_id FROM active)
      AND NOT is_topical(d.product_id)
),
treated AS (
    -- when this course of diuretics started: the last start after a break of more than
    -- refill_gap_days with no diuretic. A renewal (late, even after a stop), a weekly issue collected
    -- a few days late, a switch to another diuretic keep the first start, so a long-term user does
    -- not look new; a diuretic taken again after a longer break is a new start and needs its
    -- baseline (and post-start) tests again. The break is the whole refill gap, not the shorter
    -- gap that counts a drug as still taken (at most an issue's length, none after a stop): a
    -- clinician does not start monitoring afresh for a week off.
    SELECT patient_id,
           max(start_date) FILTER (begins_course(start_date, prior_until))
               AS diuretic_since
    FROM taken_in_lookback
    GROUP BY patient_id
),
population AS (
    SELECT a.patient_id,
           -- every diuretic taken on as-of, running or in its refill gap: the list changes only when
           -- a drug starts or its gap runs out, never with the day of the repeat cycle
           listed(a.drug_name) AS diuretics,
           any_value(t.diuretic_since) AS diuretic_since,
           -- the last day the patient counts as on a diuretic taken today (NULL: one runs on with no end)
           CASE WHEN bool_and(a.end_effective IS NOT NULL)
                THEN max(taken_until(a.start_date, a.end_effective, a.stopped, $refill_gap_days)) END AS treated_until
    FROM active a
    JOIN treated t USING (patient_id)
    GROUP BY a.patient_id
),
electrolytes AS (
    -- per analyte, the day and the result of the last by timestamp (potassium_at, potassium_result);
    -- a censored result ('<2.5') is a result, shown as written once per patient (result_text_of)
    PIVOT (SELECT * FROM results_by(['potassium', 'sodium', 'creatinine', 'egfr'], $as_of)
           WHERE patient_id IN (SELECT patient_id FROM population))
    ON analyte IN ('potassium', 'sodium', 'creatinine', 'egfr')
    USING max(day) AS at, arg_max(result, k) AS result
    GROUP BY patient_id
),
judged AS (
    SELECT p.*, e.potassium_at AS last_potassium_at, result_text_of(e.potassium_result) AS last_potassium,
           e.sodium_at AS last_sodium_at, result_text_of(e.sodium_result) AS last_sodium,
           e.creatinine_at AS last_creatinine_at, result_text_of(e.creatinine_result) AS last_creatinine,
           e.egfr_at AS last_egfr_at, result_text_of(e.egfr_result) AS last_egfr,
           -- post_start_days > 0 (NHS SPS: again 1-2 weeks after starting): a course started in the
           -- lookback needs its electrolytes taken on or after its start, by post_start_days after it;
           -- once that is overdue, a result collected before the start no longer counts (a patient
           -- with no result at all is judged as before: baseline tests due, or overdue)
           days_after(p.diuretic_since, $post_start_days) AS recheck_due,
           CAST($post_start_days AS INTEGER) > 0
               AND p.diuretic_since > window_start($as_of, $lookback_days)
               AND NOT (coalesce(e.potassium_at >= p.diuretic_since, false)
                        AND coalesce(e.sodium_at >= p.diuretic_since, false)) AS recheck_pending,
           recheck_pending AND $as_of > recheck_due
               AND coalesce(e.potassium_at < p.diuretic_since OR e.sodium_at < p.diuretic_since, false)
               AS recheck_missed,
           coalesce(e.potassium_at >= window_start($as_of, $lookback_days), false)
               AND NOT (recheck_missed AND e.potassium_at < p.diuretic_since) AS has_potassium,
           coalesce(e.sodium_at >= window_start($as_of, $lookback_days), false)
               AND NOT (recheck_missed AND e.sodium_at < p.diuretic_since) AS has_sodium,
           -- renal function is required only when asked for; a creatinine or an eGFR satisfies it
           CAST($require_renal AS INTEGER) = 0
               OR coalesce(greatest(e.creatinine_at, e.egfr_at) >= window_start($as_of, $lookback_days), false)
               AS has_renal,
           p.diuretic_since >= window_start($as_of, $baseline_days) AS new_starter,
           -- due dates (#20): a result on day d keeps the lookback covered through d + lookback_days,
           -- when the next one is due; a test never done was due at baseline (diuretic_since +
           -- baseline_days)
           days_after(p.diuretic_since, $baseline_days) AS baseline_due,
           days_after(e.potassium_at, $lookback_days) AS potassium_due,
           days_after(e.sodium_at, $lookback_days) AS sodium_due,
           days_after(greatest(e.creatinine_at, e.egfr_at), $lookback_days) AS renal_due
    FROM population p
    LEFT JOIN electrolytes e USING (patient_id)
),
missing AS (
    SELECT *,
           list_filter([CASE WHEN NOT has_potassium THEN 'potassium' END,
                        CASE WHEN NOT has_sodium THEN 'sodium' END,
                        CASE WHEN NOT has_renal THEN 'renal function (creatinine or eGFR)' END],
                       lambda x: x IS NOT NULL) AS tests,
           -- due_on: flagged, when the most overdue missing test fell due (a new starter's baseline
           -- tests: at the end of the baseline window); not flagged, when the next test falls due
           CASE WHEN recheck_missed
                    THEN least(recheck_due, CASE WHEN NOT has_renal THEN coalesce(renal_due, baseline_due) END)
                WHEN new_starter AND NOT (has_potassium AND has_sodium AND has_renal) THEN baseline_due
                WHEN NOT (has_potassium AND has_sodium AND has_renal) THEN least(
                    CASE WHEN NOT has_potassium THEN coalesce(potassium_due, baseline_due) END,
                    CASE WHEN NOT has_sodium THEN coalesce(sodium_due, baseline_due) END,
                    CASE WHEN NOT has_renal THEN coalesce(renal_due, baseline_due) END)
                ELSE least(potassium_due, sodium_due,
                           CASE WHEN CAST($require_renal AS INTEGER) = 1 THEN renal_due END,
                           CASE WHEN recheck_pending THEN recheck_due END)
           END AS due_on
    FROM judged
)
SELECT
    patient_id,
    len(tests) > 0 AS flagged,
    flag_priority(flagged, NOT has_potassium AND NOT has_sodium) AS priority,
    flag_reason(flagged,
        CASE WHEN recheck_missed
             THEN 'post-start check overdue: on a diuretic started ' || diuretic_since || ' with no '
                  || words_or(tests) || ' result since it started (due by ' || recheck_due || ')'
             ELSE CASE WHEN new_starter THEN 'baseline tests due: on a diuretic started ' || diuretic_since
                                             || ' with no '
                       ELSE 'overdue: on a diuretic with no ' END
                  || words_or(tests) || ' result in the ' || $lookback_days || ' days to ' || $as_of
        END) AS reason,
    flag_reason(flagged, CASE WHEN recheck_missed THEN 'post-start check overdue'
                              WHEN new_starter THEN 'baseline tests due'
                              ELSE 'overdue' END) AS monitoring,
    -- not flagged: the next test falls due only if the diuretic still runs then (due_soon.csv)
    CASE WHEN flagged OR treated_until IS NULL OR due_on <= treated_until THEN due_on END AS due_on,
    diuretics, diuretic_since, last_potassium_at, last_potassium, last_sodium_at, last_sodium,
    last_creatinine_at, last_creatinine, last_egfr_at, last_egfr
FROM missing
ORDER BY patient_id
