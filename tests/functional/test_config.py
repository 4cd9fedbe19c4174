"""Configuration: defaults < TOML < environment < CLI; errors name the key and where it came from."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_EXPORT
from tests.helpers import cli, run_args

CHECK = "diuretic_electrolyte_monitoring"


def parameters(tmp_path) -> dict:
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    return summary["checks"][CHECK]["parameters"]


def test_toml_sets_check_parameters_and_cli_overrides_it(tmp_path):
    config = tmp_path / "audit.toml"
    config.write_text(f"[run]\nreject_threshold = 0.1\n\n[checks.{CHECK}]\nlookback_days = 200\n")
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--config", str(config), "--checks", CHECK)) == 0
    assert parameters(tmp_path)["lookback_days"] == 200
    args = run_args(tmp_path, SAMPLE_EXPORT, "--config", str(config), "--param", f"{CHECK}.lookback_days=90")
    assert cli(*args) == 0
    assert parameters(tmp_path) == {
        "lookback_days": 90,
        "require_renal": 0,
        "refill_gap_days": 30,
        "baseline_days": 14,
        "post_start_days": 0,
        "skin_max_age": 45,
        "skin_min_age": 12,
        "skin_indication_days": 730,
        "skin_potassium_limit": 5.0,
        "as_of": "2026-11-20",
    }


def test_environment_sits_between_file_and_flags(tmp_path):
    env = {"CLINIC_AUDIT_DB": str(tmp_path / "from_env.duckdb")}
    args = [
        "run",
        "--exports",
        str(SAMPLE_EXPORT),
        "--out",
        str(tmp_path / "out"),
        "--as-of",
        "2026-11-20",
        "--checks",
        CHECK,
    ]
    assert cli(*args, env=env) == 0
    assert (tmp_path / "from_env.duckdb").exists()


def test_unknown_key_names_key_and_file(tmp_path, capsys):
    config = tmp_path / "audit.toml"
    config.write_text("[run]\nrejct_threshold = 0.1\n")
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--config", str(config))) == 2
    err = capsys.readouterr().err
    assert str(config) in err and "run.rejct_threshold" in err


def test_bad_value_names_key(tmp_path, capsys):
    config = tmp_path / "audit.toml"
    config.write_text("[run]\nreject_threshold = 7\n")
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--config", str(config))) == 2
    assert "reject_threshold" in capsys.readouterr().err


def test_unknown_check_parameter_is_a_config_error_before_loading(tmp_path, capsys):
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--param", f"{CHECK}.lookback_dayz=3")) == 2
    assert f"checks.{CHECK}.lookback_dayz: unknown parameter" in capsys.readouterr().err
    assert not (tmp_path / "audit.duckdb").exists()


def test_unknown_check_id(tmp_path, capsys):
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--checks", "no_such_check")) == 2
    assert "unknown check 'no_such_check'" in capsys.readouterr().err


def test_non_numeric_parameter(tmp_path, capsys):
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--param", f"{CHECK}.lookback_days=soon")) == 2
    assert "expected int" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999"])
def test_a_parameter_that_is_not_a_finite_number_is_refused(tmp_path, capsys, value):
    """float() reads 'nan' and 'inf': a threshold no result can be compared with is a config error."""
    param = f"insulin_potassium_drop.fall_mmol={value}"
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--param", param)) == 2
    assert "insulin_potassium_drop.fall_mmol: must be a finite number" in capsys.readouterr().err


def test_version_and_help(capsys):
    assert cli("--version") == 0
    assert "clinic-audit, version" in capsys.readouterr().out
    assert cli("run", "--help") == 0
    assert "--as-of" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("config", "extra", "named"),
    [
        (b"\xff\xfe[run]\n", (), "not UTF-8 text"),
        (b"[run]\nas_of = 2026-11-20T10:00:00\n", (), "not a date and time"),
        (b"[run]\nmeasures_months = 30000\n", (), "at most 600"),
        (b"", ("--as-of", "9999-12-31"), "from 1900-01-01 to 2999-12-31"),
        (b"", ("--as-of", "0001-01-01"), "from 1900-01-01 to 2999-12-31"),
    ],
    ids=["not utf-8", "a datetime as-of", "measures_months too large", "as-of 9999", "as-of year 1"],
)
def test_settings_no_run_could_use_are_config_errors_before_anything_is_read(
    tmp_path, capsys, config, extra, named
):
    """Each of these was an internal error (exit 1), some only after the report had been marked stale."""
    path = tmp_path / "audit.toml"
    path.write_bytes(config)
    args = [*run_args(tmp_path, SAMPLE_EXPORT, "--config", str(path)), *extra]
    assert cli(*args) == 2
    err = capsys.readouterr().err
    assert named in err and "internal error" not in err
    assert not (tmp_path / "audit.duckdb").exists()


@pytest.mark.parametrize("kind", ["named pipe", "device", "folder", "over 1 MiB"])
def test_a_config_file_that_is_no_regular_file_or_too_big_is_refused_without_reading_it(
    tmp_path, capsys, kind
):
    """A named pipe was waited on for ever, before anything was said (--email-dry-run too, reading it
    again for the failure email's settings); /dev/zero was read until memory ran out."""
    path = tmp_path / "audit.toml"
    if kind == "named pipe":
        os.mkfifo(path)
    elif kind == "device":
        path = Path("/dev/zero")
    elif kind == "folder":
        path.mkdir()
    else:
        path.write_text("[run]\n" + "#" * (1 << 20) + "\n", encoding="utf-8")
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--config", str(path), "--email-dry-run")) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "internal error" not in err
    assert ("too large" if kind == "over 1 MiB" else "not a regular file") in err
    assert not (tmp_path / "audit.duckdb").exists()
