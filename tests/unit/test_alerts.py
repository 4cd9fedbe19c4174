"""The failure email (#18): the reason in plain words, where, what to do; never an error's own text."""

from __future__ import annotations

import errno
from datetime import datetime
from pathlib import Path

from pipelines.alerts import describe, failure_email
from pipelines.errors import InputError, LockedError, OutputError, StorageError
from pipelines.settings import ConfigError, Settings

ROW = "P0042,2026-11-19,2823-3,,4.1,mmol/L"  # a row an error message might quote


def test_an_input_error_names_file_line_and_column_but_never_the_row():
    error = InputError(f"labs.csv line 12 column 'value': not a number in row {ROW}")
    failure = describe(error, 3)
    assert failure.where == "labs.csv, line 12, column value"
    assert "export could not be used" in failure.reason
    message = failure_email(
        Settings(clinic_name="Riverside", out=Path("out")), failure, "RUN", datetime(2026, 11, 20, 3)
    )
    body = message.get_content()
    assert message["Subject"] == "Riverside: tonight's audit did not complete"
    assert "P0042" not in body and "4.1" not in body and "mmol" not in body
    assert "exit code 3" in body and "What to do:" in body and "labs.csv, line 12, column value" in body


def test_each_kind_of_failure_has_its_own_reason_and_advice():
    cases = {
        ConfigError("x.toml: setting 'smtp_port' has an invalid value 'P0042'"): "a setting is wrong",
        LockedError("held"): "another run",
        StorageError("audit.duckdb: damaged"): "database file",
        OutputError("outputs"): "reports could not be written",
        OSError(errno.ENOSPC, "No space left", "/srv/out/report.html"): "disk space",
        OSError(errno.EACCES, "Permission denied", "/srv/out"): "could not be used",
    }
    for error, words in cases.items():
        failure = describe(error, 6)
        assert words in failure.reason, error
        assert "P0042" not in failure.reason + failure.where + failure.what_to_do
    assert describe(OSError(errno.ENOSPC, "x", "/srv/out/report.html"), 7).where == "report.html"


def test_a_signal_and_an_unexpected_error():
    assert "stopped" in describe(KeyboardInterrupt(), 143).reason
    failure = describe(ValueError(f"bad {ROW}"), 1)
    assert failure.reason == "an internal error (ValueError)." and "P0042" not in failure.where


def test_the_email_says_the_reports_are_stale_only_when_they_were_marked():
    failure = describe(LockedError("held"), 5)
    settings = Settings(clinic_name="Riverside", out=Path("out"))
    marked = failure_email(settings, failure, "RUN", datetime(2026, 11, 20, 3)).get_content()
    left = failure_email(settings, failure, "RUN", datetime(2026, 11, 20, 3), marked=False).get_content()
    assert "are marked stale" in marked
    assert "are marked stale" not in left and "left as they are" in left


def test_the_email_says_when_the_reports_could_not_be_marked_stale():
    """An OUT nothing can be written to: the report still looks current, and the email says so."""
    failure = describe(OutputError("the run committed, but ..."), 8)
    settings = Settings(clinic_name="Riverside", out=Path("out"))
    started = datetime(2026, 11, 20, 3)
    unmarked = failure_email(settings, failure, "RUN", started, stale="unmarked").get_content()
    assert "are marked stale" not in unmarked and "could not be marked stale" in unmarked
    none = failure_email(settings, failure, "RUN", started, stale="none").get_content()
    assert "marked stale" not in none and "no report of an earlier run" in none


def test_a_settings_error_names_only_its_config_file_never_the_refused_value():
    """The value a setting refused may read like a file, a line and a column: none of it is shown."""
    value = "'labs.csv line 12, column P0042'"
    error = ConfigError(f"/etc/audit/bad.toml: setting 'encoding' names an unknown encoding {value}")
    assert describe(error, 2).where == "bad.toml"
    option = ConfigError("option --as-of: setting 'as_of' has an invalid value 'labs.csv'")
    assert describe(option, 2).where == ""
