"""Configuration errors stop a command before any work (#18 outcome 5): exit 2, the key and the file
(or option, or environment variable) named, the nearest name suggested for a typo, and no export
read: no database file is created."""

from __future__ import annotations

import pytest

from tests.conftest import SAMPLE_EXPORT
from tests.helpers import cli, run_args

CHECK = "diuretic_electrolyte_monitoring"


def config_error(tmp_path, capsys, *extra: str, env: dict[str, str] | None = None) -> str:
    """Run with `extra`: exit 2, nothing created; returns stderr."""
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, *extra), env=env) == 2
    assert not (tmp_path / "audit.duckdb").exists()
    assert not (tmp_path / "out").exists()
    return capsys.readouterr().err


def write_config(tmp_path, text: str):
    path = tmp_path / "audit.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_unknown_check_in_a_checks_table_names_it_and_the_file(tmp_path, capsys):
    config = write_config(tmp_path, "[checks.diuretic_electrolyte_monitorin]\nlookback_days = 90\n")
    err = config_error(tmp_path, capsys, "--config", str(config))
    assert str(config) in err and "checks.diuretic_electrolyte_monitorin: no such check" in err
    assert f"did you mean '{CHECK}'" in err


def test_unknown_parameter_in_a_checks_table_names_it_and_the_file(tmp_path, capsys):
    config = write_config(tmp_path, f"[checks.{CHECK}]\nlookbak_days = 90\n")
    err = config_error(tmp_path, capsys, "--config", str(config))
    assert f"{config}: checks.{CHECK}.lookbak_days: unknown parameter" in err
    assert "did you mean 'lookback_days'" in err


def test_unknown_check_in_param_stops_before_the_export_is_read(tmp_path, capsys):
    err = config_error(tmp_path, capsys, "--param", "cramps_cirosis.electrolyte_recent_days=30")
    assert "option --param: checks.cramps_cirosis: no such check" in err
    assert "did you mean 'cramps_cirrhosis'" in err


def test_a_parameter_of_a_check_not_selected_is_checked_too(tmp_path, capsys):
    args = ("--checks", "cramps_cirrhosis", "--param", f"{CHECK}.lookback_dayz=3")
    err = config_error(tmp_path, capsys, *args)
    assert f"checks.{CHECK}.lookback_dayz: unknown parameter" in err


def test_unknown_check_in_checks_suggests_the_nearest(tmp_path, capsys):
    err = config_error(tmp_path, capsys, "--checks", "cramps_cirrhosis,nsaid_kidney_diseas")
    assert "option --checks" in err and "unknown check 'nsaid_kidney_diseas'" in err
    assert "did you mean 'nsaid_kidney_disease'" in err


def test_unknown_key_suggests_the_nearest(tmp_path, capsys):
    config = write_config(tmp_path, '[run]\nsmtp_recipient = ["lead@example.org"]\n')
    err = config_error(tmp_path, capsys, "--config", str(config))
    assert f"{config}: unknown key 'run.smtp_recipient' (did you mean 'smtp_recipients'?)" in err


def test_unknown_section_suggests_the_nearest(tmp_path, capsys):
    config = write_config(tmp_path, "[rnu]\ndb = 'x.duckdb'\n")
    err = config_error(tmp_path, capsys, "--config", str(config))
    assert "unknown section 'rnu' (did you mean 'run'?)" in err


@pytest.mark.parametrize(
    ("key", "toml_value"),
    [
        ("smtp_sender", '"audit@example.org\\r\\nBcc: everyone@example.org"'),
        ("smtp_sender", '"audit@example.org\\nBcc: everyone@example.org"'),
        ("smtp_recipients", '["lead@example.org", "x@example.org\\r\\nBcc: y@example.org"]'),
        ("clinic_name", '"Riverside\\r\\nBcc: y@example.org"'),
    ],
)
def test_a_line_break_in_an_email_header_value_is_refused(tmp_path, capsys, key, toml_value):
    config = write_config(tmp_path, f"[run]\n{key} = {toml_value}\n")
    err = config_error(tmp_path, capsys, "--config", str(config))
    assert f"{config}: setting '{key}'" in err and "line break" in err


def test_a_line_break_from_the_environment_is_refused_too(tmp_path, capsys):
    env = {"CLINIC_AUDIT_SMTP_RECIPIENTS": "lead@example.org,x@example.org\rBcc: y@example.org"}
    err = config_error(tmp_path, capsys, env=env)
    assert "environment CLINIC_AUDIT_SMTP_RECIPIENTS: setting 'smtp_recipients'" in err


@pytest.mark.parametrize(
    ("key", "toml_value"),
    [
        ("smtp_recipients", '["lead@example.org", "lead@[10.0.0.1"]'),  # AttributeError in the To header
        ("smtp_recipients", '["lead@"]'),  # IndexError
        ("smtp_recipients", '["lead"]'),
        ("smtp_recipients", '["a@example.org, b@example.org"]'),  # two in one item
        ("smtp_sender", '"audit@[10.0.0.1"'),
    ],
)
def test_an_address_the_email_package_cannot_read_is_refused(tmp_path, capsys, key, toml_value):
    """Found only when the email was built: exit 1 after the commit, or a failed night's exit 3 and
    failure email replaced by an internal error."""
    config = write_config(tmp_path, f"[run]\n{key} = {toml_value}\n")
    err = config_error(tmp_path, capsys, "--config", str(config), "--email-dry-run")
    assert f"{config}: setting '{key}'" in err and "not an email address" in err
    assert "internal error" not in err


def test_out_naming_a_file_is_refused_before_the_run(tmp_path, capsys):
    target = tmp_path / "report.html"
    target.write_text("not a folder", encoding="utf-8")
    args = run_args(tmp_path, SAMPLE_EXPORT)
    args[args.index("--out") + 1] = str(target)
    assert cli(*args) == 2
    err = capsys.readouterr().err
    assert f"option --out: setting 'out' names a file, {target}" in err
    assert not (tmp_path / "audit.duckdb").exists()
    assert target.read_text(encoding="utf-8") == "not a folder"


def test_an_unknown_format_suggests_the_nearest(tmp_path, capsys):
    err = config_error(tmp_path, capsys, "--format", "synthee")
    assert "'--format'" in err and "did you mean 'synthea'" in err
    config = write_config(tmp_path, '[run]\nexport_format = "fihr"\n')
    err = config_error(tmp_path, capsys, "--config", str(config))
    assert f"{config}: setting 'export_format'" in err and "did you mean 'fhir'" in err


@pytest.mark.parametrize("value", ["lots", "3", "10MB", "120%"])
def test_a_bad_memory_limit_stops_before_anything_is_opened(tmp_path, capsys, value):
    err = config_error(tmp_path, capsys, env={"CLINIC_AUDIT_MEMORY_LIMIT": value})
    assert "environment CLINIC_AUDIT_MEMORY_LIMIT: setting 'memory_limit'" in err


def test_out_as_a_symbolic_link_to_nothing_is_refused_before_the_run(tmp_path, capsys):
    """It passed the checks, the run committed, and only then could no folder be made there (exit 8)."""
    link = tmp_path / "out-link"
    link.symlink_to(tmp_path / "gone")
    args = run_args(tmp_path, SAMPLE_EXPORT)
    args[args.index("--out") + 1] = str(link)
    assert cli(*args) == 2
    assert (
        f"setting 'out' is a symbolic link that leads to no folder (to nothing, or round a loop), {link}"
        in (capsys.readouterr().err)
    )
    assert not (tmp_path / "audit.duckdb").exists()
