-- The dated data the checks read, as stored: the views in _concepts.sql (and any check reading a
-- patient's dates) read these, never the tables. With --as-of per-patient, _aligned.sql replaces
-- them with each patient's dates moved so that the patient's last record falls on the as-of date.
-- (Lookups over distinct names and codes, which carry no dates, read the tables directly.)
CREATE OR REPLACE TEMP VIEW src_patient_state AS SELECT * FROM patient_state;
CREATE OR REPLACE TEMP VIEW src_labs AS SELECT * FROM labs;
CREATE OR REPLACE TEMP VIEW src_prescriptions AS SELECT * FROM current_prescriptions;
CREATE OR REPLACE TEMP VIEW src_diagnoses AS SELECT * FROM diagnoses;
