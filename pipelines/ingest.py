"""Load one export folder into DuckDB: stage, validate with pandera, quarantine, de-duplicate, load.

Per file, the data never leaves DuckDB: the CSV reader stages every record as text (structural
faults such as bad encoding or missing fields land in DuckDB's reject tables with their line), the
staging SQL types and normalises it, pandera (ibis backend) validates every row in place, failing
rows go to `quarantine`, and the remaining rows are inserted unless an identical row is already
there. Rows a format profile marks as outside the audit (`_skip`: Synthea vital signs, a FHIR
entered-in-error result) are counted per reason and go no further; rows failing only soft rules, or
that a profile repaired (`_note`), load with a line in `row_notes`. The caller owns the
transaction, so a failure anywhere leaves the database as it was.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import duckdb
import ibis
import pandas as pd
import pandera.errors

from pipelines.contract import WITHDRAWING_SKIP_PREFIXES, TableContract
from pipelines.csv_scan import Mended, layout, mend, scratch_folder
from pipelines.csv_tables import MAX_RECORD_BYTES, open_bytes, open_regular, refuse_unless_regular
from pipelines.db import out_of_resources, refresh_lab_concepts, scalar, sql_file
from pipelines.errors import READ_ERRORS, InputError, file_fault
from pipelines.rules import Rule, combined_check, keyed, schema_for

log = logging.getLogger(__name__)


@dataclass
class FileResult:
    """What happened to one export file in one run."""

    table: str
    file: str
    sha256: str
    bytes: int = 0
    rows_read: int = 0
    rows_loaded: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0
    skipped_unchanged: bool = False
    top_reasons: list[dict] = field(default_factory=list)
    rows_skipped: int = 0  # outside what the tool audits (profile's `_skip`): not loaded, not rejected
    skip_reasons: dict[str, int] = field(default_factory=dict)  # reason -> rows
    rows_noted: int = 0  # loaded, with a problem noted in row_notes
    top_notes: list[dict] = field(default_factory=list)
    cleared: dict[str, int] = field(default_factory=dict)  # column -> rows loaded without its value

    @property
    def reject_rate(self) -> float:
        """Share of the file's audited rows (read, less skipped) that were quarantined."""
        return reject_rate(self.rows_rejected, self.rows_read, self.rows_skipped)


def reject_rate(rejected: int, read: int, skipped: int) -> float:
    """Share of a file's audited rows (read, less skipped: outside the audit) that were quarantined;
    what `reject_threshold` is compared with."""
    audited = read - skipped
    return rejected / audited if audited else 0.0


def sha256_of(*paths: Path) -> str:
    """The files' sha256 (of one file, or of their digests in order), so a re-sent export is known."""
    digests = []
    for path in paths:
        with open_regular(path) as handle:
            digests.append(hashlib.file_digest(handle, "sha256").hexdigest())
    return digests[0] if len(digests) == 1 else hashlib.sha256("".join(digests).encode()).hexdigest()


def hashing_thread() -> ThreadPoolExecutor:
    """The thread a load hashes its files in, started and warmed up before staging fills memory.

    A thread started later, when a big load has taken the memory, may fail to start (out of memory,
    exit 7) or, worse, die in glibc allocating the OpenSSL thread-local state its first hash touches
    ("cannot allocate memory for thread-local data", an abort no handler sees). Started and used
    once first, it holds what it needs for the whole load.
    """
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
    pool.submit(sha256_of).result()
    return pool


@contextmanager
def _own_or(pool: ThreadPoolExecutor | None) -> Iterator[ThreadPoolExecutor]:
    """`pool` as it is (its owner shuts it down), or a pool of one thread for this file only."""
    if pool is not None:
        yield pool
        return
    with ThreadPoolExecutor(max_workers=1) as own:
        yield own


@dataclass(frozen=True)
class LookupKey:
    """A lookup table a joined source reads (OMOP concept, MIMIC d_labitems), and its key column.

    A key repeated in it would multiply the rows joined to it; the profile's select uses one row of
    each key, and the run warns (duplicate_key_warnings).
    """

    label: str  # the file as the warning names it
    key: str
    relation: str  # SQL reading the table, with `params` bound
    params: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class RawSource:
    """Where one contract table's rows come from, as a format profile describes it.

    `select` is a SELECT yielding the table's contract columns as text, with `params` bound. When
    `lines` is true its n-th record is line n+1 of `label` (a plain CSV read in order), so quarantined
    rows get line numbers; otherwise (a profile joining files) a quarantined row has no line and is
    shown by its contract fields.

    When `skips` is true the select also yields `_skip`: NULL for a row to audit, else why the row
    is outside the audit (counted per reason, never validated, loaded or rejected). When `notes` is
    not empty it also yields `_note`: NULL, or the name of a note in `notes` (name -> (column,
    message)), for a row the profile repaired (a MIMIC stop time before its start); the row loads
    and the note goes to `row_notes`. `lookups` are the tables it joins whose key must be unique.
    """

    spec: TableContract
    label: str
    paths: tuple[Path, ...]
    select: str
    params: Mapping[str, object]
    order: tuple[str, ...]  # contract columns in the source's own order, for showing originals
    lines: bool = False
    reject_columns: Mapping[str, str] = field(default_factory=dict)  # reader column -> contract column
    # Latest plausible date. None: the export date (run date). Date-shifted research data (MIMIC-IV
    # shifts into the 2100s-2200s) sets its own ceiling so shifted dates are not "in the future".
    max_date: date | None = None
    skips: bool = False
    notes: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    lookups: tuple[LookupKey, ...] = ()
    encoding: str = "utf-8"  # of a record-numbered CSV (`lines`): the export's `encoding` setting
    encoding_setting: str = "utf-8"  # the setting itself (`encoding` is UTF-8 for a file with a BOM)
    date_order: str = "iso"  # how non-ISO dates are read: the export's `date_order` setting
    # The parameter binding the path of the CSV whose records this source reads (scanned and, when
    # DuckDB would misread it, mended: csv_scan); "path" for a record-numbered CSV (`lines`).
    csv_param: str | None = None
    # The delimiter the select's reader splits that CSV at, handed to the scan and the mending so that
    # they judge quotes as the reader does (a profile knows it; the header may suggest another).
    delimiter: str = ","
    # Records the reader passes over, found by the profile: (line, error type, text, file name) of
    # each, quarantined by line (FHIR: lines that are no resource of the file's type).
    faults: Callable[[duckdb.DuckDBPyConnection], list[tuple]] | None = None
    # The patient id in the text of a record the reader could not read (its line, or a FHIR resource's
    # JSON), when it can be made out: a patients row so lost leaves its patient out of the audit
    # (_track_unreadable). None: the profile cannot tell.
    patient_of: Callable[[str], str | None] | None = None


# A CSV staged in memory takes about twice its size on disk (measured: a 166 MB labs.csv staged as
# 331 MB; 1.68 GB as 2.8 GB). Used only to decide where a file is staged.
STAGED_BYTES_PER_FILE_BYTE = 2
# A gzip-compressed export CSV is about an eighth of its text (gzip -6: the sample clinic's labs.csv
# 7.7x, prescriptions.csv 8.1x), so its staged rows are judged at eight times its size.
GZIP_TEXT_PER_FILE_BYTE = 8


@dataclass
class StagingBudget:
    """Where each file's staged rows go: in memory while they fit, else in the database file.

    Staged rows stay in memory until the run commits (DuckDB keeps even dropped tables for a
    rollback), so staging every file in memory makes a big export spill to disk uncompressed, and
    every later step then reads spilled rows. A file that would take staged rows past DuckDB's
    memory limit is staged instead in a table of the database file, where DuckDB writes it
    compressed as it goes; at the commit that table is gone and its blocks are free for the next
    night's staging. Measured with memory limit 1.25GB: at 1M patients (30M lab rows, about 2.8 GB
    staged) the run took 44 s instead of 53 s, and the file keeps about 0.8 GB of free blocks for
    reuse. In memory is faster while it fits: 3M lab rows took 1.9 s there and 2.5 s on disk; 10M
    (about 0.9 GB staged) 6.8 s and 9.1 s. Half the limit as the bound sent those 10M to disk.
    """

    memory_bytes: int | None
    used: int = 0

    def schema_for(self, source: RawSource, file_bytes: int) -> str:
        """Where to stage this source's rows: "temp" (memory) or "main" (the database file).

        Only a CSV read in order (`source.lines`) is judged by its size (a .gz one by the text it
        holds, about GZIP_TEXT_PER_FILE_BYTE times its size): the size of files a profile joins says
        little about the rows they yield, so such sources are staged in memory (and spill if they
        must).
        """
        compressed = source.lines and any(p.name.lower().endswith(".gz") for p in source.paths[:1])
        need = STAGED_BYTES_PER_FILE_BYTE * file_bytes * (GZIP_TEXT_PER_FILE_BYTE if compressed else 1)
        if not source.lines or self.memory_bytes is None or self.used + need <= self.memory_bytes:
            self.used += need
            return "temp"
        return "main"


def preflight(
    export_dir: Path, export_format: str = "generic", encoding: str = "utf-8", date_order: str = "iso"
) -> list[RawSource]:
    """The export's sources, every file and column checked before the database is touched; CSV
    files read in order are read in `encoding` (a spreadsheet's cp1252), and dates that are not
    ISO 8601 in `date_order` (day-first, month-first; iso: none)."""
    from pipelines.formats import sources_for

    return [
        replace(
            source, encoding=_encoding_of(source, encoding), encoding_setting=encoding, date_order=date_order
        )
        for source in sources_for(export_dir, export_format)
    ]


def _encoding_of(source: RawSource, encoding: str) -> str:
    """The encoding a record-numbered CSV is read in: the `encoding` setting, except that a file
    opening with UTF-8's byte-order mark is UTF-8 (Excel's "CSV UTF-8" writes one; a clinic with
    `encoding = cp1252` for its older files then sends one such file): read as cp1252, 'µmol/L'
    became 'Âµmol/L' (quarantined) and 'Créatinine' 'CrÃ©atinine' (an unknown test, silently)."""
    if _utf8(encoding) or not source.lines:
        return encoding
    try:
        with open_bytes(source.paths[0]) as handle:
            head = handle.read(len(codecs.BOM_UTF8))
    except READ_ERRORS:
        return encoding  # the read that follows names the fault
    return BOM_UTF8 if head == codecs.BOM_UTF8 else encoding


# A record-numbered CSV read as UTF-8 because it opens with the byte-order mark, whatever the setting.
BOM_UTF8 = "utf-8-sig"


@dataclass(frozen=True)
class Reading:
    """How a source is read: as given, or (a record-numbered CSV DuckDB would misread) from a mended
    copy. `expected`: the data records the file holds, each to be loaded, skipped or quarantined
    (None: not counted, a source joining files)."""

    source: RawSource
    expected: int | None = None
    mended: Mended | None = None


def _reading(source: RawSource, scratch: Path) -> Reading:
    """Scan the source's CSV (csv_scan): read a clean one as it is, else a mended copy. Only a
    record-numbered CSV (`lines`) is counted: a joined source's rows are not its file's records."""
    param = source.csv_param or ("path" if source.lines else None)
    if param is None:
        return Reading(source)
    path = Path(str(source.params[param]))
    if _utf8(source.encoding):
        found = layout(path, source.delimiter)
        if found.clean:
            return Reading(source, found.records if source.lines else None)
    mended = mend(path, scratch / "mended.csv", source.delimiter, source.encoding)
    log.info(
        "%s: read from a mended copy (line ends, blank lines, quotes or encoding); %d records left out",
        source.label,
        len(mended.rejects),
    )
    params = dict(source.params) | {param: str(mended.path)}
    expected = mended.records + len(mended.rejects) if source.lines else None
    return Reading(replace(source, params=params), expected, mended)


# What a DuckDB reader error means, by a word of its text: the text itself may quote the input
# line (patient data), so only these words reach the user.
READER_FAULTS = (
    ("gzip", "not a readable gzip file (truncated or damaged)"),
    ("compress", "not a readable compressed file (truncated or damaged)"),
    ("permission", "permission denied"),
    ("directory", "a folder, not a file"),
    ("unicode", "not valid UTF-8 text"),
    ("utf", "not valid UTF-8 text"),
    ("maximum line size", "a record longer than the reader's maximum line size"),
    ("csv", "not text the tool can read record by record (binary data, or broken quotes or line ends)"),
)


# DuckDB's own line after the quoted record, when a record's fields do not match the header's
WIDTH = re.compile(r"^Expected Number of Columns: (\d+) Found: (\d+)", re.MULTILINE)


def reader_fault(error: Exception) -> str:
    """The kind of a reader's fault in words (READER_FAULTS), from its first line (its later lines
    quote the record, "Original Line: ...") and the field counts of DuckDB's own WIDTH line."""
    width = WIDTH.search(str(error))
    if width and int(width.group(1)) > 1:  # a line reader's one column (NDJSON) has no header to match
        return f"a record with {width.group(2)} fields where the header has {width.group(1)}"
    text = str(error).split("\n", 1)[0].lower()
    return next((what for word, what in READER_FAULTS if word in text), "the file cannot be read")


def reader_error(source: RawSource, error: Exception) -> InputError:
    """An InputError naming the file (of a source reading several, the one DuckDB names by the path
    it was given: no patient data), the line when DuckDB gives one, and the kind of fault."""
    label = next((path.name for path in source.paths if str(path) in str(error)), source.label)
    return file_reader_error(label, error)


def file_reader_error(label: str, error: Exception) -> InputError:
    """An InputError naming the file, the line when DuckDB gives one, and the kind of fault, without
    the error's own text (reader_fault)."""
    line = re.search(r"\bline[: ]+(\d+)", str(error).split("\n", 1)[0].lower())
    where = f", line {line.group(1)}" if line else ""
    return InputError(f"{label}{where}: {reader_fault(error)}; nothing was loaded")


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    source: RawSource,
    run_id: str,
    export_date: date,
    budget: StagingBudget | None = None,
    hasher: ThreadPoolExecutor | None = None,
    restate: bool = True,
    scratch: Path | None = None,
) -> FileResult:
    """Stage (in memory, or where `budget` says), validate, quarantine and load one source; returns
    its counts. A file skipped as unchanged takes nothing from the budget. `restate` (a scheduled
    run): its export is the latest statement of what it mentions (_restate); an ad-hoc run's is not.

    The sha256 (recorded, and how a re-sent file is recognised) is computed in a background thread
    (`hasher`: the load's, see hashing_thread; else one of this file's own). Only a file the size of
    one loaded before can be unchanged, so only then does staging wait for the hash; a file of a new
    size is staged at once while it is hashed (hashlib and DuckDB both release the GIL), which takes
    the hash (~0.4 s per 10M lab rows) off the critical path.
    """
    spec = source.spec
    before = file_state(source)
    result = FileResult(spec.table, source.label, "", sum(size for size, _ in before))
    try:
        with _own_or(hasher) as pool, scratch_folder(scratch) as working:
            digest = pool.submit(sha256_of, *source.paths)
            if _size_seen_before(con, result) and not _must_read(con, spec):
                result.sha256 = digest.result()
                if _copy_if_unchanged(con, result, source, spec.restated and restate):
                    return result
            staging = budget.schema_for(source, result.bytes) if budget else "temp"
            log.debug(
                "%s: staged in %s", source.label, "memory" if staging == "temp" else "the database file"
            )
            reading = _reading(source, Path(working))
            refuse_unless_regular(source.paths)  # DuckDB's reader would wait on a pipe for ever
            _stage(con, reading.source, staging)
            _line_map(con, spec.table, reading.mended, source.faults(con) if source.faults else [])
            result.sha256 = digest.result()
    except (
        duckdb.IOException,
        duckdb.InvalidInputException,
        duckdb.ConversionException,
        *READ_ERRORS,  # the OS's, and a truncated or damaged .gz read by csv_scan
    ) as error:
        if out_of_resources(error):  # disk full while staging: the CLI says so (exit 7), not "unreadable"
            raise
        _unchanged_since(source, before)  # a file rewritten or removed mid-read: say so (exit 3)
        if isinstance(error, READ_ERRORS):
            raise InputError(f"{source.label}: cannot be read ({file_fault(error)})") from None
        raise reader_error(source, error) from None
    _unchanged_since(source, before)
    rules_date = source.max_date or export_date  # one date for judging and for the messages
    failures = _validate(con, spec, rules_date, source.date_order)
    rules = keyed(spec.rules(rules_date, source.date_order))
    bad, noted = _split_soft(failures, rules)
    _count_skipped(con, spec.table, result)
    _quarantine(con, source, result, run_id, bad, rules)
    _accounted(source, reading, result)
    _encoding_hint(con, source, result)
    _note(con, source, result, run_id, noted, rules)
    _date_order_hint(con, source, result, rules, failures)
    if spec.tracks_unreadable:
        _track_unreadable(con, source, run_id, result.file)
    _load(con, spec, run_id, result, restate)
    _drop_staging(con, spec.table)
    con.execute("DELETE FROM reread_next WHERE table_name = $t", {"t": spec.table})
    return result


def _line_map(con: duckdb.DuckDBPyConnection, table: str, mended: Mended | None, faults: list[tuple]) -> None:
    """`line_map_<table>`: the file's line of each line of the mended copy DuckDB read (empty when
    it read the file itself), and `mended_rejects_<table>`: the records the mending left out and
    the profile's `faults` (line, error type, text, file name)."""
    lines = mended.lines if mended else []
    rejects = [(*r, None) for r in mended.rejects] if mended else []
    rejects += [(line, kind, text, name) for line, kind, text, name in faults]
    con.register(
        "copy_lines", pd.DataFrame({"copy_line": range(1, len(lines) + 1), "line": lines}, dtype="int64")
    )
    con.register(
        "left_out",
        pd.DataFrame(
            {
                "line": [r[0] for r in rejects],
                "error_type": [r[1] for r in rejects],
                "csv_line": [r[2] for r in rejects],
                "detail": [r[3] for r in rejects],
            }
        ).astype({"line": "int64", "error_type": "str", "csv_line": "str", "detail": "object"}),
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE line_map_{table} AS SELECT * FROM copy_lines; "  # noqa: S608
        f"CREATE OR REPLACE TEMP TABLE mended_rejects_{table} AS SELECT * FROM left_out"
    )
    con.unregister("copy_lines")
    con.unregister("left_out")


def _encoding_hint(con: duckdb.DuckDBPyConnection, source: RawSource, result: FileResult) -> None:
    """Stop (exit 3) when many records are not valid UTF-8, naming the likely cause and the setting,
    rather than quarantining them (under the reject threshold, silently) one by one."""
    if not source.lines or not _utf8(source.encoding):
        return
    bad, first = con.execute(
        "SELECT count(*), min(line) FROM new_quarantine WHERE rule = 'invalid_encoding'"
    ).fetchall()[0]
    if bad < _hint_bar(result):
        return
    raise InputError(
        f"{source.label}: {bad} of {result.rows_read} records are not valid UTF-8 (the first on line "
        f'{first}); the file was probably saved by a spreadsheet in Windows-1252 (Excel\'s "CSV" on '
        'Windows). Set encoding = "cp1252" in the [run] section of the config file (or '
        "CLINIC_AUDIT_ENCODING=cp1252) and run again; nothing was loaded"
    )


# Records not valid UTF-8 that point at a file in another encoding (or dates that point at another
# date order): at least this many, and this share.
HINT_ROWS = 3
HINT_SHARE = 0.01


def _hint_bar(result: FileResult) -> float:
    """How many such records make a setting the likely cause (the encoding and date-order hints)."""
    return max(HINT_ROWS, HINT_SHARE * result.rows_read)


DATE_EXAMPLES = {"day-first": "31/05/2026", "month-first": "05/31/2026"}


def _date_order_hint(
    con: duckdb.DuckDBPyConnection,
    source: RawSource,
    result: FileResult,
    rules: Mapping[str, Rule],
    failures: pd.DataFrame,
) -> None:
    """Stop (exit 3) when many records hold a date column value (one the table's rules could not
    read: quarantined, or noted for a birth date) that a `date_order` setting other than this run's
    reads, naming that setting, rather than quarantining them one by one (under the reject
    threshold, silently): the encoding hint's bar and reasoning. Under iso, the order is suggested
    by the dates (31/05 only day-first reads); under day-first or month-first, a file whose dates
    only the other order reads is in the other order, and its dates either order reads (05/03/2026)
    would load as the wrong day: stopped too. Only the failing column's own value is judged (a date
    in another column's free text is not), and only what the suggested setting would read."""
    t = source.spec.table
    dated = {rule.column for rule in rules.values() if rule.name == "date_range"}
    format_rules = {
        key: rule.column for key, rule in rules.items() if rule.name == "format" and rule.column in dated
    }
    unread = failures[failures["rule_key"].isin(format_rules)]
    bar = _hint_bar(result)
    if unread["_rec"].nunique() < bar:  # cheap: most files have no unread dates at all
        return
    columns = sorted(set(format_rules.values()))
    con.register(
        "unread_dates",
        pd.DataFrame(
            {"_rec": unread["_rec"].to_list(), "column_name": unread["rule_key"].map(format_rules).to_list()}
        ).astype({"_rec": "int64", "column_name": "str"}),
    )
    value = "CASE u.column_name " + " ".join(f"WHEN '{c}' THEN s.{c}_text" for c in columns) + " END"
    rule_rows = (
        f"SELECT u._rec, u.column_name, 'format' AS rule, {value} AS message "  # noqa: S608 - contract names
        f"FROM unread_dates u JOIN failing_{t} s USING (_rec)"
    )
    # what another setting than this run's reads (this run's reads none of them)
    other = {"iso": "d OR m", "day-first": "m", "month-first": "d"}[source.date_order]
    readable = f"""
        SELECT * FROM (
            SELECT *, ordered_timestamp(message, 'day-first') IS NOT NULL AS d,
                   ordered_timestamp(message, 'month-first') IS NOT NULL AS m
            FROM ({rule_rows})
        ) WHERE {other}
    """  # noqa: S608 - generated from constants
    try:
        bad, day_first, month_first, first_rec, column = con.execute(
            f"SELECT count(DISTINCT _rec), count(*) FILTER (d), count(*) FILTER (m), "  # noqa: S608
            f"min(_rec), arg_min(column_name, (_rec, column_name)) FROM ({readable})"
        ).fetchall()[0]
        if bad < bar:
            return
        located = _located_sql(source, f"{rule_rows} WHERE _rec = {int(first_rec)}", f"failing_{t}")
        first = con.execute(
            f"SELECT min(line) FROM ({located})",  # noqa: S608 - generated from the contract
            {"run": "", "table": t, "file": result.file, "lines": source.lines},
        ).fetchall()[0][0]
    finally:
        con.unregister("unread_dates")
    where = f"line {first}, column {column}" if first is not None else f"column {column}"
    if source.date_order == "iso":
        order = "day-first" if day_first >= month_first else "month-first"
        raise InputError(
            f"{source.label}: {bad} of {result.rows_read} records hold a date written as numbers in "
            f"day/month or month/day order where an ISO 8601 date (YYYY-MM-DD) is expected (the first "
            f"on {where}). If the export writes dates like {DATE_EXAMPLES[order]}, "
            f'set date_order = "{order}" in the [run] section of the config file (or '
            f"CLINIC_AUDIT_DATE_ORDER={order}) and run again; nothing was loaded"
        )
    order = "day-first" if source.date_order == "month-first" else "month-first"
    raise InputError(
        f"{source.label}: {bad} of {result.rows_read} records hold a date only {order} order reads, "
        f"such as {DATE_EXAMPLES[order]}, while date_order is {source.date_order} (the first on "
        f"{where}): the export probably writes dates {order}, and its dates either "
        f'order reads (05/03/2026) would load as the wrong day. If so, set date_order = "{order}" in '
        f"the [run] section of the config file (or CLINIC_AUDIT_DATE_ORDER={order}) and run again; "
        "nothing was loaded"
    )


def _utf8(encoding: str) -> bool:
    return encoding.lower().replace("_", "-") in ("utf-8", "utf8", BOM_UTF8)


def _accounted(source: RawSource, reading: Reading, result: FileResult) -> None:
    """Stop (exit 3) when the file holds records that were neither read nor quarantined: the run
    checks the reader against its own count of the file's records."""
    if reading.expected is None or result.rows_read == reading.expected:
        return
    raise InputError(
        f"{source.label}: the file holds {reading.expected} records but {result.rows_read} were read "
        "(loaded, duplicate, skipped or quarantined); records would be lost, so nothing was loaded"
    )


def _drop_staging(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Drop the file's staging tables once it is loaded, so the commit need not keep them.

    Inside the run's transaction this frees no memory (DuckDB keeps dropped rows for a rollback), but
    temp tables still alive at the commit are committed too: at 1M patients, with 30M staged lab
    rows spilled to disk, the commit took 5.1-6.5 s with them and 0.5-0.7 s without.
    """
    con.execute(
        f"DROP VIEW IF EXISTS loadable_{table}; DROP VIEW IF EXISTS checked_{table}; "
        f"DROP VIEW IF EXISTS numbered_{table}; DROP TABLE IF EXISTS new_notes; "
        f"DROP TABLE IF EXISTS failing_{table}; DROP TABLE IF EXISTS typed_{table}; "
        f"DROP TABLE IF EXISTS reject_lines_{table}; DROP TABLE IF EXISTS new_quarantine; "
        f"DROP TABLE IF EXISTS line_map_{table}; DROP TABLE IF EXISTS mended_rejects_{table}; "
        "DROP TABLE IF EXISTS unread_now"
    )


def file_state(source: RawSource) -> list[tuple[int, int]]:
    """Size and modification time of each file of a source; a file gone is bad input, not a crash."""
    try:
        return [(st.st_size, st.st_mtime_ns) for st in (path.stat() for path in source.paths)]
    except OSError as error:
        raise InputError(
            f"{source.label} disappeared or became unreadable during the run: {error}"
        ) from error


def _unchanged_since(source: RawSource, before: list[tuple[int, int]]) -> None:
    """Stop if the source's files changed while they were read.

    The hash and the rows read could then describe different contents, and a later run could skip
    the finished file as "unchanged": load nothing of it now.
    """
    if file_state(source) != before:
        raise InputError(f"{source.label} changed while it was being read (still being written?)")


def _size_seen_before(con: duckdb.DuckDBPyConnection, result: FileResult) -> bool:
    """Whether an earlier loaded file of this table had this size (or an unrecorded one)."""
    return bool(
        scalar(
            con,
            "SELECT count(*) FROM run_files WHERE table_name = $t AND NOT skipped_unchanged "
            "AND (bytes = $b OR bytes IS NULL)",
            {"t": result.table, "b": result.bytes},
        )
    )


def _must_read(con: duckdb.DuckDBPyConnection, spec: TableContract) -> bool:
    """Whether this table's file is read even when byte-identical to one loaded before: a patients
    file (tracks_unreadable) while some patient's row could not be read (only a read finds their row
    now loads, and a repaired export may match an earlier night's file byte for byte), or a table a
    migration marked (reread_next: rows quarantined before schema 18 are found so)."""
    return bool(
        con.execute(
            "SELECT 1 FROM reread_next WHERE table_name = $t UNION ALL "
            "SELECT 1 FROM unreadable_patients WHERE $tracks LIMIT 1",
            {"t": spec.table, "tracks": spec.tracks_unreadable},
        ).fetchall()
    )


def _copy_if_unchanged(
    con: duckdb.DuckDBPyConnection, result: FileResult, source: RawSource, restated: bool = False
) -> bool:
    """A file byte-identical to one already loaded adds nothing: reuse its counts, skip the read.
    Only when it was read as this run reads it: the same `encoding` and `date_order` (runs.settings;
    before each setting existed, utf-8 and iso): a file whose rows were quarantined under another
    setting is read again, and what now loads is added once.

    `restated` (a scheduled run loading a table whose latest export's statement counts,
    TableContract.restated): only when it is also identical to the latest scheduled run's file of
    its table, and to the latest file of its table any run read (not skipped); an older file sent
    again (a death undone, a prescription reopened) is read, so that it restates its rows, and so
    is the nightly's own file after an ad-hoc run read another (whose rows, loaded later, would
    otherwise stand as the latest: a patient version, an unreadable row it found readable). An
    ad-hoc run restates nothing, so any identical file is skipped."""
    if restated:
        latest = con.execute(
            "SELECT arg_max(sha256, seq) FILTER (coalesce(kind, 'scheduled') = 'scheduled'), "
            "arg_max(sha256, seq) FILTER (NOT skipped_unchanged) "
            "FROM run_files JOIN runs USING (run_id) WHERE table_name = $t",
            {"t": result.table},
        ).fetchall()[0]
        if latest != (result.sha256, result.sha256):
            return False
    row = con.execute(
        """
        SELECT rows_read, rows_loaded + rows_duplicate, rows_rejected, coalesce(rows_skipped, 0),
               coalesce(rows_noted, 0), coalesce(skip_reasons, '{}')
        FROM run_files JOIN runs USING (run_id)
        WHERE table_name = $t AND sha256 = $s AND NOT skipped_unchanged
          AND coalesce(settings->>'encoding', 'utf-8') = $setting
          AND coalesce(settings->>'date_order', 'iso') = $o
        ORDER BY seq DESC LIMIT 1
        """,
        {
            "t": result.table,
            "s": result.sha256,
            # the setting, not the reading: a file its byte-order mark makes UTF-8 under cp1252
            # was read as cp1252 by a version before that rule, and must be read again once
            "setting": source.encoding_setting,
            "o": source.date_order,
        },
    ).fetchall()
    if not row:
        return False
    result.rows_read, result.rows_duplicate, result.rows_rejected = row[0][:3]
    result.rows_skipped, result.rows_noted = row[0][3:5]
    result.skip_reasons = json.loads(row[0][5])
    result.skipped_unchanged = True
    result.top_reasons = _top_reasons(con, result.table, result.file)
    result.top_notes = _top_reasons(con, result.table, result.file, "row_notes")
    result.cleared = cleared_columns(source.spec, result.top_notes)  # its warning is said again
    log.info("%s: unchanged since an earlier run (same sha256); not re-read", result.file)
    return True


def cleared_columns(spec: TableContract, notes: list[dict]) -> dict[str, int]:
    """Rows loaded without each column, from a file's commonest notes (`top_notes`, whether read
    tonight or kept from the night that read the unchanged file): the notes of the soft rules that
    clear their column (guards.cleared_column_warnings)."""
    clearing = {(r.column, r.name) for r in spec.rules(date.today(), "iso") if r.soft and r.clears}
    cleared: dict[str, int] = {}
    for note in notes:
        if (note["column"], note["rule"]) in clearing:
            cleared[note["column"]] = cleared.get(note["column"], 0) + int(note["count"])
    return cleared


def staging_query(source: RawSource) -> str:
    """The query reading and typing every record of `source` (its parameters: `source.params`)."""
    # Every staged row carries `_skip` and `_note` (NULL when the profile yields none).
    extras = ("" if source.skips else ", NULL::VARCHAR AS _skip") + (
        "" if source.notes else ", NULL::VARCHAR AS _note"
    )
    raw = f"SELECT *{extras} FROM ({source.select})" if extras else source.select  # noqa: S608
    return f"WITH raw AS ({raw}) " + sql_file(f"stage_{source.spec.table}.sql")


def _stage(con: duckdb.DuckDBPyConnection, source: RawSource, staging: str = "temp") -> None:
    """Read and type every record in one pass into `<staging>.typed_<table>`, then number and enrich it.

    The staging query is a pure projection of the source (no joins), so DuckDB keeps the source's
    order and a row's rowid is its record number (in either schema). Structural faults of a CSV read with
    `store_rejects` land in `rejects_<table>` with their line.
    """
    t = source.spec.table
    con.execute("SET VARIABLE date_order = $o", {"o": source.date_order})  # export_timestamp, macros.sql
    con.execute(
        f"CREATE OR REPLACE {'TABLE main.' if staging == 'main' else 'TEMP TABLE '}typed_{t} AS "
        + staging_query(source),
        dict(source.params),
    )
    _refuse_unread_lookups(con)
    if not scalar(con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = $n", {"n": f"rejects_{t}"}):
        con.execute(
            f"CREATE TEMP TABLE rejects_{t} (line BIGINT, column_name VARCHAR, "
            "error_type VARCHAR, csv_line VARCHAR)"
        )
    # Inside a transaction DuckDB numbers new rows from 2**55: take record numbers from the first.
    # Skipped rows keep their record numbers (so the others keep their lines) but go no further.
    first = int(scalar(con, f"SELECT coalesce(min(rowid), 0) FROM typed_{t}"))  # noqa: S608
    computed = "".join(f", {sql} AS {column}" for column, sql in source.spec.computed.items())
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW numbered_{t} AS "  # noqa: S608 - contract identifiers and an int
        f"SELECT rowid - {first} AS _rec, *{computed} FROM typed_{t} WHERE _skip IS NULL"
    )
    if t == "labs":  # what each result measures, looked up per distinct (code, name, unit) key
        refresh_lab_concepts(con, "typed_labs")
        con.execute(sql_file("lookup_labs.sql"))
    else:
        con.execute(f"CREATE OR REPLACE TEMP VIEW checked_{t} AS SELECT * FROM numbered_{t}")  # noqa: S608


# A lookup file's line the reader could not read, in words (no value of the line is shown).
_LOOKUP_FAULTS = {
    "UNQUOTED VALUE": "an unterminated or misplaced quote (every line after it was lost with it)",
    "TOO MANY COLUMNS": "too many fields",
    "MISSING COLUMNS": "too few fields",
    "INVALID ENCODING": "text that is not UTF-8",
    "LINE SIZE OVER MAXIMUM": "a line longer than the reader's maximum",
}


_LOOKUP_REJECTS = """
SELECT table_name FROM duckdb_tables()
WHERE temporary AND starts_with(table_name, 'rejects_lookup_')
  AND NOT starts_with(table_name, 'rejects_lookup_keys_')  -- the same file, read again for its keys
ORDER BY table_name"""


def _refuse_unread_lookups(con: duckdb.DuckDBPyConnection) -> None:
    """An InputError naming a lookup file (OMOP concept, concept_ancestor, death; Synthea encounters)
    and its first line the reader could not read, if any.

    Why refuse rather than skip: a lookup's lost line is silent everywhere else. A lost death keeps
    a dead patient in every population; a lost concept (and an unterminated quote loses every line
    after it) unmaps the drugs and conditions that point to it. Nothing has been loaded yet."""
    tables = con.execute(_LOOKUP_REJECTS).fetchall()
    for (name,) in tables:
        first = con.execute(
            f"SELECT s.file_path, r.line, r.error_type FROM {name} r "  # noqa: S608 - a catalog name
            f"JOIN reject_scans_{name} s USING (scan_id, file_id) ORDER BY r.line LIMIT 1"
        ).fetchone()
        if first:
            path, line, kind = first
            raise InputError(
                f"{path}: line {line} cannot be read ({_LOOKUP_FAULTS.get(kind, kind.lower())}); a lookup "
                "file is read whole or not at all, so nothing was loaded: repair the line and run again"
            )


def _validate(
    con: duckdb.DuckDBPyConnection, spec: TableContract, export_date: date, date_order: str = "iso"
) -> pd.DataFrame:
    """Validate every staged row with pandera; return the failing (_rec, rule_key) pairs.

    Pass 1 runs all rules as one check over every row (one scan); pass 2 runs the rules one by one
    on the failing rows only, so each quarantined row says which rules it broke.
    """
    table, rules = spec.table, spec.rules(export_date, date_order)
    # (whether any row is staged, not how many: counting 10 M staged rows cost a scan of its own)
    if not con.execute(f"SELECT 1 FROM numbered_{table} LIMIT 1").fetchall():  # noqa: S608 - contract table name
        # Nothing to validate; pandera's ibis backend also misreports `_rec` as null on empty tables.
        con.execute(f"CREATE OR REPLACE TEMP TABLE failing_{table} AS FROM checked_{table} LIMIT 0")
        return _no_failures()
    backend = ibis.duckdb.from_connection(con)
    # Pass 1: the pandera check over every row, compiled by ibis and run as one DuckDB statement
    # that keeps the failing rows. (schema.validate's error path would copy the whole boolean result
    # column into pandas; this fetches nothing until we know which rows failed.)
    outcome = combined_check(rules)(backend.table(f"checked_{table}", database="temp"))
    con.execute(f"CREATE OR REPLACE TEMP TABLE failing_{table} AS {ibis.to_sql(outcome.failure_cases)}")
    if not scalar(con, f"SELECT count(*) FROM failing_{table}"):  # noqa: S608 - internal name
        return _no_failures()
    _dates_python_holds(con, f"failing_{table}")
    try:
        schema_for(rules).validate(backend.table(f"failing_{table}", database="temp"), lazy=True)
    except pandera.errors.SchemaErrors as errors:
        return _failures(errors.failure_cases, keyed(rules))
    raise RuntimeError(f"{table}: rows failed the combined rule but no single rule")


def _dates_python_holds(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Move the failing rows' dates into years 1 to 9999, the dates Python can hold. DuckDB reads
    '0000-01-01' (a system's placeholder for no date) as 1 BC, and a start in 9999 plus a days
    supply ends in year 10000: pandera fetching such a row failed the run (exit 1). Moved, a date
    still fails its range rule with the same message (before 1900, after the export date), and only
    rows that fail a rule are here: none of them loads a date so."""
    columns = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE table_name = $t AND data_type IN ('DATE', 'TIMESTAMP') ORDER BY column_index",
        {"t": table},
    ).fetchall()
    bounds = {
        "DATE": ("DATE '0001-01-01'", "DATE '9999-12-31'"),
        "TIMESTAMP": ("TIMESTAMP '0001-01-01'", "TIMESTAMP '9999-12-31 23:59:59'"),
    }
    moved = ", ".join(
        f'"{c}" = CASE WHEN "{c}" < {bounds[kind][0]} THEN {bounds[kind][0]} '
        f'WHEN "{c}" > {bounds[kind][1]} THEN {bounds[kind][1]} ELSE "{c}" END'
        for c, kind in columns
    )
    if moved:
        con.execute(f"UPDATE {table} SET {moved}")  # noqa: S608 - catalog names and constants


def _no_failures() -> pd.DataFrame:
    return pd.DataFrame({"_rec": pd.Series(dtype="int64"), "rule_key": pd.Series(dtype="str")})


def _failures(cases: pd.DataFrame, rules: dict) -> pd.DataFrame:
    """Keep row-level failures; anything else means the staging SQL broke the contract (a bug)."""
    unknown = cases[~cases["check"].isin(rules)]
    if not unknown.empty:
        raise RuntimeError(f"staging table broke its schema: {unknown.iloc[0].to_dict()}")
    broken = cases[[not isinstance(case, dict) for case in cases["failure_case"]]]
    if not broken.empty:  # the rule raised (an exception as its failure case), judging no row
        first = broken.iloc[0]
        raise RuntimeError(f"rule {first['check']} could not be evaluated: {first['failure_case']!r}")
    recs = [case["_rec"] for case in cases["failure_case"]]
    return pd.DataFrame({"_rec": recs, "rule_key": cases["check"].astype(str).to_list()})


def _split_soft(failures: pd.DataFrame, rules: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(hard failures: rows to quarantine, soft failures of rows that load anyway: rows to note)."""
    soft = failures["rule_key"].map(lambda key: rules[key].soft).astype(bool)
    hard = failures[~soft].reset_index(drop=True)
    noted = failures[soft & ~failures["_rec"].isin(hard["_rec"])].reset_index(drop=True)
    return hard, noted


def _count_skipped(con: duckdb.DuckDBPyConnection, table: str, result: FileResult) -> None:
    """Rows the profile marked as outside the audit, per reason."""
    rows = con.execute(
        f"SELECT _skip, count(*) FROM typed_{table} WHERE _skip IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1"  # noqa: S608
    ).fetchall()
    result.skip_reasons = dict(rows)
    result.rows_skipped = sum(result.skip_reasons.values())


def _rule_messages(rules: dict) -> pd.DataFrame:
    """Each rule's key, column, name and message, to join failures to."""
    return pd.DataFrame(
        {
            "rule_key": list(rules),
            "column_name": [r.column for r in rules.values()],
            "rule": [r.name for r in rules.values()],
            "message": [r.message for r in rules.values()],
        },
        dtype="str",
    )


def _original_sql(source: RawSource) -> str:
    """The row's text as a CSV line of its contract fields, in the source's column order; a field
    holding a comma, quote or line break quoted, as the file must have quoted it."""
    text = source.spec.text_column
    return " || ',' || ".join(
        f"""CASE WHEN regexp_matches({text(c)}, '[,"\\n\\r]')
            THEN '"' || replace({text(c)}, '"', '""') || '"' ELSE coalesce({text(c)}, '') END"""
        for c in source.order
    )


def _located_sql(source: RawSource, rule_rows: str, rows: str) -> str:
    """`rule_rows` (_rec, column_name, rule, message) with each row's line and original text.

    A record's line is its number + 2 (header, 1-based), plus the reader's rejected lines before it
    (reject_lines_<table>); in a mended copy, that line's line in the file (line_map_<table>). Binds
    $run, $table, $file and $lines.
    """
    t = source.spec.table
    return f"""
        -- consecutive rejected lines share a threshold: the record after them follows all of them
        WITH offsets AS (SELECT line - j AS threshold, max(j) AS j FROM reject_lines_{t} GROUP BY 1),
        located AS (
            SELECT r.*, CASE WHEN $lines THEN r._rec + 2 + coalesce(o.j, 0) END AS copy_line,
                   {_original_sql(source)} AS original
            FROM ({rule_rows}) r
            JOIN {rows} s ON s._rec = r._rec
            ASOF LEFT JOIN offsets o ON r._rec + 1 >= o.threshold
        )
        SELECT $run AS run_id, $table AS table_name, $file AS file,
               coalesce(m.line, l.copy_line) AS line, column_name, rule, message, original
        FROM located l LEFT JOIN line_map_{t} m ON m.copy_line = l.copy_line
    """  # noqa: S608 - identifiers generated from the contract; values bound


def _quarantine(
    con: duckdb.DuckDBPyConnection,
    source: RawSource,
    result: FileResult,
    run_id: str,
    bad: pd.DataFrame,
    rules: dict,
) -> None:
    """Write reader rejects and rule failures to `quarantine`, once per distinct bad row and rule.

    A failing row's text comes from `failing_<table>` (validation kept the whole rows), not from a
    join against every staged row.
    """
    t = source.spec.table
    con.register("bad_rows", bad)
    con.register("rule_messages", _rule_messages(rules))
    names = pd.DataFrame(list(source.reject_columns.items()), columns=["cname", "column"], dtype="str")
    con.register("header_names", names)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE reject_lines_{t} AS
        SELECT line, row_number() OVER (ORDER BY line) AS j, any_value(column_name) AS cname,
               any_value(error_type) AS error_type, any_value(csv_line) AS csv_line
        FROM rejects_{t} GROUP BY line
        """  # noqa: S608 - generated identifiers only
    )
    rule_rows = (
        "SELECT b._rec, m.column_name, m.rule, m.message "
        "FROM bad_rows b JOIN rule_messages m USING (rule_key)"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE new_quarantine AS
        {_located_sql(source, rule_rows, f"failing_{t}")}
        UNION ALL
        SELECT $run, $table, $file, line, coalesce(h."column", r.cname),
               lower(replace(error_type, ' ', '_')),
               CASE error_type
                   WHEN 'INVALID ENCODING' THEN 'not valid ' || $encoding || ' text'
                   WHEN 'MISSING COLUMNS' THEN 'too few fields (truncated or short line)'
                   WHEN 'TOO MANY COLUMNS' THEN 'too many fields'
                   WHEN 'UNQUOTED VALUE' THEN 'unterminated or misplaced quote'
                   WHEN 'UNTERMINATED QUOTE'
                   THEN 'a quote opened on this line is never closed; reading went on at the next line'
                   WHEN 'RECORD TOO LONG' THEN 'record longer than ' || $max_mib || ' MiB'
                   WHEN 'LINE SIZE OVER MAXIMUM' THEN 'record longer than the reader''s maximum line size'
                   WHEN 'STRAY CARRIAGE RETURN' THEN 'a carriage return (CR) inside the record'
                   WHEN 'NUL BYTE' THEN 'binary data (a NUL byte): not CSV text (UTF-16 text is not read)'
                   WHEN 'MALFORMED JSON' THEN 'not valid JSON'
                   WHEN 'NOT A RESOURCE' THEN 'valid JSON but not a FHIR resource (no resourceType)'
                   WHEN 'OTHER RESOURCE TYPE' THEN 'a resource of another type than the file holds'
                   ELSE lower(error_type) END || coalesce(' (' || detail || ')', ''),
               trim(csv_line, chr(10) || chr(13))  -- DuckDB's line of a CRLF file starts with its LF
        FROM (
            SELECT coalesce(m.line, r.line) AS line, cname, error_type, csv_line, NULL AS detail
            FROM reject_lines_{t} r LEFT JOIN line_map_{t} m ON m.copy_line = r.line
            UNION ALL
            SELECT line, NULL, error_type, csv_line, detail FROM mended_rejects_{t}
        ) r LEFT JOIN header_names h USING (cname)
        """,  # noqa: S608 - identifiers generated from the contract; values bound
        {
            "run": run_id,
            "table": t,
            "file": result.file,
            "lines": source.lines,
            "encoding": "UTF-8" if _utf8(source.encoding) else source.encoding,
            "max_mib": str(MAX_RECORD_BYTES >> 20),
        },
    )
    _record_once(con, "quarantine", "new_quarantine")
    rejected_recs = scalar(con, "SELECT count(DISTINCT _rec) FROM bad_rows")
    reader_rejects = scalar(
        con,
        f"SELECT (SELECT count(*) FROM reject_lines_{t}) + (SELECT count(*) FROM mended_rejects_{t})",  # noqa: S608
    )
    accepted = scalar(con, f"SELECT count(*) FROM typed_{t}")  # noqa: S608 - skipped rows included
    result.rows_read = accepted + reader_rejects
    result.rows_rejected = rejected_recs + reader_rejects
    result.top_reasons = _reasons_from(con, "new_quarantine")
    con.unregister("header_names")


def _note(
    con: duckdb.DuckDBPyConnection,
    source: RawSource,
    result: FileResult,
    run_id: str,
    noted: pd.DataFrame,
    rules: dict,
) -> None:
    """Write `row_notes` for rows that load with a problem: soft rule failures (`noted`) and the
    profile's own notes (`_note`), and make `loadable_<table>`: the rows to load, with the columns
    a noted soft rule clears set to NULL (so the stored row, and its identity, hold what loads).

    Runs after _quarantine (it reads bad_rows, rule_messages and reject_lines_<table>).
    """
    t = source.spec.table
    profile_notes = pd.DataFrame(
        [(name, column, message) for name, (column, message) in source.notes.items()],
        columns=["rule", "column_name", "message"],
        dtype="str",
    )
    cleared = pd.DataFrame(
        [
            (rec, c)
            for rec, key in zip(noted["_rec"], noted["rule_key"], strict=True)
            for c in rules[key].clears
        ],
        columns=["_rec", "column_name"],
    ).astype({"_rec": "int64", "column_name": "str"})
    con.register("noted_rows", noted)
    con.register("profile_notes", profile_notes)
    con.register("cleared_rows", cleared)
    rule_rows = f"""
        SELECT n._rec, m.column_name, m.rule, m.message
        FROM noted_rows n JOIN rule_messages m USING (rule_key)
        UNION ALL
        SELECT s._rec, p.column_name::VARCHAR, p.rule::VARCHAR, p.message::VARCHAR
        FROM numbered_{t} s JOIN profile_notes p ON p.rule::VARCHAR = s._note
        WHERE s._note IS NOT NULL AND s._rec NOT IN (SELECT _rec FROM bad_rows)
    """  # noqa: S608 - generated identifiers only
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE new_notes AS {_located_sql(source, rule_rows, f'numbered_{t}')}",
        {"run": run_id, "table": t, "file": result.file, "lines": source.lines},
    )
    _record_once(con, "row_notes", "new_notes")
    result.rows_noted = scalar(
        con,
        f"SELECT count(*) FROM (SELECT _rec FROM noted_rows UNION SELECT _rec FROM numbered_{t} "  # noqa: S608
        "WHERE _note IS NOT NULL AND _rec NOT IN (SELECT _rec FROM bad_rows))",
    )
    result.top_notes = _reasons_from(con, "new_notes")
    result.cleared = cleared_columns(source.spec, result.top_notes)
    clears = sorted({c for rule in rules.values() if rule.soft for c in rule.clears})
    replace = ", ".join(
        f"CASE WHEN _rec IN (SELECT _rec FROM cleared_rows WHERE column_name = '{c}') "  # noqa: S608
        f"THEN NULL ELSE {c} END AS {c}"  # c: a column named by a rule (a constant)
        for c in clears
    )
    keep = f"REPLACE ({replace}) " if replace and not cleared.empty else ""
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW loadable_{t} AS SELECT * {keep}"  # noqa: S608 - constants
        f"FROM numbered_{t} WHERE _rec NOT IN (SELECT _rec FROM bad_rows)"
    )
    for name in ("rule_messages", "noted_rows", "profile_notes"):
        con.unregister(name)


def _track_unreadable(con: duckdb.DuckDBPyConnection, source: RawSource, run_id: str, file: str) -> None:
    """Keep `unreadable_patients` as of this patients file: a patient with a row in it that a rule
    rejected, or a line the reader could not read whose patient id can be made out
    (RawSource.patient_of), is added (as found by this run); one with a row that loads, and none
    this run found unreadable, is taken off.

    Why: the hard rules on a patients row are those on its death and registration, and a line cut
    short loses its death date; a patient so lost was audited on what earlier exports said, or as
    a patient with no details (a dead patient flagged for a call). The checks leave them out until
    a row for them can be read (left_out_by, checks/sql/_concepts.sql). Within one run, a row that
    cannot be read wins over one that loads: a registration history's lost row may be its end.
    """
    t = source.spec.table
    texts = con.execute(
        f"SELECT csv_line FROM reject_lines_{t} UNION ALL SELECT csv_line FROM mended_rejects_{t}"  # noqa: S608
    ).fetchall()
    lost = [source.patient_of(text) for (text,) in texts if text] if source.patient_of else []
    con.register("lost_patients", pd.DataFrame({"patient_id": [p for p in lost if p]}, dtype="str"))
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE unread_now AS
        SELECT DISTINCT patient_id FROM (
            SELECT patient_id FROM failing_{t} WHERE _rec IN (SELECT _rec FROM bad_rows)
            UNION ALL
            SELECT clean_id(patient_id) FROM lost_patients
        ) WHERE patient_id IS NOT NULL
        """  # noqa: S608 - contract table name
    )
    con.unregister("lost_patients")
    if not con.execute(
        "SELECT 1 FROM unread_now UNION ALL SELECT 1 FROM unreadable_patients LIMIT 1"
    ).fetchall():
        return  # nobody lost tonight or before: no need to look up every patient loaded
    con.execute(
        "DELETE FROM unreadable_patients WHERE run_id <> $run AND (patient_id IN "  # noqa: S608 - contract table name
        f"(SELECT patient_id FROM unread_now) OR patient_id IN (SELECT patient_id FROM loadable_{t}))",
        {"run": run_id},
    )
    con.execute(
        "INSERT INTO unreadable_patients SELECT patient_id, $run, $file FROM unread_now "
        "WHERE patient_id NOT IN (SELECT patient_id FROM unreadable_patients) ORDER BY patient_id",
        {"run": run_id, "file": file},
    )


def _record_once(con: duckdb.DuckDBPyConnection, target: str, new: str) -> None:
    """Append the new quarantine or note rows, each recorded only once: a rerun of the same export,
    or of an overlapping one, records no bad row twice. A row an earlier run recorded is the same
    file, rule and original text at any line: a rolling-window export moves every line each night,
    and keyed by its line each bad row was recorded again every night. Within one run, identical
    bad lines are each recorded (by line); a row with no original text (a joined format's) is
    matched by its line as well. A file is the same sent plain or gzip-compressed (labs.csv one
    night, labs.csv.gz the next). `target` and `new` are internal names."""
    con.execute(
        f"""
        INSERT INTO {target}
        SELECT n.* FROM {new} n
        WHERE NOT EXISTS (
            SELECT 1 FROM {target} q
            WHERE q.table_name = n.table_name AND q.rule = n.rule
              AND regexp_replace(q.file, '[.]gz$', '', 'i') = regexp_replace(n.file, '[.]gz$', '', 'i')
              AND q.original IS NOT DISTINCT FROM n.original
              AND (q.line IS NOT DISTINCT FROM n.line OR (n.original IS NOT NULL AND q.run_id <> n.run_id))
        )
        """  # noqa: S608 - internal table names
    )


def _load(
    con: duckdb.DuckDBPyConnection, spec: TableContract, run_id: str, result: FileResult, restate: bool = True
) -> None:
    """Insert valid rows not already present; identical rows (overlapping exports) are skipped.

    A row's identity is a hash of its identifying columns, computed on both sides at load time
    rather than stored (an incompressible stored hash costs as much to write as the data). The
    existing side is read only within the new rows' date range, which DuckDB's zone maps prune to
    the recent row groups for a rolling-window export; with no stored row in that range (a first
    load, a gap-free new period) nothing is hashed at all. Rows are read from the staging table without
    its lookups, so they are written in file order (which keeps those zone maps tight).
    """
    table, target, day = spec.table, spec.storage_table, spec.identity_date
    stored = ", ".join(spec.stored)
    before = scalar(con, f"SELECT count(*) FROM {target}")  # noqa: S608 - contract table name
    lo, hi = con.execute(f"SELECT min({day}), max({day}) FROM numbered_{table}").fetchall()[0]  # noqa: S608
    in_dates = f"({day} BETWEEN $lo AND $hi OR {day} IS NULL)"
    in_range = f"FROM {target} WHERE {in_dates}"
    # A first load, or an export with no stored row in its date range, cannot repeat a stored row.
    overlaps = con.execute(f"SELECT 1 {in_range} LIMIT 1", {"lo": lo, "hi": hi}).fetchall()
    named = bool(spec.fact_when) and bool(
        con.execute(f"SELECT 1 FROM loadable_{table} WHERE {spec.fact_when} LIMIT 1").fetchall()  # noqa: S608
    )
    if named:  # before the insert: a row sent with the name of a stored unnamed one is that row
        bounds = {"lo": lo, "hi": hi} if overlaps else {}
        _name_stored(con, spec, in_dates if overlaps else "false", bounds, restate)
    new_only = _new_only(spec, in_range, named) if overlaps else ""
    params = {"run": run_id} | ({"lo": lo, "hi": hi} if overlaps else {})
    con.execute(
        f"""
        INSERT INTO {target} ({stored}, _run_id)
        SELECT {stored}, $run FROM loadable_{table}
        WHERE true {new_only}
        """,  # noqa: S608 - identifiers from the contract; values bound
        params,
    )
    after = scalar(con, f"SELECT count(*) FROM {target}")  # noqa: S608
    if named:
        reader_rejects = result.rows_rejected - scalar(con, "SELECT count(DISTINCT _rec) FROM bad_rows")
        _restate_named(con, spec, run_id, restate, clean=not reader_rejects)
    if spec.fact_key and overlaps and _sends_unnamed(con, spec):  # a patient, an unnamed prescription
        _restate(con, spec, run_id, in_dates, {"lo": lo, "hi": hi}, restate)
    if spec.fact_when and restate:
        _withdraw(con, spec)
    con.unregister("bad_rows")
    con.unregister("cleared_rows")
    result.rows_loaded = after - before
    result.rows_duplicate = result.rows_read - result.rows_rejected - result.rows_skipped - result.rows_loaded


def _sends_unnamed(con: duckdb.DuckDBPyConnection, spec: TableContract) -> bool:
    """Whether the export sends a row without a name (TableContract.named_by; every row, for a
    contract that names none): only those are restated by their content (_restate)."""
    if not spec.named_by:
        return True
    unnamed = f"SELECT 1 FROM loadable_{spec.table} WHERE {spec.named_by} IS NULL LIMIT 1"  # noqa: S608
    return bool(con.execute(unnamed).fetchall())


def _new_only(spec: TableContract, in_range: str, named: bool) -> str:
    """The condition keeping the rows not already stored (contract identifiers only).

    A row is stored already when a stored row has its identity. For an export naming its rows
    (TableContract.named_by: a lab result's result_id, a prescription's prescription_id), the name
    counts as well: two results of one patient, time, test and value under two ids are two
    results, so a named row is stored already only when a stored row has its identity and its name
    (a stored row without a name has taken it first, _name_stored); an unnamed row, when a stored
    row has its identity, named or not."""
    identity = ", ".join(spec.identity)
    if not named:
        return f"AND hash({identity}) NOT IN (SELECT hash({identity}) {in_range})"
    full = ", ".join((*spec.identity, spec.named_by))
    return (
        f"AND hash({full}) NOT IN (SELECT hash({full}) {in_range}) "
        f"AND ({spec.fact_when} OR hash({identity}) NOT IN (SELECT hash({identity}) {in_range}))"
    )


def _name_stored(
    con: duckdb.DuckDBPyConnection, spec: TableContract, in_dates: str, bounds: dict, restate: bool
) -> None:
    """A stored row without a name (TableContract.named_by) that this export sends with one takes
    it: rows loaded before the source's result_id or prescription_id was read (a database from
    before it, an export that left the column out) become the facts a later version replaces.

    Rows pair by identity one to one: two identical unnamed rows sent as R1 and R2 take one name
    each; a third sent as R3 is a fact of its own. A scheduled run then pairs, for a contract with a
    fact_key (a prescription), each unnamed row whose identity the export does not send with the
    name the export sends its fact_key under, when the key is sent under that name only (never
    under another, never without one) and no stored row of the patient has the name yet: a
    prescription stored open and unnamed, sent named and ended on the night the names arrive, is
    one prescription, ended. The rows named
    are kept in `named_rows` for _restate_named (a fact stored named and unnamed in two versions has
    two versions once named). Costs nothing once every stored row in the export's date range has
    its name."""
    target, identity, name = spec.storage_table, ", ".join(spec.identity), spec.named_by
    full, loadable = ", ".join((*spec.identity, name)), f"loadable_{spec.table}"
    unnamed = f"FROM {target} WHERE {in_dates} AND {name} IS NULL"  # contract identifiers only
    con.execute("CREATE OR REPLACE TEMP TABLE named_rows (_row BIGINT, _name VARCHAR)")
    if not con.execute(f"SELECT 1 {unnamed} LIMIT 1", bounds).fetchall():
        return
    con.execute(
        f"""
        INSERT INTO named_rows
        SELECT s._row, n._name
        FROM (SELECT rowid AS _row, hash({identity}) AS _identity,
                     row_number() OVER (PARTITION BY hash({identity}) ORDER BY rowid) AS _nth
              {unnamed}) s
        JOIN (SELECT hash({identity}) AS _identity, {name} AS _name,
                     row_number() OVER (PARTITION BY hash({identity}) ORDER BY {name}) AS _nth
              FROM {loadable}
              WHERE {name} IS NOT NULL
                AND hash({full}) NOT IN (SELECT hash({full}) FROM {target} WHERE {in_dates})) n
        USING (_identity, _nth)
        """,  # noqa: S608 - contract identifiers; values bound
        bounds,
    )
    if spec.fact_key and restate:
        fact, key = ", ".join(spec.fact_key), ", ".join(spec.name_key)
        con.execute(
            f"""
            INSERT INTO named_rows
            SELECT s._row, n._name
            FROM (SELECT rowid AS _row, hash({fact}) AS _fact {unnamed}
                    AND rowid NOT IN (SELECT _row FROM named_rows)
                    AND hash({identity}) NOT IN (SELECT hash({identity}) FROM {loadable})) s
            JOIN (SELECT hash({fact}) AS _fact, min({name}) AS _name FROM {loadable}
                  GROUP BY 1
                  HAVING count(DISTINCT {name}) = 1 AND count(*) FILTER ({name} IS NULL) = 0
                     AND hash(min(patient_id), min({name})) NOT IN
                         (SELECT hash({key}) FROM {target} WHERE {name} IS NOT NULL)) n
            USING (_fact)
            """,  # noqa: S608 - contract identifiers; values bound
            bounds,
        )
    con.execute(f"UPDATE {target} SET {name} = p._name FROM named_rows p WHERE {target}.rowid = p._row")  # noqa: S608


def _restate(
    con: duckdb.DuckDBPyConnection,
    spec: TableContract,
    run_id: str,
    in_dates: str,
    bounds: dict,
    restate: bool = True,
) -> None:
    """The latest export's statement counts (TableContract.fact_key): stored versions this export
    sends again unchanged move to this run, and (TableContract.supersedes) the versions of each fact
    this export sends are the current ones, the fact's other stored versions `_superseded` (kept,
    not read). Only facts stored in more than one version are touched: a fact that never changed
    (nearly all, on a nightly export) has nothing to restate, and costs no write. Facts this export
    does not mention (a rolling window that has moved on) are left as they are. Only rows without
    a name (TableContract.named_by): a named one is restated by its name (_restate_named), and an
    unnamed statement of a prescription stored under a name (an export that sends the name on some
    nights only) is a version of its own. An ad-hoc run's unnamed version of a stored fact, named
    or not, is no current version."""
    table, target = spec.table, spec.storage_table
    identity, key = ", ".join(spec.identity), ", ".join(spec.fact_key)
    unnamed = f"{spec.named_by} IS NULL" if spec.named_by else "true"
    dated = f"{in_dates} AND {unnamed}"
    if not restate:  # an ad-hoc run (an analyst's older export, say) never rolls the nightly back:
        if spec.supersedes:  # a version it adds of a fact already stored is no current version
            con.execute(
                f"UPDATE {target} SET _superseded = true WHERE _run_id = $run AND {unnamed} "  # noqa: S608
                f"AND hash({key}) IN (SELECT hash({key}) FROM {target} WHERE _run_id <> $run AND {in_dates})",
                {"run": run_id} | bounds,
            )
        return
    # a fact stored in two versions (rows of two identities: a row stored twice is one version), or
    # (TableContract.supersedes) in one a run before superseded: an ad-hoc run's unnamed version of a
    # prescription stored under its name, now sent again by a scheduled run, is current again
    superseded = " OR bool_or(coalesce(_superseded, false))" if spec.supersedes else ""
    versioned = (  # contract identifiers only
        f"hash({key}) IN (SELECT hash({key}) FROM {target} WHERE {dated} "  # noqa: S608
        f"GROUP BY 1 HAVING count(DISTINCT hash({identity})) > 1{superseded})"
    )
    con.execute(
        f"UPDATE {target} SET _run_id = $run WHERE _run_id <> $run AND {dated} AND {versioned} "  # noqa: S608
        f"AND hash({identity}) IN (SELECT hash({identity}) FROM loadable_{table} WHERE {unnamed})",
        {"run": run_id} | bounds,
    )
    if spec.supersedes:
        con.execute(
            f"UPDATE {target} SET _superseded = (_run_id <> $run) WHERE {dated} AND {versioned} "  # noqa: S608
            f"AND hash({key}) IN (SELECT hash({key}) FROM loadable_{table} WHERE {unnamed})",
            {"run": run_id} | bounds,
        )


def _restate_named(
    con: duckdb.DuckDBPyConnection, spec: TableContract, run_id: str, restate: bool, clean: bool
) -> None:
    """_restate for the facts an export names (TableContract.fact_when: a lab result's result_id, a
    prescription's prescription_id; TableContract.name_key),
    whose versions are found by their name at any date: a corrected result may carry a corrected
    collection time, outside the export's date range.

    The facts touched are those this export names that have a version added (or named) by this run
    beside another, or one a run before superseded, or (TableContract.several_rows_per_name) a
    current version this export leaves out (a Condition sent with a coding fewer, no version of it
    rejected, on a `clean` night: one whose reader rejected no line); of each, the
    versions this export sends (identity and name) are current and move to this run, the others are
    `_superseded`. A fact whose only version is re-sent unchanged (nearly all, each night), or new
    tonight, is not written; a corrected one re-sent each night is, as a restated prescription is.
    Finding them reads the name of every stored result (measured: 2-3 s per 30 M named results on
    two busy cores). An ad-hoc run only marks a version it adds of a fact already stored as not
    current."""
    table, target, when = spec.table, spec.storage_table, spec.fact_when
    key, full = ", ".join(spec.name_key), ", ".join((*spec.identity, spec.named_by))
    params = {"run": run_id}
    if not restate:
        con.execute("DROP TABLE IF EXISTS named_rows")
        con.execute(
            f"UPDATE {target} SET _superseded = true WHERE _run_id = $run AND {when} "  # noqa: S608
            f"AND hash({key}) IN (SELECT hash({key}) FROM {target} WHERE _run_id <> $run AND {when})",
            params,
        )
        return
    sent = f"hash({full}) IN (SELECT hash({full}) FROM loadable_{table} WHERE {when})"  # noqa: S608
    # a fact of several rows (a Condition's codings) sent with fewer: a current row not sent, of a
    # fact with no version rejected tonight (a coding quarantined is not a coding dropped), and none
    # at all on a night whose reader rejected a line (it cannot say whose the line was)
    name, unknown = spec.named_by, _rejected_names(spec, patient_known=False)
    dropped = (
        f" OR (NOT coalesce(_superseded, false) AND NOT {sent} "
        f"AND hash({key}) NOT IN ({_rejected_names(spec)}) AND {name} NOT IN ({unknown}))"
        if spec.several_rows_per_name and clean
        else ""
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE restated_facts AS
        SELECT hash({key}) AS fact FROM {target}
        WHERE {when} AND hash({key}) IN (
            SELECT hash({key}) FROM {target}
            WHERE {when} AND (_run_id = $run OR coalesce(_superseded, false)
                              OR rowid IN (SELECT _row FROM named_rows){dropped})
              AND hash({key}) IN (SELECT hash({key}) FROM loadable_{table} WHERE {when}))
        GROUP BY 1 HAVING count(*) > 1 OR bool_or(coalesce(_superseded, false))
        """,  # noqa: S608 - contract identifiers; values bound
        params,
    )
    con.execute("DROP TABLE named_rows")
    if not scalar(con, "SELECT count(*) FROM restated_facts"):  # no fact with a second version
        con.execute("DROP TABLE restated_facts")
        return
    con.execute(
        f"""
        UPDATE {target}
        SET _run_id = CASE WHEN sent THEN $run ELSE _run_id END, _superseded = NOT sent
        FROM (SELECT rowid AS _row, {sent} AS sent
              FROM {target}
              WHERE {when} AND hash({key}) IN (SELECT fact FROM restated_facts)) versions
        WHERE {target}.rowid = versions._row
        """,  # noqa: S608 - contract identifiers; values bound
        params,
    )
    con.execute("DROP TABLE restated_facts")


# The skips that withdraw the fact they name (contract.WITHDRAWING_SKIP_PREFIXES). Other skips (an
# Observation of another category) name no result the audit ever loaded; reading them would make
# every FHIR night look up every stored result.
WITHDRAWING_SKIP = "(" + " OR ".join(f"starts_with(_skip, '{p}')" for p in WITHDRAWING_SKIP_PREFIXES) + ")"


def _withdraw(con: duckdb.DuckDBPyConnection, spec: TableContract) -> None:
    """A versioned fact this export names but says is no valid record (`_skip` WITHDRAWING_SKIP: a
    FHIR Observation now entered-in-error or cancelled, a Condition now refuted) is withdrawn: every
    stored version of it is `_superseded`, unless the export also sends a version to audit, or a
    version tonight's rules rejected (_rejected_names: what it says is not known). The
    latest statement counts here as it does for a corrected value; a later export that sends it
    again restates it (_restate_named). Only scheduled runs withdraw, as only they restate."""
    table, target, key = spec.table, spec.storage_table, ", ".join(spec.name_key)
    withdrawn = f"SELECT hash({key}) FROM typed_{table} WHERE {WITHDRAWING_SKIP} AND {spec.fact_when}"  # noqa: S608
    if not con.execute(f"{withdrawn} LIMIT 1").fetchall():
        return
    con.execute(
        f"UPDATE {target} SET _superseded = true WHERE {spec.fact_when} "  # noqa: S608 - contract identifiers
        f"AND NOT coalesce(_superseded, false) AND hash({key}) IN ({withdrawn}) "
        f"AND hash({key}) NOT IN (SELECT hash({key}) FROM loadable_{table} WHERE {spec.fact_when}) "
        f"AND hash({key}) NOT IN ({_rejected_names(spec)})"
    )


def _rejected_names(spec: TableContract, patient_known: bool = True) -> str:
    """The facts (hash of TableContract.name_key) of the rows tonight's rules rejected (bad_rows);
    not `patient_known`: the names of those rejected without their patient (any patient's fact)."""
    rejected = (
        f"FROM numbered_{spec.table} WHERE {spec.fact_when} "  # noqa: S608 - contract identifiers
        "AND _rec IN (SELECT _rec FROM bad_rows)"
    )
    if patient_known:
        return f"SELECT hash({', '.join(spec.name_key)}) {rejected}"
    return f"SELECT {spec.named_by} {rejected} AND patient_id IS NULL"


def _reasons_from(con: duckdb.DuckDBPyConnection, relation: str, limit: int = 5) -> list[dict]:
    rows = con.execute(
        f"""
        SELECT column_name, rule, message, count(*) AS n, min(line) AS example_line,
               arg_min(original, line) AS example
        FROM {relation} GROUP BY ALL ORDER BY n DESC, column_name, rule LIMIT {int(limit)}
        """  # noqa: S608 - relation is an internal table name
    ).fetchall()
    keys = ("column", "rule", "message", "count", "example_line", "example")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def _top_reasons(
    con: duckdb.DuckDBPyConnection, table: str, file: str, kept_in: str = "quarantine"
) -> list[dict]:
    """The commonest reasons kept in `quarantine` (or `row_notes`) for this file by earlier runs."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE earlier_quarantine AS "  # noqa: S608 - one of two table names
        f"SELECT * FROM {'row_notes' if kept_in == 'row_notes' else 'quarantine'} "
        "WHERE table_name = $t AND file = $f",
        {"t": table, "f": file},
    )
    return _reasons_from(con, "earlier_quarantine")


def duplicate_key_warnings(con: duckdb.DuckDBPyConnection, sources: list[RawSource]) -> list[str]:
    """One warning per lookup table (read by any source) with a repeated key.

    The profiles use one row of each key, so a repeated key never multiplies facts; the warning says
    the lookup table is not what the format promises.
    """
    warnings = []
    seen = set()
    for lookup in (lookup for source in sources for lookup in source.lookups):
        if (lookup.label, lookup.key) in seen:
            continue
        seen.add((lookup.label, lookup.key))
        try:
            repeated = scalar(
                con,
                f"SELECT count(*) FROM (SELECT {lookup.key} FROM {lookup.relation} "  # noqa: S608 - profile constants
                f"WHERE {lookup.key} IS NOT NULL GROUP BY ALL HAVING count(*) > 1)",
                dict(lookup.params),
            )
        except (duckdb.IOException, duckdb.InvalidInputException, duckdb.ConversionException) as error:
            if out_of_resources(error):
                raise
            # read before the load (a second night): a lookup file DuckDB cannot read is bad input, named
            raise file_reader_error(lookup.label, error) from None
        if repeated:
            warnings.append(
                f"{lookup.label} has {repeated} duplicated {lookup.key} values; one row of each was used."
            )
    for warning in warnings:
        log.warning("lookup table: %s", warning)
    return warnings
