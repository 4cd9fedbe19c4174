-- --as-of per-patient: audit each patient as of their own last record.
--
-- Research data such as MIMIC-IV shift every patient's dates by a different random offset, so one
-- calendar as-of date falls inside almost nobody's record. Here each patient's dates are moved by
-- shift_days = as-of - (the patient's last lab collection, prescription start or diagnosis date), so
-- every patient's last record falls on the as-of date, and each check then evaluates the patient as
-- of that day. A death on or before that day leaves the patient out as deceased; a death after it
-- (MIMIC's dod includes deaths after discharge) does not: the patient was alive at their last record. Intervals within a patient (lookbacks, gaps, ages at the time, death after the last
-- record) are unchanged; only the calendar moves. Dates shown in evidence are on that moved calendar;
-- patient_shift keeps each patient's shift so `explain` can say how far. The as-of date comes from
-- the one-row table aligned_as_of (checks/evaluate.py prepare()).
CREATE OR REPLACE TEMP TABLE patient_shift AS
SELECT patient_id, CAST((SELECT as_of FROM aligned_as_of) - max(day) AS INTEGER) AS shift_days
FROM (
    SELECT patient_id, max(collected_at)::DATE AS day FROM current_lab_results GROUP BY patient_id
    UNION ALL
    SELECT patient_id, max(start_date) FROM current_prescriptions GROUP BY patient_id
    UNION ALL
    SELECT patient_id, max(recorded_at) FROM current_diagnoses GROUP BY patient_id
)
GROUP BY patient_id;

CREATE OR REPLACE TEMP TABLE patient_state_now AS  -- read by src_patient_state (_sources.sql)
SELECT p.* REPLACE (
    p.birth_date + coalesce(s.shift_days, 0) AS birth_date,
    p.death_date + coalesce(s.shift_days, 0) AS death_date,
    p.registered_until + coalesce(s.shift_days, 0) AS registered_until
)
FROM patient_state p LEFT JOIN patient_shift s USING (patient_id);

CREATE OR REPLACE TEMP VIEW src_labs AS
SELECT l.* REPLACE (l.collected_at + to_days(s.shift_days) AS collected_at)
FROM labs l JOIN patient_shift s USING (patient_id);

CREATE OR REPLACE TEMP VIEW src_prescriptions AS
SELECT p.* REPLACE (
    p.start_date + s.shift_days AS start_date,
    p.end_date + s.shift_days AS end_date,
    p.end_effective + s.shift_days AS end_effective
)
FROM current_prescriptions p JOIN patient_shift s USING (patient_id);

CREATE OR REPLACE TEMP VIEW src_diagnoses AS
SELECT d.* REPLACE (
    d.recorded_at + s.shift_days AS recorded_at,
    d.resolved_at + s.shift_days AS resolved_at
)
FROM current_diagnoses d JOIN patient_shift s USING (patient_id);
