"""The report's content as plain data, read from the database once for one run.

Templates get these frozen dataclasses and never a connection. Every query binds its values and
sorts its output, so the same database and run give the same report.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import duckdb

from checks.framework import CheckDefinition
from reports.action import ActionContext, action_context
from reports.charts import MonthPoint, SitePoint
from reports.measures import monthly_points, site_points

HISTORY_RUNS = 24  # points in a check's rate chart: two years of monthly runs

# Run order: `runs.seq` is assigned inside each run's writing transaction, so it follows commits.
# `ordered` holds the scheduled runs, and the run reported on (an ad-hoc run is compared with the
# nightly record, never with other ad-hoc runs, and never enters another run's history).
RUN_ORDER = """
    WITH ordered AS (SELECT * FROM runs WHERE coalesce(kind, 'scheduled') = 'scheduled' OR run_id = $r),
    this_run AS (SELECT seq AS this_seq FROM runs WHERE run_id = $r)
"""


@dataclass(frozen=True)
class Header:
    """Who and when: the report's first lines."""

    clinic_name: str
    as_of: date
    run_id: str
    data_from: date | None
    data_to: date | None
    generated_at: datetime
    tool_version: str
    kind: str = "scheduled"  # or "ad hoc" (runs.kind)
    ad_hoc_because: tuple[str, ...] = ()  # the options that made it ad hoc
    compared_with: tuple[str, date] | None = None  # ad hoc: the latest scheduled run before it (id, as-of)
    measures_months: int = 24  # month-ends the run's measures cover (its recorded measures_months)


@dataclass(frozen=True)
class RatePoint:
    """One past run's flagged rate for a check."""

    run_id: str
    as_of: date
    rate: float


@dataclass(frozen=True)
class CheckSummary:
    """One row of the at-a-glance table, plus the rate history for its chart."""

    check_id: str
    title: str
    flagged: int
    denominator: int
    rate: float
    high_priority: int
    deceased_excluded: int | None  # left out as dead on or before as-of; None: run before schema 3
    deregistered_excluded: int | None  # left out as having left the practice; None: before schema 13
    unreadable_excluded: int | None  # left out: patients row unreadable; None: before schema 18
    new: int | None  # None: no previous run of this check to compare with
    persisting: int | None  # flagged in this run and the check's previous run
    resolved: int | None
    history: tuple[RatePoint, ...]


@dataclass(frozen=True)
class WorklistRow:
    """One flagged patient: why, the evidence, and since when they have been flagged."""

    patient_id: str
    priority: str
    reason: str
    evidence: tuple[tuple[str, Any], ...]  # (column, value) in the check's display order
    flagged_since: date  # as-of date of the run that first raised this unbroken series of flags
    days_flagged: int
    runs_flagged: int  # consecutive runs of this check, this one included, that flagged the patient


@dataclass(frozen=True)
class ResolvedRow:
    """A patient the check's previous run flagged and this one does not: why the flag ended, and
    what it said then, so an analyst tells a test done from a course ended or a window slid."""

    patient_id: str
    status: str  # resolved, or left out: deceased, deregistered, unreadable (check_exclusions)
    last_reason: str


@dataclass(frozen=True)
class CheckSection:
    """Everything the report says about one check."""

    summary: CheckSummary
    guideline: tuple[str, ...]
    population: str
    flag: str
    windows: str
    priority: str
    parameters: tuple[tuple[str, Any], ...]
    evidence_columns: tuple[str, ...]
    worklist: tuple[WorklistRow, ...]  # complete; the template shows the first `max_rows`
    monthly: tuple[MonthPoint, ...] = ()  # the check's monthly measures up to as-of (reports/measures.py)
    sites: tuple[SitePoint, ...] = ()  # each site's measure at the latest month-end (funnel plot)
    resolved: tuple[ResolvedRow, ...] = ()  # flagged by the previous run of the check, not by this one


@dataclass(frozen=True)
class RejectionReason:
    """A group of quarantined rows with one cause, and the first such line as an example."""

    column: str
    rule: str
    message: str
    count: int
    example_line: int | None
    example_text: str


@dataclass(frozen=True)
class FileQuality:
    """What happened to one export file in this run, compared with the previous run."""

    table: str
    file: str
    rows_read: int
    rows_loaded: int
    rows_duplicate: int
    rows_rejected: int
    skipped_unchanged: bool
    previous_rows_read: int | None
    shrunk: bool  # the volume guard's verdict: under volume_guard_ratio of the previous run's rows
    reasons: tuple[RejectionReason, ...]
    rows_skipped: int | None = None  # outside what the tool audits; None: a run before schema 3
    skip_reasons: tuple[tuple[str, int], ...] = ()  # (reason, rows), most rows first
    rows_noted: int | None = None  # loaded with a noted problem (row_notes)
    notes: tuple[RejectionReason, ...] = ()  # the commonest notes, as reasons


@dataclass(frozen=True)
class MissedCode:
    """A lab test, drug name or diagnosis code the run saw that matched no codelist but looks related
    to one (stored with the run in run_unmatched). Counts only."""

    code_system: str | None
    code: str | None
    name: str | None
    related_to: str
    note: str
    rows: int
    patients: int


@dataclass(frozen=True)
class CodelistCoverage:
    """What the codelists may have missed in the run's data, and the clinic's codelists it used."""

    recorded: bool  # False: a run from before the diagnostic, which stored no list
    missed: tuple[tuple[str, tuple[MissedCode, ...], int], ...]  # (kind, the first few, how many stored)
    local: tuple[tuple[str, str, int], ...]  # local codelist files used: (file, sha256, rows)


MISSED_SHOWN = 10  # candidates per kind in report.html; `clinic-audit codelists --unmatched` has all
MISSED_KINDS = ("labs", "drugs", "diagnoses")


@dataclass(frozen=True)
class ReportContext:
    """The whole report."""

    header: Header
    checks: tuple[CheckSection, ...]
    files: tuple[FileQuality, ...]
    max_rows: int
    warnings: tuple[str, ...] = ()  # what the run warned about (stored with it in runs.warnings)
    codelists: CodelistCoverage | None = None  # what the codelists may have missed (run_unmatched)
    action: ActionContext | None = None  # reviews, counts with exceptions, the call list (reports/action.py)


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def build_context(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    definitions: Sequence[CheckDefinition],
    *,
    clinic_name: str,
    generated_at: datetime,
    max_rows: int = 500,
) -> ReportContext:
    """Read one run's results, history and data quality into plain data for the templates."""
    run = _rows(
        con,
        "SELECT as_of, started_at, tool_version, warnings, data_from, data_to, kind, "
        "settings->'ad_hoc_because' AS because, "
        "coalesce(CAST(settings->>'measures_months' AS INTEGER), 24) AS measures_months "
        "FROM runs WHERE run_id = $r",
        {"r": run_id},
    )
    if not run:
        raise LookupError(f"run {run_id} is not in the database")
    as_of = run[0]["as_of"]
    # the date range as the run recorded it: re-rendering an old run never shows today's data
    header = Header(
        clinic_name,
        as_of,
        run_id,
        run[0]["data_from"],
        run[0]["data_to"],
        generated_at,
        run[0]["tool_version"],
        run[0]["kind"] or "scheduled",
        tuple(json.loads(run[0]["because"] or "[]")),
        last_scheduled_before(con, run_id) if run[0]["kind"] == "ad hoc" else None,
        run[0]["measures_months"],
    )
    results = {
        r["check_id"]: r for r in _rows(con, "SELECT * FROM check_results WHERE run_id = $r", {"r": run_id})
    }
    sections = tuple(check_section(con, header, d, results[d.id]) for d in definitions if d.id in results)
    files = file_quality(con, run_id)
    warnings = tuple(json.loads(run[0]["warnings"] or "[]"))
    coverage = codelist_coverage(con, run_id)
    action = action_context(con, run_id, as_of, sections)
    return ReportContext(header, sections, files, max_rows, warnings, coverage, action=action)


def codelist_coverage(con: duckdb.DuckDBPyConnection, run_id: str) -> CodelistCoverage:
    """The run's stored list of what the codelists may have missed, the first few per kind, and the
    local codelist files it read: as the run recorded them, never recomputed from today's data."""
    versions = _rows(
        con,
        "SELECT source, file, sha256, rows FROM run_codelists WHERE run_id = $r ORDER BY source, file",
        {"r": run_id},
    )
    missed = []
    for kind in MISSED_KINDS:
        rows = _rows(
            con,
            "SELECT code_system, code, name, related_to, note, rows, patients, count(*) OVER () AS stored "
            "FROM run_unmatched WHERE run_id = $r AND kind = $k ORDER BY rank LIMIT $n",
            {"r": run_id, "k": kind, "n": MISSED_SHOWN},
        )
        shown = tuple(MissedCode(*(row[c] for c in list(row)[:7])) for row in rows)
        missed.append((kind, shown, rows[0]["stored"] if rows else 0))
    local = tuple((v["file"], v["sha256"], v["rows"]) for v in versions if v["source"] == "local")
    return CodelistCoverage(bool(versions), tuple(missed), local)


def last_scheduled_before(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[str, date] | None:
    """The latest scheduled run committed before this one: what an ad-hoc run is compared with."""
    row = con.execute(
        "SELECT run_id, as_of FROM runs WHERE coalesce(kind, 'scheduled') = 'scheduled' "
        "AND seq < (SELECT seq FROM runs WHERE run_id = $r) ORDER BY seq DESC LIMIT 1",
        {"r": run_id},
    ).fetchall()
    return (row[0][0], row[0][1]) if row else None


def previous_run(con: duckdb.DuckDBPyConnection, run_id: str, check_id: str) -> str | None:
    """The latest earlier scheduled run that evaluated this check (in run order, see RUN_ORDER)."""
    row = con.execute(
        RUN_ORDER  # noqa: S608 - a constant CTE; values are bound
        + """
        SELECT r.run_id FROM ordered r JOIN check_results c USING (run_id), this_run
        WHERE c.check_id = $c AND r.seq < this_seq
        ORDER BY r.seq DESC LIMIT 1
        """,
        {"c": check_id, "r": run_id},
    ).fetchall()
    return row[0][0] if row else None


def flag_counts(con: duckdb.DuckDBPyConnection, run_id: str, check_id: str) -> dict[str, int]:
    """New, persisting and resolved patients of a check in a run (view `flag_status`, scheduled
    runs); an ad-hoc run's against the latest scheduled run of the check before it."""
    rows = con.execute(
        "SELECT status, count(*) FROM flag_status WHERE run_id = $r AND check_id = $c GROUP BY status",
        {"r": run_id, "c": check_id},
    ).fetchall()
    if not rows:
        rows = _ad_hoc_counts(con, run_id, check_id)
    statuses = ("new", "persisting", "resolved", "deceased", "deregistered", "unreadable")
    return dict.fromkeys(statuses, 0) | dict(rows)


def _ad_hoc_counts(con: duckdb.DuckDBPyConnection, run_id: str, check_id: str) -> list[tuple[str, int]]:
    """For an ad-hoc run (which flag_status leaves out): its flags against those of the previous
    scheduled run of the check. Empty for a scheduled run."""
    base = previous_run(con, run_id, check_id)
    if base is None or _kind(con, run_id) != "ad hoc":
        return []
    return con.execute(
        """
        WITH this AS (SELECT patient_id FROM findings WHERE run_id = $r AND check_id = $c),
             base AS (SELECT patient_id FROM findings WHERE run_id = $b AND check_id = $c)
        SELECT CASE WHEN b.patient_id IS NULL THEN 'new'
                    WHEN t.patient_id IS NOT NULL THEN 'persisting'
                    ELSE coalesce(x.reason, 'resolved') END AS status,
               count(*)
        FROM this t FULL JOIN base b USING (patient_id)
        LEFT JOIN check_exclusions x
            ON x.run_id = $r AND x.check_id = $c AND x.patient_id = b.patient_id
        GROUP BY status
        """,
        {"r": run_id, "b": base, "c": check_id},
    ).fetchall()


def _kind(con: duckdb.DuckDBPyConnection, run_id: str) -> str:
    row = con.execute("SELECT kind FROM runs WHERE run_id = $r", {"r": run_id}).fetchall()
    return (row[0][0] or "scheduled") if row else "scheduled"


def rate_history(con: duckdb.DuckDBPyConnection, run_id: str, check_id: str) -> tuple[RatePoint, ...]:
    """The check's flagged rate in this run and the scheduled runs before it, oldest first."""
    rows = con.execute(
        RUN_ORDER  # noqa: S608 - a constant CTE; values are bound
        + """
        SELECT run_id, as_of, rate FROM (
            SELECT r.run_id, r.as_of, c.rate, r.seq
            FROM ordered r JOIN check_results c USING (run_id), this_run
            WHERE c.check_id = $c AND r.seq <= this_seq
            ORDER BY r.seq DESC LIMIT $n)
        ORDER BY seq
        """,
        {"c": check_id, "r": run_id, "n": HISTORY_RUNS},
    ).fetchall()
    return tuple(RatePoint(r[0], r[1], r[2]) for r in rows)


def check_summary(con: duckdb.DuckDBPyConnection, run_id: str, result: dict[str, Any]) -> CheckSummary:
    """Counts for one check, with new, persisting and resolved patients against its previous run."""
    check_id = result["check_id"]
    new = persisting = resolved = None
    if previous_run(con, run_id, check_id) is not None:
        counts = flag_counts(con, run_id, check_id)
        new, persisting, resolved = counts["new"], counts["persisting"], counts["resolved"]
    return CheckSummary(
        check_id,
        result["title"],
        result["flagged"],
        result["denominator"],
        result["rate"],
        result["high_priority"],
        result.get("deceased_excluded"),  # as the run recorded it in check_results
        result.get("deregistered_excluded"),
        result.get("unreadable_excluded"),
        new,
        persisting,
        resolved,
        rate_history(con, run_id, check_id),
    )


def worklist(
    con: duckdb.DuckDBPyConnection, run_id: str, as_of: date, definition: CheckDefinition
) -> tuple[WorklistRow, ...]:
    """Flagged patients, high priority first, then the most overdue (the evidence's due_on, for the
    checks that declare one: on a first run every flag is as old as the next, and the order fell to
    the patient id), then longest flagged, then by id.

    Since when comes from the nightly record (flag_status): for an ad-hoc run, from the latest
    scheduled run of the check before it, this run counted as one more."""
    ad_hoc = _kind(con, run_id) == "ad hoc"
    status_run = previous_run(con, run_id, definition.id) if ad_hoc else run_id
    rows = _rows(
        con,
        """
        SELECT f.patient_id, f.priority, f.reason, f.evidence,
               coalesce(s.first_as_of, $as_of) AS since, coalesce(s.runs_standing + $extra, 1) AS runs
        FROM findings f
        LEFT JOIN flag_status s
            ON s.run_id = $s AND s.check_id = f.check_id AND s.patient_id = f.patient_id
           AND s.status IN ('new', 'persisting')
        WHERE f.run_id = $r AND f.check_id = $c
        ORDER BY f.priority = 'high' DESC, try_cast(f.evidence->>'$.due_on' AS DATE) NULLS LAST, since,
                 f.patient_id
        """,
        {"c": definition.id, "r": run_id, "as_of": as_of, "s": status_run, "extra": int(ad_hoc)},
    )
    return tuple(_worklist_row(row, as_of, definition.evidence) for row in rows)


def _worklist_row(row: dict[str, Any], as_of: date, columns: Sequence[str]) -> WorklistRow:
    evidence = json.loads(row["evidence"])
    since = min(row["since"], as_of)
    return WorklistRow(
        row["patient_id"],
        row["priority"],
        row["reason"],
        tuple((name, evidence.get(name)) for name in columns),
        since,
        (as_of - since).days,
        row["runs"],
    )


def check_section(
    con: duckdb.DuckDBPyConnection,
    header: Header,
    definition: CheckDefinition,
    result: dict[str, Any],
) -> CheckSection:
    """The definition as a reviewer reads it, the parameters this run used, and the worklist."""
    parameters = json.loads(result["parameters"])
    run_id, as_of = header.run_id, header.as_of
    return CheckSection(
        check_summary(con, run_id, result),
        definition.guideline,
        definition.population,
        definition.flag,
        definition.windows,
        definition.priority,
        tuple(sorted(parameters.items())),
        definition.evidence,
        worklist(con, run_id, as_of, definition),
        monthly_points(con, run_id, definition.id, as_of, header.measures_months),
        site_points(con, run_id, definition.id, as_of),
        resolved_patients(con, run_id, definition.id),
    )


def resolved_patients(con: duckdb.DuckDBPyConnection, run_id: str, check_id: str) -> tuple[ResolvedRow, ...]:
    """The patients the check's previous run (previous_run: a scheduled one) flagged and this run does
    not, with why (left out as deceased, deregistered or unreadable: check_exclusions; else resolved)
    and that run's reason; none on a check's first run. The same patients flag_status counts as
    resolved (or left out) for a scheduled run, and _ad_hoc_counts for an ad-hoc one."""
    base = previous_run(con, run_id, check_id)
    if base is None:
        return ()
    rows = con.execute(
        """
        SELECT b.patient_id, coalesce(x.reason, 'resolved'), b.reason
        FROM findings b
        LEFT JOIN check_exclusions x ON x.run_id = $r AND x.check_id = $c AND x.patient_id = b.patient_id
        WHERE b.run_id = $b AND b.check_id = $c
          AND b.patient_id NOT IN (SELECT patient_id FROM findings WHERE run_id = $r AND check_id = $c)
        ORDER BY b.patient_id
        """,
        {"r": run_id, "b": base, "c": check_id},
    ).fetchall()
    return tuple(ResolvedRow(*row) for row in rows)


def file_quality(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[FileQuality, ...]:
    """Per export file: counts, the top rejection reasons, and whether it shrank since the last run,
    as the run recorded them (run_files)."""
    rows = _rows(con, "SELECT * FROM run_files WHERE run_id = $r ORDER BY table_name", {"r": run_id})
    return tuple(
        FileQuality(
            row["table_name"],
            row["file"],
            row["rows_read"],
            row["rows_loaded"],
            row["rows_duplicate"],
            row["rows_rejected"],
            row["skipped_unchanged"],
            row["previous_rows_read"],
            bool(row["shrunk"]),
            _reasons(row["top_reasons"]),
            row["rows_skipped"],
            _skip_reasons(row["skip_reasons"]),
            row["rows_noted"],
            _reasons(row["top_notes"]),
        )
        for row in rows
    )


def _skip_reasons(stored: str | None) -> tuple[tuple[str, int], ...]:
    """run_files.skip_reasons (JSON reason -> rows) as (reason, rows), most rows first."""
    reasons = json.loads(stored or "{}")
    return tuple(sorted(reasons.items(), key=lambda item: (-item[1], item[0])))


def _reasons(stored: str | None) -> tuple[RejectionReason, ...]:
    """run_files.top_reasons / top_notes (JSON, as ingest found them) as RejectionReasons. NULL in
    runs before schema 4, which recorded no reasons."""
    return tuple(
        RejectionReason(
            r["column"] or "", r["rule"], r["message"], r["count"], r["example_line"], r["example"] or ""
        )
        for r in json.loads(stored or "[]")
    )
