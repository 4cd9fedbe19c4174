"""The DuckDB database: opening it, its schema, and the reference tables a run joins against."""

from __future__ import annotations

import errno
import functools
import logging
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import duckdb

import checks
from pipelines.errors import LockedError, ResourceError, StorageError
from pipelines.lock import POLL_SECONDS, may_wait, refuse_no_database_file
from pipelines.settings import ConfigError

log = logging.getLogger(__name__)
SQL_DIR = Path(__file__).parent / "sql"
REFERENCE_DIR = Path(__file__).parent / "reference"
CODELIST_DIR = Path(checks.__file__).parent / "codelists"
SCHEMA_VERSION = 18  # 2: labs became a view over lab_results and lab_concepts; 3: death, censored
# results, skipped and noted rows; 4: the run's verdicts stored with it (new nullable columns, added
# by schema.sql); 5: runs.kind, scheduled or ad hoc (earlier runs count as scheduled); 6: reviews,
# review_outcomes and check_results' counts with exceptions (issue 20); 7: measures and
# measure_fingerprints (monthly measures, filled by the next scheduled run), patients.site_id and
# clinician_id (nullable; issue 19); 8: runs.outputs_at, when the run's outputs were in place (a
# scheduled run stopped after its commit leaves it NULL, and the next night says so); 9:
# measures.private, an ad-hoc run's own evaluation (its --param), which only that run reads, and
# flag_origins, where a flag standing across a prune began (both added by schema.sql); 10:
# prescriptions._superseded (current_prescriptions) and lab_concepts.decimals, added by schema.sql:
# a version-9 binary would read superseded prescriptions and unrounded values, so it must refuse
# it; 11: lab_results.result_id and _superseded (current_lab_results), added by schema.sql: a
# version-10 binary would read a corrected result's replaced value, so it must refuse it; 12: a
# prescription stopped with neither end date nor days supply ends on its start (end_effective), no
# longer open-ended: stored rows are migrated (a later export's same row is a duplicate, not reloaded);
# 13: patients.registered_until and deregistered, check_exclusions.registered_until and
# check_results.deregistered_excluded (added by schema.sql): a version-12 binary would audit patients
# who left the practice, so it must refuse it; 14: prescriptions.prescription_id (added by
# schema.sql), by which a named prescription's later versions supersede it: a version-13 binary
# would load a recoded drug beside the version it replaces, so it must refuse it; 15: an OMOP
# measurement is named by its source record, not its measurement_id (pipelines/formats/omop.py):
# stored current results loaded from OMOP lose their id-based name (migrated) and take the new one
# from the next export that sends them; a version-14 binary would name them by id again and store
# every result a second time, so it must refuse it; 16: diagnoses._superseded (current_diagnoses),
# added by schema.sql: a version-15 binary would read a resolved condition's open version as still
# open, so it must refuse it; 17: diagnoses.diagnosis_id (added by schema.sql), by which a named
# condition's later versions and its withdrawal supersede it: a version-16 binary would store a
# recoded Condition beside the version it replaces and keep one refuted since, so it must refuse it;
# 18: unreadable_patients and check_results.unreadable_excluded (added by schema.sql): a version-17
# binary would audit a patient whose patients row could not be read (a dead one, its death date
# lost with the row), so it must refuse it
LAB_KEY_SOURCES = ("typed_labs", "lab_results")  # tables refresh_lab_concepts may read keys from


def sql_file(name: str) -> str:
    """The text of one of the package's SQL files."""
    return (SQL_DIR / name).read_text(encoding="utf-8")


# No outbound network: DuckDB would otherwise download and load an extension on first use (a SQLite
# file opened as a database fetches sqlite_scanner). The run needs none beyond the built-in ones
# (json, parquet, icu, core_functions; tests/functional/test_faults_process.py holds it to that).
OFFLINE = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


def open_duckdb(path: Path | str, read_only: bool = False, **config: str) -> duckdb.DuckDBPyConnection:
    """`duckdb.connect` with extension downloads off, for every connection the tool opens."""
    return duckdb.connect(str(path), read_only=read_only, config={**OFFLINE, **config})


def connect(path: Path, memory_limit: str = "1.25GB", threads: int = 0) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the database file, owner-only, with the schema in place.

    DuckDB's memory limit bounds the working set of a big load; past it, work spills to a temp
    folder beside the database instead of growing the process. `threads` (0: one per core) bounds
    DuckDB's worker threads on a shared server. A file DuckDB cannot open raises
    StorageError (exit 6); one held by another program's DuckDB session LockedError (exit 5) once the
    command's --wait budget is spent.
    """
    refuse_no_database_file(path)  # a folder, or a named pipe DuckDB would wait on for ever
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StorageError(f"{path.parent}: cannot create the database folder ({error.strerror})") from None
    _no_symlinked_sidecars(path)
    # Before DuckDB opens it, never after: its lock is a POSIX record lock, which the kernel drops
    # when this process closes ANY descriptor of the file; opening the file again to change its mode
    # released it, and a second writer (another program's session, a run reaching the file by a hard
    # link or a bind mount) could then open and write it beside this one. A file DuckDB creates now,
    # or its write-ahead log, is owner-only by the process umask (cli.py).
    _owner_only(path)
    con = _open_when_free(path, memory_limit, threads)
    try:
        con.execute("SET TimeZone = 'UTC'")
        stored = _stored_schema_version(con, path)  # None: a new database
        if stored is not None and stored > SCHEMA_VERSION:
            raise ConfigError(
                f"{path}: written by a newer clinic-audit (schema version {stored}; this one knows up "
                f"to {SCHEMA_VERSION}). Upgrade clinic-audit to use this database."
            )
        _apply_schema(con)
        _load_reference(con)
        if stored is not None and stored < SCHEMA_VERSION:
            _migrate(con, stored)
        con.execute(sql_file("views.sql"))
    except BaseException:
        con.close()  # no half-opened database left behind (and no file handle held on it)
        raise
    return con


def _no_symlinked_sidecars(path: Path) -> None:
    """DuckDB writes its write-ahead log (`<db>.wal`) and spills (`<db>.tmp/`) beside the database,
    following a symlink planted there: refuse one (exit 6), as every file the tool writes does."""
    for sidecar in (path.with_name(path.name + ".wal"), path.with_name(path.name + ".tmp")):
        if sidecar.is_symlink():
            raise StorageError(
                f"{sidecar}: is a symlink; DuckDB writes its log and spill files there, and clinic-audit "
                "never writes through a symlink. Remove it (nothing was changed)."
            )


def _owner_only(path: Path) -> None:
    """The database and its write-ahead log hold every patient's records: owner-only, whether new
    or restored by `cp` under umask 022 (0644). Only a regular file this user owns, never through a
    symlink (reports/files.py restrict_to_owner)."""
    from reports.files import restrict_to_owner

    for file in (path, path.with_name(path.name + ".wal")):
        restrict_to_owner(file)


def _open_when_free(path: Path, memory_limit: str, threads: int) -> duckdb.DuckDBPyConnection:
    """Open the file, waiting (within the command's --wait budget) while another process holds it."""
    config = {"memory_limit": memory_limit} | ({"threads": str(threads)} if threads else {})
    while True:
        try:
            return open_duckdb(path, **config)
        except duckdb.Error as error:
            if not _held_elsewhere(error):
                raise database_error(error, path) from None
            if not may_wait():
                raise LockedError(
                    f"{path} is open in another program (a DuckDB session, e.g. an analyst's; "
                    f"{_holder(error)}). Analysts should open the read-only copy "
                    f"{analyst_copy_path(path).name} instead. Try again later, or pass --wait "
                    "(--wait-timeout) to wait for it to close."
                ) from None
        time.sleep(POLL_SECONDS)


def _held_elsewhere(error: duckdb.Error) -> bool:
    return isinstance(error, duckdb.IOException) and "Could not set lock on file" in str(error)


def _holder(error: duckdb.Error) -> str:
    """The holder's process id as DuckDB reports it (a number only: nothing else is quoted)."""
    _, found, rest = str(error).partition("(PID ")
    pid = rest.split(")", 1)[0]
    return f"process {pid}" if found and pid.isdigit() else "process unknown"


# DuckDB message fragments (never shown: they may quote data) and what they mean for the user.
_FOREIGN = (
    "not a valid DuckDB database file",  # also an empty file
    "xtension",  # a file of another program (SQLite) asks for its reader extension, which stays off
)
_DAMAGED = ("Could not read enough bytes", "Corrupt database file", "checksum")
# Every write-ahead log DuckDB refuses to replay (its checkpoint iteration does not match the file's,
# or it belongs to another database): "Failure while replaying WAL file ..."
_WAL_REPLAY = "replaying WAL"
_DISK_FULL = ("No space left on device", "File too large", "Disk quota exceeded")


def database_error(error: BaseException, path: Path | None) -> Exception:
    """A DuckDB error as the user error it stands for, or the error itself when it is none of them.

    The message names the file and what to do; DuckDB's own text never reaches the user or the log.
    """
    text, where = str(error), f"{path}: " if path is not None else ""
    if isinstance(error, duckdb.OutOfMemoryException):
        return ResourceError(
            f"{where}out of memory (DuckDB's memory_limit, or the memory the machine could give): set "
            "memory_limit below the memory free on this machine, or give it more. Nothing was "
            "committed: the database is unchanged."
        )
    if any(fragment in text for fragment in _DISK_FULL):
        return ResourceError(
            f"{where}disk full while writing the database or its temporary files. Nothing was "
            "committed: the database is unchanged. Free space and run again."
        )
    if "Permission denied" in text or "Read-only file system" in text:
        return StorageError(
            f"{where}cannot open the database file or write in its folder (permission denied or a "
            "read-only file system)."
        )
    if "Is a directory" in text:
        return StorageError(f"{where}is a folder, not a database file: name a file with --db.")
    if _WAL_REPLAY in text:
        wal = path.with_name(path.name + ".wal") if path is not None else "the database's .wal file"
        return StorageError(
            f"{wal}: this write-ahead log does not match the database file beside it (a log left by a "
            "run stopped before its checkpoint, beside a database restored from a backup or copied in); "
            "DuckDB will not replay it, and nothing was changed. Move the .wal file aside (do not "
            "delete it: it may hold the latest committed run) and run again."
        )
    if any(fragment in text for fragment in _FOREIGN):
        return StorageError(
            f"{where}not a DuckDB database (an empty file, or another program's such as SQLite); it was "
            "not changed. Move it aside (or name another file with --db) to start a new database."
        )
    if damaged_database(error):
        return StorageError(
            f"{where}the database file is damaged (truncated, or a block failed its checksum). Restore "
            "it from a backup, or move it aside to start a new database."
        )
    return error


def out_of_resources(error: BaseException) -> bool:
    """Disk full or out of memory, from DuckDB or the OS: not the input's fault, so a reader that turns
    its errors into "cannot be read" (exit 3) lets these through to the CLI (exit 7)."""
    if isinstance(error, OSError):
        return error.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
    if isinstance(error, MemoryError | duckdb.OutOfMemoryException):
        return True
    return isinstance(error, duckdb.Error) and any(fragment in str(error) for fragment in _DISK_FULL)


def scratch_beside(db: Path) -> AbstractContextManager[Path]:
    """The run's folder for working copies of export files (a mended copy holds patient rows):
    `.<db name>.scratch-<random>` beside the database file (reports.files.private_folder_beside)."""
    from reports.files import private_folder_beside

    return private_folder_beside(db, "scratch", "scratch folder")


def analyst_copy_path(db: Path) -> Path:
    """`<db stem>.analyst.duckdb` beside the database: the copy analysts open (publish_analyst_copy)."""
    return db.with_name(f"{db.stem}.analyst.duckdb")


def publish_analyst_copy(db: Path) -> Path | None:
    """Copy the database, after a command changed it, to analyst_copy_path atomically.

    Analysts open the copy (read-only) whenever they like: a session left open on it never blocks the
    nightly run, and keeps the previous night's copy it opened until it closes. A copy that cannot be
    written (disk full) is a warning, not a failure: the run is done and its email still goes; the
    previous copy stays whole. Returns the copy, or None when it was not updated.
    """
    from reports.files import copy_private, remove_leftovers, temp_leftovers

    copy = analyst_copy_path(db)  # a run killed while copying left its partial copy (patient data)
    remove_leftovers(temp_leftovers(db.parent, copy.name), "a partial analysts' copy")
    try:
        if db.with_name(db.name + ".wal").exists():  # fold the write-ahead log in: the copy is whole
            with open_duckdb(db) as con:
                con.execute("CHECKPOINT")
        return copy_private(db, analyst_copy_path(db))
    except (OSError, duckdb.Error) as error:
        # a CHECKPOINT that fails to write (disk full) is DuckDB's FatalException, one that reads a
        # block failing its checksum a plain duckdb.Error: the committed run stays in the
        # write-ahead log, which the next open replays. Any other DuckDB error is a defect.
        if not isinstance(
            error, OSError | duckdb.IOException | duckdb.FatalException | duckdb.OutOfMemoryException
        ) and not (damaged_database(error) or out_of_resources(error)):
            raise
        reason = error.strerror if isinstance(error, OSError) else _checkpoint_fault(error)
        log.warning(
            "analysts' copy %s not updated (%s); the previous copy stays", analyst_copy_path(db), reason
        )
        return None


def damaged_database(error: BaseException) -> bool:
    """Whether a DuckDB error says the database file is damaged (a block failing its checksum, a file
    cut short): the file's fault, whatever the command was doing when it read it."""
    return isinstance(error, duckdb.Error) and any(fragment in str(error) for fragment in _DAMAGED)


def _checkpoint_fault(error: duckdb.Error) -> str:
    """Why DuckDB could not fold the write-ahead log into the file, in words: a block of the file
    failing its checksum is a damaged database (every later run stays in the growing log until it is
    restored), not a full disk, which the message used to say whatever the cause."""
    if damaged_database(error):
        return (
            "the database file is damaged: a block failed its checksum. The runs since are kept in its "
            ".wal file; restore the database from a backup"
        )
    return "disk full or unwritable"


def _apply_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(sql_file("schema.sql"))
    if scalar(con, "SELECT count(*) FROM schema_version") == 0:
        con.execute("INSERT INTO schema_version VALUES ($v)", {"v": SCHEMA_VERSION})


def _stored_schema_version(con: duckdb.DuckDBPyConnection, path: Path) -> int | None:
    """The schema version the file was written with; None for a new (or empty) file.

    Read before anything is changed: a newer version is refused, an older one migrated, and a
    DuckDB database of another program (tables, but no schema_version of ours) is refused and left
    as it is (schema_version is the first table clinic-audit creates)."""
    names = _names(con)
    if "schema_version" not in names:
        if names:
            raise StorageError(_not_ours(path))
        return None
    if not _ours(con, names):
        raise StorageError(_not_ours(path))
    version = scalar(con, "SELECT max(version) FROM schema_version")
    if version is not None and not isinstance(version, int):
        raise StorageError(_not_ours(path))
    return version


def _ours(con: duckdb.DuckDBPyConnection, names: set[str]) -> bool:
    """Whether a database holding a `schema_version` table is clinic-audit's: that table exactly as
    schema.sql makes it (one INTEGER column, `version`), and either the run record (`runs`, made
    with it since the first version) or only tables and views of this schema (a first run killed
    while it made them). Another program's migration table ('schema_version' is a common name:
    Flyway's has a version and a description) is refused, not migrated."""
    columns = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE table_name = 'schema_version' AND database_name = current_database() ORDER BY column_index"
    ).fetchall()
    if columns != [("version", "INTEGER")]:
        return False
    return "runs" in names or names <= _schema_names()


def _names(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The database's own tables and views, named as stored: another program's "Runs" or "Labs" is
    not one of ours (DuckDB would match it to ours, case-insensitively, and write into it)."""
    return {
        name
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT temporary "
            "UNION SELECT view_name FROM duckdb_views() WHERE NOT internal AND NOT temporary"
        ).fetchall()
    }


@functools.cache
def _schema_names() -> frozenset[str]:
    """The tables and views a new database gets, as DuckDB's catalogue lists them after the same
    steps (schema.sql, the reference tables, views.sql) in memory: no pattern over the SQL's text
    to fall out of step with it."""
    with duckdb.connect(":memory:") as con:
        _apply_schema(con)
        _load_reference(con)
        con.execute(sql_file("views.sql"))
        return frozenset(_names(con))


def _not_ours(path: Path) -> str:
    return (
        f"{path}: a DuckDB database that clinic-audit did not write (other tables, no schema version "
        "of clinic-audit's); it was left unchanged. Give --db a clinic-audit database or a new file."
    )


def _migrate(con: duckdb.DuckDBPyConnection, stored: int) -> None:
    """Bring a database written by version `stored` to SCHEMA_VERSION, in one transaction.

    (schema.sql has already added the new, empty tables and columns, idempotently, so a failed
    migration leaves a version-1 file that the next attempt migrates.)

    Version 1 stored `labs` as a table with the mapping (analyte, canonical value) frozen at load;
    version 2 keeps the results as exported in `lab_results` and maps them through `lab_concepts`.
    """
    with transaction(con):
        if scalar(con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'labs' AND NOT temporary"):
            con.execute(
                """
                INSERT INTO lab_results (patient_id, collected_at, loinc_code, test_name,
                                         value_original, unit_original, _run_id)
                SELECT patient_id, collected_at, loinc_code, test_name, value_original, unit_original,
                       _run_id
                FROM labs;
                DROP TABLE labs;
                """
            )
            refresh_lab_concepts(con, "lab_results")
        # runs before version 8 kept no outputs_at: they are not known to have been stopped
        con.execute("UPDATE runs SET outputs_at = coalesce(finished_at, started_at) WHERE outputs_at IS NULL")
        # before version 9 an ad-hoc run's own measures were known by its --param reasons, as text
        con.execute(
            """UPDATE measures m SET private = true FROM runs r
            WHERE r.run_id = m.run_id AND NOT coalesce(m.private, false)
              AND contains(coalesce(CAST(r.settings->'ad_hoc_because' AS VARCHAR), ''),
                           '--param ' || m.check_id || '.')"""
        )
        # before version 12 a prescription stopped with no end date and no days supply stayed open-ended
        con.execute(
            "UPDATE prescriptions SET end_effective = start_date WHERE stopped AND end_date IS NULL "
            "AND days_supply IS NULL AND end_effective IS NULL"
        )
        _unname_omop_results(con)  # before version 15
        _settle_diagnoses(con)  # before version 16
        if stored < 18:  # rows quarantined before are found by the next read of a patients file
            con.execute(
                "INSERT INTO reread_next SELECT 'patients' WHERE 'patients' NOT IN (FROM reread_next)"
            )
        con.execute("UPDATE schema_version SET version = $v", {"v": SCHEMA_VERSION})


# The runs known to have read lab results from OMOP (`omop`), or from another format (`other`): by
# the format recorded, or, for a run of format auto (recorded so before schema 15), by its labs file
# (OMOP's is its measurement table: MEASUREMENT.csv, measurement.parquet, cdm.duckdb:measurement).
_LABS_READ_FROM = """
    SELECT run_id FROM runs WHERE export_format {is_omop} 'omop' AND export_format <> 'auto'
    UNION
    SELECT f.run_id FROM run_files f JOIN runs r USING (run_id)
    WHERE r.export_format = 'auto' AND f.table_name = 'labs'
      AND {is_not} contains(lower(f.file), 'measurement')
"""
_OMOP_RUNS = _LABS_READ_FROM.format(is_omop="=", is_not="")
_OTHER_RUNS = _LABS_READ_FROM.format(is_omop="<>", is_not="NOT")


def _unname_omop_results(con: duckdb.DuckDBPyConnection) -> None:
    """Before schema 15 an OMOP measurement was named by its measurement_id, which an ETL renumbers
    at each rebuild, so each refresh had stored its results again. The current results stored from
    OMOP lose that name (the next export that sends them names them by their source record:
    pipelines/ingest.py _name_stored pairs them by identity), and of the copies a renumbering stored
    (the same result, loaded again by a later run) the first stays current, the later ones
    `_superseded`. A result counts as stored from OMOP when the run holding it read OMOP; a run
    `prune` left without its files, when the database's runs read OMOP and no other format."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE omop_named AS
        SELECT l.rowid AS _row, l._run_id, r.seq,
               hash(l.patient_id, l.collected_at, l.loinc_code, l.test_name, l.value_original,
                    l.unit_original, l.value_comparator) AS _identity
        FROM lab_results l LEFT JOIN runs r ON r.run_id = l._run_id
        WHERE l.result_id IS NOT NULL AND NOT starts_with(l.result_id, 'source | ')
          AND NOT coalesce(l._superseded, false)
          AND (l._run_id IN ({_OMOP_RUNS})
               OR (l._run_id NOT IN ({_OTHER_RUNS})
                   AND EXISTS ({_OMOP_RUNS}) AND NOT EXISTS ({_OTHER_RUNS})))
        """  # noqa: S608 - constant SQL
    )
    con.execute("UPDATE lab_results SET result_id = NULL WHERE rowid IN (SELECT _row FROM omop_named)")
    con.execute(
        """
        UPDATE lab_results SET _superseded = true WHERE rowid IN (
            SELECT _row FROM omop_named
            QUALIFY seq > min(seq) OVER (PARTITION BY _identity))
        """
    )
    con.execute("DROP TABLE omop_named")


def _settle_diagnoses(con: duckdb.DuckDBPyConnection) -> None:
    """Before schema 16 a diagnosis sent open and later resolved was stored in both versions, each
    current, so the condition stayed open. Of a diagnosis (patient, code, code system, recorded date)
    stored so, the versions the latest scheduled run that loaded one stored stay current (an ad-hoc
    run's only when no scheduled run loaded one), the others are
    `_superseded`; a later export that sends one of those again restates it (ingest._restate). Done
    here, not left to the next export: a rolling window may never send a condition again."""
    # scheduled runs in their order; an ad-hoc run (an analyst's older export) never rolls the
    # nightly back, so its versions come before every scheduled run's
    order = "coalesce(r.seq, 0) - CASE WHEN r.kind = 'ad hoc' THEN 1000000000000000 ELSE 0 END"
    con.execute(
        f"""
        UPDATE diagnoses SET _superseded = true WHERE rowid IN (
            SELECT s.rowid
            FROM diagnoses s LEFT JOIN runs r ON r.run_id = s._run_id
            -- (a named one, schema 17, is one by its name, each version stated by a scheduled run)
            WHERE NOT coalesce(s._superseded, false) AND s.diagnosis_id IS NULL
            WINDOW fact AS (PARTITION BY s.patient_id, s.code, s.code_system, s.recorded_at)
            QUALIFY min(coalesce(s.resolved_at, DATE '0001-01-01')) OVER fact  -- stored in two versions
                    <> max(coalesce(s.resolved_at, DATE '0001-01-01')) OVER fact
                AND {order} < max({order}) OVER fact)
        """  # noqa: S608 - constant SQL
    )


def refresh_lab_concepts(con: duckdb.DuckDBPyConnection, keys_from: str | None = None) -> None:
    """Rebuild `lab_concepts` from the current codelists, adding the keys found in `keys_from`.

    `keys_from` is one of LAB_KEY_SOURCES (the staged labs, or every stored result); run inside the
    caller's transaction.
    """
    if keys_from is not None and keys_from not in LAB_KEY_SOURCES:
        raise ValueError(f"lab keys come from one of {LAB_KEY_SOURCES}, not {keys_from!r}")
    source = keys_from or "lab_concepts WHERE false"
    con.execute(
        "CREATE OR REPLACE TEMP VIEW new_lab_keys AS "  # noqa: S608 - a name from LAB_KEY_SOURCES
        f"SELECT DISTINCT loinc_code, test_name, unit_original FROM {source}"
    )
    con.execute(sql_file("lab_concepts.sql"))


def _load_reference(con: duckdb.DuckDBPyConnection) -> None:
    """Temp tables for lab mapping and unit conversion, read fresh from the package each run."""
    con.execute(sql_file("macros.sql"))
    load_lab_codelists(con, [str(CODELIST_DIR / "lab_tests.csv")])
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE ref_analytes AS
        SELECT analyte, canonical_unit, plausible_low::DOUBLE AS plausible_low,
               plausible_high::DOUBLE AS plausible_high, decimals::INTEGER AS decimals
        FROM read_csv($p, all_varchar = true)
        """,
        {"p": str(REFERENCE_DIR / "analytes.csv")},
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE ref_unit_conversions AS
        SELECT analyte, unit_key(unit) AS unit, factor::DOUBLE AS factor
        FROM read_csv($p, all_varchar = true)
        """,
        {"p": str(REFERENCE_DIR / "unit_conversions.csv")},
    )
    # The unit as written when it is a unit of some test in the unit map, else NULL: for a format
    # that carries two spellings of one unit (OMOP's unit concept code and unit_source_value) to
    # take the one it knows. Here, not in macros.sql: it reads the table just loaded.
    con.execute(
        "CREATE OR REPLACE TEMP MACRO known_unit(x) AS "
        "CASE WHEN unit_key(x) IN (SELECT unit FROM ref_unit_conversions) THEN x END"
    )


def load_lab_codelists(con: duckdb.DuckDBPyConnection, paths: list[str]) -> None:
    """The lab mapping tables (ref_lab_codes, ref_lab_names) from lab_tests CSVs: the shipped file,
    then a clinic's local additions (pipelines/codelists.py), which add codes and never re-map one."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE ref_lab_codes AS
        SELECT DISTINCT ON (code) upper(trim(code)) AS code, analyte, specimen
        FROM read_csv($p, all_varchar = true, union_by_name = true) WHERE system = 'LOINC' ORDER BY code
        """,
        {"p": paths},
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE ref_lab_names AS
        SELECT DISTINCT ON (name) lower(trim(code)) AS name, analyte, specimen
        FROM read_csv($p, all_varchar = true, union_by_name = true) WHERE system = 'name' ORDER BY name
        """,
        {"p": paths},
    )


_UNITS = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def memory_limit_bytes(con: duckdb.DuckDBPyConnection) -> int | None:
    """DuckDB's memory limit in bytes, read back from DuckDB itself (which normalises "1.25GB",
    "80%", ... to "1.1 GiB"); None if it ever answers in a form not known here."""
    number, _, unit = str(scalar(con, "SELECT current_setting('memory_limit')")).partition(" ")
    try:
        return int(float(number) * _UNITS[unit])
    except (ValueError, KeyError):
        return None


def scalar(con: duckdb.DuckDBPyConnection, query: str, params: dict | None = None) -> object:
    """The single value a query returns (fully consumed, as DuckDB 2 requires before the next call)."""
    rows = con.execute(query, params or {}).fetchall()
    return rows[0][0] if rows else None


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection, keep: bool = True) -> Iterator[None]:
    """One transaction around the block: committed when it ends (`keep`), rolled back on any error,
    kill or interrupt, and always rolled back with `keep=False` (a what-if that must write nothing)."""
    con.begin()
    try:
        yield
    except BaseException:
        con.rollback()
        raise
    if keep:
        con.commit()
    else:
        con.rollback()
