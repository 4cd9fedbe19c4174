"""Logs: stderr always, JSON lines with --log-file, and never a patient identifier or value."""

from __future__ import annotations

import csv
import json
import re

import duckdb

from pipelines.lock import database_lock
from tests.conftest import SAMPLE_EXPORT
from tests.helpers import cli, run_args

BASE_KEYS = {"time", "level", "logger", "message", "run_id"}
FINISHED_KEYS = {
    "event",
    "kind",
    "outcome",
    "exit_code",
    "duration_seconds",
    "rows_read",
    "rows_loaded",
    "rows_rejected",
    "checks",
    "flagged",
}


def sample_column(file: str, column: str) -> set[str]:
    with (SAMPLE_EXPORT / file).open(encoding="utf-8-sig", newline="") as handle:
        return {row[column] for row in csv.DictReader(handle) if row[column]}


def test_json_log_file_has_the_fields_and_the_run_id(tmp_path, capsys):
    log = tmp_path / "audit.log.jsonl"
    assert cli("--log-file", str(log), *run_args(tmp_path, SAMPLE_EXPORT)) == 0
    records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert records and all(set(r) == BASE_KEYS for r in records[:-1])
    assert set(records[-1]) == BASE_KEYS | FINISHED_KEYS  # the "run finished" line
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert {r["run_id"] for r in records} == {summary["run_id"]}
    assert any("labs.csv: read=" in r["message"] for r in records)
    assert "labs.csv: read=" in capsys.readouterr().err  # stderr too


def test_logs_never_carry_patient_identifiers_or_values(tmp_path, capsys):
    log = tmp_path / "audit.log.jsonl"
    assert cli("-v", "--log-file", str(log), *run_args(tmp_path, SAMPLE_EXPORT)) == 0
    text = log.read_text(encoding="utf-8") + capsys.readouterr().err
    assert text.strip()
    for patient_id in sample_column("patients.csv", "patient_id"):
        assert not re.search(rf"\b{re.escape(patient_id)}\b", text), patient_id
    for birth_date in sample_column("patients.csv", "birth_date"):
        assert birth_date not in text
    for drug in sample_column("prescriptions.csv", "drug_name"):
        assert drug not in text
    # lab values: alone they are short numbers that also occur in counts and timings, so look for
    # each result as it would be written (value with its unit, the raw row) and for its date
    with (SAMPLE_EXPORT / "labs.csv").open(encoding="utf-8-sig", newline="") as handle:
        raw_rows = handle.read().splitlines()[1:]
    for line in raw_rows:
        row = next(csv.reader([line]))
        assert line not in text
        value, unit = row[4], row[5]
        if not value:
            continue
        assert (
            f"{value} {unit}" not in text and f"{value}{unit}" not in text and f"{value},{unit}" not in text
        )
    for collected in sample_column("labs.csv", "collected_at") - {"2026-11-20"}:
        assert collected[:10] == "2026-11-20" or collected not in text, collected


def log_records(path) -> list[dict]:
    """Every line of a JSON-lines log file, parsed (a line that is not JSON fails the test)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def finished(records: list[dict]) -> dict:
    """The one "run finished" record, which must be the last line."""
    ends = [r for r in records if r.get("event") == "run finished"]
    assert len(ends) == 1 and ends[0] is records[-1], records[-3:]
    return ends[0]


def test_quiet_quietens_stderr_not_the_log_file(tmp_path, capsys):
    log = tmp_path / "audit.jsonl"
    assert cli("--quiet", "--log-file", str(log), *run_args(tmp_path, SAMPLE_EXPORT)) == 0
    err = capsys.readouterr().err
    records = log_records(log)
    assert "labs.csv: read=" not in err and "run finished" not in err  # -q: warnings and errors only
    info = [r["message"] for r in records if r["level"] == "INFO"]
    assert any(m.startswith("labs.csv: read=6220") for m in info)
    assert any(m.startswith("diuretic_electrolyte_monitoring: population=") for m in info)
    assert "loading labs.csv" in info  # one line per stage (no terminal)
    assert not [r for r in records if r["level"] == "DEBUG"]  # debug only with -v


def test_a_successful_run_ends_with_run_finished(tmp_path):
    log = tmp_path / "audit.jsonl"
    assert cli("-q", "--log-file", str(log), *run_args(tmp_path, SAMPLE_EXPORT, "--scheduled")) == 0
    end = finished(log_records(log))
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert end["run_id"] == summary["run_id"] and end["level"] == "INFO"
    assert (end["kind"], end["outcome"], end["exit_code"]) == ("scheduled", "succeeded", 0)
    assert end["rows_read"] == sum(f["rows_read"] for f in summary["files"].values())
    assert end["rows_rejected"] == sum(f["rows_rejected"] for f in summary["files"].values()) > 0
    assert end["checks"] == len(summary["checks"]) == 10
    assert end["flagged"] == sum(c["flagged"] for c in summary["checks"].values())
    assert 0 < end["duration_seconds"] < 600
    assert "run finished" in end["message"] and "exit_code=0" in end["message"]


def test_an_ad_hoc_run_says_so_in_run_finished(tmp_path):
    log = tmp_path / "audit.jsonl"
    args = run_args(tmp_path, SAMPLE_EXPORT, "--checks", "cramps_cirrhosis")
    assert cli("-q", "--log-file", str(log), *args) == 0
    end = finished(log_records(log))
    assert (end["kind"], end["checks"]) == ("ad hoc", 1)


def test_an_input_error_is_logged_and_the_run_finished_line_says_exit_3(tmp_path, capsys):
    log = tmp_path / "audit.jsonl"
    export = tmp_path / "export"
    export.mkdir()
    for name in ("patients.csv", "prescriptions.csv", "diagnoses.csv"):  # labs.csv is missing
        (export / name).write_bytes((SAMPLE_EXPORT / name).read_bytes())
    assert cli("-q", "--log-file", str(log), *run_args(tmp_path, export, "--format", "generic")) == 3
    err = capsys.readouterr().err
    records = log_records(log)
    errors = [r for r in records[:-1] if r["level"] == "ERROR"]
    assert len(errors) == 1 and "labs.csv" in errors[0]["message"]
    assert errors[0]["message"] in err  # the same words as printed
    end = finished(records)
    assert (end["outcome"], end["exit_code"], end["level"]) == ("failed", 3, "ERROR")
    assert end["rows_read"] is None and end["run_id"] == errors[0]["run_id"] is not None
    assert "run finished" not in err  # stderr has said why already


def test_a_config_error_is_logged_with_the_key_and_file(tmp_path, capsys):
    log = tmp_path / "audit.jsonl"
    config = tmp_path / "audit.toml"
    config.write_text("[run]\nreject_treshold = 0.1\n", encoding="utf-8")
    args = run_args(tmp_path, SAMPLE_EXPORT, "--config", str(config))
    assert cli("--log-file", str(log), *args) == 2
    records = log_records(log)
    assert [r["level"] for r in records] == ["ERROR", "ERROR"]
    assert str(config) in records[0]["message"] and "run.reject_treshold" in records[0]["message"]
    assert "did you mean 'reject_threshold'" in records[0]["message"]
    end = finished(records)
    assert (end["exit_code"], end["outcome"], end["run_id"]) == (2, "failed", None)
    assert not (tmp_path / "audit.duckdb").exists()


def test_a_usage_error_is_logged(tmp_path, capsys):
    log = tmp_path / "audit.jsonl"
    assert cli("--log-file", str(log), *run_args(tmp_path, SAMPLE_EXPORT, "--format", "synthee")) == 2
    records = log_records(log)
    assert "'--format'" in records[0]["message"] and "did you mean 'synthea'" in records[0]["message"]
    assert finished(records)["exit_code"] == 2


def test_a_locked_database_is_logged_as_exit_5(tmp_path, capsys):
    log = tmp_path / "audit.jsonl"
    with database_lock(tmp_path / "audit.duckdb"):
        assert cli("-q", "--log-file", str(log), *run_args(tmp_path, SAMPLE_EXPORT)) == 5
    records = log_records(log)
    assert "in use by another clinic-audit process" in records[0]["message"]
    assert finished(records)["exit_code"] == 5


def test_the_log_file_setting_is_used_when_no_flag_names_one(tmp_path, capsys):
    log = tmp_path / "logs" / "from-setting.jsonl"
    args = run_args(tmp_path, SAMPLE_EXPORT)
    assert cli("-q", *args, env={"CLINIC_AUDIT_LOG_FILE": str(log)}) == 0
    assert finished(log_records(log))["exit_code"] == 0
    flag = tmp_path / "flag.jsonl"
    assert cli("-q", "--log-file", str(flag), *args, env={"CLINIC_AUDIT_LOG_FILE": str(log)}) == 0
    assert len([r for r in log_records(log) if r.get("event")]) == 1  # the flag won: not appended
    assert finished(log_records(flag))["exit_code"] == 0


def test_other_commands_log_errors_without_a_run_finished_line(tmp_path, capsys):
    log = tmp_path / "audit.jsonl"
    assert cli("--log-file", str(log), "runs", "--db", str(tmp_path / "none.duckdb")) != 0
    records = log_records(log)
    assert records and all(r["level"] == "ERROR" for r in records)
    assert not [r for r in records if r.get("event")]


def test_summary_json_carries_no_patient_identifier(tmp_path):
    """summary.json is for schedulers: a rejection reason keeps its example's line number, not the
    row's text; the database keeps the text for analysts. The same after `report` rewrites it."""
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == 0
    out2 = tmp_path / "again"
    assert cli("report", "--db", str(tmp_path / "audit.duckdb"), "--out", str(out2)) == 0
    patient_ids = sample_column("patients.csv", "patient_id")
    for summary_path in (tmp_path / "out" / "summary.json", out2 / "summary.json"):
        text = summary_path.read_text(encoding="utf-8")
        summary = json.loads(text)
        reasons = [
            r
            for f in summary["files"].values()
            for r in f.get("top_rejection_reasons", f.get("top_reasons", []))
        ]
        assert reasons and all("example" not in r and r["example_line"] > 1 for r in reasons)
        for patient_id in patient_ids:
            assert not re.search(rf"\b{re.escape(patient_id)}\b", text), (summary_path, patient_id)
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        originals = con.execute("SELECT original FROM quarantine").fetchall()
    assert originals and all(row[0] for row in originals)  # the database keeps the example text


def test_every_warning_the_run_shows_is_in_the_log_file(tmp_path, capsys):
    """A nightly as of six weeks after the sample's newest record: the freshness guard warns per
    table; each warning summary.json records is a WARNING line of the log file, even with -q."""
    log = tmp_path / "audit.jsonl"
    args = ["run", "--exports", str(SAMPLE_EXPORT), "--out", str(tmp_path / "out")]
    args += ["--db", str(tmp_path / "audit.duckdb"), "--as-of", "2026-12-31", "--scheduled"]
    assert cli("-q", "--log-file", str(log), *args) == 0
    warnings = json.loads((tmp_path / "out" / "summary.json").read_text())["warnings"]
    assert any("freshness_max_days" in w for w in warnings)
    logged = [r["message"] for r in log_records(log) if r["level"] == "WARNING"]
    for warning in warnings:
        assert any(warning in message for message in logged), warning


def test_quiet_prints_nothing_on_a_clean_night_and_the_warnings_of_one_that_has_them(tmp_path, capsys):
    """cron mails whatever a job prints: -q on a night with nothing to say prints nothing at all."""
    assert cli("-q", *run_args(tmp_path, SAMPLE_EXPORT)) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    args = ["run", "--exports", str(SAMPLE_EXPORT), "--out", str(tmp_path / "out")]
    args += ["--db", str(tmp_path / "audit.duckdb"), "--as-of", "2026-12-31", "--scheduled"]
    assert cli("-q", *args) == 0  # six weeks after the newest record: the freshness guard warns
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "freshness_max_days" in captured.err  # its warnings, logged at WARNING
    assert "population" not in captured.err  # and not the tables
