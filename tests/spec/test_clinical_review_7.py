"""Spec: a clinical red-team review (2026-12, seventh) across the checks, on generic exports written
as GP and hospital systems write them: each case a clinician would object to, fixed (each failed
before its fix), beside controls that already held. As of 2026-11-20."""

from __future__ import annotations

from datetime import date

import duckdb

from tests.helpers import table
from tests.spec.harness import OUT, check_spec

AS_OF = date(2026, 11, 20)

# ---------------------------------------------------------------------------------------------
# A prescription the export marks stopped, with neither an end date nor a days supply: a GP system's
# "discontinued" flag often comes without its date. It was read as open-ended (ongoing for ever),
# so a diuretic stopped years ago asked for monitoring. Its exposure now ends on its start date,
# as the FHIR profile ends a stopped request with no end (noted in row_notes).
# ---------------------------------------------------------------------------------------------
STOPPED_WITHOUT_END = table("""
patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date | days_supply | stopped
T01        | Furosemide 40mg tablets |             |          | 2023-01-01 |          |             | yes
# controls: stopped with a supply (ended at the supply, already out); not said (ongoing: overdue)
T02        | Furosemide 40mg tablets |             |          | 2023-01-01 |          | 28          | yes
T03        | Furosemide 40mg tablets |             |          | 2023-01-01 |          |             |
# stopped this week with no date: its start was 2026-11-16, so it counts as taken on that day only
T04        | Furosemide 40mg tablets |             |          | 2026-11-16 |          |             | yes
""")


def test_a_stopped_prescription_with_no_end_is_not_taken_for_ever(tmp_path):
    run = check_spec(
        tmp_path,
        "diuretic_electrolyte_monitoring",
        AS_OF,
        {"prescriptions": STOPPED_WITHOUT_END},
        {"T01": OUT, "T02": OUT, "T03": "high", "T04": OUT},
    )
    with duckdb.connect(str(run.db), read_only=True) as con:
        notes = con.execute(
            "SELECT original FROM row_notes WHERE rule = 'without_end' ORDER BY line"
        ).fetchall()
    assert [n[0].split(",")[0] for n in notes] == ["T01", "T04"]


# ---------------------------------------------------------------------------------------------
# nsaid_kidney_disease: a dialysis patient coded in SNOMED CT (105502003 'dependence on renal
# dialysis', the finding ICD-10-CM Z99.2 names) on a systemic NSAID, no eGFR in the export. KDIGO and
# AGS Beers: avoid NSAIDs in dialysis. Z99.2 flagged high; the SNOMED code was missing.
# ---------------------------------------------------------------------------------------------
DIALYSIS_PRESCRIPTIONS = table("""
patient_id | drug_name                | rxnorm_code | atc_code | start_date | end_date | days_supply
D01        | Naproxen 500mg tablets   |             |          | 2026-10-01 |          | 28
D02        | Naproxen 500mg tablets   |             |          | 2026-10-01 |          | 28
""")
DIALYSIS_DIAGNOSES = table("""
patient_id | code      | code_system | recorded_at | resolved_at
D01        | 105502003 | SNOMED-CT   | 2024-03-01  |
# control: the same status in ICD-10-CM
D02        | Z99.2     | ICD-10-CM   | 2024-03-01  |
""")


def test_dialysis_coded_in_snomed_is_stage_5(tmp_path):
    check_spec(
        tmp_path,
        "nsaid_kidney_disease",
        AS_OF,
        {"prescriptions": DIALYSIS_PRESCRIPTIONS, "diagnoses": DIALYSIS_DIAGNOSES},
        {"D01": "high", "D02": "high"},
    )


# ---------------------------------------------------------------------------------------------
# cramps_cirrhosis: between two monthly issues of spironolactone (the as-of date in the gap before a
# late repeat) the flag showed no current diuretic, while the other checks read the patient as on
# it. In cirrhosis with cramps the diuretic is the first thing a reviewer looks at (EASL 2018:
# diuretic-induced cramps prompt a dose reduction): current is taken on as-of, refill gap included.
# ---------------------------------------------------------------------------------------------
CIRRHOSIS_DIAGNOSES = table("""
patient_id | code   | code_system | recorded_at | resolved_at
C01        | K74.60 | ICD-10-CM   | 2023-01-01  |
C01        | R25.2  | ICD-10-CM   | 2026-10-01  |
C02        | K74.60 | ICD-10-CM   | 2023-01-01  |
C02        | R25.2  | ICD-10-CM   | 2026-10-01  |
""")
CIRRHOSIS_PRESCRIPTIONS = table("""
patient_id | drug_name                   | rxnorm_code | atc_code | start_date | end_date | days_supply
C01        | Spironolactone 100mg tablets |            |          | 2026-09-15 |          | 28
C01        | Spironolactone 100mg tablets |            |          | 2026-10-15 |          | 28
# control: stopped in the summer, no longer current
C02        | Spironolactone 100mg tablets |            |          | 2026-05-01 |          | 28
""")


def test_a_diuretic_between_two_issues_is_shown_as_current(tmp_path):
    check_spec(
        tmp_path,
        "cramps_cirrhosis",
        AS_OF,
        {"diagnoses": CIRRHOSIS_DIAGNOSES, "prescriptions": CIRRHOSIS_PRESCRIPTIONS},
        {"C01": "high", "C02": "high"},
        evidence={
            "C01": {"current_diuretics": "Spironolactone 100mg tablets"},
            "C02": {"current_diuretics": None},
        },
    )


# ---------------------------------------------------------------------------------------------
# nsaid_kidney_disease: WHO ICD-10 I12.0 is "hypertensive renal disease with renal failure" and I13.2
# "... with both heart failure and renal failure", of no stage; only ICD-10-CM made the same
# characters stage 5 or ESRD. A WHO code matched the CM rows by prefix, so a UK or European record
# coding stage 3 beside it was flagged high as stage 4-5. Now: stage 3 or worse (normal priority).
# ---------------------------------------------------------------------------------------------
WHO_IDS = ("W01", "W02", "W03", "W04", "W05", "W06")
WHO_PRESCRIPTIONS = table(
    "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
    + "\n".join(f"{p} | Naproxen 500mg tablets | | | 2026-10-01 | | 28" for p in WHO_IDS)
)
WHO_DIAGNOSES = table("""
patient_id | code  | code_system | recorded_at | resolved_at
W01        | I12.0 | ICD-10-WHO  | 2022-01-01  |
W01        | N18.3 | ICD-10-WHO  | 2022-01-01  |
W02        | I13.2 | ICD-10-WHO  | 2022-01-01  |
# WHO I12.0 alone: renal failure, stage 3 or worse
W03        | I12.0 | ICD-10-WHO  | 2022-01-01  |
# controls: ICD-10-CM I12.0 is stage 5 or ESRD; WHO N18.4 is stage 4
W04        | I12.0 | ICD-10-CM   | 2022-01-01  |
W05        | N18.4 | ICD-10-WHO  | 2022-01-01  |
# WHO I13.1: heart and renal disease with renal failure, stage 3 or worse too
W06        | I13.1 | ICD-10-WHO  | 2022-01-01  |
""")
WHO_LABS = table(
    "patient_id | collected_at | loinc_code | test_name | value | unit\n"
    + "\n".join(f"{p} | 2026-09-01 | 62238-1 | eGFR | 48 | mL/min/1.73m2" for p in ("W01", "W02"))
)


def test_who_hypertensive_renal_failure_is_no_stage_5(tmp_path):
    check_spec(
        tmp_path,
        "nsaid_kidney_disease",
        AS_OF,
        {"prescriptions": WHO_PRESCRIPTIONS, "diagnoses": WHO_DIAGNOSES, "labs": WHO_LABS},
        {"W01": "normal", "W02": "normal", "W03": "normal", "W04": "high", "W05": "high", "W06": "normal"},
    )


# ---------------------------------------------------------------------------------------------
# elderly_numbness_fall_risk: a one-off 'numbness of foot' recorded in 2009 and never resolved (GP
# systems seldom resolve a symptom code) kept a 76-year-old on zopiclone in the fall-risk population
# for ever; the guideline's "evaluate fall risk with numbness in lower extremities" is about current
# numbness. A symptom now counts for symptom_lookback_days (365); a neuropathy until resolved.
# ---------------------------------------------------------------------------------------------
OLD_SYMPTOM_IDS = ("F01", "F02", "F03", "F04")
OLD_SYMPTOM_PATIENTS = table(
    "patient_id | birth_date | sex\n" + "\n".join(f"{p} | 1950-03-01 | F" for p in OLD_SYMPTOM_IDS)
)
OLD_SYMPTOM_PRESCRIPTIONS = table(
    "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
    + "\n".join(f"{p} | Zopiclone 7.5mg tablets | | | 2026-06-01 | |" for p in OLD_SYMPTOM_IDS)
)
OLD_SYMPTOM_DIAGNOSES = table("""
patient_id | code      | code_system | recorded_at | resolved_at
F01        | 309538000 | SNOMED-CT   | 2009-03-01  |
# controls: the same symptom this year; a diabetic polyneuropathy recorded in 2009 (lasting);
# the symptom this year but resolved before as-of
F02        | 309538000 | SNOMED-CT   | 2026-03-01  |
F03        | 230573007 | SNOMED-CT   | 2009-03-01  |
F04        | 309538000 | SNOMED-CT   | 2026-03-01  | 2026-05-01
""")


def test_a_numbness_symptom_from_years_ago_is_no_current_numbness(tmp_path):
    tables = {
        "patients": OLD_SYMPTOM_PATIENTS,
        "prescriptions": OLD_SYMPTOM_PRESCRIPTIONS,
        "diagnoses": OLD_SYMPTOM_DIAGNOSES,
    }
    check_spec(
        tmp_path,
        "elderly_numbness_fall_risk",
        AS_OF,
        tables,
        {"F01": OUT, "F02": "normal", "F03": "normal", "F04": OUT},
    )
