"""Issue #18 outcomes 1-3 one by one: ad-hoc runs kept apart, the freshness guard, failures that
reach a person (a real SMTP server on 127.0.0.1), output failures with their own exit code."""

from __future__ import annotations

import email
import email.policy
import json
import re
from pathlib import Path

import duckdb

from pipelines.errors import EXIT_CONFIG, EXIT_INPUT, EXIT_LOCKED, EXIT_OUTPUTS
from pipelines.lock import database_lock
from tests.functional.test_email import smtp_env, smtp_server  # noqa: F401 - the fixture
from tests.helpers import cli, table, table_counts, write_export

CHECK = "diuretic_electrolyte_monitoring"
NIGHT = "2026-11-20"
# A on furosemide with no electrolytes for 200 days: flagged at the default lookback (365 days: no,
# a 2026-05-04 result is inside it); B monitored. Dates up to the day before the night: fresh.
PRESCRIPTIONS = table("""
patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date | days_supply
A          | furosemide 40 mg tablet | 4603        | C03CA01  | 2024-01-01 |          |
B          | furosemide 40 mg tablet | 4603        | C03CA01  | 2024-01-01 |          |
C          | ibuprofen 400 mg tablet | 5640        | M01AE01  | 2026-11-19 |          |
""")
LABS = table("""
patient_id | collected_at | loinc_code | test_name | value | unit
A          | 2026-05-04   | 2823-3     |           | 4.2   | mmol/L
A          | 2026-05-04   | 2951-2     |           | 139   | mmol/L
B          | 2026-11-19   | 2823-3     |           | 4.1   | mmol/L
B          | 2026-11-19   | 2951-2     |           | 140   | mmol/L
""")
DIAGNOSES = table("""
patient_id | code | code_system | recorded_at | resolved_at
B          | I10  | ICD-10-CM   | 2026-11-19  |
""")
PATIENT_ID = re.compile(r"\b[ABC]\b")


def export(tmp: Path, **changes) -> Path:
    tables = {"prescriptions": PRESCRIPTIONS, "labs": LABS, "diagnoses": DIAGNOSES} | changes
    return write_export(tmp / "export", **tables)


def nightly(tmp: Path, *extra: str) -> list[str]:
    return ["run", "--exports", str(tmp / "export"), "--db", str(tmp / "audit.duckdb"), *extra]


def env(**more: str) -> dict[str, str]:
    """The scheduler's settings: as-of and out configured, not given on the command line."""
    return {"CLINIC_AUDIT_AS_OF": NIGHT, "CLINIC_AUDIT_OUT": "", **more}


def configured(tmp: Path, **more: str) -> dict[str, str]:
    return env(CLINIC_AUDIT_OUT=str(tmp / "out"), **more)


def runs_json(tmp: Path, capsys) -> list[dict]:
    capsys.readouterr()
    assert cli("runs", "--db", str(tmp / "audit.duckdb"), "--format", "json") == 0
    return json.loads(capsys.readouterr().out)


def test_ad_hoc_runs_are_listed_apart_and_write_their_own_folder(tmp_path, capsys):
    export(tmp_path)
    assert cli(*nightly(tmp_path), env=configured(tmp_path)) == 0
    nightly_report = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert cli(*nightly(tmp_path, "--param", f"{CHECK}.lookback_days=90"), env=configured(tmp_path)) == 0
    assert cli(*nightly(tmp_path, "--checks", CHECK), env=configured(tmp_path)) == 0
    assert (tmp_path / "out" / "report.html").read_text(encoding="utf-8") == nightly_report
    runs = runs_json(tmp_path, capsys)
    assert [r["kind"] for r in runs] == ["ad hoc", "ad hoc", "scheduled"]
    assert runs[0]["checks"] == [CHECK] and len(runs[2]["checks"]) == 10
    assert runs[1]["parameters"] == [f"{CHECK}.lookback_days=90"] and runs[2]["parameters"] == []
    folders = sorted(p.name for p in (tmp_path / "out" / "adhoc").iterdir())
    assert folders == sorted(r["run_id"] for r in runs[:2])
    report = (tmp_path / "out" / "adhoc" / runs[1]["run_id"] / "report.html").read_text(encoding="utf-8")
    assert f"ad-hoc run:</strong> --param {CHECK}.lookback_days=90" in report
    assert runs[2]["run_id"] in report  # compared with the scheduled run before it
    assert cli("runs", "--db", str(tmp_path / "audit.duckdb")) == 0
    text = capsys.readouterr().out
    assert f"ad hoc: checks {CHECK}; parameters as configured" in text


def test_an_ad_hoc_run_leaves_the_next_nightly_counts_alone(tmp_path):
    """The issue's own example: after a --param run, the nightly reported patients "resolved"."""
    export(tmp_path)
    assert cli(*nightly(tmp_path), env=configured(tmp_path)) == 0
    assert cli(*nightly(tmp_path, "--param", f"{CHECK}.lookback_days=90"), env=configured(tmp_path)) == 0
    assert cli(*nightly(tmp_path), env=configured(tmp_path)) == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        flagged = con.execute(
            "SELECT kind, list(patient_id ORDER BY seq) FROM findings JOIN runs USING (run_id) "
            "WHERE check_id = $c GROUP BY kind",
            {"c": CHECK},
        ).fetchall()
        statuses = con.execute("SELECT * FROM flag_status WHERE check_id = $c", {"c": CHECK}).fetchall()
    assert flagged == [("ad hoc", ["A"])]  # A's May result is outside 90 days, inside 365
    assert statuses == []  # A was never new, nor resolved, in the nightly record
    worklist = (tmp_path / "out" / f"worklist_{CHECK}.csv").read_text(encoding="utf-8-sig")
    assert worklist.count("\n") == 1  # header only: the nightly flags nobody


def test_report_without_run_repairs_the_nightly_and_an_ad_hoc_run_goes_to_its_folder(tmp_path, capsys):
    export(tmp_path)
    assert cli(*nightly(tmp_path), env=configured(tmp_path)) == 0
    assert cli(*nightly(tmp_path, "--ad-hoc"), env=configured(tmp_path)) == 0
    scheduled, ad_hoc = runs_json(tmp_path, capsys)[1]["run_id"], runs_json(tmp_path, capsys)[0]["run_id"]
    (tmp_path / "out" / "report.html").write_text("<body>half")
    assert cli("report", "--db", str(tmp_path / "audit.duckdb"), env=configured(tmp_path)) == 0
    assert scheduled in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["run_id"] == scheduled and summary["seq"] is not None  # read back from the record
    assert (
        cli("report", "--run", ad_hoc, "--db", str(tmp_path / "audit.duckdb"), env=configured(tmp_path)) == 0
    )
    assert (tmp_path / "out" / "adhoc" / ad_hoc / "report.html").exists()


def test_a_nightly_may_not_go_back_before_the_newest_nightly(tmp_path, capsys):
    """A backfill of a missed night belongs before the next night: after the nightly as of 11-20, a
    scheduled run as of 11-19 would make the nightly record go back in time (exit 2, nothing read);
    the same date again, a later one, or the earlier one ad hoc, all run."""
    export(tmp_path)
    assert cli(*nightly(tmp_path), env=configured(tmp_path)) == 0
    before = table_counts(tmp_path / "audit.duckdb")
    capsys.readouterr()
    backfill = nightly(tmp_path, "--as-of", "2026-11-19", "--scheduled")
    assert cli(*backfill, env=configured(tmp_path)) == EXIT_CONFIG
    assert "go back in time" in capsys.readouterr().err
    assert table_counts(tmp_path / "audit.duckdb") == before
    assert cli(*nightly(tmp_path, "--as-of", "2026-11-19"), env=configured(tmp_path)) == 0  # ad hoc
    assert cli(*nightly(tmp_path), env=configured(tmp_path)) == 0  # the same night again
    assert cli(*nightly(tmp_path), env=configured(tmp_path, CLINIC_AUDIT_AS_OF="2026-11-21")) == 0


def test_freshness_warns_and_strict_stops_the_nightly_only(tmp_path):
    stale = table("""
patient_id | collected_at | loinc_code | test_name | value | unit
B          | 2026-11-10   | 2823-3     |           | 4.1   | mmol/L
""")
    export(tmp_path, labs=stale)
    assert cli(*nightly(tmp_path), env=configured(tmp_path)) == 0
    warnings = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))["warnings"]
    [warning] = [w for w in warnings if "freshness_max_days" in w]
    assert warning.startswith("labs: the newest record is dated 2026-11-10, 10 days before")
    assert not [w for w in warnings if w.startswith(("prescriptions:", "diagnoses:"))]  # fresh tables
    db_before = table_counts(tmp_path / "audit.duckdb")
    strict = configured(tmp_path, CLINIC_AUDIT_FRESHNESS_STRICT="true")
    assert cli(*nightly(tmp_path), env=strict) == EXIT_INPUT
    assert table_counts(tmp_path / "audit.duckdb") == db_before
    assert cli(*nightly(tmp_path), env=strict | {"CLINIC_AUDIT_FRESHNESS_MAX_DAYS": "10"}) == 0
    assert cli(*nightly(tmp_path, "--as-of", "2026-12-31"), env=strict) == 0  # ad hoc: not judged


def test_a_failed_nightly_emails_the_reason_and_marks_the_report_stale(tmp_path, smtp_server):  # noqa: F811
    inbox, port = smtp_server
    export(tmp_path)
    mail = smtp_env(port) | configured(tmp_path)
    assert cli(*nightly(tmp_path, "--email"), env=mail) == 0
    config = tmp_path / "audit.toml"
    config.write_text(f'[checks.{CHECK}]\nlookback_days = "a year"\n')
    assert cli(*nightly(tmp_path, "--email"), env=mail | {"CLINIC_AUDIT_CONFIG": str(config)}) == EXIT_CONFIG
    config.unlink()
    (tmp_path / "export" / "labs.csv").write_text("patient_id,collected_at\nA,2026-11-19\n")
    assert cli(*nightly(tmp_path, "--email"), env=mail) == EXIT_INPUT
    with database_lock(tmp_path / "audit.duckdb"):  # another run holds the database
        assert cli(*nightly(tmp_path, "--email"), env=mail) == EXIT_LOCKED
    messages = [email.message_from_bytes(raw, policy=email.policy.default) for _, raw in inbox.received]
    failed = [m for m in messages if m["Subject"] == "Riverside Practice: tonight's audit did not complete"]
    assert len(failed) == 3
    bodies = [m.get_content() for m in failed]
    assert "a setting is wrong" in bodies[0] and "exit code 2" in bodies[0]
    assert "the export could not be used" in bodies[1] and "labs.csv" in bodies[1]
    assert "another run" in bodies[2] and "exit code 5" in bodies[2]
    for body in bodies:
        assert "What to do:" in body and not PATIENT_ID.search(body.replace("A run", ""))
    report = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert report.count('id="stale-notice"') == 1
    assert "stale: last successful run was" in report and "the export could not be used" in report


def test_a_nightly_whose_config_file_is_wrong_still_emails_from_that_file(tmp_path, smtp_server):  # noqa: F811
    """The nightly's SMTP settings live in its config file: a typo in that file (an unknown key, a bad
    value) is exit 2 before anything is read, and the failure email still goes out with the
    settings that are valid; an ad-hoc run, or a file that is not TOML, sends nothing."""
    inbox, port = smtp_server
    export(tmp_path)
    config = tmp_path / "audit.toml"
    settings = (
        '[run]\nsmtp_host = "127.0.0.1"\n'
        f'smtp_port = {port}\nsmtp_sender = "audit@clinic.example"\n'
        'smtp_recipients = ["lead@clinic.example"]\n'
        'smtp_starttls = false\nclinic_name = "Riverside Practice"\n'
    )
    run = nightly(tmp_path, "--config", str(config), "--email")
    for typo in ("reject_treshold = 0.5\n", 'reject_threshold = "half"\n', "[checks.no_such_check]\n"):
        config.write_text(settings + typo)
        assert cli(*run, env=configured(tmp_path)) == EXIT_CONFIG
    messages = [email.message_from_bytes(raw, policy=email.policy.default) for _, raw in inbox.received]
    assert [m["Subject"] for m in messages] == ["Riverside Practice: tonight's audit did not complete"] * 3
    assert [m["To"] for m in messages] == ["lead@clinic.example"] * 3
    body = messages[0].get_content()
    assert "a setting is wrong" in body and "exit code 2" in body and "audit.toml" in body
    assert "stopped before it opened the database" in body

    config.write_text(settings + "reject_treshold = 0.5\n")
    for option in (
        ("--as-of", "2026-06-30"),
        ("--as-of", "2026-13-45"),
        ("--checks", "diuretic_electrolyte_monitorng"),
    ):
        ad_hoc = nightly(tmp_path, "--config", str(config), "--email", *option)  # an analyst's, even mistyped
        assert cli(*ad_hoc, env=configured(tmp_path)) == EXIT_CONFIG
    config.write_text(settings + "reject_threshold = \n")  # not TOML: no settings to send with
    assert cli(*run, env=configured(tmp_path)) == EXIT_CONFIG
    assert len(inbox.received) == 3

    # a dry run writes failure.eml into OUT, made for it on a first night
    config.write_text(settings + "reject_treshold = 0.5\n")
    fresh = env(CLINIC_AUDIT_OUT=str(tmp_path / "new-out"))
    assert cli(*nightly(tmp_path, "--config", str(config), "--email-dry-run"), env=fresh) == EXIT_CONFIG
    assert "did not complete" in (tmp_path / "new-out" / "failure.eml").read_text(encoding="utf-8")

    # values of any TOML type after the error: still exit 2, and the email still goes
    config.write_text(
        settings + "reject_treshold = 0.5\nthreads = inf\nchecks = [1]\nout = '" + "x" * 5000 + "'\n"
    )
    assert cli(*run, env=configured(tmp_path)) == EXIT_CONFIG
    assert len(inbox.received) == 4
    # an override of the recipients that is wrong is not replaced by the file's: nobody is written to
    wrong = configured(tmp_path, CLINIC_AUDIT_SMTP_RECIPIENTS="lead@clinic.example\r\nBcc: x@evil.example")
    assert cli(*run, env=wrong) == EXIT_CONFIG
    assert len(inbox.received) == 4


def test_an_ad_hoc_failure_sends_nothing_and_leaves_the_nightly_report(tmp_path, smtp_server):  # noqa: F811
    inbox, port = smtp_server
    export(tmp_path)
    mail = smtp_env(port) | configured(tmp_path)
    assert cli(*nightly(tmp_path), env=mail) == 0
    before = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    (tmp_path / "export" / "labs.csv").write_text("patient_id,collected_at\nA,2026-11-19\n")
    assert cli(*nightly(tmp_path, "--ad-hoc", "--email"), env=mail) == EXIT_INPUT
    assert inbox.received == []
    assert (tmp_path / "out" / "report.html").read_text(encoding="utf-8") == before


def test_outputs_that_cannot_be_written_are_exit_8_and_report_writes_them(tmp_path, capsys):
    export(tmp_path)
    out = tmp_path / "out"
    assert cli(*nightly(tmp_path), env=configured(tmp_path)) == 0
    (out / "findings.csv").unlink()
    (out / "findings.csv").mkdir()  # a folder where a file must go: the move fails after the commit
    (out / "findings.csv" / "x").write_text("x")
    assert cli(*nightly(tmp_path), env=configured(tmp_path)) == EXIT_OUTPUTS
    err = capsys.readouterr().err
    assert "the run committed" in err and "clinic-audit report" in err
    assert "stale: last successful run was" in (out / "report.html").read_text(encoding="utf-8")
    assert not list(out.glob(".incoming-*"))
    (out / "findings.csv" / "x").unlink()
    (out / "findings.csv").rmdir()
    assert cli("report", "--db", str(tmp_path / "audit.duckdb"), env=configured(tmp_path)) == 0
    assert "stale-notice" not in (out / "report.html").read_text(encoding="utf-8")
