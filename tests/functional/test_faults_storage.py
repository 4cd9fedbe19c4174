"""Issue #17, storage faults: the database file, its folder, the lock and log files, the outputs.

Each failure ends in one line on stderr and a documented exit code (6: a file or folder that cannot be
used; 7: disk full or out of memory; 2: a bad memory_limit), never a traceback or DuckDB's own text,
with the database left as it was. Real files, a real tmpfs (full, or mounted read-only), real
symlinks and a real unprivileged user where the fault needs one.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from pipelines import errors
from pipelines import run as run_module
from pipelines.errors import EXIT_CONFIG, EXIT_INTERNAL, EXIT_LOCKED, EXIT_RESOURCES, EXIT_STORAGE
from pipelines.lock import database_lock, lock_path
from tests.conftest import ROOT, SAMPLE_EXPORT
from tests.helpers import clean_env, cli, run_args, table_counts

# Outputs that fail after the run committed: exit 8 once the lead's #17 OutputError lands, else 7.
AFTER_COMMIT = getattr(errors, "EXIT_OUTPUTS", EXIT_RESOURCES)
DUCKDB_TEXT = ("IO Error", "Corrupt database", "Conversion Error", "Traceback", "_duckdb", "Error: ")


def one_error_line(err: str) -> str:
    """stderr of a failed command: exactly one line, ours, with nothing of DuckDB's or Python's."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("clinic-audit: "), err
    assert not any(text in err for text in DUCKDB_TEXT), err
    return lines[0]


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory) -> Path:
    """A database after one sample run; tests work on copies."""
    folder = tmp_path_factory.mktemp("sample_db")
    assert cli(*run_args(folder, SAMPLE_EXPORT)) == 0
    return folder / "audit.duckdb"


def root_only() -> None:
    """Mounting a tmpfs and switching user need root: CI has it (and must run these); a user's clone
    may not, and skips with the reason."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("CI runs as root: these fault tests must run there")
        pytest.skip("needs root (a tmpfs mount, another user); CI runs as root")


@contextmanager
def tmpfs(where: Path, size: str, read_only: bool = False) -> Iterator[Path]:
    """A real small tmpfs at `where`, unmounted afterwards."""
    root_only()
    where.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def fill(folder: Path) -> None:
    """Fill the file system of `folder` to the last byte."""
    with (folder / "filler").open("wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 512)
        except OSError:
            pass


def big_labs_export(folder: Path, rows: int) -> Path:
    """The sample export with a labs.csv of `rows` generated results (real generic columns)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("patients.csv", "prescriptions.csv", "diagnoses.csv"):
        shutil.copy(SAMPLE_EXPORT / name, folder / name)
    with duckdb.connect() as con:
        con.execute(
            f"""
            COPY (SELECT 'P' || lpad(((i % 341) + 1)::VARCHAR, 4, '0') AS patient_id,
                         DATE '2025-01-01' + CAST(i % 600 AS INTEGER) AS collected_at,
                         '2823-3' AS loinc_code, 'Potassium' AS test_name,
                         round(3 + (i % 20) / 10, 1) AS value, 'mmol/L' AS unit
                  FROM range({int(rows)}) t(i)) TO '{folder / "labs.csv"}' (HEADER)
            """
        )
    return folder


# --- the database file ------------------------------------------------------------------------


def _sqlite(path: Path) -> None:
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE patients (patient_id TEXT)")
        con.execute("INSERT INTO patients VALUES ('P0001')")


def _damage(sample: Path, path: Path, how: str) -> None:
    data = bytearray(sample.read_bytes())
    if how == "truncated":
        data = data[: len(data) // 3]
    else:  # every block's content overwritten past its checksum: whichever block is read fails
        for block in range(HEADERS, len(data), BLOCK):
            data[block + 64 : block + 64 + 4096] = bytes(range(256)) * 16
    path.write_bytes(bytes(data))


HEADERS, BLOCK = 3 * 4096, 256 * 1024  # DuckDB's file: three 4 KiB headers, then 256 KiB blocks

FOREIGN = {
    "empty": lambda path, _sample: path.write_bytes(b""),
    "sqlite": lambda path, _sample: _sqlite(path),
    "text": lambda path, _sample: path.write_text("patient_id,birth_date\nP0001,1950-01-01\n"),
}


@pytest.mark.parametrize("kind", sorted(FOREIGN))
def test_an_empty_or_foreign_database_file_is_exit_6_and_left_as_it_was(tmp_path, sample_db, capsys, kind):
    db = tmp_path / "audit.duckdb"
    FOREIGN[kind](db, sample_db)
    before = db.read_bytes()
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == EXIT_STORAGE
    line = one_error_line(capsys.readouterr().err)
    assert "not a DuckDB database" in line and str(db) in line
    assert db.read_bytes() == before
    assert cli("runs", "--db", str(db)) == EXIT_STORAGE
    assert not (tmp_path / "out" / "findings.csv").exists()


def test_a_folder_named_as_the_database_is_exit_6(tmp_path, capsys):
    (tmp_path / "audit.duckdb").mkdir()
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == EXIT_STORAGE
    assert "is a folder, not a database file" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "audit.duckdb.lock").exists(), "refused before any lock file is made"


@pytest.mark.parametrize("db", [".", "..", "/"])
def test_a_database_path_naming_a_folder_makes_no_lock_beside_it(tmp_path, monkeypatch, capsys, db):
    """`--db .` resolved to the working folder, whose lock `<cwd>.lock` went beside it in its parent;
    `/` has no file name at all (Path.with_name's ValueError, an internal error)."""
    work = tmp_path / "a" / "work"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    assert cli("runs", "--db", db) == EXIT_STORAGE
    assert "is a folder, not a database file" in one_error_line(capsys.readouterr().err)
    assert not list(tmp_path.rglob("*.lock"))


def test_a_database_that_is_no_regular_file_is_refused_before_its_lock(tmp_path, capsys):
    """A named pipe would be opened by DuckDB and waited on for ever, under the lock."""
    db = tmp_path / "audit.duckdb"
    os.mkfifo(db)
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == EXIT_STORAGE
    assert "not a regular file" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "audit.duckdb.lock").exists()


@pytest.mark.parametrize("how", ["truncated", "overwritten blocks"])
def test_a_damaged_database_is_exit_6_with_a_restore_hint(tmp_path, sample_db, capsys, how):
    db = tmp_path / "audit.duckdb"
    _damage(sample_db, db, how)
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == EXIT_STORAGE
    line = one_error_line(capsys.readouterr().err)
    assert "damaged" in line and "backup" in line
    assert cli("runs", "--db", str(db)) == EXIT_STORAGE
    one_error_line(capsys.readouterr().err)


def _without_root_override(*args: str) -> subprocess.CompletedProcess:
    """The real CLI run as root without the power to ignore file modes (CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH dropped by util-linux's setpriv), as an unprivileged owner would meet them."""
    root_only()
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is missing")
    return subprocess.run(
        [
            "setpriv",
            "--bounding-set",
            "-dac_override,-dac_read_search",
            sys.executable,
            "-m",
            "pipelines",
            *args,
        ],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_an_unreadable_database_is_exit_6(tmp_path, sample_db):
    db = tmp_path / "audit.duckdb"
    shutil.copy(sample_db, db)
    db.chmod(0)
    done = _without_root_override("runs", "--db", str(db))
    assert done.returncode == EXIT_STORAGE, done.stderr
    assert "permission denied" in one_error_line(done.stderr)


def test_an_unwritable_database_folder_is_exit_6(tmp_path):
    folder = tmp_path / "db"
    folder.mkdir()
    folder.chmod(0o555)
    args = run_args(tmp_path, SAMPLE_EXPORT)
    args[args.index("--db") + 1] = str(folder / "audit.duckdb")
    done = _without_root_override(*args)
    folder.chmod(0o755)
    assert done.returncode == EXIT_STORAGE, done.stderr
    line = one_error_line(done.stderr)
    assert "Permission denied" in line and str(folder) in line
    assert list(folder.iterdir()) == []


def test_a_read_only_file_system_for_database_or_log_is_exit_6(tmp_path, capsys):
    with tmpfs(tmp_path / "ro", "1m", read_only=True) as read_only:
        args = run_args(tmp_path, SAMPLE_EXPORT)
        args[args.index("--db") + 1] = str(read_only / "audit.duckdb")
        assert cli(*args) == EXIT_STORAGE
        assert "Read-only file system" in one_error_line(capsys.readouterr().err)
        log = read_only / "audit.jsonl"
        assert cli("--log-file", str(log), *run_args(tmp_path, SAMPLE_EXPORT)) == EXIT_STORAGE
        line = one_error_line(capsys.readouterr().err)
        assert str(log) in line and "Read-only file system" in line
    assert not (tmp_path / "audit.duckdb").exists()  # the log failed before anything was opened


# --- disk full, memory --------------------------------------------------------------------------


@pytest.mark.slow
def test_disk_full_while_loading_is_exit_7_and_the_database_is_unchanged(tmp_path, capsys):
    export = big_labs_export(tmp_path / "big", 3_000_000)
    with tmpfs(tmp_path / "small", "16m") as small:
        args = ["-q", *run_args(tmp_path, SAMPLE_EXPORT, "--reject-threshold", "1")]
        args[args.index("--db") + 1] = str(small / "audit.duckdb")
        assert cli(*args) == 0
        before = table_counts(small / "audit.duckdb")
        capsys.readouterr()
        args[args.index("--exports") + 1] = str(export)
        assert cli(*args) == EXIT_RESOURCES
        line = one_error_line(capsys.readouterr().err)
        assert "disk full" in line and "unchanged" in line
        assert table_counts(small / "audit.duckdb") == before
        assert table_counts(small / "audit.analyst.duckdb") == before  # the last good copy stays


def test_disk_full_while_writing_outputs_is_exit_7_and_no_output_is_half_written(tmp_path, capsys):
    with tmpfs(tmp_path / "out", "256k") as out:
        (out / "report.html").write_text("last night's report")
        (out / "filler").write_bytes(b"\0" * (256 * 1024 - 8192))  # leave room for a file or two
        assert cli("-q", *run_args(tmp_path, SAMPLE_EXPORT)) == AFTER_COMMIT
        line = one_error_line(capsys.readouterr().err)
        assert "disk full" in line or "No space left" in line
        assert "last night's report" in (out / "report.html").read_text()  # whole (maybe marked stale)
        assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


def test_threads_bounds_duckdbs_worker_threads_and_a_bad_value_is_exit_2(tmp_path, capsys):
    from pipelines.db import connect

    with connect(tmp_path / "t.duckdb", threads=1) as con:
        assert con.execute("SELECT current_setting('threads')").fetchone()[0] == 1
    for bad in ("-2", "100000"):  # a typo must not start 100,000 threads (glibc aborts)
        assert cli(*run_args(tmp_path, SAMPLE_EXPORT), env={"CLINIC_AUDIT_THREADS": bad}) == EXIT_CONFIG
        assert "threads" in one_error_line(capsys.readouterr().err)
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT), env={"CLINIC_AUDIT_THREADS": "1"}) == 0


def test_a_bad_memory_limit_is_exit_2_before_anything_is_opened(tmp_path, capsys):
    for value in ("lots", "10KB", "0%", "150%", "-5GB", "1.25 GB of RAM"):
        env = {"CLINIC_AUDIT_MEMORY_LIMIT": value}
        assert cli(*run_args(tmp_path, SAMPLE_EXPORT), env=env) == EXIT_CONFIG, value
        assert "memory_limit" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "audit.duckdb").exists()
    assert not (tmp_path / "out").exists()
    for value in ("512MB", "1.5GiB", "80%"):
        assert cli(*run_args(tmp_path, SAMPLE_EXPORT), env={"CLINIC_AUDIT_MEMORY_LIMIT": value}) == 0


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS bounds a process's memory on Linux")
def test_running_out_of_memory_is_exit_7_and_the_database_is_unchanged(tmp_path, sample_db):
    """The real thing: the process may map 1800 MiB, DuckDB's limit is the default 1.25GB.

    The sample export runs within that address space; three million results do not (a million have
    fitted since the monthly measures stopped copying every check's patients into one pool first).
    A much lower limit (700 MiB) tests glibc, not clinic-audit: DuckDB's own start-up threads then
    die allocating thread-local data (exit 127, an abort no handler sees), before any run begins."""
    import resource

    shutil.copy(sample_db, tmp_path / "audit.duckdb")
    before = table_counts(tmp_path / "audit.duckdb")
    export = big_labs_export(tmp_path / "big", 3_000_000)
    limit = 1800 * 2**20
    log = tmp_path / "run.jsonl"  # an unexpected error's traceback, shown if this fails
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pipelines", "-q", "--log-file", str(log)),
            *run_args(tmp_path, export, "--reject-threshold", "1"),
        ],
        cwd=ROOT,
        # two DuckDB threads, as on this project's machine: each thread reserves address space, so
        # on a many-core machine the default (one per core) would need more of it just to start
        env=clean_env(CLINIC_AUDIT_THREADS="2"),
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == EXIT_RESOURCES, done.stderr + (log.read_text() if log.exists() else "")
    assert "out of memory" in one_error_line(done.stderr)
    assert table_counts(tmp_path / "audit.duckdb") == before


def test_a_thread_that_cannot_start_is_out_of_memory_exit_7(tmp_path, capsys, monkeypatch):
    def no_stack(*_args, **_kwargs):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(run_module, "execute_run", no_stack)
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == EXIT_RESOURCES
    assert "cannot start a thread: out of memory" in one_error_line(capsys.readouterr().err)


def test_out_of_memory_is_exit_7(tmp_path, capsys, monkeypatch):
    def exhausted(*_args, **_kwargs):
        raise duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate data of size 'P0042'")

    monkeypatch.setattr(run_module, "execute_run", exhausted)
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == EXIT_RESOURCES
    line = one_error_line(capsys.readouterr().err)
    assert "out of memory" in line and "memory_limit" in line and "P0042" not in line


@pytest.mark.parametrize("link", ["__cause__", "__context__"])
def test_an_error_from_running_out_of_memory_is_exit_7(tmp_path, capsys, monkeypatch, link):
    # a C extension out of memory part-way may surface as a SystemError raised from (or while
    # handling) the MemoryError: once under the address-space limit above, "internal error" (exit 1)
    def exhausted(*_args, **_kwargs):
        error = SystemError("<built-in method fetchall> returned a result with an exception set")
        setattr(error, link, MemoryError())
        raise error

    monkeypatch.setattr(run_module, "execute_run", exhausted)
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == EXIT_RESOURCES
    assert "out of memory" in one_error_line(capsys.readouterr().err)


def test_a_memory_error_lost_in_a_clean_up_then_a_system_error_is_exit_7(tmp_path, capsys, monkeypatch):
    # the address-space test above once failed this way (exit 1): a generator's clean-up ran out of
    # memory inside ibis while the export was validated; Python could not raise that MemoryError
    # (it printed "Exception ignored in: <generator ...>" and a traceback on stderr) and the walk
    # then failed with a SystemError that no longer named it
    def exhausted(*_args, **_kwargs):
        def walk():
            try:
                yield 1
            finally:
                raise MemoryError

        started = walk()
        next(started)
        del started  # closed by the garbage collector: the MemoryError goes to sys.unraisablehook
        raise SystemError("error return without exception set")

    monkeypatch.setattr(run_module, "execute_run", exhausted)
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == EXIT_RESOURCES
    err = capsys.readouterr().err
    assert "out of memory" in one_error_line(err)
    assert "Traceback" not in err and "Exception ignored" not in err


def test_a_system_error_with_no_memory_error_lost_stays_an_internal_error(tmp_path, capsys, monkeypatch):
    def broken(*_args, **_kwargs):
        raise SystemError("error return without exception set")

    monkeypatch.setattr(run_module, "execute_run", broken)
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == EXIT_INTERNAL


# --- unexpected errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        ValueError("invalid literal for int() with base 10: 'P0042 Smith'"),
        duckdb.ConversionException("Conversion Error: Could not convert string 'P0042 Smith' to INT32"),
    ],
    ids=["python", "duckdb"],
)
def test_an_unexpected_error_is_one_line_and_its_traceback_only_in_the_log_file(
    tmp_path, capsys, monkeypatch, error
):
    def broken(*_args, **_kwargs):
        raise error

    monkeypatch.setattr(run_module, "execute_run", broken)
    log = tmp_path / "audit.jsonl"
    assert cli("--log-file", str(log), *run_args(tmp_path, SAMPLE_EXPORT)) == EXIT_INTERNAL
    line = one_error_line(capsys.readouterr().err)
    assert type(error).__name__ in line and "P0042" not in line
    records = [json.loads(row) for row in log.read_text(encoding="utf-8").splitlines()]
    crash = [r for r in records if r["level"] == "DEBUG" and type(error).__name__ in r["message"]]
    assert crash and "broken" in crash[0]["message"]  # the frames: where it happened
    assert "P0042" not in log.read_text(encoding="utf-8")


# --- symlinks, permissions, the lock --------------------------------------------------------------


OUTPUTS = ("report.html", "email.html", "findings.csv", "summary.json")


def test_outputs_replace_a_planted_symlink_instead_of_writing_through_it(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    victims = {}
    for name in (*OUTPUTS, "worklist_diuretic_electrolyte_monitoring.csv"):
        victims[name] = tmp_path / f"victim_{name}"
        victims[name].write_text("do not overwrite")
        (out / name).symlink_to(victims[name])
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == 0
    for name, victim in victims.items():
        assert victim.read_text() == "do not overwrite", name
        written = out / name
        assert not written.is_symlink() and written.stat().st_size > 0, name
        assert stat.S_IMODE(written.stat().st_mode) == 0o600, name
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


def test_existing_outputs_are_made_owner_only(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for name in OUTPUTS:
        (out / name).write_text("old")
        (out / name).chmod(0o644)
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == 0
    for name in OUTPUTS:
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600, name


@pytest.mark.parametrize("which", ["lock", "log"])
def test_a_symlinked_lock_or_log_file_is_refused_and_its_target_untouched(tmp_path, capsys, which):
    victim = tmp_path / "victim"
    victim.write_text("do not overwrite")
    link = lock_path(tmp_path / "audit.duckdb") if which == "lock" else tmp_path / "audit.jsonl"
    link.symlink_to(victim)
    args = run_args(tmp_path, SAMPLE_EXPORT)
    code = cli(*args) if which == "lock" else cli("--log-file", str(link), *args)
    assert code == EXIT_STORAGE
    line = one_error_line(capsys.readouterr().err)
    assert "symbolic link" in line and str(link.name) in line
    assert victim.read_text() == "do not overwrite"
    assert not (tmp_path / "audit.duckdb").exists()


def test_lock_and_log_files_are_owner_only(tmp_path):
    log = tmp_path / "audit.jsonl"
    log.write_text("")
    log.chmod(0o644)
    assert cli("--log-file", str(log), *run_args(tmp_path, SAMPLE_EXPORT)) == 0
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert log.read_text(encoding="utf-8")  # and it was written
    assert stat.S_IMODE(lock_path(tmp_path / "audit.duckdb").stat().st_mode) == 0o600


def test_a_database_named_through_a_symlink_shares_its_lock(tmp_path, capsys):
    real = tmp_path / "data" / "audit.duckdb"
    real.parent.mkdir()
    link = tmp_path / "audit.duckdb"
    link.symlink_to(real)
    assert lock_path(link) == lock_path(real)
    with database_lock(real):
        assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == EXIT_LOCKED  # --db names the symlink
    assert "in use by another clinic-audit process" in capsys.readouterr().err
    assert not real.exists()


def test_an_unwritable_lock_file_is_exit_6_naming_it(tmp_path):
    lock = lock_path(tmp_path / "audit.duckdb")
    lock.write_text("123\n")
    lock.chmod(0o444)
    done = _without_root_override(*run_args(tmp_path, SAMPLE_EXPORT))
    assert done.returncode == EXIT_STORAGE, done.stderr
    line = one_error_line(done.stderr)
    assert str(lock) in line and "Permission denied" in line
    assert not (tmp_path / "audit.duckdb").exists()


def test_a_log_file_whose_disk_fills_is_one_warning_line_and_the_run_goes_on(tmp_path, capsys):
    with tmpfs(tmp_path / "logs", "64k") as logs:
        log = logs / "audit.jsonl"
        fill(logs)
        assert cli("--log-file", str(log), *run_args(tmp_path, SAMPLE_EXPORT)) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "cannot write the log file" in line]
    assert len(warnings) == 1 and str(log) in warnings[0], err
    assert "Traceback" not in err and "Logging error" not in err
    # The next command in this process closes that handler, whose buffer the full disk refused:
    # not an error of the next command (it was "disk full", exit 7).
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == 0
    assert "disk full" not in capsys.readouterr().err


@pytest.mark.slow
def test_a_full_disk_for_the_analyst_copy_is_a_warning_and_the_last_copy_stays(tmp_path, capsys):
    """The copy is a convenience: the run is done (exit 0, outputs written, email goes); the warning
    says the copy is stale, and the previous copy is still whole. A database of a million results is
    big beside what a second run of the same export adds (its run records and write-ahead log, a few
    MB), so half the copy's size free holds the run but not a copy."""
    export = big_labs_export(tmp_path / "big", 3_000_000)
    with tmpfs(tmp_path / "db", "160m") as folder:
        args = ["-q", *run_args(tmp_path, export, "--reject-threshold", "1")]
        args[args.index("--db") + 1] = str(folder / "audit.duckdb")

        def run() -> subprocess.CompletedProcess:  # a process of its own, as cron starts it
            command = [sys.executable, "-m", "pipelines", *args]
            return subprocess.run(
                command, cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=600
            )

        assert run().returncode == 0
        copy = folder / "audit.analyst.duckdb"
        before = copy.read_bytes()
        fill(folder)
        filler = folder / "filler"
        os.truncate(filler, filler.stat().st_size - len(before) // 2)  # room for the run, not a copy
        second = run()
        assert second.returncode == 0, second.stderr
        err = second.stderr
        assert "analysts' copy" in err and "not updated" in err and "Traceback" not in err
        assert copy.read_bytes() == before
        assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_a_checkpoint_the_full_disk_refuses_is_a_warning_and_the_run_stays_committed(tmp_path, caplog):
    """Folding the write-ahead log in before the analysts' copy is DuckDB's CHECKPOINT: on a full
    disk DuckDB raises a FatalException, not an IOException. The copy is not updated (a warning),
    and what was committed is still there, in the log, when the database is opened again."""
    from pipelines.db import publish_analyst_copy

    with tmpfs(tmp_path / "db", "16m") as folder:
        db = folder / "audit.duckdb"
        with duckdb.connect(str(db)) as con:
            con.execute("SET checkpoint_threshold = '1GB'; PRAGMA disable_checkpoint_on_shutdown")
            con.execute("CREATE TABLE t AS SELECT range AS i, md5(range::VARCHAR) AS s FROM range(200000)")
        assert db.with_name("audit.duckdb.wal").exists()
        fill(folder)
        with caplog.at_level("WARNING"):
            assert publish_analyst_copy(db) is None
        assert "not updated" in caplog.text
        (folder / "filler").unlink()
        with duckdb.connect(str(db), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM t").fetchall() == [(200000,)]


@pytest.mark.parametrize(
    "foreign",
    [
        "CREATE TABLE patients (a INTEGER, b INTEGER)",
        "CREATE TABLE schema_version (version VARCHAR); INSERT INTO schema_version VALUES ('nine')",
        # Flyway's migration table, as another tool writes it: was migrated (our tables added to it)
        "CREATE TABLE schema_version (version INTEGER, description VARCHAR);"
        " INSERT INTO schema_version VALUES (3, 'init'); CREATE TABLE sales (id INTEGER)",
        # a schema_version with no `version` column: was an internal error (exit 1)
        "CREATE TABLE schema_version (v VARCHAR); INSERT INTO schema_version VALUES ('1')",
        # a schema_version like ours beside another program's tables and no run record
        "CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (3);"
        " CREATE TABLE sales (id INTEGER)",
        # ... beside tables named as ours but for their case (DuckDB would match ours to them)
        "CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (3);"
        ' CREATE TABLE "Labs" (id INTEGER)',
        "CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (3);"
        ' CREATE TABLE "Runs" (id INTEGER)',
    ],
    ids=[
        "another program's tables",
        "a text schema_version",
        "a migration table with a description",
        "a schema_version without version",
        "a schema_version like ours among other tables",
        "a schema_version like ours beside a table Labs",
        "a schema_version like ours beside a table Runs",
    ],
)
def test_a_database_file_of_another_program_is_refused_and_left_unchanged(tmp_path, capsys, foreign):
    db = tmp_path / "audit.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(foreign)
    before = db.read_bytes()
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == EXIT_STORAGE
    assert cli("runs", "--db", str(db)) == EXIT_STORAGE
    line = one_error_line(capsys.readouterr().err.split("\n", 1)[0])
    assert str(db) in line and "did not write" in line and "unchanged" in line
    assert db.read_bytes() == before
    assert not (tmp_path / "out").exists()


def test_a_first_run_killed_while_it_made_the_schema_leaves_a_database_the_next_run_takes(tmp_path):
    """A first run killed after schema_version and the schema's tables were made, before its run
    record was (no `runs` table here): every table is the schema's own, so the next run takes the
    file as its own and finishes it, rather than refusing it as another program's."""
    from pipelines.db import sql_file

    db = tmp_path / "audit.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(sql_file("schema.sql"))
        con.execute("DROP TABLE runs")
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == 0
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchall() == [(1,)]


@pytest.mark.parametrize("sidecar", ["audit.duckdb.wal", "audit.duckdb.tmp"])
def test_a_symlink_planted_as_the_write_ahead_log_is_refused(sample_db, tmp_path, capsys, sidecar):
    """DuckDB would write the run's rows (patient ids) through a symlink planted as its write-ahead
    log or spill folder: the run refuses (exit 6), writes nothing there, and the database stays."""
    db = tmp_path / "audit.duckdb"
    shutil.copy(sample_db, db)
    target = tmp_path / "elsewhere"
    (tmp_path / sidecar).symlink_to(target)
    before = table_counts(db)
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--scheduled")) == EXIT_STORAGE
    line = one_error_line(capsys.readouterr().err.split("\n", 1)[0])
    assert sidecar in line and "symlink" in line
    assert not target.exists()
    (tmp_path / sidecar).unlink()
    assert table_counts(db) == before


def test_a_write_ahead_log_newer_than_its_database_is_exit_6_naming_it_and_kept(tmp_path, capsys):
    """A database restored from a backup beside the .wal of a run killed before its checkpoint:
    DuckDB refuses to replay it (IOException), which was an internal error (exit 1)."""
    db, backup = tmp_path / "audit.duckdb", tmp_path / "backup.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
    shutil.copy(db, backup)
    with duckdb.connect(str(db)) as con:
        con.execute("INSERT INTO t VALUES (2); CHECKPOINT")
    killed = "import duckdb, os, sys\ncon = duckdb.connect(sys.argv[1])\n"
    killed += (
        "con.execute(\"SET checkpoint_threshold = '10GB'\")\ncon.execute('DELETE FROM t')\nos._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", killed, str(db)], check=True, timeout=60)
    wal = tmp_path / "audit.duckdb.wal"
    assert wal.exists()
    shutil.copy(backup, db)
    log = wal.read_bytes()
    assert cli("runs", "--db", str(db)) == EXIT_STORAGE
    line = one_error_line(capsys.readouterr().err)
    assert str(wal) in line and "Move the .wal file aside" in line
    assert wal.read_bytes() == log, "the log is the user's to move, never deleted or changed"


def test_a_symlink_planted_at_out_adhoc_is_refused_not_written_through(tmp_path, capsys):
    """An ad-hoc run writes into OUT/adhoc/<run id>, a folder the tool makes: a symlink planted there
    (to a shared folder) would take worklists naming patients wherever it points. Exit 6, nothing
    written there, nothing loaded; the nightly's OUT is untouched."""
    out, elsewhere = tmp_path / "out", tmp_path / "shared"
    out.mkdir()
    elsewhere.mkdir()
    (out / "adhoc").symlink_to(elsewhere)
    args = ["run", "--ad-hoc", "--exports", str(SAMPLE_EXPORT), "--as-of", "2026-11-20"]
    env = {"CLINIC_AUDIT_OUT": str(out)}  # OUT configured, not given: the run's own OUT/adhoc/<run id>
    assert cli(*args, "--db", str(tmp_path / "audit.duckdb"), env=env) == EXIT_STORAGE
    err = capsys.readouterr().err
    assert "adhoc: a symlink where clinic-audit writes" in err and "Traceback" not in err
    assert list(elsewhere.iterdir()) == []
    assert not (tmp_path / "audit.duckdb").exists()


def test_a_checkpoint_reading_a_damaged_block_is_a_warning_that_says_damaged(tmp_path, caplog):
    """A block of the database file that fails its checksum, found by the CHECKPOINT before the
    analysts' copy (the run itself read no such block): DuckDB raises a plain duckdb.Error, which
    escaped as an internal error after the commit. Now a warning naming the damage (not "disk
    full"), the copy not updated; the committed change stays in the write-ahead log."""
    from pipelines.db import publish_analyst_copy

    db = tmp_path / "audit.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE t AS SELECT range AS i, md5(range::VARCHAR) AS s FROM range(300000)")
    with duckdb.connect(str(db)) as con:
        con.execute("SET checkpoint_threshold = '1GB'; PRAGMA disable_checkpoint_on_shutdown")
        con.execute("UPDATE t SET s = 'x' WHERE i % 7 = 0")  # the checkpoint reads t's blocks again
    assert db.with_name("audit.duckdb.wal").exists()
    size = db.stat().st_size
    with db.open("r+b") as handle:
        for offset in range(300_000, size - 100_000, 262_144):
            handle.seek(offset)
            handle.write(b"ZZZZZZZZ")
    with caplog.at_level("WARNING"):
        assert publish_analyst_copy(db) is None
    assert "the database file is damaged" in caplog.text and "disk full" not in caplog.text
    assert not db.with_name("audit.analyst.duckdb").exists()
