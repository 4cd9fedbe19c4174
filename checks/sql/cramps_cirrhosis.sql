-- cramps_cirrhosis: one row per patient with unresolved cirrhosis on $as_of.
WITH transplanted AS (
    -- a liver transplant (its status or a complication of the graft) first recorded by as-of
    SELECT patient_id, min(recorded_at) AS transplant_at
    FROM diagnoses_by(['liver_transplant'], $as_of)
    GROUP BY patient_id
),
cirrhosis AS (
    -- a cirrhosis recorded before the liver was replaced was the native liver's: only a cirrhosis
    -- recorded after the first transplant record (of the graft: recurrent hepatitis C, alcohol) counts
    SELECT c.patient_id, listed(c.code_original) AS cirrhosis_codes, min(c.recorded_at) AS cirrhosis_since
    FROM lasting_unresolved_on(['cirrhosis'], $as_of) c
    LEFT JOIN transplanted t ON t.patient_id = c.patient_id
    WHERE t.transplant_at IS NULL OR c.recorded_at > t.transplant_at
    GROUP BY c.patient_id
),
cramps AS (
    SELECT patient_id, codes AS cramp_codes, first_at AS first_cramp_at, last_at AS last_cramp_at
    FROM diagnosed_in_window(['muscle_cramps'], $as_of, $lookback_days)
    WHERE patient_id IN (SELECT patient_id FROM cirrhosis)
),
drugs AS (
    -- prescribed in the cramp lookback or active on as-of; current diuretics: those taken on as-of,
    -- as every check reads a repeat medicine (refill_gap_days: not off it between two late issues)
    SELECT patient_id,
           listed(CASE WHEN codelist = 'diuretics' AND NOT topical
                            AND taken_on(start_date, end_effective, stopped, $as_of, $refill_gap_days)
                       THEN drug_name END) AS current_diuretics,
           -- oral baclofen: a compounded baclofen cream is no cramp treatment (is_topical)
           bool_or(codelist = 'baclofen' AND NOT topical) AS baclofen_prescribed,
           -- human albumin infusion; albumin-bound paclitaxel (Abraxane) is chemotherapy, and a
           -- radiolabelled albumin a diagnostic agent (ATC V: Tc-99m macroaggregated albumin for a
           -- lung-shunt scan before radioembolisation, I-125 albumin for a blood volume), not albumin
           bool_or(codelist = 'albumin' AND NOT starts_with(coalesce(atc_code, ''), 'V')
                   AND NOT regexp_matches(lower(drug_name),
                                          'paclitaxel|abraxane|protein-bound|albumin-bound|technetium'
                                          || '|tc-? ?99m?|99m ?tc|macro-? ?aggregate|aggregated|radio'
                                          || '|iodinated|i-? ?1(25|31)|jeanatope|megatope|volumex'))
               AS albumin_prescribed
    FROM (  -- a diuretic cream is not a current diuretic (is_topical, the one topical definition)
        SELECT e.*, is_topical(e.product_id) AS topical
        FROM drugs_active_in_window(['diuretics', 'baclofen', 'albumin'], $as_of, $lookback_days) e
        WHERE e.patient_id IN (SELECT patient_id FROM cirrhosis)
    )
    GROUP BY patient_id
),
electrolytes AS (
    -- per analyte, the day and the result of the last by its full timestamp (potassium_at,
    -- potassium_result), judged on its bound when censored: '<3.5' is below 3.5, '>130' is never low
    PIVOT (SELECT * FROM results_by(['potassium', 'sodium', 'magnesium'], $as_of)
           WHERE patient_id IN (SELECT patient_id FROM cramps))
    ON analyte IN ('potassium', 'sodium', 'magnesium')
    USING max(day) AS at, arg_max(result, k) AS result
    GROUP BY patient_id
),
judged AS (
    SELECT c.*, k.cramp_codes, k.first_cramp_at, k.last_cramp_at,
           d.current_diuretics,
           coalesce(d.baclofen_prescribed, false) AS baclofen_prescribed,
           coalesce(d.albumin_prescribed, false) AS albumin_prescribed,
           e.potassium_at AS last_potassium_at, result_text_of(e.potassium_result) AS last_potassium,
           e.sodium_at AS last_sodium_at, result_text_of(e.sodium_result) AS last_sodium,
           e.magnesium_at AS last_magnesium_at, result_text_of(e.magnesium_result) AS last_magnesium,
           coalesce(greatest(e.potassium_at, e.sodium_at, e.magnesium_at)
                    >= window_start($as_of, $electrolyte_recent_days), false) AS any_recent,
           -- low: a latest result collected in the recent window below its threshold (a low
           -- potassium of three years ago says nothing about this cramp)
           coalesce((e.potassium_at >= window_start($as_of, $electrolyte_recent_days)
                     AND result_below(e.potassium_result.value, e.potassium_result.comparator, $potassium_low))
                    OR (e.sodium_at >= window_start($as_of, $electrolyte_recent_days)
                        AND result_below(e.sodium_result.value, e.sodium_result.comparator, $sodium_low))
                    OR (e.magnesium_at >= window_start($as_of, $electrolyte_recent_days)
                        AND result_below(e.magnesium_result.value, e.magnesium_result.comparator,
                                         $magnesium_low)),
                    false) AS any_low
    FROM cirrhosis c
    LEFT JOIN cramps k USING (patient_id)
    LEFT JOIN drugs d USING (patient_id)
    LEFT JOIN electrolytes e USING (patient_id)
)
SELECT
    patient_id,
    last_cramp_at IS NOT NULL AS flagged,
    flag_priority(flagged, NOT any_recent OR any_low) AS priority,
    flag_reason(flagged,
        -- the cramps since the first of the lookback (when the flag fell due, due_on), the latest
        -- named too: the latest alone beside an 'overdue' counted from the first read as a mistake
        'muscle cramps recorded '
        || CASE WHEN first_cramp_at < last_cramp_at
                THEN 'since ' || first_cramp_at || ' (latest ' || last_cramp_at || ')'
                ELSE CAST(last_cramp_at AS VARCHAR) END
        || ' with cirrhosis ('
        || cirrhosis_codes || ')'
        || CASE WHEN NOT any_recent THEN '; no potassium, sodium or magnesium in the last '
                     || $electrolyte_recent_days || ' days'
                WHEN any_low THEN '; latest electrolytes below range' ELSE '' END
        || CASE WHEN NOT baclofen_prescribed AND NOT albumin_prescribed
                THEN '; no baclofen or albumin prescribed' ELSE '' END) AS reason,
    -- due_on (#20): the day a cramp in the lookback and the cirrhosis first coexisted
    CASE WHEN flagged THEN greatest(first_cramp_at, cirrhosis_since) END AS due_on,
    cirrhosis_codes, cirrhosis_since, cramp_codes, last_cramp_at, current_diuretics,
    baclofen_prescribed, albumin_prescribed, last_potassium_at, last_potassium,
    last_sodium_at, last_sodium, last_magnesium_at, last_magnesium
FROM judged
ORDER BY patient_id
