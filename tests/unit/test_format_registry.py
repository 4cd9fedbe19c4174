"""The format registry (pipelines/formats) is the one list of export formats: the CLI's --format
choices and the export_format setting's values come from it, not from a hand-kept list."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipelines import formats
from pipelines.settings import ConfigError, load_settings
from tests.helpers import cli


def test_names_are_the_profiles_found_without_importing_them():
    assert formats.names() == ("fhir", "generic", "mimic", "omop", "synthea")
    assert formats.names() == tuple(sorted(formats.profiles()))
    for name, module in formats.profiles().items():
        assert module.__name__ == f"pipelines.formats.{name}"  # NAME is the module's name


def test_cli_lists_every_format_and_imports_no_profile_to_do_so():
    code = (
        "import sys, pipelines.cli; "
        "print(sorted(m for m in sys.modules if m.startswith('pipelines.formats.') or m == 'duckdb'))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_run_help_lists_the_registry(capsys):
    assert cli("run", "--help") == 0
    listed = capsys.readouterr().out
    assert f"[{'|'.join(('auto', *formats.names()))}]" in "".join(listed.split())


def test_an_unknown_format_is_a_usage_error_naming_the_choices(tmp_path, capsys):
    assert cli("run", "--exports", str(tmp_path), "--format", "csv", "--db", str(tmp_path / "a.duckdb")) == 2
    assert (
        "'csv' is not one of 'auto', 'fhir', 'generic', 'mimic', 'omop', 'synthea'" in capsys.readouterr().err
    )


@pytest.mark.parametrize("value", ["auto", "omop", " mimic "])
def test_the_setting_takes_auto_or_a_profile(value):
    settings = load_settings(None, {"CLINIC_AUDIT_EXPORT_FORMAT": value}, {})
    assert settings.export_format == value.strip()


def test_the_setting_refuses_another_name(tmp_path):
    config = tmp_path / "audit.toml"
    config.write_text('[run]\nexport_format = "OMOP-CDM"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"export_format.*expected auto or one of fhir, generic, mimic"):
        load_settings(config, {}, {})
