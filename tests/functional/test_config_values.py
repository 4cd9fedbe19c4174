"""Setting values of the wrong shape or type stop the command with exit 2 before any export is read,
naming the setting; none of them may surface later as an internal error (exit 1) or change a run
silently (a TOML `true` taken as the number 1)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pipelines.settings import Settings, load_settings
from tests.conftest import SAMPLE_EXPORT
from tests.helpers import cli, run_args


def refused(tmp_path, capsys, run_table: str, *extra: str, env: dict[str, str] | None = None) -> str:
    """Run with a config holding `run_table`: exit 2, no database, no OUT; returns stderr."""
    config = tmp_path / "audit.toml"
    config.write_text(run_table, encoding="utf-8")
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--config", str(config), *extra), env=env) == 2
    assert not (tmp_path / "audit.duckdb").exists()
    assert not (tmp_path / "out").exists()
    err = capsys.readouterr().err
    assert "internal error" not in err
    return err


@pytest.mark.parametrize(
    "host",
    ["smtp..example.org", f"{'a' * 64}.example.org", ".example.org", "smtp example.org"],
    ids=["empty label", "label over 63", "leading dot", "space"],
)
def test_an_smtp_host_that_is_no_host_name_is_refused(tmp_path, capsys, host):
    """Such a host made a committed run exit 1 when the email was sent (IDNA UnicodeError)."""
    err = refused(tmp_path, capsys, f'[run]\nsmtp_host = "{host}"\n', "--email")
    assert "setting 'smtp_host'" in err and "host name" in err


@pytest.mark.parametrize("host", ["smtp.example.org", "127.0.0.1", "::1", "mail.münchen.de", ""])
def test_host_names_and_addresses_are_taken(host):
    from pipelines.settings import valid_value

    assert valid_value("smtp_host", host)


@pytest.mark.parametrize(
    ("value", "named"),
    [("true", "expected a number"), ("365.9", "expected a whole number"), ("99999999999", "at most 36500")],
)
def test_a_check_parameter_of_the_wrong_kind_stops_before_the_export_is_read(tmp_path, capsys, value, named):
    """`true` ran as 1 day and 365.9 as 365 (exit 0, other findings); 99999999999 crashed the run (exit 1)."""
    table = f"[run]\n[checks.diuretic_electrolyte_monitoring]\nlookback_days = {value}\n"
    err = refused(tmp_path, capsys, table)
    assert f"checks.diuretic_electrolyte_monitoring.lookback_days: {named}" in err


def test_a_check_parameter_out_of_range_on_the_command_line_too(tmp_path, capsys):
    param = "diuretic_electrolyte_monitoring.lookback_days=99999999999"
    err = refused(tmp_path, capsys, "", "--param", param)
    assert "checks.diuretic_electrolyte_monitoring.lookback_days: at most 36500" in err


@pytest.mark.parametrize("codec", ["rot13", "hex", "base64", "zip"])
def test_an_encoding_that_is_no_text_encoding_is_refused(tmp_path, capsys, codec):
    """codecs.lookup knows these, but they turn bytes into bytes: the load crashed (LookupError, exit 1)."""
    err = refused(tmp_path, capsys, f'[run]\nencoding = "{codec}"\n')
    assert "setting 'encoding'" in err and "not a text encoding" in err


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-32"])
def test_a_two_or_four_byte_encoding_is_refused_saying_to_export_utf8(tmp_path, capsys, codec):
    """The setting was accepted, then every file failed with a missing column: the byte-level record
    scan cannot read UTF-16 or UTF-32. Refused before anything is read, saying what to do."""
    err = refused(tmp_path, capsys, f'[run]\nencoding = "{codec}"\n')
    assert "setting 'encoding'" in err and "export them as UTF-8" in err


def test_an_encoding_from_the_environment_is_checked_too(tmp_path, capsys):
    err = refused(tmp_path, capsys, "", env={"CLINIC_AUDIT_ENCODING": "rot13"})
    assert "environment CLINIC_AUDIT_ENCODING: setting 'encoding'" in err and "not a text encoding" in err


@pytest.mark.parametrize("body", ["run = 5", 'run = "prod"', "run = [1]"])
def test_a_run_that_is_no_table_is_refused(tmp_path, capsys, body):
    """As `checks = 5` is: this was an AttributeError (exit 1)."""
    err = refused(tmp_path, capsys, f"{body}\n")
    assert "'run' must be the [run] table of settings" in err


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("reject_threshold = true", "expected a number, not true or false"),  # was 1.0: the guard off
        ("volume_guard_ratio = false", "expected a number, not true or false"),
        ("smtp_port = true", "expected a number, not true or false"),  # was port 1
        ("measures_months = true", "expected a number, not true or false"),
        ("due_soon_days = 30.5", "expected a whole number"),  # was 30
        ("smtp_port = 70000", "from 1 to 65535"),  # was port 70000 - 65536
        ("smtp_port = 0", "from 1 to 65535"),
    ],
)
def test_a_number_setting_takes_a_number_of_its_kind(tmp_path, capsys, setting, named):
    key = setting.split(" = ")[0]
    err = refused(tmp_path, capsys, f"[run]\n{setting}\n")
    assert f"setting '{key}'" in err and named in err


def test_an_smtp_port_from_the_environment_is_checked_too(tmp_path, capsys):
    err = refused(tmp_path, capsys, "", env={"CLINIC_AUDIT_SMTP_PORT": "65536"})
    assert "environment CLINIC_AUDIT_SMTP_PORT: setting 'smtp_port'" in err and "from 1 to 65535" in err


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("due_soon_days", "2147483647"),  # was exit 1: DuckDB's date + INTEGER out of range
        ("due_soon_days", "99999999999"),  # was exit 1: no INTEGER to bind it to
        ("coverage_lookback_days", "9999999"),  # was exit 1: a date before year 1
        ("freshness_max_days", "99999999999"),
        ("as_of_gap_warning_days", "99999999999"),
    ],
)
def test_a_day_count_setting_past_100_years_is_refused(tmp_path, capsys, key, value):
    """Every day count has a check parameter's bound in days (36500): past it a run failed as an
    internal error, or took a value no date arithmetic can use."""
    err = refused(tmp_path, capsys, f"[run]\n{key} = {value}\n")
    assert f"setting '{key}'" in err and "at most 36500 days" in err


@pytest.mark.parametrize("key", ["due_soon_days", "coverage_lookback_days", "freshness_max_days"])
def test_a_day_count_of_100_years_is_taken(key):
    from pipelines.settings import valid_value

    assert valid_value(key, 36500) and not valid_value(key, 36501)


def test_a_day_count_from_the_environment_is_checked_too(tmp_path, capsys):
    err = refused(tmp_path, capsys, "", env={"CLINIC_AUDIT_DUE_SOON_DAYS": "99999999999"})
    assert "environment CLINIC_AUDIT_DUE_SOON_DAYS: setting 'due_soon_days'" in err
    assert "at most 36500 days" in err


@pytest.mark.parametrize(
    "setting", ["smtp_recipients = [1, 2]", 'smtp_recipients = ["a@example.org", {x = 1}]', "checks = [1]"]
)
def test_a_list_setting_takes_text_items_only(tmp_path, capsys, setting):
    """A number in the list was an AttributeError (exit 1) when the run stripped it."""
    key = setting.split(" = ")[0]
    err = refused(tmp_path, capsys, f"[run]\n{setting}\n")
    assert f"setting '{key}'" in err and "expected a list of text values" in err


@pytest.mark.parametrize("key", ["db", "out", "exports", "log_file", "local_codelists"])
def test_a_nul_character_in_a_path_setting_is_refused(tmp_path, capsys, key):
    """No file path holds a NUL; the OS call refusing it was a ValueError (exit 1)."""
    err = refused(tmp_path, capsys, f'[run]\n{key} = "{tmp_path}/a\\u0000b"\n')
    assert f"setting '{key}'" in err and "NUL" in err


@pytest.mark.parametrize("option", ["--out", "--db"])
def test_a_path_whose_name_is_not_utf8_is_refused_before_anything_runs(tmp_path, option):
    """A name with a byte no text encoding reads (b'out\\xff', made under another locale) reaches
    Python as a lone surrogate: DuckDB could not open it as the database, and as OUT the run loaded,
    checked and then failed recording itself (exit 1, the night's work lost). Refused first, exit 2,
    from a real process given the bytes."""
    bad = os.fsencode(tmp_path) + b"/x\xff"
    other = {"--out": ["--db", str(tmp_path / "audit.duckdb")], "--db": ["--out", str(tmp_path / "out")]}
    argv = [sys.executable, "-m", "pipelines", "run", "--exports", str(SAMPLE_EXPORT), "--as-of",
            "2026-11-20", option, bad, *other[option]]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, env={**os.environ, "LANG": "C"}, timeout=300)
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 2, err
    assert "UTF-8" in err and "Traceback" not in err and "internal error" not in err
    assert not (tmp_path / "audit.duckdb").exists() and not list(tmp_path.glob("x*"))


BLANK_PATHS = ["db", "out", "exports"]


def blank_refused(tmp_path, monkeypatch, capsys, args: list[str], env: dict[str, str] | None = None) -> str:
    """Run from an empty working folder: exit 2, and nothing written there (Path("") is that folder)."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert cli(*args, env=env) == 2
    assert not list(work.iterdir()), "a blank path setting wrote into the working folder"
    assert not list(tmp_path.glob("*.lock")), "a lock file beside the working folder"
    err = capsys.readouterr().err
    assert "internal error" not in err
    return err


@pytest.mark.parametrize("key", BLANK_PATHS)
def test_a_blank_path_setting_in_the_config_file_is_refused(tmp_path, monkeypatch, capsys, key):
    """`out = ""` wrote the outputs into the working folder; `db = ""` was an internal error (exit 1)."""
    paths = {
        "db": str(tmp_path / "audit.duckdb"),
        "out": str(tmp_path / "out"),
        "exports": str(SAMPLE_EXPORT),
    }
    config = tmp_path / "audit.toml"
    config.write_text(
        "[run]\n" + "".join(f'{k} = "{"" if k == key else v}"\n' for k, v in paths.items()), encoding="utf-8"
    )
    err = blank_refused(
        tmp_path, monkeypatch, capsys, ["run", "--config", str(config), "--as-of", "2026-11-20"]
    )
    assert f"setting '{key}'" in err and "blank" in err


@pytest.mark.parametrize("key", BLANK_PATHS)
def test_a_blank_path_option_is_refused(tmp_path, monkeypatch, capsys, key):
    """click makes `--out ""` Path("."): refused as it is given, naming the option."""
    args = run_args(tmp_path, SAMPLE_EXPORT)
    args[args.index(f"--{key}") + 1] = " "
    err = blank_refused(tmp_path, monkeypatch, capsys, args)
    assert f"--{key}" in err and "blank" in err


def test_a_blank_path_from_the_environment_is_refused_and_an_empty_one_is_unset(
    tmp_path, monkeypatch, capsys
):
    args = ["runs", "--format", "json"]
    err = blank_refused(tmp_path, monkeypatch, capsys, args, env={"CLINIC_AUDIT_DB": "  "})
    assert "CLINIC_AUDIT_DB" in err and "setting 'db'" in err and "blank" in err
    assert load_settings(None, {"CLINIC_AUDIT_OUT": ""}, {}).out == Settings().out  # as if not set
