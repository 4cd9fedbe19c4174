"""A database in a folder whose name has a character Hadoop reads as a glob ('[', ']', '{', '}',
'*', '?') runs on Spark as on DuckDB. The data reaches a local Spark as Parquet files beside the
database, and spark.read.parquet() expands a path with those characters as a pattern:
'clinic [2026]' matched no folder (PATH_NOT_FOUND) or listed a sibling named with a colon, and the run
ended as an internal error (exit 1) on Spark only. A database named so ('audit [1].duckdb') also kept
the staged copy a killed run left: the next run's pattern for it did not match its name."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from pipelines.run import execute_run
from pipelines.settings import Settings
from tests.conftest import SAMPLE_EXPORT

NOW = datetime(2026, 11, 24, 3, 0)


@pytest.mark.parametrize("folder", ["clinic [2026]", "site {a,b}"])
def test_a_database_folder_with_glob_characters_runs_on_spark(
    tmp_path: Path, spark_session, folder: str
) -> None:
    (tmp_path / "colon:sibling").mkdir()  # a folder a glob of tmp_path would list and fail on
    left = tmp_path / folder / ".audit [1].duckdb.spark-k1ll3d_x"  # what a killed run left behind
    left.mkdir(parents=True)
    settings = Settings(
        exports=SAMPLE_EXPORT,
        out=tmp_path / folder / "out",
        db=tmp_path / folder / "audit [1].duckdb",
        as_of=date(2026, 11, 20),
        checks=("cramps_cirrhosis",),
        measures_months=0,
        engine="spark",
    )
    outcome = execute_run(settings, NOW)
    assert outcome.status == "succeeded"
    assert [c.flagged for c in outcome.checks] == [8]  # as on DuckDB (the sample clinic)
    assert not [p for p in (tmp_path / folder).iterdir() if ".spark-" in p.name]  # staged copies gone
