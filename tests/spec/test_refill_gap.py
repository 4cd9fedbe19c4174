"""Spec: repeat prescribing and the refill gap (review 2026-12). In a GP export each 28-day repeat
issue is a prescription of its own, and patients collect the next one a few days late: 28-day
issues collected every 31 days leave three days between them. A long-term user is still taking the
drug on those days. diuretic_electrolyte_monitoring, cramps_medication_review and
elderly_numbness_fall_risk count a drug as taken up to refill_gap_days (30, the grace period
insulin_potassium_drop already used) after a prescription ends; 0 restores "only the days it
covers". As of 2026-11-20."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from checks.evaluate import compute, prepare, select_checks
from pipelines.db import connect
from tests.helpers import table
from tests.spec.harness import OUT, check_spec

AS_OF = date(2026, 11, 20)

# ---------------------------------------------------------------------------------------------
# diuretic_electrolyte_monitoring: furosemide 40 mg as 28-day repeats (dm+d name, no codes), no
# potassium or sodium in the year. A clinician expects every long-term user flagged, whichever day
# of the repeat cycle the audit runs on.
# ---------------------------------------------------------------------------------------------
DIURETIC_REPEATS = table("""
patient_id | drug_name                        | rxnorm_code | atc_code | start_date | end_date   | days_supply
# as-of 3 days after the last issue ran out (issues every 31 days): still taking it
D01        | Furosemide 40mg tablets          |             |          | 2026-08-19 |            | 28
D01        | Furosemide 40mg tablets          |             |          | 2026-09-19 |            | 28
D01        | Furosemide 40mg tablets          |             |          | 2026-10-20 |            | 28
# an end date 30 days before as-of: the last day of the grace period
D02        | Furosemide 40mg tablets          |             |          | 2026-01-24 | 2026-10-21 |
# 31 days before: stopped (not in the population)
D03        | Furosemide 40mg tablets          |             |          | 2026-01-24 | 2026-10-20 |
# a 90-day supply of bendroflumethiazide that ran out 10 days ago (ATC coded)
D04        | Bendroflumethiazide 2.5mg tablets | | C03AA01 | 2026-08-12 |            | 90
# switched from furosemide to bumetanide 10 days ago: both named until the furosemide's gap runs out
D05        | Furosemide 40mg tablets          |             |          | 2026-01-01 | 2026-11-09 |
D05        | Bumetanide 1mg tablets           |             |          | 2026-11-10 |            | 28
# in the gap with potassium and sodium measured this year: in the population, not flagged
D06        | Furosemide 40mg tablets          |             |          | 2026-09-19 |            | 28
D06        | Furosemide 40mg tablets          |             |          | 2026-10-20 |            | 28
# in the gap, tested 2025-12-05: the next test falls due 2026-12-05, while the gap still runs
D08        | Furosemide 40mg tablets          |             |          | 2026-10-20 |            | 28
# a 5-day course of furosemide that ended 10 days ago: the gap is at most the course's length
D09        | Furosemide 40mg tablets          |             |          | 2026-11-05 |            | 5
# a 5-day course that ended 5 days ago: still taken on the last day of its gap
D10        | Furosemide 40mg tablets          |             |          | 2026-11-10 |            | 5
# a spironolactone cream in its gap stays out (is_topical), as it does while running
D07        | Spironolactone 5% cream          |             |          | 2026-10-01 |            | 30
""")
DIURETIC_LABS = table("""
patient_id | test_name | loinc_code | value | unit   | collected_at
D06        | Potassium | 2823-3     | 4.2   | mmol/L | 2026-06-01
D06        | Sodium    | 2951-2     | 139   | mmol/L | 2026-06-01
D08        | Potassium | 2823-3     | 4.4   | mmol/L | 2025-12-05
D08        | Sodium    | 2951-2     | 140   | mmol/L | 2025-12-05
""")
DIURETIC_EXPECTED = {
    "D01": "high",
    "D02": "high",
    "D03": OUT,
    "D04": "high",
    "D05": "high",
    "D06": None,
    "D07": OUT,
    "D08": None,
    "D09": OUT,
    "D10": "high",
}


def test_a_diuretic_is_still_taken_between_repeat_issues(tmp_path):
    tables = {"prescriptions": DIURETIC_REPEATS, "labs": DIURETIC_LABS}
    evidence = {
        "D01": {"diuretics": "Furosemide 40mg tablets", "diuretic_since": "2026-08-19"},
        "D05": {"diuretics": "Bumetanide 1mg tablets; Furosemide 40mg tablets"},
    }
    check_spec(
        tmp_path, "diuretic_electrolyte_monitoring", AS_OF, tables, DIURETIC_EXPECTED, evidence=evidence
    )


def test_a_refill_gap_of_0_counts_only_the_days_a_prescription_covers(tmp_path):
    tables = {"prescriptions": DIURETIC_REPEATS, "labs": DIURETIC_LABS}
    expected = {**DIURETIC_EXPECTED, "D01": OUT, "D02": OUT, "D04": OUT, "D06": OUT, "D08": OUT, "D10": OUT}
    check_spec(
        tmp_path,
        "diuretic_electrolyte_monitoring",
        AS_OF,
        tables,
        expected,
        params={"refill_gap_days": 0},
    )


LATE_RENEWAL = table("""
patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date   | days_supply
# a long-term user whose prescription ended 5 days before the lookback began, renewed 5 days late
L01        | Furosemide 40mg tablets |             |          | 2025-01-01 | 2025-11-15 |
L01        | Furosemide 40mg tablets |             |          | 2025-11-25 |            |
# a real restart: stopped 60 days before the lookback began
L02        | Furosemide 40mg tablets |             |          | 2025-01-01 | 2025-09-21 |
L02        | Furosemide 40mg tablets |             |          | 2025-11-25 |            |
""")


def test_a_late_renewal_across_the_start_of_the_lookback_is_not_a_new_course(tmp_path):
    """With post_start_days = 14 a course started in the lookback must be re-tested after its start;
    a renewal within the refill gap of the last prescription continues the course (overdue), a
    restart after a longer break starts a new one (post-start check overdue)."""
    evidence = {
        "L01": {"diuretic_since": "2025-01-01", "monitoring": "overdue"},
        "L02": {"diuretic_since": "2025-11-25", "monitoring": "post-start check overdue"},
    }
    check_spec(
        tmp_path,
        "diuretic_electrolyte_monitoring",
        AS_OF,
        {"prescriptions": LATE_RENEWAL, "labs": LATE_RENEWAL_LABS},
        {"L01": "high", "L02": "high"},
        params={"post_start_days": 14},
        evidence=evidence,
    )


# results before the lookback only, so that both are flagged and only the label tells them apart
LATE_RENEWAL_LABS = table("""
patient_id | collected_at | loinc_code | test_name | value | unit
L01        | 2025-11-01   | 2823-3     | Potassium | 4.1   | mmol/L
L01        | 2025-11-01   | 2951-2     | Sodium    | 138   | mmol/L
L02        | 2025-11-01   | 2823-3     | Potassium | 4.1   | mmol/L
L02        | 2025-11-01   | 2951-2     | Sodium    | 138   | mmol/L
""")


def test_a_test_falls_due_while_the_diuretic_is_still_taken_in_its_refill_gap(tmp_path):
    """Not flagged, the next test falls due only if the diuretic is still taken then (due_soon.csv):
    D08's, on 2026-12-05, falls inside the refill gap after its issue ran out on 2026-11-17, so it
    is due; D06's, on 2027-06-01, comes long after its last issue and the gap ran out."""
    run = check_spec(
        tmp_path,
        "diuretic_electrolyte_monitoring",
        AS_OF,
        {"prescriptions": DIURETIC_REPEATS, "labs": DIURETIC_LABS},
        DIURETIC_EXPECTED,
    )
    assert due_dates(run.db) == {"D06": None, "D08": date(2026, 12, 5)}


def due_dates(db: Path) -> dict[str, date | None]:
    """The not-flagged patients' due dates, as the check computes them on the run's database."""
    (definition,) = select_checks(("diuretic_electrolyte_monitoring",))
    con = connect(db)
    try:
        prepare(con)
        result, _ = compute(con, definition, AS_OF, {})
        return dict(con.execute(f"SELECT patient_id, due_on FROM {result} WHERE NOT flagged").fetchall())
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------
# cramps_medication_review: a cramp recorded in the days between two statin issues was recorded
# while on the statin; a statin last issued more than 30 days before the cramp had been stopped.
# ---------------------------------------------------------------------------------------------
REVIEW_PRESCRIPTIONS = table("""
patient_id | drug_name                        | rxnorm_code | atc_code | start_date | end_date   | days_supply
# cramp 2026-07-04, between the issue ending 07-02 and the next starting 07-06
C01        | Atorvastatin 20mg tablets        |             |          | 2026-05-04 |            | 28
C01        | Atorvastatin 20mg tablets        |             |          | 2026-06-04 |            | 28
C01        | Atorvastatin 20mg tablets        |             |          | 2026-07-06 |            | 28
# stopped: last issue ran out 2026-06-03, cramp 2026-07-04 (31 days later)
C02        | Simvastatin 40mg tablets         |             |          | 2026-05-06 |            | 28
# two cramps on the statin, the last issue ran out 20 days before as-of: still taken (high)
C03        | Rosuvastatin 10mg tablets        |             |          | 2026-08-01 |            | 28
C03        | Rosuvastatin 10mg tablets        |             |          | 2026-09-03 |            | 28
C03        | Rosuvastatin 10mg tablets        |             |          | 2026-10-03 |            | 28
""")
REVIEW_DIAGNOSES = table("""
patient_id | code  | code_system | recorded_at | resolved_at
C01        | R25.2 | ICD-10-CM   | 2026-07-04  |
C02        | R25.2 | ICD-10-CM   | 2026-07-04  |
C03        | R25.2 | ICD-10-CM   | 2026-08-20  |
C03        | R25.2 | ICD-10-CM   | 2026-09-25  |
""")


def test_a_cramp_between_two_statin_issues_was_on_the_statin(tmp_path):
    tables = {"prescriptions": REVIEW_PRESCRIPTIONS, "diagnoses": REVIEW_DIAGNOSES}
    expected = {"C01": "normal", "C02": None, "C03": "high"}
    evidence = {"C03": {"still_active_drugs": "Rosuvastatin 10mg tablets"}}
    check_spec(tmp_path, "cramps_medication_review", AS_OF, tables, expected, evidence=evidence)


def test_a_cramp_review_with_no_refill_gap_reads_the_days_covered_only(tmp_path):
    tables = {"prescriptions": REVIEW_PRESCRIPTIONS, "diagnoses": REVIEW_DIAGNOSES}
    # C01's cramp falls between two issues: not on the statin. C03's cramps fall inside issues, but
    # its last issue ran out on 10-31, so the statin is no longer taken on as-of: normal priority
    expected = {"C01": None, "C02": None, "C03": "normal"}
    check_spec(
        tmp_path,
        "cramps_medication_review",
        AS_OF,
        tables,
        expected,
        params={"refill_gap_days": 0},
    )


# ---------------------------------------------------------------------------------------------
# elderly_numbness_fall_risk: polypharmacy and fall-risk drugs read the same refill gap. Five
# regular medicines as 28-day repeats on staggered cycles (dm+d names, no codes): on any day one of
# them is usually between two issues, and the patient still takes five medicines. Everyone is 76
# with diabetic polyneuropathy; F02 and F07 are controls a clinician would not flag.
# ---------------------------------------------------------------------------------------------
FALL_IDS = ("F01", "F02", "F03", "F04", "F05", "F07", "F08", "F09", "F10")
FALL_PATIENTS = "patient_id | birth_date | sex\n" + "\n".join(f"{p} | 1950-01-01 | F" for p in FALL_IDS)
FALL_DIAGNOSES = "patient_id | code | code_system | recorded_at | resolved_at\n" + "\n".join(
    f"{p} | E11.42 | ICD-10-CM | 2026-01-01 |" for p in FALL_IDS
)
FOUR_RUNNING = """
{p} | Metformin 500mg tablets                   |  |  | 2026-10-05 |  | 28
{p} | Metformin 500mg tablets                   |  |  | 2026-11-04 |  | 28
{p} | Ramipril 5mg capsules                     |  |  | 2026-10-12 |  | 28
{p} | Ramipril 5mg capsules                     |  |  | 2026-11-11 |  | 28
{p} | Atorvastatin 20mg tablets                 |  |  | 2026-09-20 |  | 28
{p} | Atorvastatin 20mg tablets                 |  |  | 2026-10-25 |  | 28
{p} | Omeprazole 20mg gastro-resistant capsules |  |  | 2026-10-01 |  | 28
{p} | Omeprazole 20mg gastro-resistant capsules |  |  | 2026-10-31 |  | 28"""
FALL_PRESCRIPTIONS = table(
    "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply"
    + FOUR_RUNNING.format(p="F01")
    + """
# the fifth, amlodipine, ran out 5 days ago (issued 10-18 for 28 days): still five medicines
F01 | Amlodipine 5mg tablets | | | 2026-09-17 | | 28
F01 | Amlodipine 5mg tablets | | | 2026-10-18 | | 28"""
    + FOUR_RUNNING.format(p="F02")
    + """
# control: the amlodipine ran out 34 days ago, past the gap: four medicines
F02 | Amlodipine 5mg tablets | | | 2026-08-19 | | 28
F02 | Amlodipine 5mg tablets | | | 2026-09-19 | | 28
# a 28-day zopiclone issue that ran out 13 days ago: a fall-risk drug still taken
F03 | Zopiclone 7.5mg tablets | | | 2026-10-10 | | 28
# a 7-day diazepam course that ended 8 days ago: the gap is at most the course's own 7 days
F04 | Diazepam 2mg tablets | | | 2026-11-05 | | 7
# ... and one that ended 6 days ago: still inside its own length
F05 | Diazepam 2mg tablets | | | 2026-11-07 | | 7"""
    + FOUR_RUNNING.format(p="F07")
    + """
# control: four regular medicines and a 7-day antibiotic that ended 3 days ago: the gap does not
# make an acute course a regular medicine (listed among the drugs not counted)
F07 | Amoxicillin 500mg capsules | | | 2026-11-10 | | 7"""
    + FOUR_RUNNING.format(p="F08")
    + """
# amlodipine in weekly blister packs, issued every 7 days since September, the last collected 3
# days late and run out 4 days ago: a renewal of a long-term drug, still taken
F08 | Amlodipine 5mg tablets | | | 2026-09-25 | | 7
F08 | Amlodipine 5mg tablets | | | 2026-10-02 | | 7
F08 | Amlodipine 5mg tablets | | | 2026-10-09 | | 7
F08 | Amlodipine 5mg tablets | | | 2026-10-16 | | 7
F08 | Amlodipine 5mg tablets | | | 2026-10-23 | | 7
F08 | Amlodipine 5mg tablets | | | 2026-10-30 | | 7
F08 | Amlodipine 5mg tablets | | | 2026-11-09 | | 7"""
)
FALL_PRESCRIPTIONS += table(  # the acute-course rule reads the same gap
    "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply"
    + FOUR_RUNNING.format(p="F09")
    + """
# controls: two antibiotic courses a month apart are two acute courses, not a long-term drug, though
# the first one's gap (at most its 7 days) reaches back past 28 days before as-of: four
F09 | Amoxicillin 500mg capsules | | | 2026-10-14 | | 7
F09 | Amoxicillin 500mg capsules | | | 2026-11-10 | | 7"""
    + FOUR_RUNNING.format(p="F10")
    + """
# ... and two short courses of prednisolone, the second running on as-of: four
F10 | Prednisolone 5mg tablets | | | 2026-10-15 | | 5
F10 | Prednisolone 5mg tablets | | | 2026-11-18 | | 5"""
)
FALL_TABLES = {"patients": FALL_PATIENTS, "diagnoses": FALL_DIAGNOSES, "prescriptions": FALL_PRESCRIPTIONS}


def test_a_medicine_between_two_repeat_issues_counts_towards_polypharmacy_and_fall_risk(tmp_path):
    expected = {"F01": "normal", "F02": None, "F03": "normal", "F04": None, "F05": "normal", "F07": None}
    expected |= {"F08": "normal", "F09": None, "F10": None}
    five = (
        "Amlodipine 5mg tablets; Atorvastatin 20mg tablets; Metformin 500mg tablets; "
        "Omeprazole 20mg gastro-resistant capsules; Ramipril 5mg capsules"
    )
    evidence = {
        "F01": {"active_drug_count": 5, "active_drugs": five},
        "F03": {"fall_risk_drugs": "Zopiclone 7.5mg tablets (z-drug)"},
        "F08": {"active_drug_count": 5, "active_drugs": five},
    }
    check_spec(tmp_path, "elderly_numbness_fall_risk", AS_OF, FALL_TABLES, expected, evidence=evidence)


def test_fall_risk_with_no_refill_gap_reads_the_days_covered_only(tmp_path):
    """F01 and F08 take four medicines on the days covered, F03 and F05 no fall-risk drug."""
    expected = dict.fromkeys(FALL_IDS)
    check_spec(
        tmp_path, "elderly_numbness_fall_risk", AS_OF, FALL_TABLES, expected, params={"refill_gap_days": 0}
    )


# ---------------------------------------------------------------------------------------------
# A drug the prescriber stopped before its supply ran out: an end date earlier than the supply's
# last day (start + days_supply - 1, OMOP's convention for a supply run out) is a stop, not the end
# of an issue, and no refill gap follows it. A clinician would not ask for monitoring of a diuretic
# stopped two weeks ago, nor count a stopped medicine towards polypharmacy.
# ---------------------------------------------------------------------------------------------
STOPPED_DIURETICS = table("""
patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date   | days_supply
# 90 days supplied on 09-01, stopped on 11-05 (15 days before as-of): not taken
S01        | Furosemide 40mg tablets |             |          | 2026-09-01 | 2026-11-05 | 90
# 90 days supplied on 08-01, ended on the supply's last day 10-29 (OMOP: start + 90 - 1): in the gap
S02        | Furosemide 40mg tablets |             |          | 2026-08-01 | 2026-10-29 | 90
# ... or the day after, as some ETLs write the end (the Eunomia OMOP sample: start + 90)
S03        | Furosemide 40mg tablets |             |          | 2026-08-01 | 2026-10-30 | 90
# ... a day before the supply's last day: stopped
S04        | Furosemide 40mg tablets |             |          | 2026-08-01 | 2026-10-28 | 90
# stopped on 11-05 and restarted on 11-12 as a new prescription: taken, and the same course (a
# week off is not a break of more than refill_gap_days): overdue since 09-01, not a new starter
S05        | Furosemide 40mg tablets |             |          | 2026-09-01 | 2026-11-05 | 90
S05        | Furosemide 40mg tablets |             |          | 2026-11-12 |            | 28
# stopped on 11-05 with no days supply given: the end date may be an issue's end, so the gap stays
S06        | Furosemide 40mg tablets |             |          | 2026-09-01 | 2026-11-05 |
""")


def test_a_diuretic_stopped_before_its_supply_ran_out_is_not_taken(tmp_path):
    tables = {"prescriptions": STOPPED_DIURETICS}
    expected = {"S01": OUT, "S02": "high", "S03": "high", "S04": OUT, "S05": "high", "S06": "high"}
    evidence = {"S05": {"diuretic_since": "2026-09-01", "monitoring": "overdue"}}
    check_spec(tmp_path, "diuretic_electrolyte_monitoring", AS_OF, tables, expected, evidence=evidence)


STOPPED_FALL_IDS = ("F11", "F12", "F13")
STOPPED_FALL_TABLES = {
    "patients": "patient_id | birth_date | sex\n"
    + "\n".join(f"{p} | 1950-01-01 | F" for p in STOPPED_FALL_IDS),
    "diagnoses": "patient_id | code | code_system | recorded_at | resolved_at\n"
    + "\n".join(f"{p} | E11.42 | ICD-10-CM | 2026-01-01 |" for p in STOPPED_FALL_IDS),
    "prescriptions": table(
        "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply"
        + FOUR_RUNNING.format(p="F11")
        + """
# the fifth, amlodipine, issued for 28 days on 10-20 and stopped on 11-10 (ankle swelling): four
F11 | Amlodipine 5mg tablets | | | 2026-09-20 | | 28
F11 | Amlodipine 5mg tablets | | | 2026-10-20 | 2026-11-10 | 28
# a zopiclone issue of 28 days stopped after 16 days: no fall-risk drug taken
F12 | Zopiclone 7.5mg tablets | | | 2026-10-20 | 2026-11-05 | 28"""
        + FOUR_RUNNING.format(p="F13")
        + """
# control: the amlodipine issue ended on its supply's last day 5 days ago: five, as F01
F13 | Amlodipine 5mg tablets | | | 2026-09-17 | | 28
F13 | Amlodipine 5mg tablets | | | 2026-10-18 | 2026-11-14 | 28"""
    ),
}


def test_a_medicine_stopped_before_its_supply_ran_out_is_not_counted(tmp_path):
    expected = {"F11": None, "F12": None, "F13": "normal"}
    evidence = {"F13": {"active_drug_count": 5}}
    check_spec(
        tmp_path, "elderly_numbness_fall_risk", AS_OF, STOPPED_FALL_TABLES, expected, evidence=evidence
    )


STOPPED_REVIEW = {
    "prescriptions": table("""
patient_id | drug_name                 | rxnorm_code | atc_code | start_date | end_date   | days_supply
# 56 days of simvastatin from 05-01, stopped on 06-10 for aches; cramp recorded on 06-20: the gap
# follows a stop here (statin muscle symptoms take weeks to settle): still the statin's
C04        | Simvastatin 40mg tablets  |             |          | 2026-05-01 | 2026-06-10 | 56
# control: 28 days from 05-14, the supply's last day 06-10; cramp on 06-20, between two issues
C05        | Simvastatin 40mg tablets  |             |          | 2026-05-14 | 2026-06-10 | 28
"""),
    "diagnoses": table("""
patient_id | code  | code_system | recorded_at | resolved_at
C04        | R25.2 | ICD-10-CM   | 2026-06-20  |
C05        | R25.2 | ICD-10-CM   | 2026-06-20  |
"""),
}


def test_a_cramp_soon_after_the_statin_was_stopped_may_still_be_the_statins(tmp_path):
    """The refill gap is also a washout here: a stop does not end it. Neither statin is taken on
    as-of, so both are normal priority."""
    expected = {"C04": "normal", "C05": "normal"}
    check_spec(tmp_path, "cramps_medication_review", AS_OF, STOPPED_REVIEW, expected)


# ---------------------------------------------------------------------------------------------
# The export may say so itself (the optional `stopped` column: FHIR status 'stopped', a GP
# system's discontinued flag): true is a stop whatever the dates, false is none.
# ---------------------------------------------------------------------------------------------
EXPLICIT_STOPS = table("""
patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date   | days_supply | stopped
# stopped on 11-05 by the prescriber, no days supply: not taken
S07        | Furosemide 40mg tablets |             |          | 2026-09-01 | 2026-11-05 |             | true
# an end before the supply's last day, but the export says not stopped: in the gap
S08        | Furosemide 40mg tablets |             |          | 2026-09-01 | 2026-11-05 | 90          | false
# a flag that cannot be read is noted and left out: the end read as an issue's end, in the gap
S09        | Furosemide 40mg tablets |             |          | 2026-09-01 | 2026-11-05 |             | maybe
# a stop that ran to the supply's end (Y, as some systems write it): not taken after it either
S10        | Furosemide 40mg tablets |             |          | 2026-09-01 | 2026-11-05 | 65          | Y
""")


def test_an_export_that_says_a_drug_was_stopped_is_read(tmp_path):
    expected = {"S07": OUT, "S08": "high", "S09": "high", "S10": OUT}
    check_spec(
        tmp_path, "diuretic_electrolyte_monitoring", AS_OF, {"prescriptions": EXPLICIT_STOPS}, expected
    )


# insulin_potassium_drop: a low potassium 5 days after an insulin stopped on day 10 of 28 was not
# collected on insulin; the same result 5 days after a supply ran out is (refill gap; the latest
# result is low: high priority)
INSULIN_STOPS = {
    "prescriptions": table("""
patient_id | drug_name           | rxnorm_code | atc_code | start_date | end_date   | days_supply
IS1        | Lantus SoloStar pen |             |          | 2026-10-01 | 2026-10-10 | 28
IS2        | Lantus SoloStar pen |             |          | 2026-09-13 | 2026-10-10 | 28
"""),
    "labs": table("""
patient_id | test_name | loinc_code | value | unit   | collected_at
IS1        | Potassium | 2823-3     | 3.2   | mmol/L | 2026-10-15
IS2        | Potassium | 2823-3     | 3.2   | mmol/L | 2026-10-15
"""),
}


def test_a_low_potassium_after_insulin_was_stopped_was_not_on_insulin(tmp_path):
    check_spec(tmp_path, "insulin_potassium_drop", AS_OF, INSULIN_STOPS, {"IS1": None, "IS2": "high"})


# elderly_numbness_fall_risk: amlodipine in weekly compliance packs, each issue collected a day early
# and recorded as ending the day before the next (read as a stop): one issue replaced the next day
# is unbroken use, so the current week's pack is a long-term drug's renewal, not an acute course
DOSETTE = "".join(
    f"\nF14 | Amlodipine 5mg tablets | | | {start} | {end} | 7"
    for start, end in (
        ("2026-10-01", "2026-10-06"), ("2026-10-07", "2026-10-12"), ("2026-10-13", "2026-10-18"),
        ("2026-10-19", "2026-10-24"), ("2026-10-25", "2026-10-30"), ("2026-10-31", "2026-11-05"),
        ("2026-11-06", "2026-11-11"), ("2026-11-12", "2026-11-17"), ("2026-11-18", ""),
    )
)  # fmt: skip
DOSETTE_TABLES = {
    "patients": "patient_id | birth_date | sex\nF14 | 1950-01-01 | F",
    "diagnoses": "patient_id | code | code_system | recorded_at | resolved_at\nF14 | E11.42 | ICD-10-CM | 2026-01-01 |",
    "prescriptions": table(
        "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply"
        + FOUR_RUNNING.format(p="F14")
        + DOSETTE
    ),
}


def test_a_weekly_pack_replaced_the_next_day_is_unbroken_use(tmp_path):
    evidence = {"F14": {"active_drug_count": 5}}
    check_spec(
        tmp_path, "elderly_numbness_fall_risk", AS_OF, DOSETTE_TABLES, {"F14": "normal"}, evidence=evidence
    )
