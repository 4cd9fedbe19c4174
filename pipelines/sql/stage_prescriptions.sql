-- raw (all text) -> typed_prescriptions (projection only, file order kept). The effective end is the
-- exported end_date, else start + days_supply, else its start when the row says it was stopped (a
-- discontinued drug whose stop date the system did not export: noted, rules.py), else NULL: an
-- open-ended (ongoing) prescription.
SELECT
    _skip,  -- NULL, or why the profile leaves the row out of the audit
    _note,  -- NULL, or the name of the profile's note on a row it repaired
    clean_id(patient_id) AS patient_id,
    clean(drug_name) AS drug_name,
    clean(rxnorm_code) AS rxnorm_code,
    upper(clean(atc_code)) AS atc_code,
    clean(start_date) AS start_date_text,
    export_date(start_date) AS start_date,
    clean(end_date) AS end_date_text,
    export_date(end_date) AS end_date,
    clean(days_supply) AS days_supply_text,
    whole_number(days_supply) AS days_supply,  -- '28.0' is 28 days; '2.5' is not a count
    coalesce(
        export_date(end_date),
        export_date(start_date) + CASE WHEN whole_number(days_supply) BETWEEN 0 AND 9999
                                    THEN whole_number(days_supply) END,
        CASE WHEN yes_no(stopped) THEN export_date(start_date) END
    ) AS end_effective,
    clean(stopped) AS stopped_text,
    yes_no(stopped) AS stopped,  -- NULL: not said, or not a yes/no value (a soft rule notes it)
    clean(prescription_id) AS prescription_id  -- the source's name for the prescription, if it gives one
FROM raw
