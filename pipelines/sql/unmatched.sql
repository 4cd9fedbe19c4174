-- What the codelists may have missed in this database: lab tests, drug names and diagnosis codes that
-- match no codelist but look related to one (pipelines/unmatched.py). Reads the temp tables a run
-- builds (codelist, drug_concepts, diagnosis_concepts: checks/sql/_codelists.sql, _concepts.sql) and
-- lab_concepts as mapped under the same codelists. Counts only: no patient identifier leaves here.
-- Every step works on distinct names and codes, joining back to the rows only for the few found.

-- Lab names are judged by analyte_terms (pipelines/reference/analyte_terms.csv, loaded by
-- pipelines/unmatched.py): 'part' is found inside a word (serumkalium), 'word' is a whole word,
-- 'alone' is the whole name once specimen words are set aside (K, K+, S-K; not the k of "Vitamin K").
CREATE OR REPLACE TEMP TABLE unmatched_labs AS
WITH unmapped AS (  -- lab keys no codelist recognises, with their rows and patients
    SELECT r.loinc_code, r.test_name, count(*) AS rows, count(DISTINCT r.patient_id) AS patients
    FROM current_lab_results r
    JOIN lab_concepts c
      ON c.loinc_code IS NOT DISTINCT FROM r.loinc_code
     AND c.test_name IS NOT DISTINCT FROM r.test_name
     AND c.unit_original IS NOT DISTINCT FROM r.unit_original
    WHERE c.analyte IS NULL AND r.test_name IS NOT NULL
    GROUP BY r.loinc_code, r.test_name
),
named AS (
    SELECT *, string_split_regex(trim(regexp_replace(lower(test_name), '[^a-z0-9]+', ' ', 'g')), ' ') AS words
    FROM unmapped
),
shaped AS (
    SELECT *,
           array_to_string(list_filter(words, lambda w: w NOT IN (
               'serum', 'plasma', 'blood', 'whole', 'venous', 'arterial', 'capillary', 'poc', 's', 'p',
               'se', 'pl', 'b', 'level', 'lvl', 'conc', 'test', 'result', 'value', 'random', 'total',
               'u', 'ur', 'urine', 'urinary', 'spot')), ' ') AS alone,
           list_has_any(words, ['urine', 'urinary', 'u', 'ur', 'uri', '24h', '24hr', 'microalbumin',
                                'acr', 'uacr', 'csf', 'fluid', 'stool', 'faecal', 'fecal', 'sweat',
                                'saliva', 'dialysate', 'ascitic', 'pleural'])
               OR contains(lower(test_name), 'urin') AS not_blood
    FROM named
),
hits AS (
    SELECT s.loinc_code, s.test_name, s.rows, s.patients, s.not_blood,
           string_agg(DISTINCT t.analyte, ', ' ORDER BY t.analyte) AS analytes
    FROM shaped s
    JOIN analyte_terms t
      ON (t.match = 'part' AND list_bool_or(list_transform(s.words, lambda w: contains(w, t.term))))
      OR (t.match = 'word' AND list_contains(s.words, t.term))
      OR (t.match = 'alone' AND s.alone = t.term)
    GROUP BY ALL
)
SELECT 'labs' AS kind,
       CASE WHEN loinc_code IS NOT NULL THEN 'LOINC' END AS code_system,
       loinc_code AS code, test_name AS name, analytes AS related_to,
       CASE
           WHEN not_blood THEN 'urine or another non-blood specimen: related, deliberately not mapped '
                            || '(the checks judge blood results)'
           WHEN coalesce(loinc_check_ok(loinc_code), false)
               THEN 'LOINC code in no codelist: if it is a blood test of ' || analytes
                    || ', add the code to a local lab_tests.csv'
           ELSE 'test name in no codelist: if it is a blood test of ' || analytes
                || ', add the name to a local lab_tests.csv'
       END AS note,
       rows, patients
FROM hits;

-- Drug names that matched no drug codelist but hold a word of an audited ingredient or brand, or a
-- word within a typing slip of one (furosemid, frusemid: edit distance 1, or 2 for words of eight
-- letters or more). Words under five letters, and salt and form words, are too common to judge by.
CREATE OR REPLACE TEMP TABLE unmatched_drugs AS
WITH drug_lists AS (SELECT DISTINCT codelist FROM codelist WHERE ingredient IS NOT NULL),
entries AS (
    SELECT c.codelist, c.code AS text, c.ingredient
    FROM codelist c SEMI JOIN drug_lists USING (codelist) WHERE c.system = 'name'
    UNION
    SELECT c.codelist, regexp_replace(lower(c.ingredient), '[^a-z0-9]+', ' ', 'g'), c.ingredient
    FROM codelist c SEMI JOIN drug_lists USING (codelist) WHERE NOT starts_with(c.ingredient, '<')
),
terms AS (
    SELECT DISTINCT codelist, ingredient, term FROM (
        SELECT codelist, ingredient, unnest(string_split(trim(text), ' ')) AS term FROM entries)
    WHERE length(term) >= 5 AND NOT regexp_matches(term, '[0-9]')
      AND term NOT IN ('sodium', 'potassium', 'calcium', 'magnesium', 'hydrochloride', 'chloride',
                       'sulfate', 'sulphate', 'acetate', 'maleate', 'succinate', 'tartrate', 'besylate',
                       'mesylate', 'citrate', 'phosphate', 'fumarate', 'bromide', 'human', 'tablet',
                       'tablets', 'capsule', 'capsules', 'injection', 'solution', 'suspension', 'extended',
                       'release', 'modified', 'retard', 'forte', 'plain', 'compound', 'sterile')
),
keys AS (
    SELECT DISTINCT drug_name, rxnorm_code, atc_code FROM prescriptions
    EXCEPT
    SELECT drug_name, rxnorm_code, atc_code FROM drug_concepts SEMI JOIN drug_lists USING (codelist)
),
words AS (
    SELECT drug_name, rxnorm_code, atc_code, word FROM (
        SELECT *, unnest(string_split_regex(trim(regexp_replace(lower(drug_name), '[^a-z]+', ' ', 'g')), ' '))
            AS word
        FROM keys)
    WHERE length(word) >= 5
),
hits AS (
    SELECT w.drug_name, w.rxnorm_code, w.atc_code, t.codelist, t.ingredient, w.word, t.term
    FROM words w
    JOIN terms t
      ON left(w.word, 1) = left(t.term, 1) AND abs(length(w.word) - length(t.term)) <= 2
    WHERE levenshtein(w.word, t.term) <= CASE WHEN length(t.term) >= 8 THEN 2 ELSE 1 END
    -- the closest words only, and a single ingredient over the combinations that contain it
    QUALIFY rank() OVER (PARTITION BY w.drug_name, w.rxnorm_code, w.atc_code
                         ORDER BY levenshtein(w.word, t.term), contains(t.ingredient, ' / ')) = 1
),
found AS (
    SELECT drug_name, rxnorm_code, atc_code,
           string_agg(DISTINCT codelist || ': ' || coalesce(ingredient, term), '; '
                      ORDER BY codelist || ': ' || coalesce(ingredient, term))
               AS related_to,
           bool_or(word = term) AS exact,
           min(CASE WHEN word <> term THEN '''' || word || ''' resembles ''' || term || '''' END) AS likeness,
           min(codelist) AS codelist
    FROM hits GROUP BY ALL
),
non_systemic AS (  -- eye drops, creams, inhalers: a systemic list leaves them out on purpose
    SELECT code AS word FROM codelist WHERE codelist = 'dose_forms_topical' AND system = 'name'
    UNION
    SELECT unnest(['eye', 'eyes', 'drop', 'drops', 'ophthalmic', 'ocular', 'otic', 'ear', 'nasal', 'cream',
                   'ointment', 'gel', 'lotion', 'shampoo', 'topical', 'inhaler', 'inhalation'])
),
counted AS (
    SELECT p.drug_name, p.rxnorm_code, p.atc_code, count(*) AS rows, count(DISTINCT p.patient_id) AS patients
    FROM prescriptions p
    SEMI JOIN found f
      ON f.drug_name = p.drug_name
     AND f.rxnorm_code IS NOT DISTINCT FROM p.rxnorm_code
     AND f.atc_code IS NOT DISTINCT FROM p.atc_code
    GROUP BY ALL
)
SELECT 'drugs' AS kind,
       CASE WHEN f.rxnorm_code IS NOT NULL THEN 'RxNorm' WHEN f.atc_code IS NOT NULL THEN 'ATC' END
           AS code_system,
       coalesce(f.rxnorm_code, f.atc_code) AS code, f.drug_name AS name, f.related_to,
       CASE
           WHEN list_has_any(
                    string_split_regex(trim(regexp_replace(lower(f.drug_name), '[^a-z0-9]+', ' ', 'g')), ' '),
                    (SELECT list(word) FROM non_systemic))
               THEN 'a non-systemic form: related, deliberately not mapped (the checks mean systemic use)'
           WHEN f.exact THEN 'names an audited drug but matched no codelist: if it is that drug, add its '
                             || 'name or code to a local ' || f.codelist || '.csv'
           ELSE f.likeness || ' (misspelt?): if it is that drug, add the name to a local '
                || f.codelist || '.csv'
       END AS note,
       c.rows, c.patients
FROM found f
JOIN counted c
  ON c.drug_name = f.drug_name
 AND c.rxnorm_code IS NOT DISTINCT FROM f.rxnorm_code
 AND c.atc_code IS NOT DISTINCT FROM f.atc_code;

-- ICD codes in no codelist whose category (ICD-10-CM, WHO ICD-10: 3 characters; ICD-9-CM: 3 digits, 4
-- for an E code) holds a listed code (for a WHO code, a listed WHO or ICD-10-CM code, as it matches both). SNOMED CT is left out: the exports carry no descriptions and SNOMED has no
-- hierarchy here, so nothing says which unlisted concept is related.
CREATE OR REPLACE TEMP MACRO icd_category(code, system) AS
    CASE WHEN system = 'ICD-9-CM' AND starts_with(code, 'E') THEN left(code, 4) ELSE left(code, 3) END;

CREATE OR REPLACE TEMP TABLE unmatched_diagnoses AS
WITH listed AS (
    SELECT DISTINCT system, icd_category(code, system) AS category, codelist
    FROM codelist WHERE system IN ('ICD-10-CM', 'ICD-10', 'ICD-9-CM')
    UNION
    SELECT DISTINCT 'ICD-10', icd_category(code, system), codelist FROM codelist WHERE system = 'ICD-10-CM'
),
candidates AS (  -- distinct codes first: the rows are counted for the few in a listed category only
    SELECT DISTINCT code, code_system FROM diagnoses WHERE code_system IN ('ICD-10-CM', 'ICD-10', 'ICD-9-CM')
    EXCEPT
    SELECT code, code_system FROM diagnosis_concepts
),
unlisted AS (
    SELECT d.code, d.code_system, count(*) AS rows, count(DISTINCT d.patient_id) AS patients
    FROM diagnoses d
    SEMI JOIN (SELECT c.* FROM candidates c
               SEMI JOIN listed l
                 ON l.system = c.code_system AND l.category = icd_category(c.code, c.code_system)) k
      ON k.code = d.code AND k.code_system = d.code_system
    GROUP BY ALL
)
SELECT 'diagnoses' AS kind, u.code_system,
       -- shown with its dot, as codelists write it
       icd_category(u.code, u.code_system)
           || CASE WHEN length(u.code) > length(icd_category(u.code, u.code_system))
                   THEN '.' || substr(u.code, length(icd_category(u.code, u.code_system)) + 1) ELSE '' END
           AS code,
       NULL AS name,
       string_agg(l.codelist || ' (' || l.category || ')', '; ' ORDER BY l.codelist) AS related_to,
       'in the category of listed ' || u.code_system || ' codes but not itself listed: if it means the '
           || 'same, add it to a local '
           || CASE WHEN count(*) = 1 THEN min(l.codelist) || '.csv' ELSE 'CSV of the codelist it belongs to' END
           AS note,
       u.rows, u.patients
FROM unlisted u
JOIN listed l ON l.system = u.code_system AND l.category = icd_category(u.code, u.code_system)
GROUP BY u.code, u.code_system, u.rows, u.patients;

CREATE OR REPLACE TEMP TABLE unmatched AS
SELECT kind,
       CAST(row_number() OVER (PARTITION BY kind ORDER BY rows DESC, patients DESC, name, code) AS INTEGER)
           AS rank,
       code_system, code, name, related_to, note, rows, patients
FROM (
    SELECT * FROM unmatched_labs
    UNION ALL BY NAME SELECT * FROM unmatched_drugs
    UNION ALL BY NAME SELECT * FROM unmatched_diagnoses
);
