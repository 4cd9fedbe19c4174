"""Shared fixtures. Tests run the real pipeline on real DuckDB files in tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_EXPORT = ROOT / "sample_data" / "clinic_export"
SHARED = ROOT.parent / "shared"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked `longest` run first: each takes minutes (the Spark spec slice a quarter of an
    hour), and one started last keeps its worker busy after the other is done (CI's budget for the
    whole command is 5400 s). With `--dist worksteal` (pyproject) the other worker takes what was
    queued behind them."""
    items.sort(key=lambda item: item.get_closest_marker("longest") is None)


@pytest.fixture
def sample_export() -> Path:
    """The bundled synthetic clinic export."""
    return SAMPLE_EXPORT


def shared_file(*parts: str) -> Path:
    """A file from ../shared (the clinical reference, real-format samples). A user's clone has no
    ../shared, so a test needing one skips there, with the reason; CI has it, so there (CI set) a
    missing file fails the test instead of skipping it silently."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing (CI runs with ../shared beside the clone)")
        pytest.skip(f"{path} is not here (../shared is beside CI's clone, not a user's)")
    return path


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--engine spark`: the tests that run the pipeline through tests/helpers.py (every spec test)
    evaluate the checks on Spark (tests/spark/engine.py); one spec suite for every engine."""
    parser.addoption("--engine", choices=("duckdb", "spark"), default="duckdb", help="engine of the checks")
    parser.addoption(
        "--spark-conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Spark setting for the test session, over tests/spark/engine.py's TEST_CONFIG (repeatable)",
    )


@pytest.fixture(autouse=True)
def _engine_under_test(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.config.getoption("--engine") == "spark":
        from tests.spark.engine import on_spark

        monkeypatch.setattr("tests.helpers.execute_run", on_spark(request.getfixturevalue("spark_session")))


@pytest.fixture(scope="session")
def spark_session(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """One local SparkSession for the test session (tests/spark/engine.py); skips without pyspark/Java."""
    from tests.spark.engine import start_session

    extra = dict(item.partition("=")[::2] for item in request.config.getoption("--spark-conf"))
    return start_session(str(tmp_path_factory.mktemp("spark-warehouse")), extra)
