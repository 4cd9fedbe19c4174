-- cramps_medication_review: one row per patient with a cramp recorded in the lookback up to $as_of.
WITH cramps AS (
    SELECT patient_id, recorded_at, code_original, code_system
    FROM diagnoses_in_window(['muscle_cramps'], $as_of, $lookback_days)
),
drugs AS (
    SELECT e.patient_id, e.drug_name, e.start_date, e.end_effective, e.stopped,
           CASE e.codelist WHEN 'diuretics' THEN 'diuretic' WHEN 'statins' THEN 'statin'
                ELSE 'beta-blocker' END AS drug_class,
           -- the drug, whichever prescription of it (a repeat issue, a brand): its ingredient, or
           -- its name when the codelist knows only its class
           CASE WHEN e.ingredient IS NULL OR starts_with(e.ingredient, '<') THEN lower(e.drug_name)
                ELSE e.ingredient END AS drug
    FROM drugs_started_by(['diuretics', 'statins', 'beta_blockers'], $as_of) e
    WHERE e.patient_id IN (SELECT patient_id FROM cramps)
      -- a cream or eye drop (spironolactone cream, timolol eye drops) is not the systemic exposure
      -- that causes cramps: is_topical, the one topical definition
      AND NOT is_topical(e.product_id)
),
courses AS (
    -- each prescription with the start of the course of its drug that holds it: a prescription
    -- starting more than a day after every earlier one of the drug was taken (its end plus the
    -- refill gap, as on_drug reads "taken", the gap following a stop too) begins a new course, so a
    -- statin stopped two years ago and started again is a new course, while a renewal is not.
    -- RANGE: prescriptions of one drug started on the same day (two strengths issued together)
    -- share their course, whichever of them the sort put first
    SELECT *,
           max(CASE WHEN begins_course(start_date, prior_until) THEN start_date END)
               OVER (PARTITION BY patient_id, drug ORDER BY start_date
                     RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS course_start
    FROM (SELECT *,
                 earlier_until(coalesce(taken_until(start_date, end_effective, false, $refill_gap_days), $as_of),
                               (patient_id, drug), start_date) AS prior_until
          FROM drugs)
),
per_drug AS (
    -- whether each drug is still taken on as-of: any prescription of it runs on as-of or ended up
    -- to refill_gap_days before (the latest 28-day repeat issue of a statin taken since January,
    -- or the gap before the next: the drug was not stopped; no gap after a prescription stopped
    -- before its supply ran out)
    SELECT patient_id, drug,
           bool_or(still_taken(start_date, end_effective, stopped, $as_of, $refill_gap_days)) AS still_active
    FROM drugs
    GROUP BY patient_id, drug
),
on_drug AS (
    -- each cramp with every implicated drug taken on the day it was recorded (active, or in the
    -- refill gap after an issue), unless that day starts the drug's course: a statin started (or
    -- started again after a break) at the consultation that recorded the cramp had not been taken
    -- yet (a renewal that day of a drug taken until then is still the drug; review 2026-12-03).
    -- The gap follows a stopped drug too (`false`, not `stopped`):
    -- here it is also the time a drug's effect takes to wear off (statin muscle symptoms settle over
    -- 2-4 weeks), so a cramp 10 days after the statin was stopped may still be the statin's
    SELECT c.patient_id, c.recorded_at, d.drug_name, d.drug_class, p.still_active
    FROM cramps c
    JOIN courses d
      ON d.patient_id = c.patient_id
     AND taken_on(d.start_date, d.end_effective, false, c.recorded_at, $refill_gap_days)
    JOIN per_drug p ON p.patient_id = d.patient_id AND p.drug = d.drug
    WHERE d.course_start < c.recorded_at
),
implicated AS (
    SELECT patient_id,
           listed(recorded_at::VARCHAR) AS cramp_dates,
           min(recorded_at) AS first_on_drug_at,
           listed(drug_name) AS drugs,
           string_agg(DISTINCT drug_class, ', ' ORDER BY drug_class) AS drug_classes,
           listed(CASE WHEN still_active THEN drug_name END) AS still_active_drugs
    FROM on_drug
    GROUP BY patient_id
),
population AS (
    SELECT patient_id, code_labels(code_original, code_system) AS cramp_codes,
           count(DISTINCT recorded_at) AS cramp_days, max(recorded_at) AS last_cramp_at
    FROM cramps
    GROUP BY patient_id
)
SELECT
    patient_id,
    i.drugs IS NOT NULL AS flagged,
    flag_priority(flagged, p.cramp_days >= 2 AND i.still_active_drugs IS NOT NULL) AS priority,
    flag_reason(flagged,
        'muscle cramps recorded ' || i.cramp_dates || ' while on a ' || i.drug_classes
        || ' (' || i.drugs || '); review whether the drug may cause the cramps') AS reason,
    -- due_on (#20): the first cramp recorded while on an implicated drug, when the review fell due
    CASE WHEN flagged THEN i.first_on_drug_at END AS due_on,
    p.cramp_codes, i.cramp_dates, p.last_cramp_at, i.drugs, i.drug_classes, i.still_active_drugs
FROM population p
LEFT JOIN implicated i USING (patient_id)
ORDER BY patient_id
