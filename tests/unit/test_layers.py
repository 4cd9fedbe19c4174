"""Layers point one way: pipelines -> checks, reports. The linter holds it (checks/ruff.toml,
reports/ruff.toml ban the upward imports); these tests run ruff so CI holds it too."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.conftest import ROOT

RUFF = [sys.executable, "-m", "ruff"]


def _ruff_on(path: str, source: str, rule: str = "TID251") -> str:
    """ruff's findings for `source` as if it were the file at `path` (its directory's config applies)."""
    done = subprocess.run(
        [*RUFF, "check", "--select", rule, "--stdin-filename", path, "-"],
        input=source, capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    return done.stdout


@pytest.mark.parametrize(
    ("path", "source", "banned"),
    [
        ("reports/probe.py", "import pipelines.errors\n", True),
        ("reports/probe.py", "from pipelines.settings import Settings\n", True),
        ("checks/probe.py", "from pipelines.db import connect\n", True),
        ("checks/probe.py", "from reports.render import write_reports\n", True),
        ("reports/probe.py", "from checks.framework import CheckDefinition\n", False),
        ("reports/probe.py", "from reports.worklists import write_csv\n", False),
        ("pipelines/probe.py", "from reports.render import write_reports\n", False),
    ],
)
def test_upward_imports_are_banned(path, source, banned):
    assert ("TID251" in _ruff_on(path, source)) is banned


@pytest.mark.parametrize(
    ("path", "source", "banned"),
    [
        ("pipelines/cli.py", "import duckdb\n", True),
        ("pipelines/cli.py", "import pandas as pd\n", True),
        ("pipelines/cli.py", "from pandera import Check\n", True),
        ("pipelines/cli.py", "def run():\n    import duckdb\n", False),  # inside a command: fine
        ("pipelines/db.py", "import duckdb\n", False),
    ],
)
def test_the_cli_imports_no_heavy_module_at_module_level(path, source, banned):
    """`--help` and configuration errors answer at once: duckdb, pandas and pandera load in commands."""
    assert ("TID253" in _ruff_on(path, source, "TID253")) is banned


def test_the_tree_is_ruff_clean():
    done = subprocess.run([*RUFF, "check", "."], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stdout


def _import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (at module level or inside functions)."""
    files = {}
    for package in ("pipelines", "checks", "reports"):
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            files[name] = path
    graph = {}
    for name, path in files.items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
            elif isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
        graph[name] = {target for target in imported if target in files and target != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None."""
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target, [*path, target])):
                return found
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module, [module])):
            return found
    return None


def test_the_import_graph_has_no_cycle_and_no_upward_arrow():
    graph = _import_graph()
    assert len(graph) > 30 and "pipelines.run" in graph["pipelines.cli"]  # the graph is really read
    assert _cycle(graph) is None, _cycle(graph)
    upward = [
        (m, t)
        for m, targets in graph.items()
        for t in targets
        if m.split(".")[0] != "pipelines" and t.startswith("pipelines")
    ]
    assert upward == []
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]  # the finder finds one
