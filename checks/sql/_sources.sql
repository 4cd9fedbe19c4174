-- The dated data the checks read, as stored: the views in _concepts.sql (and any check reading a
-- patient's dates) read these, never the tables. With --as-of per-patient, _aligned.sql replaces
-- them with each patient's dates moved so that the patient's last record falls on the as-of date.
-- (Lookups over distinct names and codes, which carry no dates, read the tables directly.)
-- patient_state (pipelines/sql/views.sql) folds every statement of every patient into one row each
-- time it is read, and a run reads it a dozen times (deaths, registrations, ages, every check's
-- months): folded once per run here, the data being fixed from prepare to the run's end.
-- (_aligned.sql replaces the table with each patient's dates moved.)
CREATE OR REPLACE TEMP TABLE patient_state_now AS SELECT * FROM patient_state;
CREATE OR REPLACE TEMP VIEW src_patient_state AS SELECT * FROM patient_state_now;
CREATE OR REPLACE TEMP VIEW src_labs AS SELECT * FROM labs;
CREATE OR REPLACE TEMP VIEW src_prescriptions AS SELECT * FROM current_prescriptions;
CREATE OR REPLACE TEMP VIEW src_diagnoses AS SELECT * FROM current_diagnoses;
