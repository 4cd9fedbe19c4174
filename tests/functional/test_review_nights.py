"""Reviews and exceptions across a scripted sequence of nightly runs, through the real CLI (#20).

Four patients on a diuretic with no potassium or sodium result are flagged every night by
diuretic_electrolyte_monitoring. The team records an expiring exception (A), an open-ended one (B)
and an acknowledgement (C); D is not reviewed. Each night's counts are asserted with and without
exceptions: A's exception lapses after its date, B's re-opens when a new prescription changes the
evidence, D's flag resolves with a result, and a new review of B applies again.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from pipelines.errors import EXIT_CONFIG, EXIT_INPUT
from tests.helpers import cli, night, read_csv_rows, review, table, write_export

CHECK = "diuretic_electrolyte_monitoring"

PATIENTS = table("""
patient_id | birth_date | sex
A          | 1950-03-01 | F
B          | 1947-07-12 | M
C          | 1961-01-30 | F
D          | 1939-11-05 | M
""")

# Continuing diuretic users (started long before the nights), none monitored in the last year.
PRESCRIPTIONS = table("""
patient_id | drug_name                  | rxnorm_code | atc_code | start_date | end_date | days_supply
A          | furosemide 40 mg tablet    | 4603        | C03CA01  | 2024-01-01 |          |
B          | indapamide 1.5 mg          | 5764        | C03BA11  | 2024-06-01 |          |
C          | bendroflumethiazide 2.5 mg |             | C03AA01  | 2023-09-15 |          |
D          | spironolactone 25 mg       | 9997        | C03DA01  | 2025-02-01 |          |
""")

# Old results: outside the 365-day window, shown in the evidence as the last ones.
LABS = table("""
patient_id | collected_at        | value | loinc_code | test_name | unit
A          | 2024-05-02T09:10:00 | 4.1   | 2823-3     | Potassium | mmol/L
A          | 2024-05-02T09:10:00 | 139   | 2951-2     | Sodium    | mmol/L
""")

# Night 4's export adds B's second diuretic and D's monitoring results.
NEW_PRESCRIPTION = table("""
patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date | days_supply
B          | furosemide 20 mg tablet | 4603        | C03CA01  | 2026-11-04 |          |
""")
NEW_LABS = table("""
patient_id | collected_at        | value | loinc_code | test_name | unit
D          | 2026-11-04T08:30:00 | 4.4   | 2823-3     | Potassium | mmol/L
D          | 2026-11-04T08:30:00 | 138   | 2951-2     | Sodium    | mmol/L
""")


def counts(tmp: Path) -> tuple[int, int, int]:
    """The latest run's flagged, exceptions and flagged after exceptions for the check."""
    with duckdb.connect(str(tmp / "audit.duckdb"), read_only=True) as con:
        return con.execute(
            "SELECT flagged, exceptions, flagged_after_exceptions FROM check_results c JOIN runs r "
            "USING (run_id) WHERE check_id = $c ORDER BY r.seq DESC LIMIT 1",
            {"c": CHECK},
        ).fetchall()[0]


def states(tmp: Path) -> dict[str, tuple[str, str]]:
    """The latest run's verdict on each reviewed flag: patient -> (status, state)."""
    with duckdb.connect(str(tmp / "audit.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT patient_id, status, state FROM review_outcomes WHERE check_id = $c AND run_id = "
            "(SELECT arg_max(run_id, seq) FROM runs)",
            {"c": CHECK},
        ).fetchall()
    return {p: (status, state) for p, status, state in rows}


def summary_counts(tmp: Path, as_of: str) -> dict:
    return json.loads((tmp / f"out-{as_of}" / "summary.json").read_text())["checks"][CHECK]


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    """Run the whole sequence once; each test reads one night's record."""
    tmp = tmp_path_factory.mktemp("nights")
    first = write_export(tmp / "export1", patients=PATIENTS, prescriptions=PRESCRIPTIONS, labs=LABS)
    record = {}

    night(tmp, "2026-11-01", first)
    record[1] = counts(tmp), states(tmp)

    sheet = tmp / "reviews.csv"
    sheet.write_text(
        "patient_id,check_id,status,reason,note,until,done_on,by\n"
        f"A,{CHECK},exception,patient_declined,Declines blood tests until after surgery,2026-11-03,,Dr Shah\n"
        f"B,{CHECK},exception,palliative,On the end-of-life register,,,Dr Shah\n",
        encoding="utf-8",
    )
    record["import"] = review(tmp, "--import", str(sheet))
    record["ack"] = review(
        tmp, "C", "--check", CHECK, "--status", "acknowledged", "--reason", "action_planned",
        "--note", "U&E booked for 2026-11-12", "--by", "pharmacist J. Okafor",
    )  # fmt: skip

    night(tmp, "2026-11-02", first)
    record[2] = counts(tmp), states(tmp)
    night(tmp, "2026-11-04", first)  # A's exception ended on 2026-11-03
    record[3] = counts(tmp), states(tmp)

    fourth = write_export(
        tmp / "export4",
        patients=PATIENTS,
        prescriptions=PRESCRIPTIONS + NEW_PRESCRIPTION,
        labs=LABS + NEW_LABS,
    )
    night(tmp, "2026-11-05", fourth)  # B's evidence changed; D monitored
    record[4] = counts(tmp), states(tmp)

    record["again"] = review(
        tmp, "B", "--check", CHECK, "--status", "exception", "--reason", "not_clinically_appropriate",
        "--note", "Hospice team monitors", "--by", "Dr Shah",
    )  # fmt: skip
    night(tmp, "2026-11-06", fourth)
    record[5] = counts(tmp), states(tmp)
    return tmp, record


def test_every_review_is_recorded(nights):
    _, record = nights
    assert (record["import"], record["ack"], record["again"]) == (0, 0, 0)


def test_night_1_before_any_review_counts_all_four(nights):
    _, record = nights
    assert record[1] == ((4, 0, 4), {})


def test_night_2_exceptions_leave_the_numerator_and_acknowledged_stays(nights):
    tmp, record = nights
    assert record[2][0] == (4, 2, 2)
    assert record[2][1] == {
        "A": ("exception", "applies"),
        "B": ("exception", "applies"),
        "C": ("acknowledged", "applies"),
    }
    summary = summary_counts(tmp, "2026-11-02")  # summary.json carries both counts too
    assert (summary["flagged"], summary["exceptions"], summary["flagged_after_exceptions"]) == (4, 2, 2)


def test_night_3_the_expired_exception_counts_again(nights):
    _, record = nights
    assert record[3][0] == (4, 1, 3)
    assert record[3][1]["A"] == ("exception", "expired")
    assert record[3][1]["B"] == ("exception", "applies")


def test_night_4_a_new_prescription_reopens_the_review_and_a_result_resolves_d(nights):
    _, record = nights
    assert record[4][0] == (3, 0, 3)  # A, B, C flagged; no exception applies
    assert record[4][1] == {
        "A": ("exception", "expired"),
        "B": ("exception", "re-opened"),
        "C": ("acknowledged", "applies"),  # C's evidence did not change
    }


def test_night_5_a_new_review_of_the_changed_flag_applies(nights):
    _, record = nights
    assert record[5][0] == (3, 1, 2)
    assert record[5][1]["B"] == ("exception", "applies")


def test_reports_show_both_counts_and_the_reviews(nights):
    tmp, _ = nights
    out = tmp / "out-2026-11-02"
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "After exceptions" in html and "Call list" in html
    assert "exception: patient declined (Dr Shah" in html
    assert html.count('<tr class="excepted"') == 2  # A and B, shown greyed in the worklist
    rows = {r["patient_id"]: r for r in read_csv_rows(out / f"worklist_{CHECK}.csv")}
    assert rows["A"]["review_status"] == "exception" and rows["A"]["review_state"] == "applies"
    assert "until 2026-11-03" in rows["A"]["review"]
    assert rows["C"]["review_status"] == "acknowledged" and "U&E booked" in rows["C"]["review"]
    assert rows["D"]["review"] == ""
    called = [r["patient_id"] for r in read_csv_rows(out / "calllist.csv")]
    assert "A" not in called and "B" not in called  # excepted: left off the call list
    assert {"C", "D"} <= set(called)
    reopened = (tmp / "out-2026-11-05" / "report.html").read_text(encoding="utf-8")
    assert "re-opened (evidence changed since)" in reopened


def test_reviews_survive_prune_and_are_listed(nights, capsys):
    tmp, _ = nights
    db = str(tmp / "audit.duckdb")
    assert cli("prune", "--keep-runs", "1", "--db", db) == 0
    with duckdb.connect(db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM reviews").fetchall()[0][0] == 4
    capsys.readouterr()
    assert cli("reviews", "--db", db, "--format", "json") == 0
    listed = {r["patient_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed["B"]["reason"] == "not_clinically_appropriate" and listed["B"]["state"] == "applies"
    assert listed["A"]["state"] == "expired" and listed["A"]["recorded_by"] == "Dr Shah"
    assert cli("reviews", "--db", db, "--history", "--format", "json") == 0
    history = json.loads(capsys.readouterr().out)
    assert [r["state"] for r in history if r["patient_id"] == "B"] == ["applies", "superseded"]


def test_explain_shows_the_review(nights, capsys):
    tmp, _ = nights
    capsys.readouterr()
    args = ["explain", "C", "--check", CHECK, "--as-of", "2026-11-06", "--db", str(tmp / "audit.duckdb")]
    assert cli(*args) == 0
    out = capsys.readouterr().out
    assert f"Review of {CHECK}: acknowledged (action planned) by pharmacist J. Okafor" in out


@pytest.fixture
def one_night(tmp_path):
    export = write_export(tmp_path / "export", patients=PATIENTS, prescriptions=PRESCRIPTIONS, labs=LABS)
    night(tmp_path, "2026-11-01", export)
    return tmp_path


def reviews_count(tmp: Path) -> int:
    with duckdb.connect(str(tmp / "audit.duckdb"), read_only=True) as con:
        return con.execute("SELECT count(*) FROM reviews").fetchall()[0][0]


def test_a_bad_sheet_is_reported_row_by_row_and_nothing_is_recorded(one_night, capsys):
    sheet = one_night / "team.csv"
    sheet.write_text(
        "patient_id,check_id,status,reason,note,until,done_on,by\n"
        f"A,{CHECK},exception,patient_declined,,,,\n"  # good
        f"B,{CHECK},exception,done_elsewhere,At the renal clinic,,,\n"  # no done_on
        f"C,{CHECK},maybe,palliative,,,,\n"  # bad status
        f"D,{CHECK},exception,other,,2026-13-01,,\n"  # no note, bad date
        f"Z,{CHECK},exception,palliative,,,,\n"  # not flagged
        f"A,no_such_check,exception,palliative,,,,\n",
        encoding="utf-8",
    )
    capsys.readouterr()
    assert review(one_night, "--import", str(sheet)) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "nothing was recorded" in err
    for line, column in [
        (3, "done_on"),
        (4, "status"),
        (5, "note"),
        (5, "until"),
        (6, "patient_id"),
        (7, "check_id"),
    ]:
        assert f"{sheet}: line {line}: column {column}:" in err, (line, column, err)
    assert "line 2:" not in err
    assert reviews_count(one_night) == 0


def test_an_unterminated_quote_refuses_the_sheet_naming_the_line_it_opens_on(one_night, capsys):
    """The open quote read every later row into A's note: one review recorded, B's and C's lost,
    exit 0. Now exit 3 at the record's first line, quoting none of its text, nothing recorded."""
    sheet = one_night / "team.csv"
    sheet.write_text(
        "patient_id,check_id,status,reason,note,until,done_on,by\n"
        f"D,{CHECK},exception,patient_declined,,,,\n"
        f'A,{CHECK},exception,other,"5mm tube,,,\n'
        f"B,{CHECK},exception,patient_declined,,,,\n"
        f"C,{CHECK},acknowledged,action_planned,call,,,\n",
        encoding="utf-8",
    )
    capsys.readouterr()
    assert review(one_night, "--import", str(sheet)) == EXIT_INPUT
    err = capsys.readouterr().err
    assert f"{sheet}: line 3: column note: a quoted cell opened on this line is never closed" in err
    assert "nothing was recorded" in err and "5mm" not in err
    assert reviews_count(one_night) == 0


def test_a_quote_closing_a_cell_with_text_after_it_refuses_the_sheet(one_night, capsys):
    """'"5mm" tube' was read as '5mm tube' without a word; the sheet is refused like an open quote."""
    sheet = one_night / "team.csv"
    sheet.write_text(
        f'patient_id,check_id,status,reason,note,until,done_on,by\nA,{CHECK},exception,other,"5mm" tube,,,\n',
        encoding="utf-8",
    )
    capsys.readouterr()
    assert review(one_night, "--import", str(sheet)) == EXIT_INPUT
    err = capsys.readouterr().err
    assert f"{sheet}: line 2: a quoted cell has text after its closing quote" in err and "5mm" not in err
    assert reviews_count(one_night) == 0


def test_a_bad_row_is_named_by_the_line_its_record_starts_on(one_night, capsys):
    """A quoted note may span lines: the reader's line count after the record named its last line."""
    sheet = one_night / "team.csv"
    sheet.write_text(
        "patient_id,check_id,status,reason,note,until,done_on,by\n"
        f'A,{CHECK},maybe,other,"Seen twice:\nonce in clinic,\nonce at home",,,\n'
        f"B,{CHECK},maybe,patient_declined,,,,\n",
        encoding="utf-8",
    )
    capsys.readouterr()
    assert review(one_night, "--import", str(sheet)) == EXIT_INPUT
    err = capsys.readouterr().err
    assert f"{sheet}: line 2: column status:" in err and f"{sheet}: line 5: column status:" in err
    assert "line 4:" not in err
    assert reviews_count(one_night) == 0


def test_a_bad_sheets_problems_quote_none_of_its_cells(one_night, capsys, tmp_path):
    """Each problem names file, line and column and what is wrong, never the cell's text: a sheet's
    columns shifted put patient ids and free text where a check id or a date belongs, and the
    messages reach the log file."""
    log = tmp_path / "audit.jsonl"
    sheet = one_night / "team.csv"
    sheet.write_text(
        "patient_id,check_id,status,reason,note,until,done_on,by\n"
        "A,P0026,exception,palliative,,,,\n"
        f"B,{CHECK},Mrs Jones,John Smith,,,,\n"
        f"C,{CHECK},exception,done_elsewhere,U&E,at St Mary s 2026-10-02,last Tuesday,\n",
        encoding="utf-8",
    )
    capsys.readouterr()
    assert (
        cli("--log-file", str(log), "review", "--import", str(sheet), "--db", str(one_night / "audit.duckdb"))
        == 3
    )
    err = capsys.readouterr().err
    for line, column, message in [
        (2, "check_id", "not a known check id (see `clinic-audit checks`)"),
        (3, "status", "not one of: acknowledged, exception"),
        (3, "reason", "not one of: patient_declined, not_clinically_appropriate"),
        (4, "until", "not a date (YYYY-MM-DD)"),
        (4, "done_on", "not a date (YYYY-MM-DD)"),
    ]:
        assert f"{sheet}: line {line}: column {column}: {message}" in err, (line, column, err)
    logged = log.read_text(encoding="utf-8")
    for text in ("P0026", "Mrs Jones", "John Smith", "St Mary", "last Tuesday"):
        assert text not in err and text not in logged, text
    assert reviews_count(one_night) == 0


def test_a_wrong_status_on_the_command_line_is_not_quoted(one_night, capsys, tmp_path):
    """click's choice error quoted the value given (a patient id in the wrong place) into the log."""
    log = tmp_path / "audit.jsonl"
    args = ["A", "--check", CHECK, "--status", "P0026", "--reason", "palliative"]
    assert (
        cli("--log-file", str(log), "review", *args, "--db", str(one_night / "audit.duckdb")) == EXIT_CONFIG
    )
    err = capsys.readouterr().err
    assert "command line: column status: not one of: acknowledged, exception" in err
    assert "P0026" not in err and "P0026" not in log.read_text(encoding="utf-8")
    assert reviews_count(one_night) == 0


def test_a_sheet_without_a_required_column_is_refused(one_night, capsys):
    sheet = one_night / "team.csv"
    sheet.write_text(f"patient_id,check_id,status\nA,{CHECK},exception\n", encoding="utf-8")
    assert review(one_night, "--import", str(sheet)) == EXIT_INPUT
    assert "missing column(s) reason" in capsys.readouterr().err
    assert reviews_count(one_night) == 0


def test_a_sheet_naming_a_column_twice_is_refused(one_night, capsys):
    """The last patient_id cell was read: a review recorded against D, the team's line about A."""
    sheet = one_night / "team.csv"
    sheet.write_text(
        "patient_id,check_id,status,reason,note,until,done_on,by,patient_id\n"
        f"A,{CHECK},exception,patient_declined,,,,,D\n",
        encoding="utf-8",
    )
    capsys.readouterr()
    assert review(one_night, "--import", str(sheet)) == EXIT_INPUT
    assert f"{sheet}: line 1: column(s) patient_id given more than once" in capsys.readouterr().err
    assert reviews_count(one_night) == 0


def test_a_command_line_review_of_an_unflagged_patient_is_refused(one_night, capsys, tmp_path):
    """The message names the check and the run, never the patient: it reaches the log file too."""
    log = tmp_path / "audit.jsonl"
    args = ["Z9", "--check", CHECK, "--status", "exception", "--reason", "palliative"]
    db = str(one_night / "audit.duckdb")
    assert cli("--log-file", str(log), "review", *args, "--db", db) == EXIT_CONFIG
    assert "the patient is not flagged by diuretic_electrolyte_monitoring" in capsys.readouterr().err
    assert "Z9" not in log.read_text(encoding="utf-8")
    assert reviews_count(one_night) == 0


def test_done_elsewhere_lasts_until_the_test_falls_due_again_and_records_the_os_user(one_night):
    args = ["A", "--check", CHECK, "--status", "exception", "--reason", "done_elsewhere"]
    assert review(one_night, *args, "--done-on", "2026-10-20", "--note", "U&E at the renal clinic") == 0
    with duckdb.connect(str(one_night / "audit.duckdb"), read_only=True) as con:
        until, by, fingerprint = con.execute(
            "SELECT valid_until, recorded_by, evidence_fingerprint FROM reviews"
        ).fetchall()[0]
    assert until.isoformat() == "2027-10-20"  # done_on + the check's lookback_days (365)
    assert by and len(fingerprint) == 64


def test_a_user_with_no_passwd_entry_records_with_by_and_as_their_uid(one_night, monkeypatch):
    """A container's --user has no passwd entry: getpass.getuser raised KeyError, exit 1, even with
    --by. --by needs no OS user; without it the review is recorded as 'uid N'."""
    import getpass
    import os

    def no_entry() -> str:
        raise KeyError("getpwuid(): uid not found: 12345")

    monkeypatch.setattr(getpass, "getuser", no_entry)
    args = ["--check", CHECK, "--status", "exception", "--reason", "palliative"]
    assert review(one_night, "A", *args, "--by", "Dr Shah") == 0
    assert review(one_night, "B", *args) == 0
    with duckdb.connect(str(one_night / "audit.duckdb"), read_only=True) as con:
        by = dict(con.execute("SELECT patient_id, recorded_by FROM reviews").fetchall())
    assert by == {"A": "Dr Shah", "B": f"uid {os.getuid()}"}
