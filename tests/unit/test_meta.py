"""Meta-tests: every check is fully specified and tested; every command is documented."""

from __future__ import annotations

import re

import click
import pytest

from checks.evaluate import CODELIST_DIR, all_checks
from pipelines.cli import cli
from tests.conftest import ROOT, shared_file

CHECKS = all_checks()


@pytest.mark.parametrize("check", CHECKS, ids=[c.id for c in CHECKS])
def test_check_has_spec_test_rationale_and_codelists(check):
    assert (ROOT / "tests" / "spec" / f"test_{check.id}.py").exists(), "every check needs a spec test"
    for text in (check.title, check.population, check.flag, check.windows, check.priority, check.rationale):
        assert len(text) > 10
    assert check.guideline, "every check names the guideline sentence it implements"


@pytest.mark.parametrize("check", CHECKS, ids=[c.id for c in CHECKS])
def test_check_quotes_the_guideline_verbatim(check):
    guideline = shared_file("reference", "cramps_numbness_guideline.txt").read_text(encoding="utf-8")
    assert all(g in guideline for g in check.guideline), "quote the guideline verbatim"
    for name in check.codelists:
        assert (CODELIST_DIR / f"{name}.csv").exists(), name
    sql = check.sql
    for parameter in check.parameters:
        assert f"${parameter.name}" in sql, f"parameter {parameter.name} is not used by the SQL"
        assert parameter.unit and parameter.description
    assert "$as_of" in sql
    assert not re.search(r"\{[a-z_]+\}", sql), "no string formatting in check SQL"


def test_guideline_reference_is_available():
    guideline = shared_file("reference", "cramps_numbness_guideline.txt").read_text(encoding="utf-8")
    assert "Management of Cramps and Numbness" in guideline


def test_check_ids_are_unique_and_match_modules():
    ids = [c.id for c in CHECKS]
    assert len(ids) == len(set(ids))
    for check_id in ids:
        assert (ROOT / "checks" / f"{check_id}.py").exists()


def commands(group: click.Group):
    for name, command in group.commands.items():
        yield name, command
        if isinstance(command, click.Group):
            yield from commands(command)


@pytest.mark.parametrize("name", sorted(dict(commands(cli))))
def test_every_command_has_help_with_an_example(name):
    command = dict(commands(cli))[name]
    assert command.help and "Example:" in command.help, f"clinic-audit {name} needs help with an Example:"


def test_every_command_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in dict(commands(cli)):
        assert f"clinic-audit {name}" in readme, name


def test_readme_test_command_is_what_ci_runs():
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    command = next(line for line in ci_lines if "pytest" in line)
    assert command in (ROOT / "README.md").read_text(encoding="utf-8")
