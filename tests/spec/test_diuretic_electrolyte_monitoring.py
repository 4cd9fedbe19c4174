"""Spec: diuretic_electrolyte_monitoring, as of 2026-11-20 (window starts 2025-11-20)."""

from __future__ import annotations

from datetime import date
from functools import partial

import duckdb

from tests.helpers import table
from tests.spec.harness import OUT, check_spec

AS_OF = date(2026, 11, 20)
CHECK = "diuretic_electrolyte_monitoring"

PRESCRIPTIONS = table("""
patient_id | drug_name                                   | rxnorm_code | atc_code | start_date | end_date   | days_supply
# ongoing (no end, no supply); labs exactly 365 days before as-of: monitored
D01        | furosemide 40 mg tablet                     | 4603        | C03CA01  | 2024-01-01 |            |
# ongoing; labs 366 days before as-of: flagged
D02        | furosemide 40 mg tablet                     | 4603        | C03CA01  | 2024-01-01 |            |
# ended the day before as-of: not in the population
D03        | bendroflumethiazide 2.5 mg                  |             | C03AA01  | 2025-01-01 | 2026-10-20 |
# ends on as-of: in the population
D04        | indapamide 1.5 mg                           | 5764        | C03BA11  | 2025-01-01 | 2026-11-20 |
# only days_supply, still running on as-of
D05        | spironolactone 25 mg                        | 9997        | C03DA01  | 2026-11-01 |            | 30
# only days_supply, ran out before as-of
D06        | spironolactone 25 mg                        | 9997        | C03DA01  | 2026-09-01 |            | 30
# starts after as-of
D07        | furosemide 20 mg                            | 4603        | C03CA01  | 2026-11-21 |            |
# combination product recognised by its ATC code and name
D08        | lisinopril / hydrochlorothiazide 20/12.5 mg |             | C09BA03  | 2025-06-01 |            |
# brand name only, no codes
D09        | Lasix 40 mg tablet                          |             |          | 2025-06-01 |            |
# potassium present, sodium missing
D10        | chlorthalidone 25 mg                        | 2409        | C03BA04  | 2025-06-01 |            |
# urine electrolytes only
D11        | amiloride 5 mg                              | 644         | C03DB01  | 2025-06-01 |            |
# recognised by RxNorm code alone
D12        | tablet (see pharmacy)                       | 9997        |          | 2025-06-01 |            |
# recognised by ATC code alone
D13        | XYZ 25mg                                    |             | C03DA01  | 2025-06-01 |            |
# not a diuretic
D14        | lisinopril 10 mg                            | 29046       | C09AA03  | 2025-06-01 |            |
# labs without LOINC, named only: monitored
D15        | torsemide 10 mg                             | 38413       | C03CA04  | 2025-06-01 |            |
# results only after as-of do not count
D16        | metolazone 2.5 mg                           | 6916        | C03BA08  | 2025-06-01 |            |
# tests done but without a numeric result do not count
D17        | furosemide 40 mg tablet                     | 4603        | C03CA01  | 2025-06-01 |            |
# started 14 days before as-of (the baseline window's first day), no tests: baseline tests due
D18        | furosemide 20 mg tablet                     | 4603        | C03CA01  | 2026-11-06 |            |
# started 15 days before as-of, no tests: overdue
D19        | furosemide 20 mg tablet                     | 4603        | C03CA01  | 2026-11-05 |            |
# a long-term user whose prescription was renewed 10 days ago is not new: overdue
D20        | bendroflumethiazide 2.5 mg                  |             | C03AA01  | 2025-01-01 | 2026-11-09 |
D20        | bendroflumethiazide 2.5 mg                  |             | C03AA01  | 2026-11-10 |            |
# a new starter whose baseline tests were done before starting: monitored
D21        | indapamide 1.5 mg                           | 5764        | C03BA11  | 2026-11-10 |            |
# electrolytes in the window; renal function present (D22, D24), missing (D23) or too old (D25)
D22        | furosemide 40 mg tablet                     | 4603        | C03CA01  | 2025-06-01 |            |
D23        | furosemide 40 mg tablet                     | 4603        | C03CA01  | 2025-06-01 |            |
D24        | furosemide 40 mg tablet                     | 4603        | C03CA01  | 2025-06-01 |            |
D25        | furosemide 40 mg tablet                     | 4603        | C03CA01  | 2025-06-01 |            |
""")

LABS = table("""
patient_id | collected_at        | loinc_code | test_name        | value | unit
D01        | 2025-11-20          | 2823-3     |                  | 4.2   | mmol/L
D01        | 2025-11-20T08:30:00 | 2951-2     |                  | 139   | mmol/L
D02        | 2025-11-19          | 2823-3     |                  | 4.0   | mmol/L
D02        | 2025-11-19          | 2951-2     |                  | 140   | mmol/L
D10        | 2026-10-01          | 2823-3     |                  | 3.9   | mEq/L
D11        | 2026-10-01          | 2828-2     |                  | 40    | mmol/L
D11        | 2026-10-01          |            | Urine sodium     | 80    | mmol/L
D15        | 2026-03-01          |            | Potassium        | 4.4   | mmol/L
D15        | 2026-03-01          |            | Sodium           | 138   | mmol/L
D16        | 2026-11-22          | 2823-3     |                  | 4.4   | mmol/L
D16        | 2026-11-22          | 2951-2     |                  | 138   | mmol/L
D17        | 2026-10-01          | 2823-3     |                  |       |
D17        | 2026-10-01          | 2951-2     |                  |       |
D21        | 2026-11-01          | 2823-3     |                  | 4.1   | mmol/L
D21        | 2026-11-01          | 2951-2     |                  | 140   | mmol/L
D22        | 2026-03-01          | 2823-3     |                  | 4.1   | mmol/L
D22        | 2026-03-01          | 2951-2     |                  | 140   | mmol/L
D22        | 2026-03-01          | 14682-9    |                  | 95    | umol/L
D23        | 2026-03-01          | 2823-3     |                  | 4.1   | mmol/L
D23        | 2026-03-01          | 2951-2     |                  | 140   | mmol/L
D24        | 2026-03-01          | 2823-3     |                  | 4.1   | mmol/L
D24        | 2026-03-01          | 2951-2     |                  | 140   | mmol/L
D24        | 2026-03-01          | 33914-3    |                  | 52    | mL/min/1.73m2
D25        | 2026-03-01          | 2823-3     |                  | 4.1   | mmol/L
D25        | 2026-03-01          | 2951-2     |                  | 140   | mmol/L
D25        | 2025-11-19          | 14682-9    |                  | 95    | umol/L
""")

TABLES = {"prescriptions": PRESCRIPTIONS, "labs": LABS}

EXPECTED = {
    "D01": None,  # labs exactly 365 days before as-of
    "D02": "high",  # labs 366 days before as-of
    "D03": OUT,  # ended 31 days before as-of: past the refill gap (refill_gap_days 30)
    "D04": "high",  # ends on as-of
    "D05": "high",  # days_supply still running on as-of
    "D06": OUT,  # days_supply ran out before as-of
    "D07": OUT,  # starts after as-of
    "D08": "high",  # combination recognised by ATC code and name
    "D09": "high",  # brand name only
    "D10": "normal",  # potassium present, sodium missing
    "D11": "high",  # urine electrolytes only
    "D12": "high",  # RxNorm code alone
    "D13": "high",  # ATC code alone
    "D14": OUT,  # not a diuretic
    "D15": None,  # labs named only
    "D16": "high",  # results only after as-of
    "D17": "high",  # tests without a numeric result
    "D18": "high",  # started 14 days ago, no tests: baseline tests due
    "D19": "high",  # started 15 days ago, no tests: overdue
    "D20": "high",  # renewed 10 days ago, treated since 2025: overdue
    "D21": None,  # baseline tests before starting
    "D22": None,  # renal function by creatinine (not required by default)
    "D23": None,  # no renal function
    "D24": None,  # renal function by eGFR
    "D25": None,  # creatinine 366 days old
}
# with require_renal=1: D23 and D25 lack renal function; D01, D15 and D21 never had a renal test
RENAL_EXPECTED = {
    **EXPECTED,
    "D01": "normal",
    "D15": "normal",
    "D21": "normal",
    "D23": "normal",
    "D25": "normal",
}
spec = partial(check_spec, check=CHECK, as_of=AS_OF, tables=TABLES, expected=EXPECTED)


def test_flags_exactly_the_expected_patients(tmp_path):
    spec(tmp_path)


def test_reason_names_the_missing_test_and_evidence_shows_last_results(tmp_path):
    spec(
        tmp_path,
        reason={
            "D10": "overdue: on a diuretic with no sodium result in the 365 days to 2026-11-20",
            "D02": "...no potassium or sodium...",
        },
        evidence={
            "D10": {
                "last_potassium_at": "2026-10-01",
                "last_potassium": "3.9",
                "last_sodium_at": None,
                "diuretics": "chlorthalidone 25 mg",
                "diuretic_since": "2025-06-01",
            },
            "D02": {"last_potassium_at": "2025-11-19"},
        },
    )


def test_lookback_is_a_parameter(tmp_path):
    run = spec(tmp_path, expected={**EXPECTED, "D02": None}, params={"lookback_days": 366})
    assert run.result.parameters["lookback_days"] == 366


def test_a_recent_start_is_baseline_tests_due_not_overdue(tmp_path):
    # D18: nothing measured, so high priority; the label says why. D20: renewed 10 days ago, treated since 2025.
    spec(
        tmp_path,
        reason={
            "D18": "baseline tests due: on a diuretic started 2026-11-06 with no potassium or sodium result "
            "in the 365 days to 2026-11-20",
            "D19": "overdue: on a diuretic with no potassium or sodium...",
        },
        evidence={
            "D18": {"monitoring": "baseline tests due"},
            "D19": {"monitoring": "overdue"},
            "D20": {"monitoring": "overdue", "diuretic_since": "2025-01-01"},
        },
    )


def test_baseline_window_is_a_parameter(tmp_path):
    evidence = {"D19": {"monitoring": "baseline tests due"}, "D20": {"monitoring": "overdue"}}
    spec(tmp_path, params={"baseline_days": 15}, evidence=evidence)


def test_renal_function_is_shown_and_required_only_when_asked(tmp_path):
    # D23 has no creatinine or eGFR; D25's creatinine is 366 days old; D22 (creatinine), D24 (eGFR) pass;
    # D01, D15 and D21 had their electrolytes but never a renal test
    run = spec(
        tmp_path,
        expected=RENAL_EXPECTED,
        params={"require_renal": 1},
        reason={
            "D23": "overdue: on a diuretic with no renal function (creatinine or eGFR) result in the 365 days to 2026-11-20",
            "D02": "...potassium, sodium or renal function (creatinine or eGFR)...",
        },
        evidence={
            "D21": {"monitoring": "baseline tests due"},
            "D25": {"last_creatinine_at": "2025-11-19", "last_creatinine": "95.0", "last_egfr_at": None},
        },
    )
    assert run.result.parameters["require_renal"] == 1


def test_by_default_renal_function_is_shown_but_not_required(tmp_path):
    spec(tmp_path, params={"require_renal": 0, "lookback_days": 365})


# Issue 15, round 2: UK compound and brand names (OpenSAFELY PINCER dm+d, Exeter drug-name lists),
# written as dm+d writes them, with no codes and no electrolytes: each is a diuretic, so each is flagged.
# Coversyl alone is perindopril; only Coversyl Plus carries indapamide.
UK_PRESCRIPTIONS = table("""
patient_id | drug_name                           | rxnorm_code | atc_code | start_date | end_date | days_supply
V01        | Co-flumactone 25mg/25mg tablets     |             |          | 2026-01-01 |          |
V02        | Lasilactone 20mg/50mg capsules      |             |          | 2026-01-01 |          |
V03        | Navispare tablets                   |             |          | 2026-01-01 |          |
V04        | Froop 40mg tablets                  |             |          | 2026-01-01 |          |
V05        | Coversyl Plus 5mg/1.25mg tablets    |             |          | 2026-01-01 |          |
V06        | Viskaldix tablets                   |             |          | 2026-01-01 |          |
V07        | Coversyl 5mg tablets                |             |          | 2026-01-01 |          |
""")


def test_uk_compound_and_brand_diuretics_are_seen(tmp_path):
    expected = {"V01": True, "V02": True, "V03": True, "V04": True, "V05": True, "V06": True, "V07": OUT}
    check_spec(tmp_path, CHECK, AS_OF, {"prescriptions": UK_PRESCRIPTIONS}, expected)


# The re-test after starting (NHS SPS: again 1-2 weeks after starting), post_start_days, off by default.
# Window starts 2025-11-20; every patient below has potassium and sodium in it.
STARTS = table("""
patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date   | days_supply
# started 50 days ago, only the baseline taken before the start: re-test overdue
S01        | furosemide 40 mg tablet | 4603        | C03CA01  | 2026-10-01 |            |
# started 50 days ago, re-tested 9 days after the start: monitored
S02        | furosemide 40 mg tablet | 4603        | C03CA01  | 2026-10-01 |            |
# started 10 days ago with a pre-start baseline: the re-test is not due yet (2026-11-24)
S03        | indapamide 1.5 mg       | 5764        | C03BA11  | 2026-11-10 |            |
# started 10 days ago, no result at all: baseline tests due, whatever post_start_days says
S07        | indapamide 1.5 mg       | 5764        | C03BA11  | 2026-11-10 |            |
# a long-term user, tested in March: the course began before the window, nothing to re-test
S04        | furosemide 40 mg tablet | 4603        | C03CA01  | 2024-01-01 |            |
# restarted after a gap of two years, only a test before the restart: a new course
S05        | furosemide 20 mg tablet | 4603        | C03CA01  | 2023-01-01 | 2024-06-30 |
S05        | furosemide 20 mg tablet | 4603        | C03CA01  | 2026-09-01 |            |
# potassium re-tested after the start, sodium only before it
S06        | furosemide 40 mg tablet | 4603        | C03CA01  | 2026-10-01 |            |
""")
STARTS_LABS = table("""
patient_id | collected_at | loinc_code | test_name | value | unit
S01        | 2026-09-25   | 2823-3     |           | 4.1   | mmol/L
S01        | 2026-09-25   | 2951-2     |           | 140   | mmol/L
S02        | 2026-09-25   | 2823-3     |           | 4.1   | mmol/L
S02        | 2026-09-25   | 2951-2     |           | 140   | mmol/L
S02        | 2026-10-10   | 2823-3     |           | 3.9   | mmol/L
S02        | 2026-10-10   | 2951-2     |           | 138   | mmol/L
S03        | 2026-11-01   | 2823-3     |           | 4.1   | mmol/L
S03        | 2026-11-01   | 2951-2     |           | 140   | mmol/L
S04        | 2026-03-01   | 2823-3     |           | 4.1   | mmol/L
S04        | 2026-03-01   | 2951-2     |           | 140   | mmol/L
S05        | 2026-08-25   | 2823-3     |           | 4.1   | mmol/L
S05        | 2026-08-25   | 2951-2     |           | 140   | mmol/L
S06        | 2026-09-25   | 2951-2     |           | 140   | mmol/L
S06        | 2026-10-09   | 2823-3     |           | 3.8   | mmol/L
""")
STARTS_TABLES = {"prescriptions": STARTS, "labs": STARTS_LABS}


def test_by_default_a_baseline_taken_before_the_start_counts(tmp_path):
    expected = {p: None for p in ("S01", "S02", "S03", "S04", "S05", "S06")} | {"S07": "high"}
    check_spec(tmp_path, CHECK, AS_OF, STARTS_TABLES, expected)


def test_with_post_start_days_a_new_course_needs_a_test_after_its_start(tmp_path):
    expected = {
        "S01": "high",
        "S02": None,
        "S03": None,
        "S04": None,
        "S05": "high",
        "S06": "normal",
        "S07": "high",
    }
    run = check_spec(
        tmp_path,
        CHECK,
        AS_OF,
        STARTS_TABLES,
        expected,
        params={"post_start_days": 14},
        reason={
            "S01": "post-start check overdue: on a diuretic started 2026-10-01 with no potassium or sodium "
            "result since it started (due by 2026-10-15)",
            "S06": "post-start check overdue: on a diuretic started 2026-10-01 with no sodium result since "
            "it started (due by 2026-10-15)",
        },
        evidence={
            "S01": {
                "monitoring": "post-start check overdue",
                "due_on": "2026-10-15",
                "last_potassium_at": "2026-09-25",
            },
            "S05": {
                "monitoring": "post-start check overdue",
                "diuretic_since": "2026-09-01",
                "due_on": "2026-09-15",
            },
        },
    )
    assert run.result.parameters["post_start_days"] == 14


def test_a_recheck_due_inside_the_baseline_window_is_labelled_as_the_recheck(tmp_path):
    """post_start_days 7 < baseline_days 14: S03 (started 11-10, baseline taken 11-01) is 10 days in,
    its re-test fell due 11-17; S07, never tested, still has baseline tests due."""
    expected = {
        "S01": "high",
        "S02": None,
        "S03": "high",
        "S04": None,
        "S05": "high",
        "S06": "normal",
        "S07": "high",
    }
    check_spec(
        tmp_path,
        CHECK,
        AS_OF,
        STARTS_TABLES,
        expected,
        params={"post_start_days": 7},
        reason={
            "S03": "post-start check overdue: on a diuretic started 2026-11-10 with no potassium or sodium "
            "result since it started (due by 2026-11-17)",
        },
        evidence={
            "S03": {"monitoring": "post-start check overdue", "due_on": "2026-11-17"},
            "S07": {"monitoring": "baseline tests due", "due_on": "2026-11-24"},
        },
    )


# Review 2026-11: a cream of a diuretic (spironolactone 5% cream, for acne) is not systemic exposure:
# no electrolyte monitoring, so the patient is not in the population (is_topical, the one topical
# definition); a tablet beside the cream still is.
TOPICAL_PRESCRIPTIONS = table("""
patient_id | drug_name                        | rxnorm_code | atc_code | start_date | end_date | days_supply
T01        | Spironolactone 5% cream          |             |          | 2026-01-01 |          |
T02        | spironolactone 2% topical gel    | 9997        |          | 2026-01-01 |          |
T03        | Spironolactone 5% cream          |             |          | 2026-01-01 |          |
T03        | spironolactone 25 mg tablet      | 9997        | C03DA01  | 2026-06-01 |          |
T04        | spironolactone 25 mg tablet      | 9997        | C03DA01  | 2026-06-01 |          |
""")


def test_a_topical_diuretic_is_not_a_diuretic_to_monitor(tmp_path):
    expected = {"T01": OUT, "T02": OUT, "T03": "high", "T04": "high"}
    evidence = {"T03": {"diuretics": "spironolactone 25 mg tablet", "diuretic_since": "2026-06-01"}}
    check_spec(tmp_path, CHECK, AS_OF, {"prescriptions": TOPICAL_PRESCRIPTIONS}, expected, evidence=evidence)


COURSE_END = {
    "prescriptions": table("""
patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date   | days_supply
# monitored; the next tests fall due on 2026-12-01 while the diuretic runs on: due soon
U1         | furosemide 40 mg tablet | 4603        | C03CA01  | 2025-01-01 |            |
# monitored; the diuretic ended on 2026-10-31 and its refill gap (30 days) runs out on 2026-11-30,
# before the next tests fall due: nothing falls due
U2         | furosemide 40 mg tablet | 4603        | C03CA01  | 2025-01-01 | 2026-10-31 |
"""),
    "labs": table("""
patient_id | collected_at | loinc_code | test_name  | value | unit
U1         | 2025-12-01   | 2823-3     | Potassium  | 4.2   | mmol/L
U1         | 2025-12-01   | 2951-2     | Sodium     | 139   | mmol/L
U1         | 2025-12-01   | 2160-0     | Creatinine | 1.0   | mg/dL
U2         | 2025-12-01   | 2823-3     | Potassium  | 4.2   | mmol/L
U2         | 2025-12-01   | 2951-2     | Sodium     | 139   | mmol/L
U2         | 2025-12-01   | 2160-0     | Creatinine | 1.0   | mg/dL
"""),
}


def test_the_next_tests_fall_due_only_while_the_diuretic_still_runs(tmp_path):
    """due_soon.csv lists who falls due next: not a patient whose diuretic stops before then."""
    run = check_spec(tmp_path, CHECK, AS_OF, COURSE_END, {"U1": None, "U2": None})
    with duckdb.connect(str(run.db), read_only=True) as con:
        due = con.execute("SELECT patient_id, due_on::VARCHAR FROM due_soon").fetchall()
    assert due == [("U1", "2026-12-01")]


# A course is the use running on as-of since the last break of more than refill_gap_days (30) with
# no diuretic: taken again after such a break inside the lookback, a diuretic is a new start
# (baseline tests due; with post_start_days, a re-test after the start), while a late renewal, a
# switch, weekly issues resumed after two weeks and a restart soon after a stop continue it (R02-R05
# and R07 are not flagged: their results fall after the start of the course they continue).
COURSES = {
    "prescriptions": table("""
patient_id | drug_name                  | rxnorm_code | atc_code | start_date | end_date   | days_supply
# four months in the winter, tested then; restarted on 2026-11-01 (a break of seven months)
R01        | furosemide 40 mg tablet    | 4603        | C03CA01  | 2025-12-01 | 2026-03-31 |
R01        | furosemide 40 mg tablet    | 4603        | C03CA01  | 2026-11-01 |            |
# switched from a thiazide to a loop diuretic, the two overlapping: one course since 2026-01-01
R02        | bendroflumethiazide 2.5 mg |             | C03AA01  | 2026-01-01 | 2026-10-31 |
R02        | furosemide 40 mg tablet    | 4603        | C03CA01  | 2026-10-25 |            |
# renewed late, 20 days after the last issue ended (inside its 30-day refill gap): one course
R03        | furosemide 40 mg tablet    | 4603        | C03CA01  | 2026-01-01 | 2026-09-30 |
R03        | furosemide 40 mg tablet    | 4603        | C03CA01  | 2026-10-20 |            |
# stopped on 2026-09-30 with months of supply left, a new issue the next day (a dose change)
R04        | furosemide 40 mg tablet    | 4603        | C03CA01  | 2026-01-01 | 2026-09-30 | 365
R04        | furosemide 80 mg tablet    | 4603        | C03CA01  | 2026-10-01 |            |
# stopped on 2026-09-30 with months of supply left, restarted two weeks later: the same course
R05        | furosemide 40 mg tablet    | 4603        | C03CA01  | 2026-01-01 | 2026-09-30 | 365
R05        | furosemide 40 mg tablet    | 4603        | C03CA01  | 2026-10-15 |            |
# weekly (dosette) issues from 10-01, tested on 10-05; two weeks uncollected (a hospital stay),
# then weekly again from 10-25: a gap longer than a weekly issue's own, but not a break
R07        | furosemide 40 mg tablet    | 4603        | C03CA01  | 2026-10-01 |            | 7
R07        | furosemide 40 mg tablet    | 4603        | C03CA01  | 2026-10-25 |            | 7
R07        | furosemide 40 mg tablet    | 4603        | C03CA01  | 2026-11-01 |            | 7
R07        | furosemide 40 mg tablet    | 4603        | C03CA01  | 2026-11-08 |            | 7
R07        | furosemide 40 mg tablet    | 4603        | C03CA01  | 2026-11-15 |            | 7
# stopped on 2026-09-30, restarted after five weeks off: a new start
R08        | furosemide 40 mg tablet    | 4603        | C03CA01  | 2026-01-01 | 2026-09-30 | 365
R08        | furosemide 40 mg tablet    | 4603        | C03CA01  | 2026-11-05 |            |
# three months last winter, never tested; restarted ten days ago: baseline tests due, not overdue
R06        | furosemide 40 mg tablet    | 4603        | C03CA01  | 2025-12-01 | 2026-02-28 |
R06        | furosemide 40 mg tablet    | 4603        | C03CA01  | 2026-11-10 |            |
"""),
    "labs": table("""
patient_id | collected_at | loinc_code | test_name | value | unit
R01        | 2026-02-01   | 2823-3     |           | 4.1   | mmol/L
R01        | 2026-02-01   | 2951-2     |           | 140   | mmol/L
R02        | 2026-06-01   | 2823-3     |           | 4.1   | mmol/L
R02        | 2026-06-01   | 2951-2     |           | 140   | mmol/L
R03        | 2026-06-01   | 2823-3     |           | 4.1   | mmol/L
R03        | 2026-06-01   | 2951-2     |           | 140   | mmol/L
R04        | 2026-06-01   | 2823-3     |           | 4.1   | mmol/L
R04        | 2026-06-01   | 2951-2     |           | 140   | mmol/L
R05        | 2026-06-01   | 2823-3     |           | 4.1   | mmol/L
R05        | 2026-06-01   | 2951-2     |           | 140   | mmol/L
R07        | 2026-10-05   | 2823-3     |           | 4.1   | mmol/L
R07        | 2026-10-05   | 2951-2     |           | 140   | mmol/L
R08        | 2026-06-01   | 2823-3     |           | 4.1   | mmol/L
R08        | 2026-06-01   | 2951-2     |           | 140   | mmol/L
"""),
}


def test_a_diuretic_taken_again_after_a_break_is_a_new_course(tmp_path):
    expected = {
        "R01": "high",
        "R02": None,
        "R03": None,
        "R04": None,
        "R05": None,
        "R06": "high",
        "R07": None,
        "R08": "high",
    }
    check_spec(
        tmp_path,
        CHECK,
        AS_OF,
        COURSES,
        expected,
        params={"post_start_days": 14},
        reason={
            "R01": "post-start check overdue: on a diuretic started 2026-11-01 with no potassium or sodium "
            "result since it started (due by 2026-11-15)",
            "R08": "post-start check overdue: on a diuretic started 2026-11-05 with no potassium or sodium "
            "result since it started (due by 2026-11-19)",
        },
        evidence={
            "R06": {
                "monitoring": "baseline tests due",
                "diuretic_since": "2026-11-10",
                "due_on": "2026-11-24",
            },
        },
    )


def test_by_default_a_restart_is_labelled_by_its_own_start(tmp_path):
    """post_start_days 0: a result in the lookback counts whenever taken, but a restart with none is
    a new starter whose baseline tests are due, not a long-term user overdue."""
    expected = dict.fromkeys(("R01", "R02", "R03", "R04", "R05", "R07", "R08")) | {"R06": "high"}
    check_spec(
        tmp_path,
        CHECK,
        AS_OF,
        COURSES,
        expected,
        reason={
            "R06": "baseline tests due: on a diuretic started 2026-11-10 with no potassium or sodium result "
            "in the 365 days to 2026-11-20",
        },
        evidence={"R06": {"diuretic_since": "2026-11-10"}},
    )
