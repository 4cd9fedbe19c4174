-- The checks' vocabulary: the phrases every clinical definition is written in, so a check's SQL reads
-- like the definition a reviewer signs off ("cramps recorded in the lookback", "a diuretic active on
-- the as-of date", "the last potassium on or before it") instead of retyping date arithmetic.
-- Created per connection (TEMP) after _concepts.sql, whose views the table macros read; the result
-- macros (result_below, result_above, result_fell, result_text, latest_key) are in _results.sql.
-- Each phrase has a spec test: tests/unit/test_check_vocabulary.py.
--
-- Macros never see bound parameters: a check passes its $as_of, $lookback_days... as arguments, so
-- values stay bound. Table macros are inlined, so a check's own filters (patient_id IN (...)) still
-- reach the scan. Codelists and analytes are passed as lists (['diuretics', 'baclofen']): the
-- meta-test (tests/unit/test_check_contract.py) reads them there to hold a check to its declared
-- codelists.
--
-- Days and windows (every date inclusive)
--   window_start(on_day, days)        on_day - days: the first day of the window that ends on on_day
--                                     and holds days + 1 days (days = 365: day 365 before is in, 366 out)
--   in_window(d, on_day, days)        d from window_start(on_day, days) to on_day
--   days_between(earlier, later)      whole days from one date to the other
--   days_after(day, n)                the day n days after day (a due date: a test on d covers d + n)
--   age_on(birth_date, on_day)        whole years of age on on_day: a year older on the day that
--                                     birth_date + n years reaches (born 29 February: 28 February in
--                                     other years), as the checks' "aged n by as-of" counts it
-- Prescriptions (end_effective: own end, else start + supply, else NULL = ongoing; ended at death)
--   ongoing_on(end_effective, on_day)                    not ended before on_day
--   active_on(start_date, end_effective, on_day)         started on or before on_day, not ended before it
--   active_in_window(start_date, end_effective, on_day, days)   active at some time in the window
--   taken_until(start_date, end_effective, stopped, gap_days)   the last day a prescription's drug
--                                     counts as taken: its end plus gap_days (a repeat medicine between
--                                     two issues is still taken), the gap at most the course's own length
--                                     (a 5-day course: 5 days) and none after a prescription `stopped`
--                                     before its supply ran out (prescription_periods); NULL when it runs
--                                     on with no end
--   still_taken(start_date, end_effective, stopped, on_day, gap_days)   taken_until not before on_day
--   taken_on(start_date, end_effective, stopped, on_day, gap_days)  started on or before on_day and
--                                     still taken on it
--   begins_course(start_date, prior_until)   a prescription starting more than a day after the last
--                                     day every earlier one of the same use was taken (prior_until, the
--                                     max over them; NULL when none came before) begins a new course:
--                                     one starting the next day continues it (a renewal, a dose change)
--   earlier_until(until, course, ordered)   prior_until for begins_course: the latest `until` (the
--                                     last day a prescription counts, with whatever break the check
--                                     allows after it) over the prescriptions of one `course` (a
--                                     patient, or a row such as (patient_id, drug)) before this one in
--                                     the order of `ordered` (the start date; ties as sorted, or a row
--                                     such as (start_date, drug_name), never NULL: Spark sorts a NULL
--                                     inside a row first, DuckDB last); NULL for the first. A window
--                                     word: the frame every course's prior_until is read with
--   course_end(start_date, planned_end, said_ongoing, end_effective, days)   the last day of a
--                                     course: its planned end, or with no end date and no days supply
--                                     `days` from its start (an undated NSAID or B12 prescription is a
--                                     course, not for ever) unless the export says it is still taken
--                                     (said_ongoing: NULL, running); a death before that ends it
--                                     (end_effective)
--   drugs_taken_on(codelists, on_day, gap_days)         drug_exposures rows taken on on_day (taken_on:
--                                     running on it or in their refill gap; gap 0: active on it)
--   drugs_active_in_window(codelists, on_day, days)      ... active at some time in the window
--   drugs_started_by(codelists, on_day)                  ... started on or before on_day
--   patients_on_drugs(codelists)        the patients with such a drug at any date (patient_id): a
--                                      narrowing that needs no as-of date
--   prescriptions_active_in_window(on_day, days)         every prescription (any drug), as above
--   drug_stem(drug_name)               the name without strength, form or pack, lowercased: cut at its
--                                      first digit after RxNorm's leading quantities and qualifiers
--                                      ('24 HR ', '120 ACTUAT ', '1 ML ', 'NDA020503 ', 'Abuse-Deterrent ',
--                                      a pack's '{28 ('): 'amLODIPine 5 MG Oral Tablet' and 'Amlodipine 10mg
--                                      tablets' are 'amlodipine'; a name that is all strength stays whole;
--                                      a salt after the name goes ('Losartan potassium 50mg' is 'losartan'),
--                                      unless the name starts with a mineral or salt ('potassium chloride',
--                                      'calcium acetate' stay whole: without_salt)
--   is_combination(drug_name)          a product of two or more drugs by its name: 'x / y', 'x + y', 'x & y',
--                                      'x with y', 'x and y', 'x plus y' (RxNorm writes 'a / b'; dm+d 'a with b');
--                                      a strength per unit ('1 MG/ML', '100micrograms/dose', '0.025 MG/HR')
--                                      or 'w/v' is one drug's, not a second drug
--   is_topical(product_id)             a topical or local form, never systemic exposure: in
--                                      topical_products (_concepts.sql: the form in the name, topical
--                                      NSAIDs, a patch of a drug that acts locally, a fentanyl or
--                                      estradiol patch being systemic; or coded ATC D, dermatological,
--                                      less its groups for systemic use, or M02, topical for joint and
--                                      muscle pain)
-- Diagnoses
--   diagnoses_in_window(codelists, on_day, days)         coded_diagnoses rows recorded in the window
--   diagnoses_by(codelists, on_day)                      ... recorded on or before on_day (ever)
--   diagnoses_unresolved_on(codelists, on_day)           ... recorded by on_day and not resolved by it
--   lasting_unresolved_on(codelists, on_day)             ... the same for a lasting condition (cirrhosis,
--                                      CKD), where an end on the day it was recorded is the end of the
--                                      record, not of the disease (visit-based exports, OMOP ETLs)
--   diagnosed_in_window / diagnosed_by / diagnosed_unresolved_on (same arguments): one row per
--                                      patient: codes (code_labels), first_at, last_at
-- Results
--   results_by(analytes, on_day)       blood_results collected on or before on_day, with `day` (the
--                                      collection date), `result` (kept whole: result_of) and `k`
--                                      (latest_key): arg_max(result, k) is the last result by time
--   results_of(analytes)               the same at any date: a series whose every row reads only the
--                                      rows before it is the same up to any as-of date, and the
--                                      monthly measures compute it once rather than once a month
-- Labels and the flag
--   listed(x)                         the distinct values, sorted, joined with '; ' (an aggregate)
--   code_label(code, system)          'R25.2 (ICD-10-CM)'; code_labels(code, system) lists them
--   words_or(items)                   ['a', 'b', 'c'] -> 'a, b or c'
--   flag_priority(flagged, high)      NULL when not flagged, else 'high' or 'normal'
--   flag_reason(flagged, text)        the reason, only for a flagged row

CREATE OR REPLACE TEMP MACRO window_start(on_day, days) AS on_day - CAST(days AS INTEGER);
CREATE OR REPLACE TEMP MACRO in_window(d, on_day, days) AS d BETWEEN window_start(on_day, days) AND on_day;
CREATE OR REPLACE TEMP MACRO days_between(earlier, later) AS later - earlier;
CREATE OR REPLACE TEMP MACRO days_after(day, n) AS day + CAST(n AS INTEGER);
CREATE OR REPLACE TEMP MACRO age_on(birth_date, on_day) AS CAST(
    date_part('year', on_day) - date_part('year', birth_date)
    - CASE WHEN birth_date + to_years(CAST(date_part('year', on_day) - date_part('year', birth_date) AS INTEGER))
                > on_day THEN 1 ELSE 0 END AS INTEGER);
CREATE OR REPLACE TEMP MACRO ongoing_on(end_effective, on_day) AS end_effective IS NULL OR end_effective >= on_day;
CREATE OR REPLACE TEMP MACRO active_on(start_date, end_effective, on_day) AS
    start_date <= on_day AND ongoing_on(end_effective, on_day);
CREATE OR REPLACE TEMP MACRO active_in_window(start_date, end_effective, on_day, days) AS
    start_date <= on_day AND ongoing_on(end_effective, window_start(on_day, days));
CREATE OR REPLACE TEMP MACRO taken_until(start_date, end_effective, stopped, gap_days) AS
    days_after(end_effective, CASE WHEN stopped THEN 0
                                   ELSE least(CAST(gap_days AS INTEGER), days_between(start_date, end_effective)) END);
CREATE OR REPLACE TEMP MACRO still_taken(start_date, end_effective, stopped, on_day, gap_days) AS
    ongoing_on(taken_until(start_date, end_effective, stopped, gap_days), on_day);
CREATE OR REPLACE TEMP MACRO taken_on(start_date, end_effective, stopped, on_day, gap_days) AS
    start_date <= on_day AND still_taken(start_date, end_effective, stopped, on_day, gap_days);

CREATE OR REPLACE TEMP MACRO begins_course(start_date, prior_until) AS
    prior_until IS NULL OR start_date > days_after(prior_until, 1);
CREATE OR REPLACE TEMP MACRO earlier_until(until, course, ordered) AS
    max(until) OVER (PARTITION BY course ORDER BY ordered ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING);
CREATE OR REPLACE TEMP MACRO course_end(start_date, planned_end, said_ongoing, end_effective, days) AS
    least(coalesce(planned_end, CASE WHEN NOT said_ongoing THEN days_after(start_date, days) END),
          end_effective);

CREATE OR REPLACE TEMP MACRO listed(x) AS string_agg(DISTINCT x, '; ' ORDER BY x);
CREATE OR REPLACE TEMP MACRO code_label(code, system) AS code || ' (' || system || ')';
CREATE OR REPLACE TEMP MACRO code_labels(code, system) AS listed(code_label(code, system));
-- ['potassium', 'sodium', 'renal function'] -> 'potassium, sodium or renal function' (one item: itself)
CREATE OR REPLACE TEMP MACRO words_or(items) AS
    CASE WHEN len(items) < 2 THEN items[1]
         ELSE array_to_string(items[1:len(items) - 1], ', ') || ' or ' || items[len(items)] END;

-- The priority rule every check shares: only a flagged row has a priority; a NULL `high` is normal.
CREATE OR REPLACE TEMP MACRO flag_priority(flagged, high) AS
    CASE WHEN flagged THEN CASE WHEN high THEN 'high' ELSE 'normal' END END;
CREATE OR REPLACE TEMP MACRO flag_reason(flagged, text) AS CASE WHEN flagged THEN text END;

CREATE OR REPLACE TEMP MACRO drugs_started_by(codelists, on_day) AS TABLE
    SELECT * FROM drug_exposures WHERE list_contains(codelists, codelist) AND start_date <= on_day;
CREATE OR REPLACE TEMP MACRO patients_on_drugs(codelists) AS TABLE
    SELECT DISTINCT patient_id FROM drug_exposures WHERE list_contains(codelists, codelist);
CREATE OR REPLACE TEMP MACRO drugs_taken_on(codelists, on_day, gap_days) AS TABLE
    SELECT * FROM drug_exposures
    WHERE list_contains(codelists, codelist) AND taken_on(start_date, end_effective, stopped, on_day, gap_days);
CREATE OR REPLACE TEMP MACRO drugs_active_in_window(codelists, on_day, days) AS TABLE
    SELECT * FROM drug_exposures
    WHERE list_contains(codelists, codelist) AND active_in_window(start_date, end_effective, on_day, days);
-- A salt after the drug's name ('losartan potassium', 'amlodipine besilate'): the same drug. A stem
-- whose first word is a mineral or a salt ('potassium chloride', 'calcium acetate', 'sodium
-- citrate') is named by its salt and keeps it: calcium carbonate and calcium acetate are two drugs.
CREATE OR REPLACE TEMP MACRO without_salt(stem) AS CASE
    WHEN regexp_matches(stem, '^(potassium|sodium|calcium|magnesium|ferrous|ferric|zinc|lithium|aluminium|aluminum'
                              || '|ammonium|hydrochloride|sulfate|sulphate)(\s|$)')
        THEN stem
    ELSE coalesce(nullif(trim(regexp_replace(stem,
        '(\s+(potassium|sodium|calcium|magnesium|hydrochloride|hcl|besilate|besylate|maleate'
        || '|mesilate|mesylate|fumarate|hemifumarate|succinate|tartrate|bitartrate|citrate|sulfate'
        || '|sulphate|phosphate|acetate|bromide|hydrobromide|chloride|carbonate|nitrate|lactate'
        || '|gluconate|hyclate|embonate|pamoate|medoxomil|cilexetil|erbumine|arginine|dihydrate'
        || '|monohydrate|trihydrate|hemihydrate|anhydrous))+(\s|$)', ' ', 'g')), ''), stem)
END;
CREATE OR REPLACE TEMP MACRO drug_stem(name) AS coalesce(
    nullif(without_salt(trim(regexp_replace(
        regexp_replace(lower(name),
                       '^(\s*((abuse-deterrent|nda[0-9]+)\s+|[0-9.]+\s*(hr|hour|actuat|ml|day)s?\s+|\{\s*[0-9]+\s*\())+',
                       ''),
        '\s*[0-9].*$', ''))), ''),
    lower(name));
CREATE OR REPLACE TEMP MACRO is_combination(name) AS
    regexp_matches(
        regexp_replace(lower(name),
                       '[0-9.]\s*[a-z%]*\s*/\s*[0-9.]*\s*(ml|l|mg|mcg|micrograms?|g|gm|kg|m2|units?|unt|mmol|patch|actuat|actuations?|doses?|hr|h|hours?|vials?|sprays?|puffs?|drops?|days?)([^a-z]|$)|(^|[^a-z])[wv]/[wv]([^a-z]|$)',
                       ' ', 'g'),
        '[a-z0-9%]\s*[/+&]\s*[a-z]|\s(with|and|plus)\s');
-- is_topical(product): in topical_products (_concepts.sql), the one definition of a topical form.
CREATE OR REPLACE TEMP MACRO is_topical(product) AS
    EXISTS (SELECT 1 FROM topical_products t WHERE t.product_id = product);
CREATE OR REPLACE TEMP MACRO prescriptions_active_in_window(on_day, days) AS TABLE
    SELECT * FROM prescription_periods WHERE active_in_window(start_date, end_effective, on_day, days);

CREATE OR REPLACE TEMP MACRO diagnoses_in_window(codelists, on_day, days) AS TABLE
    SELECT * FROM coded_diagnoses
    WHERE list_contains(codelists, codelist) AND in_window(recorded_at, on_day, days);
CREATE OR REPLACE TEMP MACRO diagnoses_by(codelists, on_day) AS TABLE
    SELECT * FROM coded_diagnoses WHERE list_contains(codelists, codelist) AND recorded_at <= on_day;
CREATE OR REPLACE TEMP MACRO diagnoses_unresolved_on(codelists, on_day) AS TABLE
    SELECT * FROM coded_diagnoses
    WHERE list_contains(codelists, codelist) AND recorded_at <= on_day
      AND (resolved_at IS NULL OR resolved_at > on_day);
CREATE OR REPLACE TEMP MACRO lasting_unresolved_on(codelists, on_day) AS TABLE
    SELECT * FROM coded_diagnoses
    WHERE list_contains(codelists, codelist) AND recorded_at <= on_day
      AND (resolved_at IS NULL OR resolved_at > on_day OR resolved_at = recorded_at);

-- The same, one row per patient: codes (code_labels), first_at and last_at (when recorded).
CREATE OR REPLACE TEMP MACRO diagnosed_in_window(codelists, on_day, days) AS TABLE
    SELECT patient_id, code_labels(code_original, code_system) AS codes,
           min(recorded_at) AS first_at, max(recorded_at) AS last_at
    FROM diagnoses_in_window(codelists, on_day, days) GROUP BY patient_id;
CREATE OR REPLACE TEMP MACRO diagnosed_by(codelists, on_day) AS TABLE
    SELECT patient_id, code_labels(code_original, code_system) AS codes,
           min(recorded_at) AS first_at, max(recorded_at) AS last_at
    FROM diagnoses_by(codelists, on_day) GROUP BY patient_id;
CREATE OR REPLACE TEMP MACRO diagnosed_unresolved_on(codelists, on_day) AS TABLE
    SELECT patient_id, code_labels(code_original, code_system) AS codes,
           min(recorded_at) AS first_at, max(recorded_at) AS last_at
    FROM diagnoses_unresolved_on(codelists, on_day) GROUP BY patient_id;

CREATE OR REPLACE TEMP MACRO results_of(analytes) AS TABLE
    SELECT *, collected_at::DATE AS day, result_of(value, value_comparator) AS result,
           latest_key(collected_at, value, value_comparator) AS k
    FROM blood_results
    WHERE list_contains(analytes, analyte);
CREATE OR REPLACE TEMP MACRO results_by(analytes, on_day) AS TABLE
    SELECT * FROM results_of(analytes) WHERE day <= on_day;
