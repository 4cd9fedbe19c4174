-- Views over the stable schema, recreated at every connect (they hold no data).
-- Documented for analysts in docs/schema.md.

-- labs: every lab result with what it measures under the current codelists (lab_concepts): the
-- analyte and specimen, and the value in the analyte's canonical unit beside the original. A
-- censored result ('<0.5') has its comparator in value_comparator and its bound in value. A value
-- converted from another unit is rounded to the canonical unit's reporting precision, as a
-- laboratory reporting in that unit would print it: 1.7 mg/dL of magnesium (the usual US lower
-- limit) is 0.70 mmol/L, not 0.6994, which a threshold of 0.70 would call low.
-- current_lab_results: every stored result less the versions a later export replaced or withdrew
-- (a result the source names by result_id: pipelines/contract.py LABS).
CREATE OR REPLACE VIEW current_lab_results AS
SELECT * EXCLUDE (_superseded) FROM lab_results WHERE NOT coalesce(_superseded, false);

CREATE OR REPLACE VIEW labs AS
SELECT r.patient_id, r.collected_at, r.loinc_code, r.test_name, c.analyte, c.specimen,
       -- (a censored bound is rounded outward, '<' up and '>' down, so rounding never makes a
       -- judgement certain that was not: '<1.71' mg/dL of magnesium is '<0.71', not '<0.70')
       CASE WHEN c.factor = 1 OR c.decimals IS NULL THEN r.value_original * c.factor
            WHEN r.value_comparator IN ('<', '<=')
            THEN ceil(round(r.value_original * c.factor * pow(10, c.decimals), 6)) / pow(10, c.decimals)
            WHEN r.value_comparator IN ('>', '>=')
            THEN floor(round(r.value_original * c.factor * pow(10, c.decimals), 6)) / pow(10, c.decimals)
            ELSE round(r.value_original * c.factor, c.decimals) END AS value,
       coalesce(c.canonical_unit, r.unit_original) AS unit,
       r.value_original, r.unit_original, r._run_id, r.value_comparator, r.result_id
FROM current_lab_results r
LEFT JOIN lab_concepts c
    ON c.loinc_code IS NOT DISTINCT FROM r.loinc_code
   AND c.test_name IS NOT DISTINCT FROM r.test_name
   AND c.unit_original IS NOT DISTINCT FROM r.unit_original;

-- check_runs: every scheduled run that evaluated a check, numbered 1, 2, 3, ... per check in run
-- order. Ad-hoc runs (runs.kind) are left out: another as-of date, a subset of checks or changed
-- parameters must never raise, extend or resolve the nightly flags, so the lifecycle below is the
-- scheduled runs' alone.
CREATE OR REPLACE VIEW check_runs AS
SELECT c.check_id, r.run_id, r.seq, r.as_of,
       row_number() OVER (PARTITION BY c.check_id ORDER BY r.seq) AS check_run_no
FROM check_results c JOIN runs r USING (run_id)
WHERE coalesce(r.kind, 'scheduled') = 'scheduled';

-- flag_episodes: one row per check, patient and unbroken series of runs of that check flagging
-- the patient. A series starts when the flag is first raised and ends at the last run flagging it;
-- the flag is resolved by the next run of the same check that does not flag the patient (NULL
-- while the flag stands). Runs that did not evaluate the check neither extend nor break a series.
-- A series that was standing when `prune` deleted its first runs starts where flag_origins says
-- (its first run, as-of date, and runs_before: the runs flagging it that were pruned).
CREATE OR REPLACE VIEW flag_episodes AS
WITH flags AS (
    SELECT f.check_id, f.patient_id, cr.run_id, cr.seq, cr.as_of, cr.check_run_no,
           cr.check_run_no - row_number() OVER (
               PARTITION BY f.check_id, f.patient_id ORDER BY cr.check_run_no) AS series
    FROM findings f JOIN check_runs cr USING (check_id, run_id)
),
episodes AS (
    SELECT check_id, patient_id,
           arg_min(run_id, check_run_no) AS first_run_id,
           min(seq) AS first_seq,
           min(as_of) AS first_as_of,
           min(check_run_no) AS first_check_run_no,
           arg_max(run_id, check_run_no) AS last_run_id,
           max(seq) AS last_seq,
           max(as_of) AS last_as_of,
           max(check_run_no) AS last_check_run_no,
           count(*) AS runs_flagged
    FROM flags GROUP BY check_id, patient_id, series
)
SELECT e.check_id, e.patient_id,
       coalesce(o.first_run_id, e.first_run_id) AS first_run_id,
       coalesce(o.first_seq, e.first_seq) AS first_seq,
       coalesce(o.first_as_of, e.first_as_of) AS first_as_of,
       e.last_run_id, e.last_seq, e.last_as_of,
       e.runs_flagged + coalesce(o.runs_before, 0) AS runs_flagged,
       res.run_id AS resolved_run_id, res.seq AS resolved_seq, res.as_of AS resolved_as_of,
       e.first_check_run_no, e.last_check_run_no,
       coalesce(o.runs_before, 0) AS runs_before
FROM episodes e
LEFT JOIN flag_origins o
    ON o.check_id = e.check_id AND o.patient_id = e.patient_id AND o.kept_from_run_id = e.first_run_id
LEFT JOIN check_runs res
    ON res.check_id = e.check_id AND res.check_run_no = e.last_check_run_no + 1;

-- flag_status: for every run and check, each patient flagged in that run or resolved by it, with
-- status 'new' (first raised in this run), 'persisting' (flagged in the previous run of the check
-- too), 'resolved' (flagged in the previous run, not in this one) or 'deceased' / 'deregistered' /
-- 'unreadable' (flagged in the previous run, left out of this one as dead, as having left the
-- practice or as having a patients row that could not be read: check_exclusions' reason);
-- runs_standing counts the
-- consecutive runs of the check, up to and including this one, that have flagged the patient.
CREATE OR REPLACE VIEW flag_status AS
SELECT cr.run_id, cr.check_id, e.patient_id,
       CASE WHEN e.first_run_id = cr.run_id THEN 'new' ELSE 'persisting' END AS status,
       e.first_run_id, e.first_as_of,
       cr.check_run_no - e.first_check_run_no + 1 + e.runs_before AS runs_standing
FROM check_runs cr JOIN flag_episodes e
    ON e.check_id = cr.check_id AND cr.check_run_no BETWEEN e.first_check_run_no AND e.last_check_run_no
UNION ALL
SELECT e.resolved_run_id, e.check_id, e.patient_id,
       coalesce(x.reason, 'resolved'),
       e.first_run_id, e.first_as_of, e.runs_flagged
FROM flag_episodes e
LEFT JOIN check_exclusions x  -- left out: the flag ended, but not because care caught up
    ON x.run_id = e.resolved_run_id AND x.check_id = e.check_id AND x.patient_id = e.patient_id
WHERE e.resolved_run_id IS NOT NULL;

-- patient_state: one row per patient over `patients`, which holds one row per distinct version of a
-- patient that an export sent (nightly exports re-send most of them unchanged). Versions are ordered
-- by the run that loaded them (rows of the run in progress, not yet in `runs`, come last). Within one
-- run the earliest birth and death dates win, and "dead" wins over an explicit "alive". Across runs:
-- birth_date and sex are the latest non-empty value; a patient is deceased once any export said so
-- (a death date, or deceased = true) unless a later run explicitly said deceased = false; death_date
-- is the latest death date recorded since then (NULL: dead, date unknown). Registration is what the
-- latest run that loaded a version of the patient says (a patient may leave and register again):
-- deregistered when it gives a registration end or says "not registered" (registered_until NULL:
-- date unknown), registered otherwise; a run that sends a registration history (a row per period)
-- says registered when any of its rows is a registration still open. A re-sent older version is a duplicate and is not loaded
-- again, so it changes nothing.
CREATE OR REPLACE VIEW patient_state AS
WITH versions AS (
    SELECT p.patient_id, p.birth_date, p.sex, p.death_date, p.deceased, p.site_id, p.clinician_id,
           p.registered_until, p.deregistered,
           coalesce(r.seq, (SELECT coalesce(max(seq), 0) + 1 FROM runs)) AS loaded
    FROM patients p LEFT JOIN runs r ON r.run_id = p._run_id
),
per_run AS (
    SELECT patient_id, loaded, min(birth_date) AS birth_date, min(sex) AS sex,
           min(death_date) AS death_date, bool_or(deceased) AS deceased,
           min(site_id) AS site_id, min(clinician_id) AS clinician_id,
           -- within a run, a registration still open wins (a row giving no end, or saying
           -- registered): a registration history has a row per period, and the open one is today's,
           -- as ehrQL's for_patient_on(date) finds the one covering the date. Else the latest
           -- registration end given; one without a date, over none
           CASE WHEN bool_and(coalesce(deregistered, false)) THEN max(registered_until) END
               AS registered_until,
           bool_and(coalesce(deregistered, false)) AS deregistered
    FROM versions GROUP BY patient_id, loaded
),
alive_since AS (  -- the last run explicitly saying "not deceased" (0: none)
    SELECT patient_id, coalesce(max(loaded) FILTER (NOT deceased), 0) AS cut
    FROM per_run GROUP BY patient_id
)
SELECT s.patient_id,
       max_by(s.birth_date, s.loaded) FILTER (s.birth_date IS NOT NULL) AS birth_date,
       max_by(s.sex, s.loaded) FILTER (s.sex IS NOT NULL) AS sex,
       coalesce(bool_or(s.deceased) FILTER (s.loaded > a.cut), false) AS deceased,
       max_by(s.death_date, s.loaded) FILTER (s.loaded > a.cut AND s.deceased AND s.death_date IS NOT NULL)
           AS death_date,
       -- the site and clinician of the latest export that named one (the monthly measures' breakdowns)
       max_by(s.site_id, s.loaded) FILTER (s.site_id IS NOT NULL) AS site_id,
       max_by(s.clinician_id, s.loaded) FILTER (s.clinician_id IS NOT NULL) AS clinician_id,
       arg_max(s.deregistered, s.loaded) AS deregistered,
       arg_max_null(s.registered_until, s.loaded) AS registered_until  -- NULL: none, or date unknown
FROM per_run s JOIN alive_since a USING (patient_id)
GROUP BY s.patient_id;

-- current_prescriptions: every prescription as the latest export that stated it says it (a later
-- export's version of the same prescription, say with the end date it has since been given,
-- supersedes the earlier one: pipelines/ingest.py _restate); what the checks read.
CREATE OR REPLACE VIEW current_prescriptions AS
SELECT * EXCLUDE (_superseded) FROM prescriptions WHERE NOT coalesce(_superseded, false);

-- current_diagnoses: every diagnosis as the latest export that stated it says it (a condition
-- exported open one night and with the date it resolved the next is resolved: the later version
-- supersedes the earlier, pipelines/ingest.py _restate); what the checks read. Schema 16.
CREATE OR REPLACE VIEW current_diagnoses AS
SELECT * EXCLUDE (_superseded) FROM diagnoses WHERE NOT coalesce(_superseded, false);

-- measures_of(run_id): the monthly measures as that run saw them. `measures` keeps every evaluation
-- (a month evaluated again when late data arrived gets new rows under the later run); this picks,
-- per check and month-end, the evaluation by the latest run up to and including the given one, so a
-- re-rendered report of an old run shows its own figures. Rows an ad-hoc run evaluated with its own
-- --param for a check are its own: only that run sees them (first). Only the checks the run ran: an
-- ad-hoc `--checks x` run's files show x, not every other check's figures from earlier runs' data.
-- current_measures: the nightly's figures today: the latest scheduled run's, in its window (the
-- `measures_months` month-ends up to its as-of date, checks/measures.py month_ends); months that have
-- left the window stay in `measures` for the older runs' reports.
CREATE OR REPLACE MACRO measures_of(run) AS TABLE
SELECT check_id, month_end, breakdown, group_value, population, flagged, rate, run_id
FROM (
    SELECT m.*, rank() OVER (
        PARTITION BY m.check_id, m.month_end ORDER BY m.run_id = run DESC, r.seq DESC) AS newest
    FROM measures m JOIN runs r USING (run_id)
    WHERE r.seq <= (SELECT seq FROM runs WHERE run_id = run)
      AND (m.run_id = run OR NOT coalesce(m.private, false))
      AND m.check_id IN (SELECT check_id FROM check_results WHERE run_id = run)
)
WHERE newest = 1;

CREATE OR REPLACE VIEW current_measures AS
WITH nightly AS (
    SELECT arg_max(run_id, seq) AS run_id, arg_max(as_of, seq) AS as_of,
           arg_max(coalesce(CAST(settings->>'measures_months' AS INTEGER), 24), seq) AS months
    FROM runs WHERE coalesce(kind, 'scheduled') = 'scheduled'
)
SELECT m.* FROM measures_of((SELECT run_id FROM nightly)) m, nightly n
WHERE m.month_end <= n.as_of
  AND m.month_end >= last_day(date_trunc('month', n.as_of + 1) - to_months(n.months));
