"""`clinic-audit init`: the generated config holds every setting and parameter at its default."""

from __future__ import annotations

import tomllib
from dataclasses import fields, replace

from checks.evaluate import all_checks
from pipelines.init_config import config_text
from pipelines.settings import SETTING_HELP, Settings, load_settings
from tests.helpers import cli


def test_every_setting_has_help():
    assert set(SETTING_HELP) == {f.name for f in fields(Settings)}


def test_generated_config_loads_back_as_the_defaults(tmp_path):
    path = tmp_path / "clinic-audit.toml"
    assert cli("init", str(path)) == 0
    loaded = load_settings(path, {}, {})
    assert replace(loaded, check_params={}) == Settings()
    defaults = {c.id: {p.name: p.default for p in c.parameters} for c in all_checks() if c.parameters}
    assert loaded.check_params == defaults


def test_every_setting_and_parameter_is_written_with_a_comment():
    text = config_text()
    data = tomllib.loads(text)
    written = set(data["run"]) | {"as_of", "local_codelists", "log_file"}  # no default: commented out
    assert written == {f.name for f in fields(Settings)} - {"check_params"}
    assert "# as_of = " in text and "# local_codelists = " in text and "# log_file = " in text
    for check in all_checks():
        for p in check.parameters:
            assert data["checks"][check.id][p.name] == p.default
            assert p.description in text
    for help_text in SETTING_HELP.values():
        assert help_text in text


def test_init_refuses_to_overwrite_without_force(tmp_path, capsys):
    path = tmp_path / "c.toml"
    path.write_text("# mine\n")
    assert cli("init", str(path)) == 2
    assert "--force" in capsys.readouterr().err and path.read_text() == "# mine\n"
    assert cli("init", str(path), "--force") == 0
    assert path.read_text() == config_text()
