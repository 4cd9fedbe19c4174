"""A process killed mid-load leaves the database as it was, and the next run succeeds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from tests.helpers import run_args, table_counts, write_export

pytestmark = pytest.mark.slow


def big_export(folder, rows: int) -> None:
    """A large labs.csv written by DuckDB itself, so the load takes seconds, not milliseconds."""
    write_export(folder, patients=[{"patient_id": "P1", "birth_date": "1950-01-01", "sex": "F"}])
    with duckdb.connect() as con:
        con.execute(
            f"""
            COPY (
                SELECT 'P' || (i % 50000) AS patient_id,
                       DATE '2025-01-01' + CAST(i % 600 AS INTEGER) AS collected_at,
                       '2823-3' AS loinc_code, 'Potassium' AS test_name,
                       round(3 + (i % 20) / 10, 1) AS value, 'mmol/L' AS unit
                FROM range({int(rows)}) t(i)
            ) TO '{folder / "labs.csv"}' (HEADER)
            """
        )


def start_run(tmp_path, export) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines", "--verbose", *run_args(tmp_path, export)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_kill_during_load_leaves_database_unchanged_and_rerun_succeeds(tmp_path):
    small = write_export(
        tmp_path / "night1",
        labs="patient_id,collected_at,loinc_code,test_name,value,unit\n"
        "P1,2026-01-02,2823-3,Potassium,4.1,mmol/L\n",
    )
    first = start_run(tmp_path, small)
    assert first.wait(timeout=120) == 0
    before = table_counts(tmp_path / "audit.duckdb")

    big = tmp_path / "night2"
    big_export(big, 3_000_000)
    victim = start_run(tmp_path, big)
    for line in victim.stderr:  # wait until the big file is being loaded, then kill hard
        if "loading labs.csv" in line:
            break
    time.sleep(0.5)
    assert victim.poll() is None, "the load finished before it could be interrupted"
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)

    assert table_counts(tmp_path / "audit.duckdb") == before
    rerun = start_run(tmp_path, big)
    assert rerun.wait(timeout=300) == 0
    after = table_counts(tmp_path / "audit.duckdb")
    assert after["labs"] > before["labs"]
    assert after["runs"] == before["runs"] + 1
