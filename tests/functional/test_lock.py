"""One process per database: a second run fails at once with exit code 5, or waits with --wait."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.errors import EXIT_LOCKED
from pipelines.lock import database_lock, lock_path
from tests.conftest import ROOT, SAMPLE_EXPORT
from tests.helpers import clean_env, cli, run_args, table_counts

REPEATS = 40  # labs.csv copies: enough rows to keep the first run busy for a few seconds


@pytest.fixture(scope="module")
def big_export(tmp_path_factory) -> Path:
    """The sample export with labs.csv repeated, so a run takes long enough to overlap another."""
    folder = tmp_path_factory.mktemp("big")
    for name in ("patients.csv", "prescriptions.csv", "diagnoses.csv"):
        shutil.copy(SAMPLE_EXPORT / name, folder / name)
    header, *rows = (SAMPLE_EXPORT / "labs.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    body = "".join(rows)
    with (folder / "labs.csv").open("w", encoding="utf-8") as handle:
        handle.write(header)
        for _ in range(REPEATS):
            handle.write(body)
    return folder


def start(tmp: Path, export: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines", *run_args(tmp, export, "--reject-threshold", "1", *extra)],
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_count(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT count(*) FROM runs").fetchall()[0][0]


@pytest.mark.slow
def test_two_runs_started_at_once_one_exits_5_and_the_database_is_consistent(tmp_path, big_export):
    first, second = start(tmp_path, big_export), start(tmp_path, big_export)
    results = [(p.wait(timeout=300), *p.communicate()) for p in (first, second)]
    codes = sorted(code for code, _out, _err in results)
    assert codes == [0, EXIT_LOCKED], results
    locked_err = next(err for code, _out, err in results if code == EXIT_LOCKED)
    assert "in use by another clinic-audit process" in locked_err and "--wait" in locked_err
    assert "Traceback" not in locked_err
    db = tmp_path / "audit.duckdb"
    assert run_count(db) == 1
    with duckdb.connect(str(db), read_only=True) as con:
        loaded = con.execute("SELECT sum(rows_loaded) FROM run_files WHERE table_name = 'labs'").fetchall()
    assert table_counts(db)["labs"] == loaded[0][0]


@pytest.mark.slow
def test_wait_queues_behind_the_running_process(tmp_path, big_export):
    first = start(tmp_path, big_export)
    lock = lock_path(tmp_path / "audit.duckdb")
    deadline = time.monotonic() + 60
    while not (lock.exists() and lock.read_text().strip() == str(first.pid)):
        assert time.monotonic() < deadline and first.poll() is None, "first run never took the lock"
        time.sleep(0.05)
    second = start(tmp_path, big_export, "--wait", "--wait-timeout", "300")
    assert second.wait(timeout=300) == 0, second.communicate()
    assert first.wait(timeout=300) == 0, first.communicate()
    assert run_count(tmp_path / "audit.duckdb") == 2


def test_held_lock_fails_at_once_without_touching_the_database(tmp_path, capsys):
    db = tmp_path / "audit.duckdb"
    with database_lock(db):
        started = time.monotonic()
        assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == EXIT_LOCKED
        assert time.monotonic() - started < 5
    assert "in use by another clinic-audit process" in capsys.readouterr().err
    assert not db.exists()


def test_wait_timeout_gives_up_with_exit_5(tmp_path, capsys):
    db = tmp_path / "audit.duckdb"
    with database_lock(db):
        started = time.monotonic()
        assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--wait-timeout", "0.5")) == EXIT_LOCKED
        assert time.monotonic() - started >= 0.5
    assert "after waiting 0.5s" in capsys.readouterr().err
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--wait-timeout", "0.5")) == 0  # free again


def test_other_database_commands_respect_the_lock(tmp_path, capsys):
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == 0
    db = str(tmp_path / "audit.duckdb")
    with database_lock(tmp_path / "audit.duckdb"):
        assert cli("runs", "--db", db) == EXIT_LOCKED
        assert cli("prune", "--keep-runs", "1", "--db", db) == EXIT_LOCKED
        assert cli("report", "--db", db, "--out", str(tmp_path / "r")) == EXIT_LOCKED


@pytest.mark.parametrize("links", [1, 2], ids=["itself", "two links"])
def test_a_database_path_that_is_a_symlink_loop_is_exit_6(tmp_path, capsys, links):
    """Path.resolve raised RuntimeError finding the lock file beside the real file: exit 1."""
    from pipelines.errors import EXIT_STORAGE

    db = tmp_path / "audit.duckdb"
    if links == 1:
        db.symlink_to(db)
    else:
        db.symlink_to(tmp_path / "other")
        (tmp_path / "other").symlink_to(db)
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == EXIT_STORAGE == 6
    err = capsys.readouterr().err
    assert str(db) in err and "symlink loop" in err and "internal error" not in err
    assert cli("runs", "--db", str(db)) == EXIT_STORAGE


@pytest.mark.parametrize("seconds", ["nan", "inf", "-1"])
def test_a_wait_timeout_that_is_no_number_of_seconds_is_a_usage_error(tmp_path, capsys, seconds):
    """click's FloatRange lets 'nan' through (no comparison holds), and the lock's wait then failed as
    an internal error (exit 1); 'inf' is no timeout. Each is refused before anything is read."""
    args = run_args(tmp_path, tmp_path / "missing-export", "--wait-timeout", seconds)
    assert cli(*args) == 2
    assert "--wait-timeout" in capsys.readouterr().err
    assert not (tmp_path / "audit.duckdb").exists()


HOLD = """
import os, sys, time
from pathlib import Path
from pipelines.db import connect
os.umask(0o077)  # as the CLI sets it
con = connect(Path(sys.argv[1]))
print("open", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("restored", [False, True], ids=["new", "restored 0644"])
def test_duckdbs_own_lock_on_the_file_holds_while_the_tool_has_it_open(tmp_path, restored):
    """DuckDB's lock is a POSIX record lock: the kernel drops it when the process closes any descriptor
    of the file. Opening the file again to make it owner-only released it, so another program (or a
    run reaching the file by a hard link, which the tool's own lock file does not see) could open it
    read-write mid-run and write beside the run. A database restored by cp (0644) is made owner-only
    and still locked."""
    db = tmp_path / "audit.duckdb"
    if restored:
        duckdb.connect(str(db)).close()
        db.chmod(0o644)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db)], cwd=ROOT, env=clean_env(), stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(duckdb.IOException, match="lock"):
            duckdb.connect(str(db)).close()
        assert db.stat().st_mode & 0o777 == 0o600
    finally:
        holder.kill()
        holder.wait()
