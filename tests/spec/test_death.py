"""Spec: death, for every check alike. A patient who died on or before the as-of date is in no check's
population (neither flagged nor counted); dead with the date unknown is out at any as-of date; dying
the day after the as-of date leaves the patient in. An exposure ends at death at the latest.

The population used throughout is diuretic_electrolyte_monitoring's (on a diuretic on the as-of
date): every patient below takes open-ended furosemide and has no electrolytes, so each patient
still in the population is flagged.
"""

from __future__ import annotations

import json
from datetime import date

import duckdb

from checks.evaluate import prepare
from tests.helpers import cli, patients_table, run_pipeline, table
from tests.spec.harness import OUT, check_spec

AS_OF = date(2026, 11, 20)
CHECK = "diuretic_electrolyte_monitoring"

PATIENTS = table("""
patient_id | birth_date | sex | death_date | deceased
# died the day before as-of: out
X01        | 1950-01-01 | F   | 2026-11-19 |
# died exactly on the as-of date: out
X02        | 1950-01-01 | M   | 2026-11-20 |
# dies the day after as-of: still in
X03        | 1950-01-01 | F   | 2026-11-21 |
# dead, date unknown: out
X04        | 1950-01-01 | M   |            | true
# explicitly alive: in
X05        | 1950-01-01 | F   |            | false
# nothing said about death: in
X06        | 1950-01-01 | M   |            |
# dead, written 'yes', no date: out
X07        | 1950-01-01 | F   |            | yes
# died years ago, the open-ended prescription never stopped in the export: out
X08        | 1930-01-01 | M   | 2020-01-01 | true
""")

PRESCRIPTIONS = table(
    "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
    + "\n".join(f"X0{i} | furosemide 40 mg tablet | 4603 | C03CA01 | 2019-06-01 | |" for i in range(1, 9))
)

TABLES = {"patients": PATIENTS, "prescriptions": PRESCRIPTIONS}
ALIVE = {"X03", "X05", "X06"}
DEAD = {"X01", "X02", "X04", "X07", "X08"}


def flagged_only(*flagged: str) -> dict[str, bool]:
    """The expectation for the X patients: these flagged, the others (dead by then) out."""
    return {f"X0{i}": True if f"X0{i}" in flagged else OUT for i in range(1, 9)}


def run(tmp_path, as_of=AS_OF, checks=(CHECK,), patients=PATIENTS, prescriptions=PRESCRIPTIONS):
    return run_pipeline(tmp_path, as_of, checks, patients=patients, prescriptions=prescriptions)


def test_dead_on_or_before_as_of_are_in_no_population(tmp_path):
    run = check_spec(tmp_path, CHECK, AS_OF, TABLES, flagged_only(*ALIVE))
    assert (run.result.flagged, run.result.deceased_excluded) == (3, 5)


def test_left_out_count_is_stored_and_in_summary_and_report(tmp_path):
    run(tmp_path)
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        stored = con.execute("SELECT deceased_excluded FROM check_results").fetchall()
    assert stored == [(5,)]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["checks"][CHECK]["deceased_excluded"] == 5
    assert summary["checks"][CHECK]["denominator"] == 3
    report = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "5 left out as deceased" in report


def test_only_population_members_count_as_left_out(tmp_path):
    # Nobody has cirrhosis: the dead are not that check's to leave out.
    outcome = run(tmp_path, checks=(CHECK, "cramps_cirrhosis"))
    counts = {c.check_id: (c.denominator, c.deceased_excluded) for c in outcome.checks}
    assert counts == {CHECK: (3, 5), "cramps_cirrhosis": (0, 0)}


def test_each_as_of_date_sees_the_deaths_before_it(tmp_path):
    # X01 died 2026-11-19, X02 2026-11-20, X03 2026-11-21. A run as of 2026-11-19 audits X02 and X03.
    run = check_spec(tmp_path, CHECK, date(2026, 11, 19), TABLES, flagged_only(*ALIVE, "X02"))
    assert run.result.deceased_excluded == 4  # X01, and the dead without a date and X08
    run = check_spec(tmp_path, CHECK, date(2026, 11, 21), TABLES, flagged_only(*ALIVE - {"X03"}))
    assert run.result.deceased_excluded == 6


def test_dead_with_unknown_date_is_out_even_long_ago(tmp_path):
    # X04 and X07 (dead, no date) are out; X08 died 2020-01-01, before this as-of too
    run = check_spec(
        tmp_path, CHECK, date(2020, 6, 1), TABLES, flagged_only("X01", "X02", "X03", "X05", "X06")
    )
    assert run.result.deceased_excluded == 3


def test_every_check_leaves_the_dead_out(tmp_path):
    # An elderly patient with lower-limb numbness on a fall-risk drug would be flagged by
    # elderly_numbness_fall_risk, which reads patient_state for the age: dead, they are out.
    patients = table("""
    patient_id | birth_date | sex | death_date | deceased
    E01        | 1940-03-01 | F   | 2026-10-01 |
    E02        | 1940-03-01 | F   |            |
    """)
    prescriptions = table("""
    patient_id | drug_name             | rxnorm_code | atc_code | start_date | end_date | days_supply
    E01        | zolpidem 10 mg tablet | 39993       | N05CF02  | 2026-01-01 |          |
    E02        | zolpidem 10 mg tablet | 39993       | N05CF02  | 2026-01-01 |          |
    """)
    diagnoses = table("""
    patient_id | code   | code_system | recorded_at | resolved_at
    E01        | G62.9  | ICD-10-CM   | 2026-02-01  |
    E02        | G62.9  | ICD-10-CM   | 2026-02-01  |
    """)
    tables = {"patients": patients, "prescriptions": prescriptions, "diagnoses": diagnoses}
    run = check_spec(tmp_path, "elderly_numbness_fall_risk", AS_OF, tables, {"E01": OUT, "E02": True})
    assert run.result.deceased_excluded == 1


def test_an_exposure_ends_at_death_at_the_latest(tmp_path):
    patients = table("""
    patient_id | birth_date | sex | death_date | deceased
    Y01        | 1950-01-01 | F   | 2026-06-30 |
    Y02        | 1950-01-01 | M   |            | true
    Y03        | 1950-01-01 | F   |            |
    """)
    prescriptions = table("""
    patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date   | days_supply
    Y01        | furosemide 40 mg tablet | 4603        | C03CA01  | 2026-01-01 |            |
    Y01        | insulin glargine        | 274783      | A10AE04  | 2026-01-01 | 2026-03-01 |
    Y01        | insulin glargine        | 274783      | A10AE04  | 2026-05-01 | 2026-12-31 |
    Y01        | vitamin d 1000 unit     |             |          | 2026-02-01 |            | 365
    Y02        | furosemide 40 mg tablet | 4603        | C03CA01  | 2026-01-01 |            |
    Y03        | furosemide 40 mg tablet | 4603        | C03CA01  | 2026-01-01 |            |
    """)
    run_pipeline(tmp_path, AS_OF, (CHECK,), patients=patients, prescriptions=prescriptions)
    with duckdb.connect(str(tmp_path / "audit.duckdb")) as con:
        prepare(con)
        ends = con.execute(
            "SELECT DISTINCT patient_id, codelist, start_date, end_effective FROM drug_exposures "
            "WHERE codelist IN ('diuretics', 'insulins') ORDER BY ALL"
        ).fetchall()
        every_drug = con.execute(
            "SELECT drug_name, end_effective FROM prescription_periods WHERE patient_id = 'Y01' "
            "AND drug_name LIKE 'vitamin%'"
        ).fetchall()
    assert ends == [
        ("Y01", "diuretics", date(2026, 1, 1), date(2026, 6, 30)),  # open-ended: ends at death
        ("Y01", "insulins", date(2026, 1, 1), date(2026, 3, 1)),  # ended before death: unchanged
        ("Y01", "insulins", date(2026, 5, 1), date(2026, 6, 30)),  # ran past death: ends at death
        ("Y02", "diuretics", date(2026, 1, 1), None),  # dead, date unknown: no date to end at
        ("Y03", "diuretics", date(2026, 1, 1), None),  # alive: still open-ended
    ]
    assert every_drug == [("vitamin d 1000 unit", date(2026, 6, 30))]  # start + 365 days, cut at death


def test_patient_state_follows_the_latest_export(tmp_path):
    # Run 1: alive. Run 2: dead on 2026-05-01, with a corrected birth date. Run 3: an export saying
    # nothing about death: still dead. Run 4: explicitly not deceased: alive again.
    versions = [
        ("1950-01-01", "", ""),
        ("1950-02-02", "2026-05-01", ""),
        ("1950-02-02", "", ""),
        ("1950-02-02", "", "false"),
    ]
    prescription = [PRESCRIPTIONS[0] | {"patient_id": "Z01"}]
    states = []
    for birth, death, deceased in versions:
        row = {
            "patient_id": "Z01",
            "birth_date": birth,
            "sex": "F",
            "death_date": death,
            "deceased": deceased,
        }
        outcome = run(tmp_path, patients=[row], prescriptions=prescription)
        with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
            state = con.execute(
                "SELECT birth_date::VARCHAR, deceased, death_date::VARCHAR FROM patient_state"
            ).fetchall()
        states.append((*state[0], outcome.checks[0].deceased_excluded, outcome.checks[0].flagged))
    assert states == [
        ("1950-01-01", False, None, 0, 1),
        ("1950-02-02", True, "2026-05-01", 1, 0),
        ("1950-02-02", True, "2026-05-01", 1, 0),
        ("1950-02-02", False, None, 0, 1),
    ]


def test_explain_says_deceased_on(tmp_path, capsys):
    run(tmp_path)
    db = str(tmp_path / "audit.duckdb")
    capsys.readouterr()
    for patient, said in (("X02", "deceased on 2026-11-20"), ("X04", "deceased (date unknown)")):
        assert cli("explain", patient, "--check", CHECK, "--as-of", "2026-11-20", "--db", db) == 0
        out = capsys.readouterr().out
        assert said in out, out
        assert "FLAGGED" not in out
    assert cli("explain", "X03", "--check", CHECK, "--as-of", "2026-11-20", "--db", db) == 0
    out = capsys.readouterr().out
    assert "FLAGGED" in out and "deceased" not in out


def test_explain_says_deceased_of_one_the_check_would_not_have_audited(tmp_path, capsys):
    """Dead by as-of, and off the diuretic before dying: no check would have audited the patient, and
    explain said only "not in the population" (helper 186: the sample's P0342 left the call list so,
    and nothing said he had died)."""
    patients = table("""
    patient_id | birth_date | sex | death_date | deceased
    Y01        | 1950-01-01 | F   | 2026-11-10 |
    """)
    prescriptions = table("""
    patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date   | days_supply
    Y01        | furosemide 40 mg tablet | 4603        | C03CA01  | 2025-01-01 | 2025-06-01 |
    """)
    run(tmp_path, patients=patients, prescriptions=prescriptions)
    db = str(tmp_path / "audit.duckdb")
    capsys.readouterr()
    assert cli("explain", "Y01", "--check", CHECK, "--as-of", "2026-11-20", "--db", db) == 0
    out = capsys.readouterr().out
    assert "deceased on 2026-11-10" in out and "FLAGGED" not in out


def test_unusable_death_rejects_the_patient_row(tmp_path):
    # The run's export date is 2026-11-24 (tests.helpers.run_pipeline).
    patients = table("""
    patient_id | birth_date | sex | death_date | deceased
    V01        | 1950-01-01 | F   | 2026-02-30 |
    V02        | 1950-01-01 | F   | 1899-12-31 |
    V03        | 1950-01-01 | F   | 2026-11-25 |
    V04        | 1950-01-01 | F   | 1949-12-31 |
    V05        | 1950-01-01 | F   |            | maybe
    V06        | 1950-01-01 | F   | 2026-01-01 | false
    V07        | 1950-01-01 | F   | 2026-11-24 | TRUE
    V08        | 1950-01-01 | F   | 1950-01-01 | Y
    V09        | 1950-01-01 | F   |            | N
    V10        | 1950-13-01 | F   | 2025-01-01 |
    """)
    run_pipeline(tmp_path, AS_OF, (CHECK,), patients=patients)
    db = tmp_path / "audit.duckdb"
    rejected, loaded = patients_table(db, "patient_id", "death_date::VARCHAR", "deceased")
    with duckdb.connect(str(db), read_only=True) as con:
        noted = con.execute(
            "SELECT line, column_name, rule FROM row_notes WHERE table_name = 'patients' ORDER BY ALL"
        ).fetchall()
        births = dict(con.execute("SELECT patient_id, birth_date::VARCHAR FROM patients").fetchall())
    assert rejected == [
        (2, "death_date", "format"),
        (3, "death_date", "date_range"),  # 1899 is before 1900 (and before the birth: hard wins)
        (4, "death_date", "date_range"),
        (6, "deceased", "yes_no"),
        (7, "deceased", "consistent"),
    ]
    assert loaded == [
        ("V04", "1949-12-31", True),  # died "before birth": one date is wrong; the death is kept
        ("V07", "2026-11-24", True),  # on the export date: accepted
        ("V08", "1950-01-01", True),  # died the day of birth: accepted
        ("V09", None, False),
        ("V10", "2025-01-01", True),  # a mistyped birth date does not cost the death
    ]
    # the birth dates that could not be trusted are loaded as unknown, and noted
    assert noted == [(5, "death_date", "after_birth"), (11, "birth_date", "format")]
    assert births["V04"] is None and births["V10"] is None and births["V08"] == "1950-01-01"


def test_a_flag_ended_by_death_is_not_resolved(tmp_path):
    """Flagged while alive, then dead by the next run: the flag ends as 'deceased' in flag_status
    (and in no 'resolved' count of the report or email), recorded in check_exclusions."""
    patients = table("""
    patient_id | birth_date | sex | death_date | deceased
    D1         | 1950-01-01 | F   | 2025-01-01 |
    D2         | 1950-01-01 | M   |            |
    """)
    prescriptions = table("""
    patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date   | days_supply
    D1         | furosemide 40 mg tablet | 4603        | C03CA01  | 2024-06-01 |            |
    D2         | furosemide 40 mg tablet | 4603        | C03CA01  | 2024-06-01 | 2025-03-01 |
    """)
    first = run_pipeline(
        tmp_path, date(2024, 12, 1), (CHECK,), patients=patients, prescriptions=prescriptions
    )
    second = run_pipeline(
        tmp_path, date(2025, 6, 1), (CHECK,), patients=patients, prescriptions=prescriptions
    )
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        status = con.execute(
            "SELECT run_id, f.patient_id, f.status FROM flag_status f JOIN runs USING (run_id) "
            "ORDER BY seq, f.patient_id"
        ).fetchall()
        excluded = con.execute(
            "SELECT run_id, patient_id, reason, death_date::VARCHAR FROM check_exclusions"
        ).fetchall()
    # D2's diuretic ended: resolved; D1 died: not resolved
    assert status == [
        (first.run_id, "D1", "new"),
        (first.run_id, "D2", "new"),
        (second.run_id, "D1", "deceased"),
        (second.run_id, "D2", "resolved"),
    ]
    assert excluded == [(second.run_id, "D1", "deceased", "2025-01-01")]
