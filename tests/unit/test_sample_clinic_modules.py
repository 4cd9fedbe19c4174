"""The sample generator's oracle stays independent: it may not share code with the writer or checks/."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

CLINIC = Path(__file__).resolve().parents[2] / "sample_data" / "clinic"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, relative ones written with their leading dots."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
    return found


@pytest.mark.parametrize("module", ["oracle_read", "oracle"])
def test_oracle_imports_only_the_standard_library_and_its_own_modules(module):
    local = {".shared", ".oracle_read"}
    for name in imported_modules(CLINIC / f"{module}.py"):
        top = name.split(".")[0]
        assert name in local or top in sys.stdlib_module_names or top == "__future__", (module, name)


@pytest.mark.parametrize("module", ["oracle_read", "oracle"])
def test_oracle_reads_no_check_sql_or_codelists(module):
    text = (CLINIC / f"{module}.py").read_text(encoding="utf-8")
    assert "codelists" not in text and ".sql" not in text


def test_every_role_has_its_module():
    assert {p.stem for p in CLINIC.glob("*.py")} >= {
        "shared", "events", "scenarios", "background", "export", "oracle_read", "oracle",
    }  # fmt: skip
