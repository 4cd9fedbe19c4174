"""The clinical spec suite (tests/spec) with the checks evaluated on Spark.

One spec suite for every engine, as ehrQL runs its spec tests against each backend: a scenario a
check is specified by must give the same flags on Spark as on DuckDB. It runs as a pytest of its
own (`pytest tests/spec --engine spark`), in a process of its own: the Spark engine's session and
settings stay out of this one.

The test command runs a fixed slice (SLICE): each check's scenario table and the engines' edges,
11 of the suite's scenarios. The whole suite on Spark takes about an hour on two cores, as long as
the rest of the test command together (each check costs Spark some 10-20 s of planning and running,
whatever the data's size). Beside it, tests/spark/test_same_findings.py compares every check's
findings on both engines over whole exports, the death and deregistration exclusions every check
shares among them (its FHIR nights have both, its sample clinic deaths on, before and with no
date). `SPARK_SPEC=all` runs every scenario, as before a release or after a change to
checks/translate.py or checks/sql/spark/.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.spark.engine import skip_without_spark

ROOT = Path(__file__).resolve().parents[2]
SLICE = "test_flags_exactly_the_expected_patients or test_engine_edges"


@pytest.mark.slow
@pytest.mark.longest
def test_the_spec_scenarios_pass_with_the_checks_on_spark(tmp_path: Path) -> None:
    skip_without_spark()
    pytest_spec = [sys.executable, "-m", "pytest", "tests/spec", "-q", "-p", "no:cacheprovider"]
    if os.environ.get("SPARK_SPEC") != "all":
        pytest_spec += ["-k", SLICE]
    # two workers, a Spark session each: this test is the suite's longest, and it runs first
    # (tests/conftest.py), so two workers let it use a core the rest of the suite leaves free
    two_workers = [*pytest_spec, "-n", "2"]
    # adaptive execution is off, a local master's default (pipelines/engines/spark.py); one
    # comparison in test_same_findings.py turns it on, as a cluster runs
    on_spark = subprocess.run(
        [*two_workers, "--engine", "spark", f"--basetemp={tmp_path / 'spark'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=5000,  # within CI's 5400 s for the whole suite, which this test starts
    )
    assert on_spark.returncode == 0, on_spark.stdout[-4000:]
    collected = subprocess.run(
        [*pytest_spec, "-n", "0", "--collect-only"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    # "263 tests collected", or with the slice "53/263 tests collected (210 deselected)"
    total = int(re.search(r"(\d+)(?:/\d+)? tests? collected", collected.stdout).group(1))
    # a spec file renamed away from the slice would drop out of it silently: each term selects tests
    ids = [line for line in collected.stdout.splitlines() if "::" in line]
    assert all(any(term in i for i in ids) for term in SLICE.split(" or ")), (SLICE, len(ids))
    # A known gap is a strict xfail in the spec suite: it must fail the same way on Spark (an XPASS
    # fails the run above), and it is the only thing besides a pass the summary may hold.
    known_gaps = subprocess.run(
        [*pytest_spec, "-n", "0", "--collect-only", "-m", "xfail"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    marked = re.search(r"(\d+)/\d+ tests? collected", known_gaps.stdout)
    gaps = int(marked.group(1)) if marked else 0
    summary = on_spark.stdout.strip().splitlines()[-1]
    expected = f"{total - gaps} passed" + (f", {gaps} xfailed" if gaps else "")
    assert re.match(rf"{expected} in ", summary), (expected, summary)
