"""Volume guard: an export much smaller than last run's warns (console, summary, report), and with
--strict (or volume_guard_strict) stops with exit code 3 before anything changes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipelines.errors import EXIT_INPUT
from pipelines.guards import count_rows
from tests.conftest import SAMPLE_EXPORT
from tests.helpers import cli, run_args, table_counts


@pytest.fixture
def shrunk_export(tmp_path) -> Path:
    """The sample export with labs.csv cut to its first 10% of rows, as a truncated export would be."""
    folder = tmp_path / "shrunk"
    shutil.copytree(SAMPLE_EXPORT, folder)
    lines = (SAMPLE_EXPORT / "labs.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (folder / "labs.csv").write_text("".join(lines[: len(lines) // 10]), encoding="utf-8")
    return folder


@pytest.fixture
def after_one_run(tmp_path, capsys) -> Path:
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == 0
    capsys.readouterr()
    return tmp_path


def test_count_rows_counts_data_lines(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("a,b\n1,2\n3,4")  # no final newline
    assert count_rows(path) == 2
    path.write_text("a,b\n1,2\n3,4\n")
    assert count_rows(path) == 2
    path.write_text("a,b\n")
    assert count_rows(path) == 0


def test_a_much_smaller_export_warns_in_console_summary_and_report(after_one_run, shrunk_export, capsys):
    tmp = after_one_run
    assert cli(*run_args(tmp, shrunk_export)) == 0
    captured = capsys.readouterr()
    assert "warning:" in captured.out and "labs.csv" in captured.out
    assert "volume guard" in captured.err  # the log line
    summary = json.loads((tmp / "out" / "summary.json").read_text())
    assert len(summary["warnings"]) == 1 and "labs.csv" in summary["warnings"][0]
    report = (tmp / "out" / "report.html").read_text(encoding="utf-8")
    assert "labs.csv is much smaller than last time" in report


def test_strict_exits_3_before_changing_anything(after_one_run, shrunk_export, capsys):
    tmp = after_one_run
    before = table_counts(tmp / "audit.duckdb")
    assert cli(*run_args(tmp, shrunk_export, "--strict")) == EXIT_INPUT
    assert "volume guard" in capsys.readouterr().err
    assert table_counts(tmp / "audit.duckdb") == before
    assert json.loads((tmp / "out" / "summary.json").read_text())["status"] == "failed"


def test_strict_from_config_and_ratio_setting(after_one_run, shrunk_export, capsys):
    tmp = after_one_run
    config = tmp / "c.toml"
    config.write_text("[run]\nvolume_guard_strict = true\n")
    assert cli(*run_args(tmp, shrunk_export, "--config", str(config))) == EXIT_INPUT
    config.write_text("[run]\nvolume_guard_strict = true\nvolume_guard_ratio = 0.05\n")
    assert cli(*run_args(tmp, shrunk_export, "--config", str(config))) == 0
    assert "warning:" not in capsys.readouterr().out


def test_first_run_and_same_size_do_not_warn(tmp_path, capsys):
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--strict")) == 0
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--strict")) == 0
    assert "warning:" not in capsys.readouterr().out


def test_an_ad_hoc_extract_is_no_baseline_for_the_nightly(tmp_path, shrunk_export, capsys):
    """Nightly on the full export, then an analyst's ad-hoc run on a 10% labs extract: the next
    nightly is still compared with the nightly's count, so a cut export stops it (#18: ad-hoc runs
    never change the nightly record)."""
    nightly = ("--scheduled",)
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, *nightly)) == 0
    assert cli(*run_args(tmp_path, shrunk_export, "--ad-hoc", "--out", str(tmp_path / "adhoc"))) == 0
    capsys.readouterr()
    before = table_counts(tmp_path / "audit.duckdb")
    assert cli(*run_args(tmp_path, shrunk_export, *nightly, "--strict")) == EXIT_INPUT
    assert "volume guard" in capsys.readouterr().err
    assert table_counts(tmp_path / "audit.duckdb") == before


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_rows_are_counted_whatever_the_line_ends(tmp_path, end):
    """The reader reads CR-only files (classic Mac line ends): the guard counted them as one line,
    'about 0 rows', and with --strict stopped a complete export."""
    from pipelines.guards import count_rows

    path = tmp_path / "labs.csv"
    path.write_bytes(end.join([b"patient_id,value", b"P1,4.1", b"P2,4.2", b"P3,4.3"]) + end)
    assert count_rows(path) == 3
    path.write_bytes(end.join([b"patient_id,value", b"P1,4.1", b"P2,4.2"]))  # no final line end
    assert count_rows(path) == 2
