"""Issue #17, process faults: signals mid-run, another program's DuckDB session on the database,
the analysts' copy, and no outbound network (DuckDB's extension downloads off).

Real processes throughout: the CLI as `python -m pipelines`, and a second Python process holding a
DuckDB session open the way an analyst's notebook does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.db import OFFLINE, analyst_copy_path, connect
from pipelines.errors import EXIT_LOCKED, EXIT_SIGINT, EXIT_SIGTERM, EXIT_STORAGE
from tests.conftest import ROOT, SAMPLE_EXPORT
from tests.functional.test_faults_storage import big_labs_export, one_error_line
from tests.helpers import clean_env, cli, run_args, start_cli, table_counts

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(con.execute("SELECT count(*) FROM runs").fetchall()[0][0], flush=True)
time.sleep(float(sys.argv[2]))
print(con.execute("SELECT count(*) FROM runs").fetchall()[0][0], flush=True)
"""


def hold_open(db: Path, seconds: float) -> subprocess.Popen:
    """An analyst's read-only DuckDB session on `db` in another process, open for `seconds`."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip().isdigit()  # the session is open
    return holder


@pytest.fixture
def sample_run(tmp_path) -> Path:
    """tmp_path's database after one sample run."""
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == 0
    return tmp_path / "audit.duckdb"


# --- signals ------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, EXIT_SIGTERM), (signal.SIGINT, EXIT_SIGINT)])
def test_a_signal_mid_load_is_one_line_its_exit_code_and_the_database_unchanged(
    tmp_path, sample_run, signum, code
):
    before = table_counts(sample_run)
    copy_before = analyst_copy_path(sample_run).read_bytes()
    big = big_labs_export(tmp_path / "big", 3_000_000)
    args = run_args(tmp_path, big, "--reject-threshold", "1")
    victim = start_cli("--verbose", *args)
    for line in victim.stderr:  # wait until the big file is being loaded
        if "loading labs.csv" in line:
            break
    time.sleep(0.5)
    assert victim.poll() is None, "the run finished before it could be interrupted"
    victim.send_signal(signum)
    rest = victim.stderr.read()
    assert victim.wait(timeout=60) == code
    assert "Traceback" not in rest
    last = rest.strip().splitlines()[-1]
    assert last.startswith(f"clinic-audit: stopped by {signal.Signals(signum).name}"), rest
    assert table_counts(sample_run) == before
    assert analyst_copy_path(sample_run).read_bytes() == copy_before
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")]


def test_a_signal_while_waiting_for_the_lock_is_its_exit_code(tmp_path):
    from pipelines.lock import database_lock

    with database_lock(tmp_path / "audit.duckdb"):
        waiter = start_cli(*run_args(tmp_path, SAMPLE_EXPORT, "--wait"))
        time.sleep(3)  # started, and polling the lock
        assert waiter.poll() is None
        waiter.send_signal(signal.SIGTERM)
        assert waiter.wait(timeout=30) == EXIT_SIGTERM
    assert one_error_line(waiter.stderr.read()).startswith("clinic-audit: stopped by SIGTERM")
    assert not (tmp_path / "audit.duckdb").exists()


# --- another program's DuckDB session on the database -------------------------------------------


def test_a_session_open_on_the_database_is_exit_5_at_once_naming_the_analyst_copy(sample_run, capsys):
    holder = hold_open(sample_run, 60)
    try:
        started = time.monotonic()
        assert cli(*run_args(sample_run.parent, SAMPLE_EXPORT)) == EXIT_LOCKED
        assert time.monotonic() - started < 10
        line = one_error_line(capsys.readouterr().err)
        assert "open in another program" in line and "audit.analyst.duckdb" in line
        assert f"process {holder.pid}" in line
        assert cli("runs", "--db", str(sample_run)) == EXIT_LOCKED
    finally:
        holder.kill()
        holder.wait()
    assert table_counts(sample_run)["runs"] == 1


def test_with_wait_timeout_the_run_gives_up_with_exit_5(sample_run, capsys):
    holder = hold_open(sample_run, 60)
    try:
        started = time.monotonic()
        args = run_args(sample_run.parent, SAMPLE_EXPORT, "--wait-timeout", "1.5")
        assert cli(*args) == EXIT_LOCKED
        assert time.monotonic() - started >= 1.5
        assert "open in another program" in one_error_line(capsys.readouterr().err)
    finally:
        holder.kill()
        holder.wait()


def test_with_wait_the_run_goes_ahead_once_the_session_closes(sample_run):
    holder = hold_open(sample_run, 2)
    args = run_args(sample_run.parent, SAMPLE_EXPORT, "--wait-timeout", "120")
    assert cli(*args) == 0
    assert holder.wait(timeout=30) == 0
    assert table_counts(sample_run)["runs"] == 2


def test_a_session_on_the_analyst_copy_never_blocks_the_run(sample_run):
    copy = analyst_copy_path(sample_run)
    assert copy.name == "audit.analyst.duckdb" and copy.parent == sample_run.parent
    assert table_counts(copy) == table_counts(sample_run)
    holder = hold_open(copy, 8)
    assert cli(*run_args(sample_run.parent, SAMPLE_EXPORT)) == 0  # no wait asked: none needed
    out, _ = holder.communicate(timeout=30)
    assert holder.returncode == 0 and out.strip() == "1"  # the analyst kept last night's copy
    assert table_counts(copy)["runs"] == 2  # and the next session sees tonight's
    assert not copy.is_symlink() and oct(copy.stat().st_mode & 0o777) == "0o600"


def test_prune_republishes_the_analyst_copy(sample_run):
    assert cli(*run_args(sample_run.parent, SAMPLE_EXPORT)) == 0
    assert cli("prune", "--keep-runs", "1", "--db", str(sample_run)) == 0
    with duckdb.connect(str(analyst_copy_path(sample_run)), read_only=True) as con:
        pruned = con.execute("SELECT count(*) FROM run_files GROUP BY run_id").fetchall()
    assert len(pruned) == 1


# --- no outbound network ------------------------------------------------------------------------


def test_every_connection_has_extension_downloads_off(tmp_path):
    con = connect(tmp_path / "audit.duckdb")
    try:
        settings = con.execute(
            "SELECT current_setting('autoinstall_known_extensions'), "
            "current_setting('autoload_known_extensions')"
        ).fetchall()
    finally:
        con.close()
    assert settings == [(False, False)]
    assert OFFLINE == {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


def test_the_python_code_opens_duckdb_only_through_the_offline_helper():
    """A new duckdb.connect( elsewhere in the product would bypass OFFLINE."""
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("pipelines", "checks", "reports")
        for path in (ROOT / package).rglob("*.py")
        if "duckdb.connect(" in path.read_text(encoding="utf-8") and path != ROOT / "pipelines" / "db.py"
    ]
    assert offenders == []


def test_the_extensions_a_run_uses_are_built_in(tmp_path):
    """json (FHIR), parquet, icu: statically linked in the duckdb wheel, so nothing is downloaded."""
    with duckdb.connect(config=OFFLINE) as con:
        modes = dict(con.execute("SELECT extension_name, install_mode FROM duckdb_extensions()").fetchall())
    for name in ("json", "parquet", "icu", "core_functions"):
        assert modes[name] == "STATICALLY_LINKED", name


def test_a_sqlite_database_asks_for_no_download(tmp_path):
    """DuckDB would fetch sqlite_scanner into ~/.duckdb to read it; with downloads off it is just not a
    DuckDB file, and nothing is fetched or written under HOME."""
    import sqlite3

    db = tmp_path / "audit.duckdb"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE t (a)")
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "pipelines", *run_args(tmp_path, SAMPLE_EXPORT)],
        cwd=ROOT,
        env=clean_env(HOME=str(home)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == EXIT_STORAGE
    assert "not a DuckDB database" in one_error_line(done.stderr)
    assert list(home.iterdir()) == []


def test_sigterm_while_copying_for_the_analysts_says_the_run_committed(tmp_path, monkeypatch, capsys):
    """A SIGTERM that lands after the commit and the outputs, while the analysts' copy is written:
    exit 143, and the message says the run committed with its outputs in place. The report is not
    marked stale and no "did not complete" email is written: the run did complete."""
    import os

    import pipelines.db

    def stopped(db: Path) -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # a real signal, at the moment the copy starts
        time.sleep(5)

    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--scheduled")) == 0
    capsys.readouterr()
    monkeypatch.setattr(pipelines.db, "publish_analyst_copy", stopped)
    args = run_args(tmp_path, SAMPLE_EXPORT, "--scheduled", "--email-dry-run")
    assert cli(*args) == EXIT_SIGTERM
    err = capsys.readouterr().err
    assert "the run committed and its outputs are in place" in err and "Traceback" not in err
    out = tmp_path / "out"
    assert "stale-notice" not in (out / "report.html").read_text(encoding="utf-8")
    assert not [p for p in out.rglob("*.eml") if "did not complete" in p.read_text(errors="replace")]
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM runs WHERE outputs_at IS NOT NULL").fetchall() == [(2,)]


def test_sigterm_while_writing_the_outputs_says_the_run_committed_and_sends_no_failure_email(
    tmp_path, monkeypatch, capsys
):
    """Found by fault injection (round 8): a SIGTERM after the commit, while the outputs were being
    written, sent "tonight's audit did not complete ... left the database unchanged". The run is
    committed: exit 143, a message saying so and naming `clinic-audit report --run <id>`, no failure
    email, and the report keeps only the notice the run put on it before its transaction."""
    import pipelines.run

    def stopped(*_: object, **__: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # a real signal, as the outputs are about to be written
        time.sleep(5)

    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--scheduled")) == 0
    capsys.readouterr()
    monkeypatch.setattr(pipelines.run, "write_outputs", stopped)
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--scheduled", "--email-dry-run")) == EXIT_SIGTERM
    err = capsys.readouterr().err
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        [(run_id, status)] = con.execute(
            "SELECT run_id, status FROM runs ORDER BY seq DESC LIMIT 1"
        ).fetchall()
    assert status == "succeeded" and f"clinic-audit report --run {run_id}" in err, err
    assert "may be incomplete" in err and "left the database unchanged" not in err and "Traceback" not in err
    assert "The run committed" in err.strip().splitlines()[-1]
    out = tmp_path / "out"
    assert not list(out.rglob("*.eml"))  # neither the summary nor a "did not complete" email
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "has not finished writing its outputs" in report and "did not complete" not in report


def _warned_of(tmp_path: Path) -> list[str]:
    """The warnings of the newest run's record."""
    import json

    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        [(warnings,)] = con.execute("SELECT warnings FROM runs ORDER BY seq DESC LIMIT 1").fetchall()
    return json.loads(warnings)


def test_sigterm_after_the_outputs_before_the_email_is_warned_next_night(tmp_path, monkeypatch, capsys):
    """Found by fault injection: a SIGTERM once the outputs were in place (runs.outputs_at set) but
    before the summary email went out lost the email without a word: the next night did not warn.
    The email is now recorded when sent (runs.email_sent_at), and the next night warns of a run
    asked to send one that did not. The stopped run is no failed run: no stale mark, no failure
    email, and the message says it committed."""
    import reports.email

    def stopped(*_: object, **__: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # a real signal, as the email is about to go
        time.sleep(5)

    monkeypatch.setattr(reports.email, "deliver", stopped)
    args = run_args(tmp_path, SAMPLE_EXPORT, "--scheduled", "--email-dry-run")
    assert cli(*args) == EXIT_SIGTERM
    err = capsys.readouterr().err
    assert "committed and its outputs are in place" in err and "sent its summary email" in err, err
    out = tmp_path / "out"
    assert "stale-notice" not in (out / "report.html").read_text(encoding="utf-8")
    assert not list(out.rglob("*.eml"))  # neither the summary nor a "did not complete" email
    monkeypatch.undo()
    next_night = run_args(tmp_path, SAMPLE_EXPORT, "--scheduled", "--email-dry-run")
    next_night[next_night.index("--as-of") + 1] = "2026-11-21"
    assert cli(*next_night) == 0
    assert [w for w in _warned_of(tmp_path) if "did not send its summary email" in w]
    assert "did not send its summary email" in (out / "email.eml").read_text(errors="replace")
    third = run_args(tmp_path, SAMPLE_EXPORT, "--scheduled", "--email-dry-run")
    third[third.index("--as-of") + 1] = "2026-11-22"
    assert cli(*third) == 0  # the second night's email went: nothing to warn of
    assert not [w for w in _warned_of(tmp_path) if "summary email" in w]
