-- Built once per run, before the checks: which codelists each distinct drug and diagnosis in the
-- database belongs to. Matching runs over distinct values only, so it costs the same whether the
-- clinic has a thousand prescriptions or five million.

-- Drug products: each distinct drug descriptor (name, RxNorm code, ATC code) in the database, numbered
-- for this run. What is known of a drug (its codelists, whether it is topical) is a property of its
-- descriptor, so the views and checks join on product_id, one integer, rather than on the three
-- columns (a name and two codes that may be NULL). The numbers hold within a run only: nothing
-- stores them.
CREATE OR REPLACE TEMP TABLE drug_products AS
SELECT CAST(row_number() OVER (ORDER BY drug_name, rxnorm_code, atc_code) AS INTEGER) AS product_id,
       drug_name, rxnorm_code, atc_code
FROM (SELECT DISTINCT drug_name, rxnorm_code, atc_code FROM prescriptions);

-- Drug descriptors -> codelists. A name entry matches a whole word or phrase of the drug name
-- (so "lasix 40 mg tablet" matches "lasix", and "lisinopril / hydrochlorothiazide" matches both).
CREATE OR REPLACE TEMP TABLE drug_concepts AS
WITH drugs AS (
    SELECT product_id, drug_name, rxnorm_code, atc_code FROM drug_products
),
words AS (
    SELECT product_id, drug_name, rxnorm_code, atc_code,
           string_split_regex(trim(regexp_replace(lower(drug_name), '[^a-z0-9]+', ' ', 'g')), ' ') AS w
    FROM drugs
),
phrases AS (
    SELECT DISTINCT product_id, drug_name, rxnorm_code, atc_code, phrase FROM (
        SELECT product_id, drug_name, rxnorm_code, atc_code,
               unnest(list_concat(
                   w,
                   list_transform(range(len(w) - 1), lambda i: w[i + 1] || ' ' || w[i + 2]),
                   list_transform(range(greatest(len(w) - 2, 0)),
                                  lambda i: w[i + 1] || ' ' || w[i + 2] || ' ' || w[i + 3])
               )) AS phrase
        FROM words
    )
),
matched AS (
    SELECT DISTINCT d.product_id, d.drug_name, d.rxnorm_code, d.atc_code, c.codelist, c.ingredient,
           c.system AS matched_by
    FROM drugs d
    JOIN codelist c
      ON (c.system = 'ATC' AND starts_with(d.atc_code, c.code))
      OR (c.system = 'RxNorm' AND d.rxnorm_code = c.code)
    UNION
    SELECT p.product_id, p.drug_name, p.rxnorm_code, p.atc_code, c.codelist, c.ingredient, 'name'
    FROM phrases p
    JOIN codelist c ON c.system = 'name' AND c.code = regexp_replace(p.phrase, '\s+', ' ', 'g')
)
-- A row without an ingredient (a clinic's local entry that left it empty) is dropped when another
-- row of the codelist names the drug's ingredient: else 'zostrix cream' counted as a trial of its own
-- beside the shipped entry's capsaicin (the ingredient falls back to the drug's name, drug_exposures).
-- A class placeholder ('<insulin>') names no ingredient: the coded row stays, and with it what a
-- code says that a name cannot (insulin_products: coded as insulin, whatever device word it carries).
SELECT * FROM matched
QUALIFY ingredient IS NOT NULL
     OR NOT bool_or(ingredient IS NOT NULL AND NOT starts_with(ingredient, '<'))
            OVER (PARTITION BY product_id, codelist);

-- Drug products that are topical or local, never systemic exposure (the one definition for every
-- check, read through the phrase is_topical, _phrases.sql). By the name: a topical dose form or route
-- (dose_forms_topical: gel, cream, plaster, eye drops, lozenge, topical-only brands such as
-- Versatis), except a 'liquid gel' or 'gel cap' capsule, which is oral; or a topical NSAID
-- (nsaids_topical: Voltarol Emulgel, Flector, ophthalmic NSAIDs). A patch (dose_forms_patch: patch,
-- patches, transdermal) delivers its drug into the blood (Evorel 50 patches, Scopoderm 1.5mg patch,
-- fentanyl, nicotine, rivastigmine) unless the drug acts where it is put: an NSAID (either NSAID
-- list), or a drug or product of acts_locally (lidocaine, capsaicin, salicylates, hydrocolloid cold
-- sore patches; ATC N01B), named or coded, or the ingredient any codelist gives it (Qutenza: capsaicin).
-- A hormone put on the skin to be absorbed (systemic_through_skin: testosterone and estradiol gels
-- and sprays, Testogel, Oestrogel) is systemic in any form.
-- By the ATC code: D (dermatological) or M02 (topical products for joint and muscle pain). D's
-- groups "for systemic use" are tablets, capsules and injections: D01B antifungals (terbinafine,
-- griseofulvin), D05B antipsoriatics (acitretin, methoxsalen, fumarates), D10B anti-acne
-- (isotretinoin), D11AH04 alitretinoin and D11AH05 dupilumab, D11AX02 gamolenic acid capsules and
-- D11AX10 finasteride 1 mg tablets (WHO ATC index; clinical review 2026-12, eighth, and its second
-- read).
CREATE OR REPLACE TEMP TABLE topical_products AS
WITH local_ingredients AS (
    SELECT code AS ingredient FROM codelist WHERE codelist = 'acts_locally' AND system = 'name'
),
forms AS (
    SELECT c.product_id,
           bool_or(c.codelist = 'dose_forms_topical'
                   AND NOT regexp_matches(lower(c.drug_name), '(liquid[^a-z]*gels?|gel[^a-z]*cap)'))
               OR bool_or(c.codelist = 'nsaids_topical')
               -- a spray of a strength in per cent ('Ibuprofen 5% spray', the generic of Ibuspray, a
               -- cutaneous spray, ATC M02AA13) is for the skin; bare 'spray' is not listed, as a nasal
               -- (ketorolac), sublingual (glyceryl trinitrate) or mouth spray is absorbed
               OR bool_or(regexp_matches(lower(c.drug_name), '[0-9]\s*%.*(^|[^a-z])sprays?([^a-z]|$)')
                          AND NOT regexp_matches(lower(c.drug_name),
                                                 '(nasal|nose|sublingual|oromucosal|buccal|mouth|throat|oral|inhal)'))
                   AS topical_form,
           bool_or(c.codelist = 'dose_forms_patch') AS patch,
           bool_or(c.codelist = 'systemic_through_skin') AS systemic,
           bool_or(c.codelist IN ('acts_locally', 'nsaids_systemic', 'nsaids_topical')
                   OR l.ingredient IS NOT NULL) AS acts_locally
    FROM drug_concepts c
    LEFT JOIN local_ingredients l ON l.ingredient = c.ingredient
    GROUP BY c.product_id
)
SELECT d.product_id
FROM drug_products d
LEFT JOIN forms f USING (product_id)
WHERE coalesce((f.topical_form OR (f.patch AND f.acts_locally)) AND NOT f.systemic, false)
   OR (starts_with(coalesce(d.atc_code, ''), 'D')
       AND NOT list_has_any([left(d.atc_code, 4), left(d.atc_code, 7)],
                            ['D01B', 'D05B', 'D10B', 'D11AH04', 'D11AH05', 'D11AX02', 'D11AX10']))
   OR starts_with(coalesce(d.atc_code, ''), 'M02');

-- Diagnosis codes -> codelists. ICD entries match by prefix (K703 covers K7030, K7031). A WHO ICD-10
-- code (code system 'ICD-10') also matches the ICD-10-CM rows it starts with: WHO's 3- and
-- 4-character codes are the clinical modification's categories (K74.6 is K74.6 in both). The
-- codelists' ICD-10 rows add the WHO codes the clinical modification split further (WHO E11.4 is
-- CM's E11.40-E11.49, of which a list may take only some) or lacks (E14.4); an ICD-10-CM code written
-- as exactly such a WHO code (E11.4, as some systems record it) matches that row too, and only
-- exactly, so CM's E11.43 is not taken in by WHO's E11.4.
-- Except where the clinical modification gave a WHO code another meaning (icd10_cm_redefined: WHO
-- I12.0 is hypertensive renal disease with renal failure, of no stage; CM's I12.0 is stage 5 or ESRD):
-- such a WHO code matches only the lists' ICD-10 rows.
CREATE OR REPLACE TEMP TABLE diagnosis_concepts AS
WITH codes AS (
    SELECT d.code, d.code_system, bool_or(r.code IS NOT NULL) AS redefined
    FROM (SELECT DISTINCT code, code_system FROM diagnoses) d
    LEFT JOIN codelist r
      ON r.codelist = 'icd10_cm_redefined' AND d.code_system = 'ICD-10' AND starts_with(d.code, r.code)
    GROUP BY d.code, d.code_system
)
SELECT DISTINCT d.code, d.code_system, c.codelist
FROM codes d
JOIN codelist c
  ON CASE
         WHEN c.codelist = 'icd10_cm_redefined' THEN false
         WHEN c.system = d.code_system AND d.code_system = 'SNOMED-CT' THEN d.code = c.code
         WHEN c.system = d.code_system THEN starts_with(d.code, c.code)
         WHEN d.code_system = 'ICD-10' AND c.system = 'ICD-10-CM' THEN starts_with(d.code, c.code) AND NOT d.redefined
         WHEN d.code_system = 'ICD-10-CM' AND c.system = 'ICD-10' THEN d.code = c.code
         ELSE false
     END;

-- Patients known dead (patient_state, views.sql): death_date NULL = dead, date unknown. Built once per
-- run; checks/evaluate.py leaves those dead on or before the as-of date out of every population.
CREATE OR REPLACE TEMP TABLE deceased_patients AS
SELECT patient_id, death_date FROM src_patient_state WHERE deceased;

-- The two death rules, defined here only (checks/evaluate.py and checks/measures.py use them; spec:
-- tests/unit/test_check_vocabulary.py).
-- dead_by(day): the patients dead on or before `day`, out of every check's population as of it. A
-- death without a date counts at any day.
CREATE OR REPLACE TEMP MACRO dead_by(day) AS TABLE
    SELECT patient_id, death_date FROM deceased_patients WHERE death_date IS NULL OR death_date <= day;
-- Patients who left the practice (patient_state): registered_until NULL = left, date unknown. A
-- registration counts through its last day, as ehrQL's practice_registrations.for_patient_on(date)
-- keeps a registration ending on that date.
CREATE OR REPLACE TEMP TABLE deregistered_patients AS
SELECT patient_id, registered_until FROM src_patient_state WHERE deregistered;
-- left_out_by(day): every patient out of every check's population as of `day`, and why: dead by then
-- (dead_by; a death wins), else registered with the practice until a day before it, or no longer
-- registered with no date; else 'unreadable': the patient's latest row in a patients file could not
-- be read (unreadable_patients, filled by pipelines/ingest.py _track_unreadable), so what it says of
-- their death or registration is not known. A dead patient audited is the first harm a clinic
-- notices (a call to the bereaved); one left out is counted and warned about, and audited again
-- once a row for them loads. Leaving the practice ends no exposure: the patient's care goes on
-- elsewhere, out of this audit's sight.
CREATE OR REPLACE TEMP MACRO left_out_by(day) AS TABLE
    WITH dead AS (SELECT * FROM dead_by(day)),
    gone AS (
        SELECT patient_id, registered_until FROM deregistered_patients
        WHERE (registered_until IS NULL OR registered_until < day)
          AND patient_id NOT IN (SELECT patient_id FROM dead)
    )
    SELECT patient_id, 'deceased' AS reason, death_date, NULL::DATE AS registered_until FROM dead
    UNION ALL
    SELECT patient_id, 'deregistered', NULL::DATE, registered_until FROM gone
    UNION ALL
    SELECT DISTINCT patient_id, 'unreadable', NULL::DATE, NULL::DATE FROM unreadable_patients
    WHERE patient_id NOT IN (SELECT patient_id FROM dead) AND patient_id NOT IN (SELECT patient_id FROM gone);
-- younger_on(years, day): the patients known to be under `years` old on `day` (born less than that
-- many years before it, as age_on counts); a patient of unknown birth date is not among them.
CREATE OR REPLACE TEMP MACRO younger_on(years, day) AS TABLE
    SELECT patient_id FROM src_patient_state WHERE birth_date + to_years(CAST(years AS INTEGER)) > day;
-- exposure_deaths_after(day): the deaths that end exposures while a check is evaluated as of `day`:
-- those after it. A patient dead by then is left out (dead_by) and counted as left out, so the check
-- must first see the patient it would have audited (an open-ended diuretic still running) rather
-- than an exposure already ended. NULL: every dated death.
CREATE OR REPLACE TEMP MACRO exposure_deaths_after(day) AS TABLE
    SELECT patient_id, death_date FROM deceased_patients
    WHERE death_date IS NOT NULL AND (day IS NULL OR death_date > day);

-- The deaths prescription_periods ends exposures at: every dated death until an evaluation sets the
-- table to exposure_deaths_after(its as-of date) (checks/evaluate.py end_exposures_at_deaths_after).
CREATE OR REPLACE TEMP TABLE exposure_deaths AS
SELECT * FROM exposure_deaths_after(NULL);

-- Every prescription with the day its exposure ends: its own end (end_effective: end date, else
-- start + days supply, else NULL = ongoing), or the patient's death, whichever comes first.
-- Each carries its product (drug_products: the number of its name and codes, what the views and
-- checks join drugs on).
CREATE OR REPLACE TEMP VIEW prescription_periods AS
SELECT p.patient_id, x.product_id, p.drug_name, p.rxnorm_code, p.atc_code, p.start_date,
       least(p.end_effective, d.death_date) AS end_effective,  -- least() skips a NULL (open-ended)
       -- the prescription's own end, as planned when it was written (NULL = open-ended): what a
       -- rule about the prescription itself reads (an open-ended course's assumed length, an acute
       -- course's planned length), which a death later on must not change
       p.end_effective AS planned_end,
       -- said_ongoing: open-ended as the export states it, not merely undated: no end date, no days
       -- supply, and said not stopped (Synthea's empty STOP, an active FHIR request, stopped = no).
       -- A rule that gives an undated prescription a length (course_end) leaves such a one running
       (p.end_effective IS NULL AND p.stopped IS NOT DISTINCT FROM false) AS said_ongoing,
       -- stopped: no refill gap follows its end (taken_until), as the export says (FHIR status
       -- 'stopped'; active or completed: not), else read from the dates: an end before the supply's
       -- last day (OMOP's convention: start + days_supply - 1; an end on that day, or the day after
       -- as some ETLs write it, is the supply running out) is a stop, not the end of an issue
       coalesce(p.stopped, p.end_date < p.start_date + CAST(p.days_supply - 1 AS INTEGER), false) AS stopped
FROM src_prescriptions p
JOIN drug_products x
  ON x.drug_name = p.drug_name
 AND x.rxnorm_code IS NOT DISTINCT FROM p.rxnorm_code
 AND x.atc_code IS NOT DISTINCT FROM p.atc_code
LEFT JOIN exposure_deaths d USING (patient_id);

-- Prescriptions and diagnoses with their concepts, for the checks to read.
CREATE OR REPLACE TEMP VIEW drug_exposures AS
SELECT p.patient_id, p.product_id, p.drug_name, p.rxnorm_code, p.atc_code, p.start_date, p.end_effective,
       p.planned_end, p.said_ongoing, p.stopped, c.codelist,
       coalesce(c.ingredient, lower(p.drug_name)) AS ingredient
FROM prescription_periods p
JOIN drug_concepts c USING (product_id);

CREATE OR REPLACE TEMP VIEW coded_diagnoses AS
SELECT d.patient_id, d.code, d.code_original, d.code_system, d.recorded_at, d.resolved_at, c.codelist
FROM src_diagnoses d
JOIN diagnosis_concepts c USING (code, code_system);

-- What every check means by "a result": a blood (serum/plasma) test with a numeric value. A test
-- without one (haemolysed, cancelled) leaves the level unknown; urine is a different measurement.
-- A censored result ('<2.5', '>2000') is a result: value is its bound, value_comparator says which
-- side (judge it with result_below/result_above, _results.sql); result_text shows it as written.
CREATE OR REPLACE TEMP VIEW blood_results AS
SELECT patient_id, analyte, collected_at, value, value_comparator,
       result_text(value, value_comparator) AS result_text
FROM src_labs
WHERE specimen = 'blood' AND value IS NOT NULL;
