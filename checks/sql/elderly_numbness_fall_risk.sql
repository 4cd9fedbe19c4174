-- elderly_numbness_fall_risk: one row per patient aged $min_age+ with lower-limb numbness on $as_of.
WITH legs AS (
    -- a neuropathy of the legs until it is resolved (a lasting condition: an end on the day it was
    -- recorded ends a visit's record, not the neuropathy); a symptom (numbness, paraesthesia of the
    -- foot) only while recent: GP systems seldom resolve a symptom code, and one from years ago is no
    -- current numbness (numbness_neuropathy_workup reads symptoms by their recorded date too)
    SELECT patient_id, code_labels(code_original, code_system) AS leg_codes, min(recorded_at) AS numb_since
    FROM (
        SELECT * FROM lasting_unresolved_on(['lower_limb_numbness'], $as_of)
        UNION ALL
        SELECT * FROM diagnoses_unresolved_on(['lower_limb_numbness_symptoms'], $as_of)
        WHERE in_window(recorded_at, $as_of, $symptom_lookback_days)
    )
    GROUP BY patient_id
),
population AS (
    SELECT l.*, age_on(p.birth_date, $as_of::DATE) AS age,
           CAST(p.birth_date + to_years(CAST($min_age AS INTEGER)) AS DATE) AS aged_from
    FROM legs l
    JOIN src_patient_state p USING (patient_id)
    WHERE p.birth_date + to_years(CAST($min_age AS INTEGER)) <= $as_of
),
visible AS (
    -- every drug, not only codelist ones (ends at death): those taken on as-of (running, or ended up
    -- to refill_gap_days before it: with five repeats on staggered 28-day cycles, one is usually
    -- between two issues), and those taken at some time in the last acute_course_days, which show
    -- whether a short item is a renewal
    SELECT patient_id, product_id, drug_name, rxnorm_code, atc_code, start_date, end_effective, planned_end,
           stopped, still_taken(start_date, end_effective, stopped, $as_of, $refill_gap_days) AS on_as_of
    FROM prescriptions_active_in_window(
        $as_of, CAST($acute_course_days AS INTEGER) + CAST($refill_gap_days AS INTEGER))
    WHERE patient_id IN (SELECT patient_id FROM population)
      AND still_taken(start_date, end_effective, stopped, window_start($as_of, $acute_course_days), $refill_gap_days)
),
renewals AS (
    -- the prescriptions that continue an earlier one of the same product (started before them and
    -- taken, with its refill gap, up to the day before they began), which the window above may not
    -- show: the issue before a 27-day repeat collected late had ended before it (review 2026-12-07)
    SELECT v.patient_id, v.product_id, v.start_date, true AS renews
    FROM visible v
    JOIN prescription_periods q
      ON q.patient_id = v.patient_id AND q.product_id = v.product_id AND q.start_date < v.start_date
     AND still_taken(q.start_date, q.end_effective, q.stopped, days_after(v.start_date, -1), $refill_gap_days)
    GROUP BY v.patient_id, v.product_id, v.start_date
),
active AS (
    SELECT v.*, coalesce(r.renews, false) AS renews
    FROM visible v
    LEFT JOIN renewals r
      ON r.patient_id = v.patient_id AND r.product_id = v.product_id AND r.start_date = v.start_date
),
descriptors AS (
    -- The ingredients every drug codelist knows for each drug descriptor (class placeholders such
    -- as <opioid> dropped): used only to name a drug the same way across brands and generics, so
    -- the count reads every drug codelist (all_drug_codelists) but counts every drug, listed or not.
    SELECT product_id,
           string_agg(DISTINCT ingredient, ' / ' ORDER BY ingredient)
               FILTER (ingredient IS NOT NULL AND NOT starts_with(ingredient, '<')) AS ingredients
    FROM drug_concepts
    GROUP BY ALL
),
named AS (
    SELECT a.*, d.ingredients,
           -- a skin preparation or a patch of a drug that acts locally (is_topical; a patch of
           -- estradiol, hyoscine, nicotine or fentanyl delivers its drug into the blood: systemic)
           is_topical(a.product_id) AS topical,
           -- not a systemic medicine either: eye, ear and nasal preparations (ATC S, R01A, or the
           -- form in the name); mouth, vaginal, scalp and skin-care products (ATC A01, G01, G02,
           -- emollients, shampoos, pessaries); and appliances, which are not medicines at all (ATC V07,
           -- pen needles, lancets, test strips, meters, glucose sensors and transmitters, pump pods,
           -- infusion sets and reservoirs, syringes, hosiery, dressings, sharps bins,
           -- inhaler spacers, catheters and sheaths, drainage and stoma bags: Drug Tariff Part IX).
           -- A medicine supplied in a device is a medicine: 'Denosumab 60mg/1ml solution for
           -- injection pre-filled syringes', '1 ML denosumab 60 MG/ML Prefilled Syringe [Prolia]',
           -- 'enoxaparin 40 mg/0.4 mL subcutaneous syringe'; a saline or water syringe, a flush
           -- ('Sodium chloride 0.9% solution for injection 10ml pre-filled syringes', PosiFlush)
           -- stays a device, and an insulin syringe ('0.5ml/50units') names no route
           -- Some of those ATC groups hold tablets (clinical review 2026-12, eighth): S01EC01
           -- acetazolamide and S01EC05 methazolamide (oral carbonic anhydrase inhibitors; the eye
           -- drops of S01EC are local), G02A uterotonics, G02CA and G02CB (ritodrine, bromocriptine,
           -- cabergoline) and G02CX are systemic; of G02 only G02B (contraceptives for topical use)
           -- and G02CC (vaginal anti-infectives and anti-inflammatories) are local. A drug given by
           -- the nose or eye for its effect on the whole body is systemic: a nasal spray coded
           -- outside S and R01 (desmopressin H01BA02, sumatriptan N02CC01), or one of those drugs
           -- named without a code.
           (starts_with(coalesce(a.atc_code, ''), 'S')
               AND NOT list_contains(['S01EC01', 'S01EC05'], left(a.atc_code, 7)))
               OR starts_with(coalesce(a.atc_code, ''), 'R01A')
               OR list_has_any([left(coalesce(a.atc_code, ''), 3), left(coalesce(a.atc_code, ''), 4),
                                left(coalesce(a.atc_code, ''), 5)], ['A01', 'G01', 'G02B', 'G02CC', 'V07'])
               OR (regexp_matches(lower(a.drug_name), '(eye|ear|nasal|nose) ?(drops?|spray|ointment|gel)')
                   AND (a.atc_code IS NULL OR starts_with(a.atc_code, 'S') OR starts_with(a.atc_code, 'R01'))
                   AND NOT regexp_matches(lower(a.drug_name),
                       '(^|[^a-z])(desmopressin|sumatriptan|zolmitriptan|fentanyl|diamorphine|naloxone'
                       || '|calcitonin|esketamine|nicotine|midazolam)([^a-z]|$)'))
               OR regexp_matches(lower(a.drug_name),
                                 '(^|[^a-z])(vaginal|pessar(y|ies)|mouthwash|mouth ?wash|shampoo|emollient'
                                 || '|bath (oil|additive))([^a-z]|$)')
               OR (regexp_matches(lower(a.drug_name),
                                  '(^|[^a-z])(needles?|lancets?|test strips?|strips|meters?|sensors?|transmitters?'
                                  || '|pods?|infusion sets?|reservoirs?'
                                  || '|syringes?|hosiery|stockings?|dressings?|sharps|bandages?|spacers?'
                                  || '|aerochamber|volumatic|catheters?|sheaths?|stoma|colostomy|ileostomy'
                                  || '|urostomy|ostomy|(leg|night|drainage|urine|urinary) bags?)([^a-z]|$)')
                   -- a medicine's ATC code (not V, various) says a medicine: 'APO-go POD 5mg/ml
                   -- solution for infusion in cartridge' is apomorphine, N04BC07
                   AND (a.atc_code IS NULL OR starts_with(a.atc_code, 'V'))
                   AND NOT (regexp_matches(lower(a.drug_name),
                                           '(^|[^a-z])(injection|injectable|pre-?filled|subcutaneous'
                                           || '|intramuscular|intravenous|solution for infusion'
                                           || '|cartridges?)([^a-z]|$)')
                            AND NOT regexp_matches(lower(a.drug_name),
                                                   'flush|sodium chloride|water for injection')))
               -- Nor an intravenous fluid, diluent, flush or the bag itself, which a hospital's
               -- orders list beside its medicines (MIMIC-IV prescriptions: 'Bag', '0.9% Sodium
               -- Chloride', 'Dextrose 5%', 'SW', 'Iso-Osmotic Dextrose', 'Sodium Chloride 0.9%  Flush',
               -- 'Heparin Flush (10 units/ml)'): the name is wholly a fluid (an isotonic or maintenance
               -- strength: sodium chloride 0.18, 0.45 or 0.9 %, glucose 5 or 10 %; a bracketed note,
               -- volume or form may follow: '0.9% Sodium Chloride (Mini Bag Plus)', 'Sodium chloride
               -- 0.9% solution for infusion 1000ml bags'), or names a flush, and carries no medicine's
               -- ATC code (B05 solutions, V07 aside). A fluid with a drug in it ('Potassium Chloride
               -- 20 mEq / 1000 mL D5 1/2 NS'), a treatment strength (glucose 50 % for hypoglycaemia,
               -- hypertonic saline 3 %) and a salt tablet ('Sodium Chloride 1 gm Tab', or a bare
               -- 'Sodium chloride', as GP records name tablets) are medicines.
               OR ((a.atc_code IS NULL OR left(a.atc_code, 3) IN ('B05', 'V07'))
                   AND (regexp_matches(lower(trim(a.drug_name)),
                            '^(0?[.](18|45|9) ?% ?(w/v )?(sodium chloride|nacl|saline)'
                            || '|(sodium chloride|nacl|saline) ?0?[.](18|45|9) ?%( ?w/v)?'
                            || '|(5|10) ?% ?(dextrose|glucose)( in water)?|(dextrose|glucose) ?(5|10) ?%( in water)?'
                            || '|ns|1/2 ?ns|d5 ?1/2 ?ns|d5 ?ns|d5 ?w|d10 ?w|sw|lr|normal saline|sterile water'
                            || '|water for injections?|lactated ringer.?s?|ringer.?s( lactate)?|compound sodium lactate'
                            || '|hartmann.?s( solution)?|plasma-?lyte( a| 148)?|iso-?osmotic (dextrose|sodium chloride)'
                            || '|bag)( +([0-9.]+ ?(ml|l)|[(][^)]*[)]|iv|intravenous|solution|infusion|injections?'
                            || '|for|w/v|bags?|minibag|in|water|flush))*$')
                        OR (a.atc_code IS NULL AND regexp_matches(lower(a.drug_name), '(^|[^a-z])flush([^a-z]|$)'))))
               AS local_form,
           -- taken only when needed: not a regular medicine
           regexp_matches(lower(a.drug_name),
                          '(^|[^a-z])(prn|p\.r\.n|as needed|as required|when required|when needed|if needed)([^a-z]|$)')
               AS as_needed,
           drug_stem(a.drug_name) AS stem,
           is_combination(a.drug_name) AS combination
    FROM active a
    LEFT JOIN descriptors d ON d.product_id = a.product_id
),
code_stems AS (
    -- The name each RxNorm code carries in the export (its first stem): an RxNorm clinical drug
    -- names one strength ('amlodipine 2.5 MG Oral Tablet' 308136, '... 5 MG ...' 197361), so a dose
    -- change, whose old strength is still taken in its refill gap, is one drug by its stem, and
    -- rows of one code written differently are one drug by their code.
    SELECT rxnorm_code, min(drug_stem(drug_name)) AS stem
    FROM prescriptions
    WHERE rxnorm_code IS NOT NULL
    GROUP BY 1
),
stem_atc AS (
    -- The ATC code a stem carries elsewhere in the export, when unambiguous: an uncoded renewal
    -- ('Metformin 1g tablets') is the same drug as its ATC-coded first issue.
    SELECT drug_stem(drug_name) AS stem, min(atc_code) AS atc
    FROM prescriptions
    WHERE atc_code IS NOT NULL
    GROUP BY 1
    HAVING count(DISTINCT atc_code) = 1
),
identified AS (
    -- A drug's identity: the ingredients a codelist knows, else its ATC substance (its own, or the
    -- one its stem carries), else its stem (through its RxNorm code's stem when coded). Never the
    -- RxNorm code itself: that would count each strength of one drug as a drug of its own.
    SELECT n.patient_id, n.drug_name, n.ingredients, n.topical, n.local_form, n.as_needed, n.on_as_of,
           n.start_date, n.end_effective, n.planned_end, n.stopped, n.renews,
           CASE WHEN n.combination THEN 'combination ' || coalesce(n.atc_code, n.stem)
                ELSE coalesce(n.ingredients, 'atc ' || coalesce(n.atc_code, a.atc), 'name ' || coalesce(c.stem, n.stem)) END
           -- a local form is a drug of its own beside the systemic one (a nasal beclometasone spray
           -- beside the inhaler, an estradiol pessary beside the patches), as a topical one is: one
           -- local prescription must not take the systemic drug out of the count
           || CASE WHEN n.topical THEN ' (topical)' WHEN n.local_form THEN ' (local)' ELSE '' END AS drug_key
    FROM named n
    LEFT JOIN code_stems c ON c.rxnorm_code = n.rxnorm_code
    LEFT JOIN stem_atc a ON a.stem = coalesce(c.stem, n.stem)
),
fall_classes AS (
    SELECT ingredient, min(split_part(description, ':', 1)) AS drug_class
    FROM codelist
    WHERE codelist = 'fall_risk_drugs' AND ingredient IS NOT NULL
    GROUP BY ingredient
),
fall_risk_rows AS (
    SELECT DISTINCT e.patient_id, e.product_id, e.drug_name, e.ingredient, f.drug_class,
           e.start_date
    FROM drugs_taken_on(['fall_risk_drugs'], $as_of, $refill_gap_days) e
    JOIN fall_classes f USING (ingredient)
    JOIN named n ON n.patient_id = e.patient_id AND n.product_id = e.product_id
    WHERE n.on_as_of
      -- a cream, eye drop or gel of a sedating antihistamine, tricyclic (doxepin cream) or
      -- gabapentinoid is not a fall risk; opioid patches and the sedative classes stay
      AND NOT ((n.topical OR n.local_form)
               AND f.drug_class NOT IN ('opioid', 'benzodiazepine', 'z-drug', 'antipsychotic'))
),
fall_risk AS (
    -- Class rows (<antiepileptic>, <opioid>) are kept only when no specific ingredient names the
    -- same prescription: clonazepam (N03AE01) is a benzodiazepine, not also an antiepileptic.
    SELECT DISTINCT patient_id, drug_name, drug_class, start_date
    FROM fall_risk_rows
    QUALIFY NOT starts_with(ingredient, '<')
         OR NOT bool_or(NOT starts_with(ingredient, '<'))
                OVER (PARTITION BY patient_id, product_id)
),
prior_ends AS (
    -- Each drug's prescriptions joined into periods of continuous use: a prescription that starts
    -- later than the day after every earlier one of the drug (as needed or not, apart) stopped being
    -- taken (its end plus its refill gap, prior_until) begins a new period: one starting the next day
    -- continues it (a stopped issue replaced the next day, a dose change). Weekly supplies of a
    -- long-term drug are one period; two antibiotic courses a month apart are two. The rows are those taken in the last
    -- acute_course_days, so a period that began before that shows it through the row taken on its
    -- first day.
    -- (in one order in both windows: start, name, end and stop, so that two prescriptions of a
    -- day fall into the same periods whichever the engine reads first)
    SELECT *, earlier_until(coalesce(taken_until(start_date, end_effective, stopped, $refill_gap_days), $as_of),
                            (patient_id, drug_key, as_needed),
                            (start_date, drug_name, coalesce(end_effective, DATE '9999-12-31'), stopped))
                  AS prior_until
    FROM identified
),
periods AS (
    SELECT *, sum(CASE WHEN begins_course(start_date, prior_until) THEN 1 ELSE 0 END)
                  OVER (PARTITION BY patient_id, drug_key, as_needed
                        ORDER BY start_date, drug_name, coalesce(end_effective, DATE '9999-12-31'), stopped
                        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS period
    FROM prior_ends
),
chained AS (
    -- renewed: the period holds a prescription started after its first day (a weekly supply, a
    -- repeat issue) or one continuing an earlier issue (renewals), not one course alone, nor two
    -- strengths issued together
    SELECT *, min(start_date) OVER (PARTITION BY patient_id, drug_key, as_needed, period) AS period_start,
           max(start_date) OVER (PARTITION BY patient_id, drug_key, as_needed, period)
               > min(start_date) OVER (PARTITION BY patient_id, drug_key, as_needed, period)
           OR bool_or(renews) OVER (PARTITION BY patient_id, drug_key, as_needed, period) AS renewed
    FROM periods
),
per_drug AS (
    -- One row per distinct drug. It counts towards polypharmacy when it is a regular systemic
    -- medicine on as-of: taken (running or in its refill gap), systemic (not topical, eye, ear or
    -- nasal), taken regularly (not only as needed) and not an acute course: a prescription planned
    -- for acute_course_days or more (or open-ended), or a drug renewed without a break since
    -- acute_course_days or more before as-of (a weekly or fortnightly supply of a long-term drug).
    -- One course alone is judged by its planned length only: in the refill gap after it ended, a
    -- 27-day prednisolone course had begun 28 days before as-of and was counted as regular for the
    -- four weeks after it finished (review 2026-12-07).
    SELECT patient_id, drug_key,
           bool_or(on_as_of) AS active_now,
           bool_or(on_as_of AND NOT as_needed) AND NOT bool_or(topical OR local_form)
               AND (bool_or(on_as_of AND NOT as_needed
                            AND (planned_end IS NULL  -- as planned: a later death does not shorten it
                                 OR days_between(start_date, planned_end)
                                    >= CAST($acute_course_days AS INTEGER)))
                    -- (no renewed row: false, not NULL, so the drug is listed as not counted)
                    OR coalesce(min(period_start) FILTER (on_as_of AND NOT as_needed AND renewed)
                                <= window_start($as_of, $acute_course_days), false))
               AS regular,
           listed(CASE WHEN on_as_of THEN drug_name END) AS names,
           -- the day the use running on as-of began (as far as the last acute_course_days show)
           min(period_start) FILTER (on_as_of) AS first_start
    FROM chained
    GROUP BY patient_id, drug_key
),
drugs AS (
    SELECT patient_id,
           count(*) FILTER (active_now AND regular) AS active_drug_count,
           string_agg(names, '; ' ORDER BY names) FILTER (active_now AND regular) AS active_drugs,
           string_agg(names, '; ' ORDER BY names) FILTER (active_now AND NOT regular) AS drugs_not_counted,
           -- the day the polypharmacy_count-th counted drug was started
           list_sort(list(first_start) FILTER (active_now AND regular))[CAST($polypharmacy_count AS INTEGER)]
               AS polypharmacy_since
    FROM per_drug
    GROUP BY patient_id
),
risky AS (
    SELECT patient_id, listed(drug_name || ' (' || drug_class || ')') AS fall_risk_drugs,
           min(start_date) AS fall_risk_since
    FROM fall_risk
    GROUP BY patient_id
),
judged AS (
    SELECT p.patient_id, p.age, p.leg_codes, p.numb_since, p.aged_from, d.polypharmacy_since, r.fall_risk_since,
           coalesce(d.active_drug_count, 0) AS active_drug_count, d.active_drugs, d.drugs_not_counted,
           r.fall_risk_drugs,
           coalesce(d.active_drug_count, 0) >= $polypharmacy_count AS polypharmacy,
           r.fall_risk_drugs IS NOT NULL AS on_fall_risk_drug
    FROM population p
    LEFT JOIN drugs d USING (patient_id)
    LEFT JOIN risky r USING (patient_id)
)
SELECT
    patient_id,
    polypharmacy OR on_fall_risk_drug AS flagged,
    flag_priority(flagged, polypharmacy AND on_fall_risk_drug) AS priority,
    flag_reason(flagged,
        'aged ' || age || ' with lower-limb numbness coded ' || leg_codes || '; '
        || concat_ws('; ',
               CASE WHEN polypharmacy THEN active_drug_count || ' distinct active drugs' END,
               CASE WHEN on_fall_risk_drug THEN 'fall-risk drugs: ' || fall_risk_drugs END)) AS reason,
    -- due_on (#20): the day the numbness, the age and the drugs first coexisted
    CASE WHEN flagged THEN greatest(numb_since, aged_from,
        least(CASE WHEN polypharmacy THEN polypharmacy_since END,
              CASE WHEN on_fall_risk_drug THEN fall_risk_since END)) END AS due_on,
    age::INTEGER AS age, leg_codes, active_drug_count, active_drugs, fall_risk_drugs, drugs_not_counted
FROM judged
ORDER BY patient_id
