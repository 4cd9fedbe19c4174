"""Spark's Java process ending mid-run (killed by an operator or the kernel's out-of-memory killer,
crashed, a cluster gone) is its own failure: one line saying Spark stopped, exit 9, the database
unchanged. Before, the Python side's "Connection refused" read as a file the tool could not use
(exit 6: "cannot use this file or folder"), sending the reader to check files and permissions.

Real processes: the CLI in a process of its own with engine = spark, and its JVM killed with
SIGKILL while the checks run on it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.errors import EXIT_ENGINE
from tests.conftest import ROOT, SAMPLE_EXPORT
from tests.helpers import cli, run_args, start_cli, table_counts
from tests.spark.engine import TEST_MASTER, skip_without_spark


def _children(pid: int) -> list[int]:
    """Every process below `pid` (Linux /proc), nearest first."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in parents.get(queue.pop(0), []):
            found.append(child)
            queue.append(child)
    return found


def _java_below(pid: int) -> list[int]:
    """The Java processes started by the process `pid` (Spark's JVM), not another test's."""
    java = []
    for child in _children(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        if command.endswith(b"java"):
            java.append(child)
    return java


@pytest.mark.slow
def test_spark_killed_mid_run_is_one_line_exit_9_and_the_database_unchanged(tmp_path: Path) -> None:
    skip_without_spark()
    if not Path("/proc/self/stat").exists():
        pytest.skip("finding the JVM's process needs Linux /proc")
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == 0  # a first night, on DuckDB
    before = table_counts(tmp_path / "audit.duckdb")
    config = tmp_path / "spark.toml"
    config.write_text(f'[run]\nengine = "spark"\nspark_master = "{TEST_MASTER}"\n', encoding="utf-8")
    victim = start_cli("--verbose", *run_args(tmp_path, SAMPLE_EXPORT, "--config", str(config)))
    seen = []
    for line in victim.stderr:  # wait until the checks run on Spark
        seen.append(line)
        if "spark: codelist published" in line:
            break
    assert victim.poll() is None, "".join(seen[-20:])
    jvm = _java_below(victim.pid)
    assert jvm, "no Java process under the run"
    time.sleep(1)
    for pid in jvm:
        os.kill(pid, signal.SIGKILL)
    rest = victim.stderr.read()
    code = victim.wait(timeout=120)
    assert code == EXIT_ENGINE, rest[-3000:]
    assert "Traceback" not in rest
    last = rest.strip().splitlines()[-1]
    assert last.startswith("clinic-audit: error: Spark stopped during the run"), last
    assert "cannot use this file" not in last
    assert table_counts(tmp_path / "audit.duckdb") == before


# In a process of its own (this one's Spark is shared by the other tests): Py4J's error for an answer
# that never came, raised as Py4J raises it (`get_return_value` of a bare error response), with
# Spark's JVM alive, then killed.
NO_ANSWER = """
import os, signal, sys
from py4j.protocol import ERROR, Py4JError, get_return_value
from pyspark import SparkContext
from pipelines.engines.spark import _spark_guard, session
from pipelines.errors import EngineError
from tests.spark.test_spark_process_dies import _java_below

session("local[1]")


def no_answer():
    try:
        with _spark_guard():
            get_return_value(ERROR, SparkContext._gateway._gateway_client, "o42", "sql")
    except (EngineError, Py4JError) as error:
        return type(error).__name__


print("alive:", no_answer())
for pid in _java_below(os.getpid()):
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
print("gone:", no_answer())
"""


@pytest.mark.slow
def test_py4js_bare_error_for_an_answer_that_never_came_is_exit_9_once_the_jvm_is_gone() -> None:
    # Py4J retries a command it could not send, not one whose answer broke off: then it raises a bare
    # "An error occurred while calling o42.sql", which said nothing of Spark having stopped (exit 1).
    # With the JVM alive the same error is a bug's, and stays as it is.
    skip_without_spark()
    if not Path("/proc/self/stat").exists():
        pytest.skip("finding the JVM's process needs Linux /proc")
    done = subprocess.run(
        [sys.executable, "-c", NO_ANSWER], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.stdout.splitlines() == ["alive: Py4JError", "gone: EngineError"], done.stderr[-3000:]
