"""Checks are found by what a module holds (a `CHECK` that is a CheckDefinition), not by a list of
module names to skip: a new helper module in checks/ never breaks all_checks()."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import checks
from checks.evaluate import SQL_DIR, all_checks
from checks.framework import CheckDefinition


@pytest.fixture()
def extra_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A second folder on the checks package's path, for modules a test writes; caches cleared."""
    monkeypatch.setattr(checks, "__path__", [*checks.__path__, str(tmp_path)])
    all_checks.cache_clear()
    yield tmp_path
    all_checks.cache_clear()
    for name in [m for m in sys.modules if m.startswith("checks.m16_")]:
        del sys.modules[name]


def test_every_check_has_its_sql_and_nothing_else_is_a_check():
    found = {c.id for c in all_checks()}
    assert found == {p.stem for p in SQL_DIR.glob("*.sql") if not p.stem.startswith("_")}
    assert {"framework", "evaluate", "measures", "translate"}.isdisjoint(found)


def test_a_helper_module_without_a_check_is_not_one(extra_modules):
    before = all_checks()
    all_checks.cache_clear()
    (extra_modules / "m16_helper.py").write_text("CHECK = 'not a definition'\nVALUE = 1\n", encoding="utf-8")
    (extra_modules / "m16_words.py").write_text("import datetime\n", encoding="utf-8")
    assert all_checks() == before


def test_a_module_with_a_definition_is_a_check(extra_modules):
    (extra_modules / "m16_new_check.py").write_text(
        "from checks.framework import CheckDefinition\n"
        "CHECK = CheckDefinition(id='m16_new_check', title='t', guideline=('g',), population='p', "
        "flag='f', windows='w', priority='p', evidence=(), codelists=())\n",
        encoding="utf-8",
    )
    found = {c.id: c for c in all_checks()}
    assert isinstance(found.get("m16_new_check"), CheckDefinition)


def test_a_check_named_twice_is_selected_once_in_the_order_asked():
    """`--checks x,y,x`: x is evaluated once; twice stored its findings and results twice."""
    from checks.evaluate import select_checks

    ids = [c.id for c in select_checks(["cramps_cirrhosis", "nsaid_kidney_disease", "cramps_cirrhosis"])]
    assert ids == ["cramps_cirrhosis", "nsaid_kidney_disease"]


def test_the_settings_record_a_check_named_twice_once():
    """The run record's settings say what ran: `--checks x,x` is x."""
    from pipelines.settings import load_settings

    settings = load_settings(None, {}, {"checks": "cramps_cirrhosis,cramps_cirrhosis, nsaid_kidney_disease"})
    assert settings.checks == ("cramps_cirrhosis", "nsaid_kidney_disease")
