"""Spark that cannot start: one line naming spark_master and exit 2, never a Java or Python traceback.

Each case runs the CLI in a process of its own: Spark keeps one SparkContext per process, so a bad
master cannot be tried in the test session's.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_EXPORT
from tests.spark.engine import skip_without_spark

ROOT = Path(__file__).resolve().parents[2]


def _run_with_master(tmp: Path, master: str) -> subprocess.CompletedProcess[str]:
    config = tmp / "audit.toml"
    config.write_text(f'[run]\nengine = "spark"\nspark_master = "{master}"\n', encoding="utf-8")
    command = [sys.executable, "-m", "pipelines", "run", "--config", str(config)]
    command += ["--exports", str(SAMPLE_EXPORT), "--out", str(tmp / "out"), "--db", str(tmp / "a.duckdb")]
    command += ["--as-of", "2026-11-20", "--ad-hoc"]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("master", ["bogus://nowhere", "local[x]"])
def test_a_spark_that_cannot_start_is_one_line_and_exit_2(tmp_path: Path, master: str) -> None:
    """`bogus://` is refused before Java starts (spark-submit's own rule: yarn, or spark*, k8s*,
    local*); `local[x]` passes it and fails in the SparkContext: both are exit 2, one line."""
    skip_without_spark()
    done = _run_with_master(tmp_path, master)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "\tat " not in done.stderr, done.stderr[-2000:]
    assert "Exception" not in done.stderr, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "spark_master" in errors[0] and master in errors[0], done.stderr
