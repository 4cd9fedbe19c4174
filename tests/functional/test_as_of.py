"""`--as-of latest` takes the newest record date; an as-of far outside the data warns everywhere."""

from __future__ import annotations

import json
import re

import duckdb

from tests.conftest import SAMPLE_EXPORT
from tests.helpers import cli

NEWEST_SAMPLE_RECORD = "2026-11-18"  # the sample's newest lab, prescription or diagnosis date


def run(tmp_path, as_of: str) -> int:
    return cli(
        "run",
        "--exports",
        str(SAMPLE_EXPORT),
        "--out",
        str(tmp_path / "out"),
        "--db",
        str(tmp_path / "audit.duckdb"),
        "--as-of",
        as_of,
    )


def summary(tmp_path) -> dict:
    return json.loads((tmp_path / "out" / "summary.json").read_text())


def test_latest_uses_the_newest_record_date(tmp_path):
    assert run(tmp_path, "latest") == 0
    assert summary(tmp_path)["as_of"] == NEWEST_SAMPLE_RECORD
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        assert str(con.execute("SELECT as_of FROM runs").fetchall()[0][0]) == NEWEST_SAMPLE_RECORD
        params = json.loads(con.execute("SELECT parameters FROM check_results LIMIT 1").fetchall()[0][0])
    assert params["as_of"] == NEWEST_SAMPLE_RECORD
    assert summary(tmp_path)["warnings"] == []


def test_as_of_far_after_the_data_warns_in_console_summary_and_report(tmp_path, capsys):
    assert run(tmp_path, "2029-06-01") == 0
    (warning,) = summary(tmp_path)["warnings"]
    assert "days after the newest record (2026-11-18)" in warning and "--as-of latest" in warning
    assert "days after the newest record" in (tmp_path / "out" / "report.html").read_text()
    captured = capsys.readouterr()
    assert "WARNING pipelines.guards: as-of date:" in captured.err
    assert "days after the newest record" in captured.out  # the console summary
    # A past run's report, re-rendered from the database, still carries its warning.
    assert cli("report", "--db", str(tmp_path / "audit.duckdb"), "--out", str(tmp_path / "again")) == 0
    assert "days after the newest record" in (tmp_path / "again" / "report.html").read_text()


def test_as_of_before_the_data_warns(tmp_path):
    assert run(tmp_path, "2020-01-01") == 0
    (warning,) = summary(tmp_path)["warnings"]
    assert "before the oldest record" in warning


def test_gap_is_a_setting(tmp_path):
    config = tmp_path / "audit.toml"
    config.write_text("[run]\nas_of_gap_warning_days = 5000\n")
    assert (
        cli(
            "run",
            "--config",
            str(config),
            "--exports",
            str(SAMPLE_EXPORT),
            "--out",
            str(tmp_path / "out"),
            "--db",
            str(tmp_path / "audit.duckdb"),
            "--as-of",
            "2029-06-01",
        )
        == 0
    )
    warnings = summary(tmp_path)["warnings"]
    assert not [w for w in warnings if "newest record" in w]
    # the gap is silenced, but no patient has a record in the year to 2029-06-01: coverage says so
    assert [w for w in warnings if re.match(r"Only 0 of [1-9][0-9]* patients \(0%\) have any record", w)]


def test_bad_as_of_is_a_config_error(tmp_path, capsys):
    assert run(tmp_path, "yesterday") == 2
    assert "as_of" in capsys.readouterr().err
