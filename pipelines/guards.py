"""Guards: facts about the export and the data that warn (or stop) a run before its numbers mislead.

The data's date range is computed here once per run and recorded with it (runs.data_from, data_to).

- the volume guard: an export file much smaller than last time (an incomplete export);
- the as-of guard: an audit date far outside the data's date range (a wrong date, date-shifted data);
- the coverage guard: few patients with any record in the lookback before the as-of date, so most of
  the clinic cannot be audited on that date (date-shifted research data, a stale or partial export).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb

from pipelines.ingest import RawSource

log = logging.getLogger(__name__)


def count_rows(path: Path) -> int:
    """Data rows in an export file, counted cheaply as lines after the header (no parsing)."""
    lines = last = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1]
    lines += 1 if last and last != ord("\n") else 0
    return max(lines - 1, 0)


def _count_source(con: duckdb.DuckDBPyConnection, source: RawSource) -> int:
    """Rows a profile's source yields (it may join or decompress files, so lines cannot be counted)."""
    return con.execute(f"SELECT count(*) FROM ({source.select})", dict(source.params)).fetchall()[0][0]  # noqa: S608


def volume_guard(con: duckdb.DuckDBPyConnection, files: list[RawSource], ratio: float) -> list[str]:
    """One warning per export file with under `ratio` of the rows the previous run read for its table.

    Runs before the writing transaction, so `volume_guard_strict` can stop a run with nothing changed.
    """
    previous = dict(
        con.execute(
            "SELECT table_name, arg_max(rows_read, seq) FROM run_files JOIN runs USING (run_id) "
            "GROUP BY table_name"
        ).fetchall()
    )
    warnings = []
    for source in files:
        before = previous.get(source.spec.table)
        if before is None:
            continue
        rows = count_rows(source.paths[0]) if source.lines else _count_source(con, source)
        if rows < before * ratio:
            warnings.append(
                f"{source.label} has about {rows} rows, under {ratio:.0%} of the {before} "
                "the previous run read; check the export is complete."
            )
    for warning in warnings:
        log.warning("volume guard: %s", warning)
    return warnings


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
        """
        SELECT least(l.lo, p.lo, d.lo), greatest(l.hi, p.hi, d.hi)
        FROM (SELECT min(collected_at)::DATE AS lo, max(collected_at)::DATE AS hi FROM lab_results) l,
             (SELECT min(start_date) AS lo, max(start_date) AS hi FROM prescriptions) p,
             (SELECT min(recorded_at) AS lo, max(recorded_at) AS hi FROM diagnoses) d
        """
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


COVERAGE_SQL = """
WITH events AS (
    SELECT patient_id, max(collected_at)::DATE AS last_day,
           bool_or(collected_at::DATE BETWEEN $low AND $as_of) AS recent
    FROM lab_results GROUP BY patient_id
    UNION ALL
    SELECT patient_id, max(start_date), bool_or(start_date BETWEEN $low AND $as_of)
    FROM prescriptions GROUP BY patient_id
    UNION ALL
    SELECT patient_id, max(recorded_at), bool_or(recorded_at BETWEEN $low AND $as_of)
    FROM diagnoses GROUP BY patient_id
)
SELECT count(*), count(*) FILTER (recent) FROM (
    SELECT patient_id, bool_or(recent) AS recent FROM events GROUP BY patient_id
)
"""


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
