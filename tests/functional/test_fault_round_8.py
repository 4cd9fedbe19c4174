"""Fault round 8: real processes, real files, real sockets; nothing of the tool's internals mocked.

Each test drives `python -m pipelines` (the installed CLI) as cron or systemd would: a scheduled
run is dated by CLINIC_AUDIT_AS_OF (its configured as-of date), not by --as-of, which would make it
ad hoc. Every test here failed on the code it was written against (see the round-8 report).
"""

from __future__ import annotations

import csv
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from tests.conftest import ROOT, SAMPLE_EXPORT
from tests.helpers import clean_env

NIGHT = "2026-11-20"


def scheduled_env(**more: str) -> dict[str, str]:
    """A scheduler's environment: the nightly's as-of date configured, nothing else of ours."""
    return clean_env(CLINIC_AUDIT_AS_OF=NIGHT, PYTHONUNBUFFERED="1", **more)


def nightly_args(tmp: Path, export: Path = SAMPLE_EXPORT, out: Path | None = None) -> list[str]:
    return [
        "run",
        "--exports",
        str(export),
        "--out",
        str(out if out is not None else tmp / "out"),
        "--db",
        str(tmp / "audit.duckdb"),
    ]


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300, cwd: Path = ROOT
) -> subprocess.CompletedProcess:
    """The CLI as a process of its own, to its end; its stderr and stdout captured."""
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=cwd,
        env=env if env is not None else scheduled_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def runs_of(db: Path) -> list[tuple[str, str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT run_id, status FROM runs ORDER BY seq").fetchall()


def export_over_the_reject_threshold(folder: Path) -> Path:
    """The sample export with one lab row in five given a date that is no date: the run loads, then
    stops on the reject threshold (an InputError inside the run: exit 3, the database unchanged)."""
    folder.mkdir(parents=True)
    for name in ("patients.csv", "prescriptions.csv", "diagnoses.csv"):
        (folder / name).write_bytes((SAMPLE_EXPORT / name).read_bytes())
    with (SAMPLE_EXPORT / "labs.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    date_column = rows[0].index("collected_at")
    for number, row in enumerate(rows[1:]):
        if number % 5 == 0:
            row[date_column] = "notadate"
    with (folder / "labs.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    return folder


def no_traceback(done: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in done.stderr, done.stderr[-3000:]


# --- 1. OUT: the team's own files ---------------------------------------------------------------
# README: "Files OUT holds that are not outputs (an email.eml, the adhoc/ folder, the clinic's own
# files) are left alone." publish() removes every file of the previous set by a name pattern
# (worklist_[\w-]+.csv|xlsx, calllist.xlsx, ...), not by what the previous run wrote, so a file the
# team saved beside the worklists under such a name is deleted by the next night, without a word.


def test_a_teams_own_file_in_out_named_like_a_worklist_survives_the_next_night(tmp_path):
    first = run_cli(*nightly_args(tmp_path))
    assert first.returncode == 0, first.stderr[-3000:]
    out = tmp_path / "out"
    notes = out / "worklist_team_notes.csv"  # not an output of any check: the team's own sheet
    notes.write_text("patient,called on,outcome\nsee paper notes,2026-11-21,booked\n", encoding="utf-8")
    annotated = out / "calllist.xlsx"  # Excel's "Save As" of calllist.csv (worklist_format = "csv")
    annotated.write_bytes(b"PK\x03\x04 the team's annotated call list")

    second = run_cli(*nightly_args(tmp_path))

    assert second.returncode == 0, second.stderr[-3000:]
    assert notes.exists(), "the next night deleted the team's worklist_team_notes.csv from OUT"
    assert annotated.exists(), "the next night deleted the team's calllist.xlsx from OUT"


# --- 2. a recipient the email library cannot parse ----------------------------------------------
# smtp_recipients = ["lead@[10.0.0.1"] (an address literal missing its closing bracket) passes the
# settings' checks; Python's email package then raises AttributeError building the To header. In
# the summary email it is an internal error (exit 1) after the commit; in a failed night it
# replaces the run's own error (exit 3 becomes 1) and no failure email is written or sent.

BAD_RECIPIENT = "lead@[10.0.0.1"


def test_a_recipient_with_an_unclosed_address_literal_is_no_internal_error(tmp_path):
    done = run_cli(
        *nightly_args(tmp_path),
        "--email-dry-run",
        env=scheduled_env(CLINIC_AUDIT_SMTP_RECIPIENTS=BAD_RECIPIENT),
    )
    no_traceback(done)
    assert "internal error" not in done.stderr, done.stderr
    assert done.returncode in (2, 4), done.stderr  # a wrong setting (before the run), or the email's exit


def test_a_failed_night_keeps_its_exit_code_and_failure_email_with_an_unparsable_recipient(tmp_path):
    export = export_over_the_reject_threshold(tmp_path / "export")
    assert run_cli(*nightly_args(tmp_path)).returncode == 0  # a good night first: a report to mark

    done = run_cli(
        *nightly_args(tmp_path, export),
        "--email-dry-run",
        env=scheduled_env(CLINIC_AUDIT_SMTP_RECIPIENTS=BAD_RECIPIENT),
    )

    no_traceback(done)
    assert "internal error" not in done.stderr, done.stderr[-2000:]
    # the export's fault (exit 3, naming labs.csv), as without the recipient; or the setting refused
    # before the run (exit 2, naming smtp_recipients)
    assert done.returncode in (2, 3), done.stderr[-2000:]
    assert ("labs.csv" if done.returncode == 3 else "smtp_recipients") in done.stderr, done.stderr[-2000:]


# --- 3. bad input and an OUT that cannot be written ---------------------------------------------
# A run that stops on its input (reject threshold) writes a failed summary.json into OUT inside its
# `except InputError`; when OUT cannot be written that OSError replaces the InputError: exit 6
# "cannot use this file or folder", and the file, its rejected share and exit 3 are lost.


def test_bad_input_is_exit_3_naming_the_file_even_when_out_cannot_be_written(tmp_path):
    export = export_over_the_reject_threshold(tmp_path / "export")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where OUT's parent folder should be\n", encoding="utf-8")

    done = run_cli(*nightly_args(tmp_path, export, out=blocker / "out"))

    no_traceback(done)
    assert done.returncode == 3, done.stderr
    assert "labs.csv" in done.stderr and "rejected" in done.stderr, done.stderr


@contextmanager
def read_only_tmpfs(where: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a read-only tmpfs")
    where.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def test_bad_input_is_exit_3_when_out_is_on_a_read_only_file_system(tmp_path):
    export = export_over_the_reject_threshold(tmp_path / "export")
    with read_only_tmpfs(tmp_path / "ro") as read_only:
        done = run_cli(*nightly_args(tmp_path, export, out=read_only / "out"))
    no_traceback(done)
    assert done.returncode == 3, done.stderr
    assert "labs.csv" in done.stderr, done.stderr


# --- 4. SIGTERM after the commit, while the outputs are written ----------------------------------
# README: "A run stopped after its commit is no failed run: its report is not marked stale and no
# failure email goes." A SIGTERM while the committed run writes its outputs (the CLI's stage is
# still "running" until the outputs are in place) sends "tonight's audit did not complete ... a run
# stopped before it committed left the database unchanged ... run again", and the CLI's line says
# nothing of the commit: a rerun of the same night then reports every flag as persisting (0 new).


def test_sigterm_while_writing_the_outputs_of_a_committed_run_sends_no_failure_email(tmp_path):
    assert run_cli(*nightly_args(tmp_path)).returncode == 0
    before = runs_of(tmp_path / "audit.duckdb")
    export = tmp_path / "export"
    export.mkdir()
    for name in ("patients.csv", "prescriptions.csv", "diagnoses.csv", "labs.csv"):
        (export / name).write_bytes((SAMPLE_EXPORT / name).read_bytes())
    with (export / "labs.csv").open("a", encoding="utf-8") as handle:
        handle.write("P0001,2026-11-19,2823-3,Potassium,4.4,mmol/L\n")  # a new night's export
    victim = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "-v", *nightly_args(tmp_path, export), "--email-dry-run"],
        cwd=ROOT,
        env=scheduled_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert victim.stderr is not None
    seen = []
    for line in victim.stderr:
        seen.append(line)
        if "writing the outputs" in line:  # logged once the transaction has committed
            victim.send_signal(signal.SIGTERM)
            break
    err = "".join(seen) + victim.stderr.read()
    code = victim.wait(timeout=120)
    after = runs_of(tmp_path / "audit.duckdb")
    if code == 0:
        pytest.skip("the signal came after the run had finished")
    assert code == 143, err[-3000:]
    assert len(after) == len(before) + 1 and after[-1][1] == "succeeded", "the run committed"
    assert not (tmp_path / "out" / "failure.eml").exists(), "a committed run was told as a failed one: " + (
        tmp_path / "out" / "failure.eml"
    ).read_text(encoding="utf-8")
    assert "committed" in err.strip().splitlines()[-1] or any(
        "run committed" in line for line in err.splitlines()
    ), err[-1500:]


# --- 5. a mail server that trickles its reply ----------------------------------------------------
# smtplib's timeout (30 s) bounds each read, not the conversation: a server that sends its greeting
# a byte at a time, forever, keeps the nightly (and the database lock) for ever; systemd's
# TimeoutStartSec (4 h) is the only end, and --wait runs queue behind it.


class TricklingServer:
    """A TCP server on 127.0.0.1 that answers every connection with a multi-line 220 greeting, one
    byte a second, never ending it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.5)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            while not self.stop.is_set():
                for byte in b"220-slow\r\n":
                    if self.stop.wait(1):
                        return
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def test_a_mail_server_trickling_its_reply_does_not_hold_the_run_for_ever(tmp_path):
    server = TricklingServer()
    try:
        env = scheduled_env(
            CLINIC_AUDIT_SMTP_HOST="127.0.0.1",
            CLINIC_AUDIT_SMTP_PORT=str(server.port),
            CLINIC_AUDIT_SMTP_RECIPIENTS="lead@clinic.example",
            CLINIC_AUDIT_SMTP_STARTTLS="false",
            # the deadline a clinic may set (default 120 s): short here, so a loaded test machine
            # keeps the run well inside the test's own limit
            CLINIC_AUDIT_SMTP_TIMEOUT_SECONDS="20",
        )
        started = time.monotonic()
        try:
            done = run_cli(*nightly_args(tmp_path), "--email", env=env, timeout=150)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"the run was still talking to the mail server after {time.monotonic() - started:.0f} s"
            )
    finally:
        server.close()
    no_traceback(done)
    assert done.returncode == 4, done.stderr


# --- 6. a database or config file that is a named pipe -------------------------------------------
# A local codelist that is a FIFO was made a config error (52fd4d2: "would be waited on forever,
# holding the lock"). The database itself as a FIFO is waited on forever the same way, under the
# lock (a --wait run queues behind it for its whole timeout); a config file that is a FIFO hangs
# before anything is said.


def test_a_database_that_is_a_named_pipe_is_refused_not_waited_on(tmp_path):
    os.mkfifo(tmp_path / "audit.duckdb")
    try:
        done = run_cli(*nightly_args(tmp_path), timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("the run waited for ever on a database that is a named pipe, holding the lock")
    no_traceback(done)
    assert done.returncode == 6, done.stderr


def test_a_config_file_that_is_a_named_pipe_is_refused_not_waited_on(tmp_path):
    os.mkfifo(tmp_path / "config.toml")
    try:
        done = run_cli(*nightly_args(tmp_path), "--config", str(tmp_path / "config.toml"), timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("the run waited for ever on a config file that is a named pipe")
    no_traceback(done)
    assert done.returncode in (2, 6), done.stderr


# --- 7. a write-ahead log left beside a database restored from its backup ------------------------
# Exit 6's hint for a damaged database is "Restore it from a backup". A process killed after a
# commit, before DuckDB's checkpoint, leaves `<db>.wal`; a database file restored from the backup
# beside it is one checkpoint behind that log, and DuckDB refuses to replay it (IOException "WAL
# checkpoint iteration does not match"). The tool calls that an internal error (exit 1, "please
# report it"), not a database it cannot use (exit 6 naming the file and what to do).

KILLED_WRITER = """
import os, sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("SET checkpoint_threshold = '10GB'")  # the commit stays in the write-ahead log
con.execute("DELETE FROM findings")
os._exit(0)  # killed before any checkpoint: the log stays beside the file
"""


def test_a_backup_restored_beside_a_newer_write_ahead_log_is_exit_6_not_an_internal_error(tmp_path):
    db = tmp_path / "audit.duckdb"
    assert run_cli(*nightly_args(tmp_path)).returncode == 0
    backup = tmp_path / "backup.duckdb"
    backup.write_bytes(db.read_bytes())
    assert run_cli(*nightly_args(tmp_path)).returncode == 0  # a later night: a checkpoint further
    subprocess.run([sys.executable, "-c", KILLED_WRITER, str(db)], check=True, timeout=60)
    assert db.with_name(db.name + ".wal").exists()
    db.write_bytes(backup.read_bytes())  # "Restore it from a backup"

    done = run_cli(*nightly_args(tmp_path))

    no_traceback(done)
    assert "internal error" not in done.stderr, done.stderr[-2000:]
    assert done.returncode == 6, done.stderr[-2000:]
    assert ".wal" in done.stderr.strip().splitlines()[-1], done.stderr[-2000:]


# --- 8. a run killed while copying the database for the analysts ---------------------------------
# The analysts' copy is written to `.<stem>.analyst.duckdb.<random>.tmp` beside the database and
# renamed. A SIGKILL (the OOM killer, systemd's final kill) during the copy leaves that file, up to
# the size of the database and holding every patient's data; the next runs remove a killed run's
# `.incoming-*` output folder and Spark's staged copy, but never this one: each such kill leaks one.


def test_a_run_killed_while_copying_for_the_analysts_leaves_no_partial_copy_behind(tmp_path):
    assert run_cli(*nightly_args(tmp_path)).returncode == 0
    victim = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "-q", *nightly_args(tmp_path)],
        cwd=ROOT,
        env=scheduled_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    partial: list[Path] = []
    while victim.poll() is None and not partial:
        partial = list(tmp_path.glob(".audit.analyst.duckdb.*.tmp"))
        time.sleep(0.0005)
    if not partial:
        victim.wait(timeout=60)
        pytest.skip("the copy was over before it was seen")
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)

    again = run_cli(*nightly_args(tmp_path))

    assert again.returncode == 0, again.stderr[-2000:]
    left = sorted(p.name for p in tmp_path.glob(".audit.analyst.duckdb.*.tmp"))
    assert not left, f"a killed run's partial analysts' copy is still beside the database: {left}"


# --- 9. a database file wider than owner-only ----------------------------------------------------
# README: "Every file the tool writes, the database included, is readable by its owner only", and
# outputs are made 0600 "even if the old file was wider"; the lock and log files are fchmod-ed on
# every open. The database is chmod-ed only when the run creates it: one restored from a backup with
# `cp` under umask 022 (0644), or made group-readable by hand, stays world-readable while every
# night writes the clinic's records into it.


def test_an_existing_database_readable_by_others_is_made_owner_only(tmp_path):
    db = tmp_path / "audit.duckdb"
    assert run_cli(*nightly_args(tmp_path)).returncode == 0
    db.chmod(0o644)  # as a restore from a backup under umask 022 leaves it

    done = run_cli(*nightly_args(tmp_path))

    assert done.returncode == 0, done.stderr[-2000:]
    assert stat.S_IMODE(db.stat().st_mode) == 0o600, oct(stat.S_IMODE(db.stat().st_mode))


# --- 10. a database path that names no file --------------------------------------------------------
# `db = ""` in the config file (a value left blank), `--db .` or `--db /`: Path.with_name raises
# ValueError ("has an empty name") checking the write-ahead log's name, an internal error (exit 1,
# "please report it"), after a lock file was created beside the working folder (`<cwd>.lock` in its
# parent). `--db ..` or a folder named in full is exit 6 ("is a folder, not a database file").


@pytest.mark.parametrize("db", [".", "./", "/"])
def test_a_database_path_naming_a_folder_by_dot_or_slash_is_exit_6_not_an_internal_error(tmp_path, db):
    work = tmp_path / "work"
    work.mkdir()
    done = run_cli("runs", "--db", db, cwd=work, env=scheduled_env(PYTHONPATH=str(ROOT)))
    no_traceback(done)
    assert "internal error" not in done.stderr, done.stderr
    assert done.returncode in (2, 6), done.stderr


def test_a_blank_db_setting_in_the_config_file_is_a_config_error_not_an_internal_error(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[run]\nexports = "{SAMPLE_EXPORT}"\ndb = ""\n', encoding="utf-8")
    done = run_cli("run", "--config", str(config), cwd=tmp_path, env=scheduled_env(PYTHONPATH=str(ROOT)))
    no_traceback(done)
    assert "internal error" not in done.stderr, done.stderr
    assert done.returncode in (2, 6), done.stderr
    assert not (tmp_path.parent / f"{tmp_path.name}.lock").exists(), "a lock file beside the working folder"


# --- 11. a blank out setting ---------------------------------------------------------------------
# `out = ""` in the config file is taken as the working folder: the nightly's report, worklists and
# findings (patient identifiers) land in whatever folder cron or systemd started in, and publish()
# deletes files there that match an output's name. A blank value should be refused (exit 2, naming
# the key) or mean the default, as an empty CLINIC_AUDIT_OUT does.


def test_a_blank_out_setting_does_not_write_the_outputs_into_the_working_folder(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[run]\nexports = "{SAMPLE_EXPORT}"\ndb = "{tmp_path / "audit.duckdb"}"\nout = ""\n',
        encoding="utf-8",
    )
    done = run_cli("run", "--config", str(config), cwd=work, env=scheduled_env(PYTHONPATH=str(ROOT)))
    no_traceback(done)
    assert done.returncode in (0, 2), done.stderr[-2000:]
    assert not (work / "findings.csv").exists(), "out = '' wrote the outputs into the working folder"


# --- 5. A signal in the run's first second, while its modules load --------------------------------
# The run's settings are read, then DuckDB, pandas and pandera load (about a second) before the run
# takes its lock. A SIGTERM then exited 143 with no failure email: the imports came before the
# failure handling. A real process, slowed at that import (a finder on sys.meta_path waits there
# after touching a marker), is stopped there.
SLOW_IMPORT = """
import pathlib, runpy, sys, time
marker = pathlib.Path(sys.argv[1])
class Slow:
    def find_spec(self, name, path=None, target=None):
        if name == "pipelines.run":
            marker.touch()
            time.sleep(60)
        return None
sys.meta_path.insert(0, Slow())
sys.argv = ["clinic-audit", *sys.argv[2:]]
runpy.run_module("pipelines", run_name="__main__")
"""


def test_sigterm_while_the_run_loads_its_modules_is_a_failed_night_with_its_email(tmp_path):
    marker = tmp_path / "importing"
    victim = subprocess.Popen(
        [sys.executable, "-c", SLOW_IMPORT, str(marker), *nightly_args(tmp_path), "--email-dry-run"],
        cwd=ROOT,
        env=scheduled_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not marker.exists() and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the run never reached its imports"
    victim.send_signal(signal.SIGTERM)
    _, err = victim.communicate(timeout=120)
    assert victim.returncode == 143, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    failure = (tmp_path / "out" / "failure.eml").read_text(encoding="utf-8")
    assert "did not complete" in failure and "143" in failure
    assert not (tmp_path / "audit.duckdb").exists()  # nothing was opened


# --- 6. Small ones: a count past any integer, a reason with no column --------------------------------


def test_a_count_past_any_integer_is_a_usage_error(tmp_path):
    """`runs --limit 9223372036854775808` (2**63) reached DuckDB and was an internal error (exit 1)."""
    assert run_cli(*nightly_args(tmp_path)).returncode == 0
    for option in (["runs", "--limit"], ["codelists", "--limit"], ["prune", "--keep-runs"]):
        done = run_cli(*option, "9223372036854775808", "--db", str(tmp_path / "audit.duckdb"))
        no_traceback(done)
        assert done.returncode == 2, done.stderr


def test_a_reject_without_a_column_is_named_as_the_record_in_the_threshold_message(tmp_path):
    """A record the reader left out (a quote opened and never closed) has no column: the message's
    top reasons read "None: a quote opened on this line is never closed"."""
    export = tmp_path / "export"
    export.mkdir()
    for name in ("patients.csv", "prescriptions.csv", "diagnoses.csv"):
        (export / name).write_bytes((SAMPLE_EXPORT / name).read_bytes())
    lines = (SAMPLE_EXPORT / "labs.csv").read_text(encoding="utf-8").splitlines()
    (export / "labs.csv").write_text(
        "\n".join([*lines[:8], 'P0001,2026-11-02,"2823-3']) + "\n", encoding="utf-8"
    )
    done = run_cli(*nightly_args(tmp_path, export))
    no_traceback(done)
    assert done.returncode == 3, done.stderr
    assert "None:" not in done.stderr and "the record:" in done.stderr, done.stderr
