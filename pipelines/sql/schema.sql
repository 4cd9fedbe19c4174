-- The stable schema analysts may rely on. Creating it is idempotent; changes need a new version.
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);

CREATE TABLE IF NOT EXISTS runs (
    run_id        VARCHAR PRIMARY KEY,
    seq           BIGINT NOT NULL UNIQUE,      -- 1, 2, 3, ... in the order runs were committed
    started_at    TIMESTAMP NOT NULL,
    finished_at   TIMESTAMP,
    status        VARCHAR NOT NULL,          -- 'succeeded' (failed runs leave no trace in the database)
    as_of         DATE NOT NULL,
    exports       VARCHAR NOT NULL,
    export_format VARCHAR NOT NULL,
    tool_version  VARCHAR NOT NULL,
    settings      JSON NOT NULL,              -- every parameter used, as resolved for this run
    warnings      JSON,                       -- what the run warned about (volume guard, as-of date)
    data_from     DATE,                       -- the earliest and latest clinical date the data held
    data_to       DATE,                       -- when the run committed (NULL in runs before schema 3)
    coverage      JSON,                       -- patients with any record in the coverage lookback
    kind          VARCHAR DEFAULT 'scheduled', -- 'scheduled' (the nightly, as configured) | 'ad hoc'
                                              -- (another as-of, a subset of checks, --param, --ad-hoc);
                                              -- lifecycle and trends read scheduled runs only (schema 5)
    outputs_at    TIMESTAMP,                  -- when its outputs were in place; NULL: stopped after
                                              -- its commit, before them (schema 8)
    email_due     BOOLEAN,                    -- the run was asked to send (or write) its summary email
    email_sent_at TIMESTAMP                   -- when it was sent (or written); NULL with email_due:
                                              -- never sent, and the next nightly run says so
);
ALTER TABLE runs ADD COLUMN IF NOT EXISTS data_from DATE;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS data_to DATE;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS coverage JSON;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS kind VARCHAR DEFAULT 'scheduled';  -- earlier runs: scheduled
ALTER TABLE runs ADD COLUMN IF NOT EXISTS outputs_at TIMESTAMP;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS email_due BOOLEAN;  -- earlier runs: not known (NULL)
ALTER TABLE runs ADD COLUMN IF NOT EXISTS email_sent_at TIMESTAMP;

CREATE TABLE IF NOT EXISTS run_files (
    run_id          VARCHAR NOT NULL,
    table_name      VARCHAR NOT NULL,         -- patients | labs | prescriptions | diagnoses
    file            VARCHAR NOT NULL,
    sha256          VARCHAR NOT NULL,
    rows_read       BIGINT NOT NULL,
    rows_loaded     BIGINT NOT NULL,          -- new rows added to the table by this run
    rows_duplicate  BIGINT NOT NULL,          -- valid rows already present (overlapping exports)
    rows_rejected   BIGINT NOT NULL,          -- rows sent to quarantine
    skipped_unchanged BOOLEAN NOT NULL,       -- same sha256 as an earlier loaded file: not re-read
    bytes           BIGINT,                   -- the file's size (NULL in runs before schema 2)
    rows_skipped    BIGINT,                   -- rows outside what the tool audits (e.g. Synthea vital
                                              -- signs, surveys): counted, not loaded, not rejected
    rows_noted      BIGINT,                   -- loaded rows with a noted, non-fatal problem (row_notes)
    skip_reasons    JSON,                     -- rows_skipped per reason: {"reason": rows, ...}
    -- The run's verdicts, recorded once so a re-rendered report shows what the run saw (schema 4):
    previous_rows_read BIGINT,                -- rows the previous run read for this table (volume guard)
    shrunk          BOOLEAN,                  -- under volume_guard_ratio of those: maybe a cut export
    top_reasons     JSON,                     -- the commonest quarantine reasons, each with its first line
    top_notes       JSON                      -- the same for row_notes
);
-- Databases from older schemas gain the columns here (appended, as in a new file).
ALTER TABLE run_files ADD COLUMN IF NOT EXISTS bytes BIGINT;
ALTER TABLE run_files ADD COLUMN IF NOT EXISTS rows_skipped BIGINT;
ALTER TABLE run_files ADD COLUMN IF NOT EXISTS rows_noted BIGINT;
ALTER TABLE run_files ADD COLUMN IF NOT EXISTS skip_reasons JSON;
ALTER TABLE run_files ADD COLUMN IF NOT EXISTS previous_rows_read BIGINT;
ALTER TABLE run_files ADD COLUMN IF NOT EXISTS shrunk BOOLEAN;
ALTER TABLE run_files ADD COLUMN IF NOT EXISTS top_reasons JSON;
ALTER TABLE run_files ADD COLUMN IF NOT EXISTS top_notes JSON;

CREATE TABLE IF NOT EXISTS quarantine (
    run_id      VARCHAR NOT NULL,             -- the run that first saw this bad row
    table_name  VARCHAR NOT NULL,
    file        VARCHAR NOT NULL,
    line        BIGINT,                       -- physical line in the file, header = line 1
    column_name VARCHAR,
    rule        VARCHAR NOT NULL,
    message     VARCHAR NOT NULL,
    original    VARCHAR                       -- the row's original text
);

-- Rows that were loaded, but with a problem worth knowing: an implausible optional value that the
-- audit does not need (an OMOP days_supply out of range beside a valid end date) is set aside and
-- noted here, rather than costing the row. Same shape as quarantine.
CREATE TABLE IF NOT EXISTS row_notes (
    run_id      VARCHAR NOT NULL,
    table_name  VARCHAR NOT NULL,
    file        VARCHAR NOT NULL,
    line        BIGINT,
    column_name VARCHAR,
    rule        VARCHAR NOT NULL,
    message     VARCHAR NOT NULL,
    original    VARCHAR
);

CREATE TABLE IF NOT EXISTS patients (
    patient_id VARCHAR NOT NULL,
    birth_date DATE,
    sex        VARCHAR,                       -- F | M | O | U
    _run_id    VARCHAR NOT NULL,
    death_date DATE,                          -- date of death, when the export records one
    deceased   BOOLEAN                        -- true: dead (death_date may be unknown); NULL: not known dead
);
ALTER TABLE patients ADD COLUMN IF NOT EXISTS death_date DATE;
ALTER TABLE patients ADD COLUMN IF NOT EXISTS deceased BOOLEAN;
ALTER TABLE patients ADD COLUMN IF NOT EXISTS site_id VARCHAR;       -- registered site (schema 7)
ALTER TABLE patients ADD COLUMN IF NOT EXISTS clinician_id VARCHAR;  -- responsible clinician (schema 7)
-- registration (schema 13): the last day registered with the practice, when the export gives one
-- (a planned end may lie ahead); deregistered true: a registration end is given, or the export says
-- the patient is not registered (date unknown: registered_until NULL); false: says registered
ALTER TABLE patients ADD COLUMN IF NOT EXISTS registered_until DATE;
ALTER TABLE patients ADD COLUMN IF NOT EXISTS deregistered BOOLEAN;

-- Patients whose latest row in a patients file could not be read (schema 18): a line the reader
-- could not read (cut short, a stray quote) or a row a rule rejected (its death or registration
-- date unreadable: the soft rules on birth date and sex let a row load). What that row says of the
-- patient's death or registration is not known, so every check leaves the patient out, as
-- 'unreadable' (checks/sql/_concepts.sql left_out_by), until a run reads a row for them that loads
-- (pipelines/ingest.py _track_unreadable). The state as of the latest run, not a history: which
-- run found the row, and in which file.
CREATE TABLE IF NOT EXISTS unreadable_patients (
    patient_id VARCHAR NOT NULL,
    run_id     VARCHAR NOT NULL,              -- the run that read the row (the latest such run)
    file       VARCHAR NOT NULL               -- the patients file as the run named it
);
-- Tables whose next export file is read even when byte-identical to one read before: a migration
-- added something only a read finds (schema 18: the patients rows quarantined before it, for
-- unreadable_patients). Emptied by that read (pipelines/ingest.py).
CREATE TABLE IF NOT EXISTS reread_next (table_name VARCHAR NOT NULL);

-- Lab results as exported (typed). What each result measures (analyte, specimen, canonical value
-- and unit) is not stored here but looked up through lab_concepts by the `labs` view (views.sql), so
-- a codelist change re-maps every stored result at the next run, and a load writes only these columns.
CREATE TABLE IF NOT EXISTS lab_results (
    patient_id     VARCHAR NOT NULL,
    collected_at   TIMESTAMP NOT NULL,
    loinc_code     VARCHAR,
    test_name      VARCHAR,
    value_original DOUBLE,                    -- the number; for a censored result (<0.5) its bound
    unit_original  VARCHAR,
    _run_id        VARCHAR NOT NULL,
    value_comparator VARCHAR                  -- '<' | '<=' | '>' | '>=' for a censored result, else NULL
);
ALTER TABLE lab_results ADD COLUMN IF NOT EXISTS value_comparator VARCHAR;
-- The source's name for the result (FHIR Observation id, OMOP source record, MIMIC labevent_id, a
-- generic export's result_id), when it gives one; and whether a later export replaced or withdrew
-- this version of that result (current_lab_results, views.sql). Schema 11.
ALTER TABLE lab_results ADD COLUMN IF NOT EXISTS result_id VARCHAR;
ALTER TABLE lab_results ADD COLUMN IF NOT EXISTS _superseded BOOLEAN;

-- Every distinct (LOINC code, test name, unit) ever staged (keys of quarantined rows included),
-- mapped under the codelists of the latest run (checks/codelists/lab_tests.csv,
-- pipelines/reference/*.csv). Rebuilt by every run.
CREATE TABLE IF NOT EXISTS lab_concepts (
    loinc_code     VARCHAR,
    test_name      VARCHAR,
    unit_original  VARCHAR,
    analyte        VARCHAR,                   -- NULL = not recognised
    specimen       VARCHAR,                   -- blood | urine | NULL
    loinc_format_ok BOOLEAN,                  -- shaped like a LOINC code (NULL: no code)
    loinc_check_ok BOOLEAN,                   -- the LOINC check digit is right (NULL: not a LOINC code)
    has_reference  BOOLEAN NOT NULL,          -- a blood analyte with a canonical unit and plausible range
    canonical_unit VARCHAR,
    factor         DOUBLE,                    -- unit_original -> canonical_unit; NULL = unknown unit
    plausible_low  DOUBLE,
    plausible_high DOUBLE,
    decimals       INTEGER                    -- a converted value is rounded to the canonical unit's
                                              -- reporting precision (pipelines/reference/analytes.csv)
);
ALTER TABLE lab_concepts ADD COLUMN IF NOT EXISTS decimals INTEGER;

CREATE TABLE IF NOT EXISTS prescriptions (
    patient_id   VARCHAR NOT NULL,
    drug_name    VARCHAR NOT NULL,
    rxnorm_code  VARCHAR,
    atc_code     VARCHAR,
    start_date   DATE NOT NULL,
    end_date     DATE,                        -- as exported
    days_supply  INTEGER,
    end_effective DATE,                       -- end_date, else start + days_supply, else the start when
                                              -- stopped (schema 12), else NULL (ongoing)
    _run_id      VARCHAR NOT NULL,             -- the latest run whose export stated this row
    _superseded  BOOLEAN DEFAULT false,        -- a later export stated this prescription otherwise
    stopped      BOOLEAN                       -- as exported: true, the drug was stopped (its end is a
                                              -- stop); false, it was not; NULL: not said
);
ALTER TABLE prescriptions ADD COLUMN IF NOT EXISTS _superseded BOOLEAN DEFAULT false;
ALTER TABLE prescriptions ADD COLUMN IF NOT EXISTS stopped BOOLEAN;
-- The source's name for the prescription (an OMOP exposure's source record, a FHIR MedicationRequest's or
-- MedicationStatement's id, a generic export's prescription_id), when it gives one: a later export's
-- version of it, recoded or restated, supersedes this one. Schema 14.
ALTER TABLE prescriptions ADD COLUMN IF NOT EXISTS prescription_id VARCHAR;

CREATE TABLE IF NOT EXISTS diagnoses (
    patient_id    VARCHAR NOT NULL,
    code          VARCHAR NOT NULL,           -- normalised: upper case, no dot
    code_original VARCHAR NOT NULL,
    code_system   VARCHAR NOT NULL,           -- ICD-10-CM | ICD-9-CM | SNOMED-CT
    recorded_at   DATE NOT NULL,
    resolved_at   DATE,
    _run_id       VARCHAR NOT NULL
);
-- A later export's version of the same diagnosis (patient, code, code system, recorded date), say
-- with the date it resolved, supersedes this one (current_diagnoses, views.sql). Schema 16.
ALTER TABLE diagnoses ADD COLUMN IF NOT EXISTS _superseded BOOLEAN DEFAULT false;
-- The source's name for the condition (a FHIR Condition's id, an OMOP condition's source record, a
-- generic export's diagnosis_id), when it gives one: a later export's version of it (recoded,
-- resolved), or its withdrawal (entered in error, refuted), supersedes every row of it. Schema 17.
ALTER TABLE diagnoses ADD COLUMN IF NOT EXISTS diagnosis_id VARCHAR;

-- Where a flag standing across a prune began (schema 9): the runs that raised it are deleted, so
-- flag_episodes (views.sql) takes its first run, as-of date and earlier run count from here for the
-- series that starts at kept_from_run_id, the oldest run of the check that `prune` kept.
CREATE TABLE IF NOT EXISTS flag_origins (
    check_id         VARCHAR NOT NULL,
    patient_id       VARCHAR NOT NULL,
    kept_from_run_id VARCHAR NOT NULL,
    first_run_id     VARCHAR NOT NULL,            -- the pruned run that first raised the flag
    first_seq        BIGINT NOT NULL,
    first_as_of      DATE NOT NULL,
    runs_before      BIGINT NOT NULL              -- runs of the check that flagged it before kept_from
);

CREATE TABLE IF NOT EXISTS findings (
    run_id     VARCHAR NOT NULL,
    check_id   VARCHAR NOT NULL,
    patient_id VARCHAR NOT NULL,
    priority   VARCHAR NOT NULL,              -- high | normal
    reason     VARCHAR NOT NULL,
    evidence   JSON NOT NULL                  -- the check's evidence columns, by name
);

-- Patients a check would have audited but left out of its population, and why: 'deceased' (died on
-- or before the as-of date, or dead with no date) or 'deregistered' (left the practice: registered
-- until a day before the as-of date, or not registered with no date; schema 13) or 'unreadable'
-- (their row in the patients file could not be read: unreadable_patients; schema 18). A flag on such
-- a patient ends as 'deceased', 'deregistered' or 'unreadable' in flag_status, not as 'resolved'.
CREATE TABLE IF NOT EXISTS check_exclusions (
    run_id     VARCHAR NOT NULL,
    check_id   VARCHAR NOT NULL,
    patient_id VARCHAR NOT NULL,
    reason     VARCHAR NOT NULL,              -- deceased | deregistered | unreadable
    death_date DATE                           -- deceased: the date of death (NULL: date unknown)
);
ALTER TABLE check_exclusions ADD COLUMN IF NOT EXISTS registered_until DATE;  -- deregistered: the
                                              -- last day registered (NULL: date unknown)

CREATE TABLE IF NOT EXISTS check_results (
    run_id        VARCHAR NOT NULL,
    check_id      VARCHAR NOT NULL,
    title         VARCHAR NOT NULL,
    denominator   BIGINT NOT NULL,
    flagged       BIGINT NOT NULL,
    high_priority BIGINT NOT NULL,
    rate          DOUBLE NOT NULL,
    parameters    JSON NOT NULL,              -- the values used, as-of date included
    deceased_excluded BIGINT                  -- patients the check would have audited who died on or
                                              -- before the as-of date (NULL in runs before schema 3)
);
ALTER TABLE check_results ADD COLUMN IF NOT EXISTS deceased_excluded BIGINT;
-- patients the check would have audited who had left the practice by the as-of date (schema 13)
ALTER TABLE check_results ADD COLUMN IF NOT EXISTS deregistered_excluded BIGINT;
-- patients the check would have audited whose patients row could not be read (schema 18)
ALTER TABLE check_results ADD COLUMN IF NOT EXISTS unreadable_excluded BIGINT;

-- The codelist files each run read: every shipped file and each of the clinic's local additions
-- (setting local_codelists), with its sha256 and rows, so a run's results can be traced to the exact
-- lists that produced them.
CREATE TABLE IF NOT EXISTS run_codelists (
    run_id    VARCHAR NOT NULL,
    codelist  VARCHAR NOT NULL,               -- e.g. diuretics (a local file extends the list it is named after)
    source    VARCHAR NOT NULL,               -- shipped | local
    file      VARCHAR NOT NULL,               -- the file's path as read
    sha256    VARCHAR NOT NULL,
    rows      BIGINT NOT NULL                 -- data rows in the file
);

-- What the codelists may have missed in this run's data (pipelines/unmatched.py): lab tests, drug
-- names and diagnosis codes that match no codelist but look related to one, most rows first per
-- kind. Counts only: no patient identifier.
CREATE TABLE IF NOT EXISTS run_unmatched (
    run_id      VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,             -- labs | drugs | diagnoses
    rank        INTEGER NOT NULL,             -- 1 = most rows, within the kind
    code_system VARCHAR,                      -- LOINC, RxNorm, ATC, ICD-10-CM, ICD-9-CM (NULL: no code)
    code        VARCHAR,
    name        VARCHAR,                      -- the test or drug name as exported
    related_to  VARCHAR NOT NULL,             -- the analyte, codelist: ingredient, or codelist it resembles
    note        VARCHAR NOT NULL,             -- why it is listed, and what to do
    rows        BIGINT NOT NULL,
    patients    BIGINT NOT NULL
);

-- Counts with exceptions (schema 6): patients left out of the numerator by a review with status
-- 'exception' that applied in this run (pipelines/reviews.py); flagged_after_exceptions = flagged -
-- exceptions. NULL in runs before schema 6.
ALTER TABLE check_results ADD COLUMN IF NOT EXISTS exceptions BIGINT;
ALTER TABLE check_results ADD COLUMN IF NOT EXISTS flagged_after_exceptions BIGINT;

-- What the clinic team decided about a flag (clinic-audit review; schema 6). Never pruned: a review
-- is the clinic's record, not a run's result. The latest review of a patient and check is current.
CREATE TABLE IF NOT EXISTS reviews (
    review_id    BIGINT NOT NULL,             -- 1, 2, 3, ... in the order recorded
    patient_id   VARCHAR NOT NULL,
    check_id     VARCHAR NOT NULL,
    status       VARCHAR NOT NULL,            -- acknowledged (stays in the numerator) | exception
    reason       VARCHAR NOT NULL,            -- patient_declined | not_clinically_appropriate |
                                              -- done_elsewhere | palliative | action_planned | other
    note         VARCHAR,
    done_on      DATE,                        -- done_elsewhere: the date it was done
    valid_until  DATE,                        -- applies up to and including this date (NULL: no end)
    recorded_by  VARCHAR NOT NULL,            -- --by, else the user who ran the command
    recorded_at  TIMESTAMP NOT NULL,
    run_id       VARCHAR NOT NULL,            -- the run whose flag was reviewed
    evidence_fingerprint VARCHAR NOT NULL,    -- sha256 of that flag's evidence: a change re-opens it
    source       VARCHAR NOT NULL             -- 'command line', or the sheet's file and line
);

-- Each run's verdict on every reviewed flag it raised (schema 6): 'applies', 're-opened' (the
-- evidence changed since the review) or 'expired' (the run's as-of date is past valid_until).
CREATE TABLE IF NOT EXISTS review_outcomes (
    run_id     VARCHAR NOT NULL,
    check_id   VARCHAR NOT NULL,
    patient_id VARCHAR NOT NULL,
    review_id  BIGINT NOT NULL,
    status     VARCHAR NOT NULL,              -- the review's status: acknowledged | exception
    state      VARCHAR NOT NULL               -- applies | re-opened | expired
);

-- Monthly measures (checks/measures.py, issue #19): each check's population, flagged patients and rate
-- as of each month-end, back-calculated from the loaded data (the check as of that day, the dead on or
-- before it left out), in total and broken down by group. Each breakdown's groups sum to its total.
-- Kept up to date incrementally: a month is evaluated again only when its fingerprint changed.
CREATE TABLE IF NOT EXISTS measures (
    check_id    VARCHAR NOT NULL,
    month_end   DATE NOT NULL,                -- the as-of date: the last day of the month
    breakdown   VARCHAR NOT NULL,             -- total | age_band | sex | site | clinician
    group_value VARCHAR NOT NULL,             -- '' for total; an age band (0-17 ... 85+), F/M/O/U, a
                                              -- site_id or clinician_id; 'unknown' when not recorded
    population  BIGINT NOT NULL,              -- the denominator
    flagged     BIGINT NOT NULL,              -- the numerator
    rate        DOUBLE,                       -- flagged / population (NULL: nobody in the population)
    run_id      VARCHAR NOT NULL,             -- the run that evaluated this month
    private     BOOLEAN NOT NULL DEFAULT false -- an ad-hoc run's evaluation with its own --param:
                                              -- only that run reads it (measures_of)
);
ALTER TABLE measures ADD COLUMN IF NOT EXISTS private BOOLEAN DEFAULT false;  -- schema 9

-- What each stored month was evaluated from: the check's definition, parameters and codelists, and
-- the data dated on or before the month-end. A month whose fingerprints differ today is evaluated again.
CREATE TABLE IF NOT EXISTS measure_fingerprints (
    check_id          VARCHAR NOT NULL,
    month_end         DATE NOT NULL,
    check_fingerprint VARCHAR NOT NULL,
    data_fingerprint  VARCHAR NOT NULL,
    run_id            VARCHAR NOT NULL        -- the run that evaluated the month
);

-- The prospective list (schema 6, pipelines/due_soon.py): patients of a check's population not
-- flagged in this run whose test falls due within due_soon_days of the as-of date.
CREATE TABLE IF NOT EXISTS due_soon (
    run_id     VARCHAR NOT NULL,
    check_id   VARCHAR NOT NULL,
    patient_id VARCHAR NOT NULL,
    due_on     DATE NOT NULL                  -- when the next test or action falls due
);
