"""Guards: facts about the export and the data that warn (or stop) a run before its numbers mislead.

The data's date range is computed here once per run and recorded with it (runs.data_from, data_to).

- the volume guard: an export file much smaller than last time (an incomplete export);
- the as-of guard: an audit date far outside the data's date range (a wrong date, date-shifted data);
- the coverage guard: few patients with any record in the lookback before the as-of date, so most of
  the clinic cannot be audited on that date (date-shifted research data, a stale or partial export);
- the freshness guard: a table's newest record more than `freshness_max_days` before the nightly's
  as-of date (an export job that stopped, a copy of last week's files).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb

from pipelines.contract import event_dates
from pipelines.csv_scan import count_records
from pipelines.csv_tables import open_bytes
from pipelines.db import out_of_resources
from pipelines.errors import READ_ERRORS, InputError, file_fault
from pipelines.ingest import FileResult, RawSource, reader_error
from pipelines.settings import Settings

log = logging.getLogger(__name__)


def per_event_table(select: str) -> str:
    """`select` once per table that records clinical events (pipelines/contract.py: labs by
    collection, prescriptions by start, diagnoses by recording), with {table}, {stored} and {day}
    filled in, as a UNION ALL: the guards read the tables' dates from the contract, not a list here."""
    return " UNION ALL ".join(select.format(table=t, stored=s, day=d) for t, s, d in event_dates())


RANGE_SQL = "SELECT min({day})::DATE AS lo, max({day})::DATE AS hi FROM {stored}"  # column statistics


def count_rows(path: Path) -> int:
    """Data rows in an export file, counted cheaply as lines after the header (no parsing), in the
    decompressed text of a .gz. A file with no LF at all but CRs (classic Mac line ends, which the
    reader reads) counts its CRs."""
    lines = returns = last = 0
    with open_bytes(path) as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
            returns += chunk.count(b"\r") if not lines else 0
            last = chunk[-1]
    end = ord("\n")
    if not lines and returns:
        lines, end = returns, ord("\r")
    lines += 1 if last and last != end else 0
    return max(lines - 1, 0)


def _counted(con: duckdb.DuckDBPyConnection, source: RawSource, scratch: Path | None) -> int:
    """The file's rows for the volume guard; a file that cannot be read (a damaged or truncated
    .gz, a vanished file) is bad input (exit 3) named by file, as the load would say."""
    try:
        return count_rows(source.paths[0]) if source.lines else _count_source(con, source, scratch)
    except READ_ERRORS as error:
        if out_of_resources(error):
            raise
        raise InputError(f"{source.label}: cannot be read ({file_fault(error)})") from None


def _count_source(con: duckdb.DuckDBPyConnection, source: RawSource, scratch: Path | None) -> int:
    """Rows a profile's source yields (it may join or decompress files, so lines cannot be counted):
    a source yielding one row per record of its CSV (`csv_param`) counts that file's records
    (csv_scan, as the load will read them, a mended copy in `scratch`); a file DuckDB cannot read is
    bad input (exit 3)."""
    if source.csv_param:
        return count_records(Path(str(source.params[source.csv_param])), source.delimiter, scratch)
    try:
        return con.execute(f"SELECT count(*) FROM ({source.select})", dict(source.params)).fetchall()[0][0]  # noqa: S608
    except (duckdb.IOException, duckdb.InvalidInputException, duckdb.ConversionException) as error:
        raise reader_error(source, error) from None


@dataclass(frozen=True)
class VolumeVerdict:
    """The volume guard's verdict on one export file, recorded with the run (run_files.shrunk)."""

    table: str
    label: str
    rows: int | None  # rows in the file now, counted cheaply; None: no previous run to compare with
    previous_rows_read: int | None  # rows the previous run read for this table
    ratio: float

    @property
    def shrunk(self) -> bool:
        """Under `ratio` of the previous run's rows: maybe an incomplete export."""
        return self.previous_rows_read is not None and self.rows < self.previous_rows_read * self.ratio

    @property
    def warning(self) -> str:
        """The one sentence the console, the run record (runs.warnings), the report and the email show."""
        return (
            f"{self.label} is much smaller than last time: about {self.rows} rows, under "
            f"{self.ratio:.0%} of the {self.previous_rows_read} the previous run read; check the export "
            "is complete."
        )


NO_PATIENTS_FILE = (
    "The export has no patients file: no death, birth date or sex was read from it tonight, so a "
    "patient who died is audited unless an earlier export said so, and the age-based checks see only "
    "ages loaded before."
)


def patients_file_warnings(files: list[RawSource]) -> list[str]:
    """A warning when tonight's export has no patients file (optional in every format): the
    patients' deaths come from it, and a dead patient audited is the first thing a clinic notices
    (a MIMIC export without patients.csv.gz also leaves admissions.deathtime unread)."""
    return [] if any(source.spec.table == "patients" for source in files) else [NO_PATIENTS_FILE]


def unreadable_patient_warnings(con: duckdb.DuckDBPyConnection) -> list[str]:
    """A warning while any patient is left out of every check because their latest patients row could
    not be read (unreadable_patients, pipelines/ingest.py _track_unreadable): the count only, never
    who, as the email carries warnings. Each night until a row for them loads. Only patients with a
    record count: an id read from a damaged line that names nobody leaves nobody out."""
    if not con.execute("SELECT 1 FROM unreadable_patients LIMIT 1").fetchall():
        return []
    known = per_event_table("SELECT patient_id FROM {stored}")  # contract tables only
    count = con.execute(
        "SELECT count(DISTINCT patient_id) FROM unreadable_patients "  # noqa: S608
        f"WHERE patient_id IN ({known} UNION ALL SELECT patient_id FROM patients)"
    ).fetchall()[0][0]
    if not count:
        return []
    return [
        f"Left out of every check: {count:,} patient(s) whose latest row in the patients file could not "
        "be read (rejected: see the rejected rows), so whether they died or left the practice is not "
        "known. Repair the rows in the export; each patient is audited again once a row for them loads."
    ]


# A column whose values could not be read in more than half a file's rows loaded tonight, and in at
# least this many, is written in a format the export's settings do not read (a whole column of
# birth dates as 19841209, sex as ISO 5218's 1 and 2).
CLEARED_COLUMN_ROWS = 5


def cleared_column_warnings(results: list[FileResult]) -> list[str]:
    """A warning per column that most of a file's rows load without (a soft rule's failure clears
    it, noted per row): one row's unreadable birth date is that row's fault, a whole column's is the
    export's format, and the checks that need it lose every patient without a word (the age-based
    check emptied). Judged against the file's rows that load or were stored before (read, less
    rejected and skipped: a nightly export re-sends its rows), so it is said each night the export
    still writes the column so. The file, column and counts only, never who."""
    warnings = []
    for result in results:
        kept = result.rows_read - result.rows_rejected - result.rows_skipped
        warnings += [
            f"{result.file}: {column} could not be read in {rows:,} of its {kept:,} rows, which load "
            "without it (see the noted rows): check how the export writes it (a date: the date_order "
            "setting)."
            for column, rows in result.cleared.items()
            if rows >= CLEARED_COLUMN_ROWS and rows * 2 > kept
        ]
    return warnings


# A death date shared by at least this many patients, and by most of those with a death date, reads
# as a placeholder for "no date" (SQL Server's zero date, 1900-01-01; a migration's load date).
PLACEHOLDER_DEATHS = 10


def placeholder_death_warnings(con: duckdb.DuckDBPyConnection) -> list[str]:
    """A warning when one death date is most patients' death date: a system that writes a date for
    "none" makes every living patient dead, and the audit empties without a word (each is left out
    as deceased, as the export says). Deaths are spread over days in any clinic; a shared day is the
    export's. The date and the count only, never who."""
    row = con.execute(
        "SELECT death_date, count(*) AS n, sum(count(*)) OVER () AS deaths FROM patient_state "
        "WHERE death_date IS NOT NULL GROUP BY death_date ORDER BY n DESC, death_date LIMIT 1"
    ).fetchall()
    if not row or row[0][1] < PLACEHOLDER_DEATHS or row[0][1] * 2 <= row[0][2]:
        return []
    day, shared, deaths = row[0]
    return [
        f"{shared:,} of the {deaths:,} patients with a death date died on {day}: a date the export may "
        "write for 'no death date' (as SQL Server writes 1900-01-01 for an empty date). They are left "
        "out of every check as deceased; if they are alive, correct the export's death dates."
    ]


def volume_guard(
    con: duckdb.DuckDBPyConnection, files: list[RawSource], ratio: float, scratch: Path | None = None
) -> list[VolumeVerdict]:
    """Each export file's size against the rows the previous run read for its table (a file that must
    be mended to be counted is mended in `scratch`, the run's folder: csv_scan.scratch_folder).

    Runs before the writing transaction, so `volume_guard_strict` can stop a run with nothing changed.
    """
    previous = dict(
        con.execute(
            # the latest scheduled run's count, when there is one: an analyst's ad-hoc extract is
            # no baseline for the nightly (before any nightly, the latest run of either kind)
            "SELECT table_name, arg_max(rows_read, (coalesce(kind, 'scheduled') = 'scheduled', seq)) "
            "FROM run_files JOIN runs USING (run_id) "
            "GROUP BY table_name"
        ).fetchall()
    )
    verdicts = []
    for source in files:
        before = previous.get(source.spec.table)
        rows = None
        if before is not None:
            rows = _counted(con, source, scratch)
        verdicts.append(VolumeVerdict(source.spec.table, source.label, rows, before, ratio))
    for verdict in verdicts:
        if verdict.shrunk:
            log.warning("volume guard: %s", verdict.warning)
    return verdicts


def as_of_warnings(first: date | None, last: date | None, as_of: date, gap_days: int) -> list[str]:
    """A warning when the audit date lies far outside the data: wrong date, or date-shifted data."""
    if last is not None and (as_of - last).days > gap_days:
        return [
            f"The as-of date {as_of} is {(as_of - last).days} days after the newest record ({last}): "
            "the export may be stale or date-shifted (research data); consider --as-of latest."
        ]
    if first is not None and (first - as_of).days > gap_days:
        return [f"The as-of date {as_of} is {(first - as_of).days} days before the oldest record ({first})."]
    return []


def data_range(con: duckdb.DuckDBPyConnection) -> tuple[date | None, date | None]:
    """Earliest and latest clinical date held: lab collections, prescription starts, diagnoses."""
    # Per-table min/max over the stored columns: DuckDB answers these from column statistics, where
    # a union of the rows (or the labs view and its join) would scan tens of millions of rows.
    row = con.execute(
        f"SELECT min(lo), max(hi) FROM ({per_event_table(RANGE_SQL)})"  # noqa: S608 - contract names
    ).fetchall()[0]
    return row[0], row[1]


@dataclass(frozen=True)
class Coverage:
    """How many patients have any record (lab, prescription, diagnosis) in the lookback before as-of."""

    patients: int  # patients with any record at all
    recent: int  # of those, with a record dated in (as_of - lookback_days, as_of]
    lookback_days: int

    @property
    def share(self) -> float:
        """Share of patients with a recent record (1 when there are no patients)."""
        return self.recent / self.patients if self.patients else 1.0

    def as_dict(self) -> dict[str, object]:
        """For summary.json and the run record."""
        return {
            "patients": self.patients,
            "with_recent_record": self.recent,
            "share": round(self.share, 4),
            "lookback_days": self.lookback_days,
        }


RECENT_SQL = (
    "SELECT patient_id, bool_or({day}::DATE BETWEEN $low AND $as_of) AS recent FROM {stored} "
    "GROUP BY patient_id"
)
COVERAGE_SQL = f"""
WITH events AS ({per_event_table(RECENT_SQL)})
SELECT count(*), count(*) FILTER (recent) FROM (
    SELECT patient_id, bool_or(recent) AS recent FROM events GROUP BY patient_id
)
"""  # noqa: S608 - contract names; values are bound


def coverage(con: duckdb.DuckDBPyConnection, as_of: date, lookback_days: int) -> Coverage:
    """Patients with any record, and those with one in the lookback before (and on) the as-of date."""
    low = as_of - timedelta(days=max(lookback_days - 1, 0))
    patients, recent = con.execute(COVERAGE_SQL, {"low": low, "as_of": as_of}).fetchall()[0]
    return Coverage(patients, recent, lookback_days)


def coverage_warnings(found: Coverage, as_of: date, min_share: float) -> list[str]:
    """A warning when under `min_share` of the patients have any record in the lookback."""
    if not found.patients or found.share >= min_share:
        return []
    return [
        f"Only {found.recent} of {found.patients} patients ({found.share:.0%}) have any record in the "
        f"{found.lookback_days} days to the as-of date {as_of}: most patients cannot be audited on this "
        "date. For date-shifted research data (MIMIC-IV) use --as-of per-patient; otherwise check the "
        "as-of date and that the export is complete."
    ]


def reject_threshold_guard(result: FileResult, threshold: float) -> None:
    """Stop the run (InputError: the transaction is rolled back, nothing is loaded) when a file's
    rejected share passes `reject_threshold`: so many bad rows means a wrong or broken export."""
    if result.reject_rate <= threshold:
        return
    reasons = "; ".join(
        f"{r['column'] or 'the record'}: {r['message']} ({r['count']})" for r in result.top_reasons
    )
    audited = result.rows_read - result.rows_skipped
    skipped = f" ({result.rows_skipped} more skipped as outside the audit)" if result.rows_skipped else ""
    raise InputError(
        f"{result.file}: {result.rows_rejected} of {audited} rows rejected{skipped} "
        f"({result.reject_rate:.1%}, threshold {threshold:.0%}); nothing was loaded. "
        f"Top reasons: {reasons}"
    )


def date_guards(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    data: tuple[date | None, date | None],
    settings: Settings,
) -> tuple[Coverage, list[str]]:
    """The as-of and coverage guards: the coverage found and the warnings to record. An as-of date
    outside the data explains low coverage too, so only one of the two warns."""
    found = coverage(con, as_of, settings.coverage_lookback_days)
    warnings = as_of_warnings(*data, as_of, settings.as_of_gap_warning_days) or (
        coverage_warnings(found, as_of, settings.coverage_warning_share)
    )
    for warning in warnings:
        log.warning("as-of date: %s", warning)
    return found, warnings


# The newest clinical date of each dated table (column statistics, as in data_range).
NEWEST_SQL = per_event_table("SELECT '{table}', max({day})::DATE FROM {stored}")


def freshness_warnings(con: duckdb.DuckDBPyConnection, as_of: date, max_days: int) -> list[str]:
    """Per dated table, a warning when its newest record lies more than `max_days` before `as_of`.

    Read after the load, from what the database holds (an export re-sent unchanged adds nothing, so
    its newest date stays where it was). An empty table is not judged: it says nothing about age.
    """
    warnings = []
    for table, newest in con.execute(NEWEST_SQL).fetchall():
        if newest is not None and (as_of - newest).days > max_days:
            warnings.append(
                f"{table}: the newest record is dated {newest.isoformat()}, {(as_of - newest).days} days "
                f"before the as-of date {as_of.isoformat()} (freshness_max_days = {max_days}): the export "
                "may be stale; check that tonight's export job ran and wrote new files."
            )
    for warning in warnings:  # logged, so the log file has every warning the run shows
        log.warning("freshness guard: %s", warning)
    return warnings
