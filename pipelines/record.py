"""The run record: what one run did, stored with it (runs, run_files) and written as summary.json.

Every fact a report shows about a run (data range, guard verdicts, rejection reasons, coverage,
parameters) is decided once, during the run, and stored here; reports read the record and never
recompute it from the live tables, so re-rendering an old run shows what that run saw.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import NamedTuple

import duckdb

from checks.evaluate import CheckResult
from pipelines import __version__
from pipelines.codelists import CodelistFile
from pipelines.guards import Coverage, VolumeVerdict
from pipelines.ingest import FileResult, reject_rate
from pipelines.settings import Settings
from reports.files import write_text_private

log = logging.getLogger(__name__)


@dataclass
class RunOutcome:
    """What a run did; the CLI prints it, the database and `summary.json` record it."""

    run_id: str
    as_of: date
    status: str
    started_at: datetime
    finished_at: datetime | None = None
    files: list[FileResult] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    message: str = ""
    warnings: list[str] = field(default_factory=list)  # guards: smaller exports, as-of, coverage, lookups
    volume: list[VolumeVerdict] = field(default_factory=list)  # the volume guard's verdict per file
    reports: object | None = None  # reports.render.Reports, written after the commit
    coverage: Coverage | None = None  # patients with a record in the lookback before as-of
    data_from: date | None = None  # the clinical date range the data held
    data_to: date | None = None
    codelists: tuple[CodelistFile, ...] = ()  # the codelist files read: shipped, then the clinic's own
    kind: str = "scheduled"  # or "ad hoc": kept out of the nightly lifecycle and trends (run_kind.py)
    kind_reasons: tuple[str, ...] = ()  # why ad hoc: "--as-of 2026-06-30", "--checks", "--param ..."
    email_due: bool = False  # asked to send (or write) its summary email once the outputs are in place
    export_format: str = ""  # the format the export was read as (the one detected, for auto)


def record_run(con: duckdb.DuckDBPyConnection, settings: Settings, outcome: RunOutcome) -> None:
    """Insert the run and its files, inside the run's transaction (a failed run leaves no trace)."""
    con.execute(
        "INSERT INTO runs (run_id, seq, started_at, finished_at, status, as_of, exports, export_format, "
        "tool_version, settings, warnings, data_from, data_to, coverage, kind, email_due) "
        "SELECT $id, coalesce(max(seq), 0) + 1, $start, $end, $status, $as_of, $exports, "
        "$fmt, $ver, $settings, $warnings, $data_from, $data_to, $coverage, $kind, $email FROM runs",
        {
            "id": outcome.run_id,
            "start": outcome.started_at,
            "end": outcome.finished_at,
            "status": outcome.status,
            "as_of": outcome.as_of,
            "exports": str(settings.exports),
            "fmt": outcome.export_format or settings.export_format,
            "ver": __version__,
            "settings": json.dumps(
                settings_record(settings, outcome.as_of) | {"ad_hoc_because": list(outcome.kind_reasons)}
            ),
            "warnings": json.dumps(outcome.warnings),
            "data_from": outcome.data_from,
            "data_to": outcome.data_to,
            "coverage": json.dumps(outcome.coverage.as_dict()) if outcome.coverage else None,
            "kind": outcome.kind,
            "email": outcome.email_due,
        },
    )
    verdicts = {v.table: v for v in outcome.volume}
    for f in outcome.files:
        verdict = verdicts.get(f.table)
        con.execute(
            "INSERT INTO run_files (run_id, table_name, file, sha256, rows_read, rows_loaded, "
            "rows_duplicate, rows_rejected, skipped_unchanged, bytes, rows_skipped, rows_noted, "
            "skip_reasons, previous_rows_read, shrunk, top_reasons, top_notes) VALUES ($run, $t, $file, "
            "$sha, $read, $loaded, $dup, $rej, $skip, $bytes, $skipped, $noted, $reasons, $previous, "
            "$shrunk, $top_reasons, $top_notes)",
            {
                "run": outcome.run_id,
                "t": f.table,
                "file": f.file,
                "sha": f.sha256,
                "read": f.rows_read,
                "loaded": f.rows_loaded,
                "dup": f.rows_duplicate,
                "rej": f.rows_rejected,
                "skip": f.skipped_unchanged,
                "bytes": f.bytes,
                "skipped": f.rows_skipped,
                "noted": f.rows_noted,
                "reasons": json.dumps(f.skip_reasons),
                "previous": verdict.previous_rows_read if verdict else None,
                "shrunk": verdict.shrunk if verdict else False,
                "top_reasons": json.dumps(f.top_reasons, default=str),
                "top_notes": json.dumps(f.top_notes, default=str),
            },
        )


def outputs_in_place(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Record that the run's outputs are in place (runs.outputs_at), after its commit and the move;
    in local time, as started_at and finished_at are."""
    con.execute(
        "UPDATE runs SET outputs_at = $t WHERE run_id = $r",
        {"t": datetime.now().replace(microsecond=0), "r": run_id},
    )


def email_sent(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Record that the run's summary email was sent (or, in a dry run, written): until then a run
    asked to send one counts as not having sent it (unfinished_night)."""
    con.execute(
        "UPDATE runs SET email_sent_at = $t WHERE run_id = $r",
        {"t": datetime.now().replace(microsecond=0), "r": run_id},
    )


class Nightly(NamedTuple):
    """The newest scheduled run, as the next night reads it."""

    run_id: str
    as_of: date
    outputs_at: datetime | None  # NULL: stopped after its commit, before its outputs
    email_unsent: bool  # asked to send its summary email, and it was not sent


def latest_nightly(con: duckdb.DuckDBPyConnection) -> Nightly | None:
    """The newest scheduled run; None before the first."""
    row = con.execute(
        "SELECT run_id, as_of, outputs_at, coalesce(email_due AND email_sent_at IS NULL, false) FROM runs "
        "WHERE coalesce(kind, 'scheduled') = 'scheduled' ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    return Nightly(*row) if row else None


def unfinished_night(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The warning for tonight when the latest scheduled run did not finish after its commit (a
    SIGKILL, a power cut, outputs it could not write) or, asked to email its summary, did not send
    it (stopped just before, a mail server that refused it): the team hears it from tonight's,
    whose results include it. Empty when it finished."""
    newest = latest_nightly(con)
    if newest is None or (newest.outputs_at is not None and not newest.email_unsent):
        return []
    why = (
        "did not finish after it committed (it was stopped, or its outputs could not be written)"
        if newest.outputs_at is None
        else "wrote its outputs but did not send its summary email (it was stopped first, or the mail "
        "server did not take it)"
    )
    warning = (
        f"the last nightly run before this one ({newest.run_id}, as of {newest.as_of}) {why}, so its "
        "summary email was not sent. Its results are in the database, and tonight's report and email "
        "include them."
    )
    log.warning("%s", warning)
    return [warning]


def settings_record(settings: Settings, as_of: date) -> dict:
    """The settings as used, JSON-ready, stored with the run for reproducibility."""
    record = {k: (str(v) if isinstance(v, Path | date) else v) for k, v in asdict(settings).items()}
    record["as_of"] = as_of.isoformat()
    record["as_of_mode"] = settings.as_of if isinstance(settings.as_of, str) else "date"
    record["checks"] = list(settings.checks)
    return record


def write_summary(out: Path, summary: dict) -> Path:
    """`summary.json`, for schedulers: the run, per file its counts, verdicts and top reasons, per
    check its rates (summary_of_record, or summary_of_outcome for a failed run, which leaves no
    record). It carries no patient identifier or value: a reason gives its example's line number,
    never the row's text (the database's `quarantine` and `run_files` keep that, for analysts)."""
    out.mkdir(parents=True, exist_ok=True)
    return write_text_private(out / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")


def summary_of_record(con: duckdb.DuckDBPyConnection, run_id: str) -> dict:
    """The summary of a committed run, read from its record (runs, run_files, check_results): the
    same after the run and when `clinic-audit report` writes it again."""
    run = _dicts(con, "SELECT * EXCLUDE (settings, exports) FROM runs WHERE run_id = $r", run_id)[0]
    files = _dicts(con, "SELECT * FROM run_files WHERE run_id = $r ORDER BY table_name", run_id)
    checks = _dicts(con, "SELECT * FROM check_results WHERE run_id = $r ORDER BY check_id", run_id)
    return _summary(run | {"message": ""}, files, checks)


def summary_of_outcome(outcome: RunOutcome) -> dict:
    """The summary of a run that failed before its commit, from what it did so far, in the shape of
    the record (the same keys as summary_of_record)."""
    verdicts = {v.table: v for v in outcome.volume}
    run = {
        "run_id": outcome.run_id,
        "seq": None,
        "kind": outcome.kind,
        "status": outcome.status,
        "message": outcome.message,
        "warnings": outcome.warnings,
        "as_of": outcome.as_of,
        "started_at": outcome.started_at,
        "finished_at": outcome.finished_at,
        "tool_version": __version__,
        "coverage": outcome.coverage.as_dict() if outcome.coverage else None,
        "data_from": outcome.data_from,
        "data_to": outcome.data_to,
    }
    files = [
        asdict(f)
        | {
            "table_name": f.table,
            "previous_rows_read": verdicts[f.table].previous_rows_read if f.table in verdicts else None,
            "shrunk": verdicts[f.table].shrunk if f.table in verdicts else False,
        }
        for f in outcome.files
    ]
    checks = [
        asdict(c) | {"rate": c.rate, "flagged_after_exceptions": c.flagged_after_exceptions}
        for c in outcome.checks
    ]
    return _summary(run, files, checks)


RUN_KEYS = (
    "run_id", "seq", "kind", "status", "message", "warnings", "as_of", "started_at", "finished_at",
    "tool_version", "coverage", "data_from", "data_to",
)  # fmt: skip
FILE_KEYS = (
    "file", "sha256", "bytes", "rows_read", "rows_loaded", "rows_duplicate", "rows_rejected",
    "skipped_unchanged", "rows_skipped", "skip_reasons", "rows_noted", "previous_rows_read", "shrunk",
)  # fmt: skip
CHECK_KEYS = (
    "title", "denominator", "flagged", "high_priority", "rate", "deceased_excluded",
    "deregistered_excluded", "unreadable_excluded", "exceptions", "flagged_after_exceptions", "parameters",
)  # fmt: skip


def _summary(run: dict, files: list[dict], checks: list[dict]) -> dict:
    """The one shape of summary.json, whichever source its rows come from."""
    summary = {key: run.get(key) for key in RUN_KEYS}
    summary["warnings"] = summary["warnings"] or []
    summary["files"] = {
        f["table_name"]: {key: f.get(key) for key in FILE_KEYS}
        | {
            "reject_rate": round(reject_rate(f["rows_rejected"], f["rows_read"], f["rows_skipped"] or 0), 6),
            "top_rejection_reasons": without_examples(f.get("top_reasons") or []),
            "top_notes": without_examples(f.get("top_notes") or []),
        }
        for f in files
    }
    summary["checks"] = {
        c["check_id"]: {key: c.get(key) for key in CHECK_KEYS} | {"rate": round(c["rate"] or 0.0, 6)}
        for c in checks
    }
    return summary


def without_examples(reasons: list[dict]) -> list[dict]:
    """Reasons without the example row's text (it quotes a patient's row); its line number stays."""
    return [{k: v for k, v in reason.items() if k != "example"} for reason in reasons]


def _dicts(con: duckdb.DuckDBPyConnection, sql: str, run_id: str) -> list[dict]:
    """Rows as dicts; JSON columns decoded."""
    cursor = con.execute(sql, {"r": run_id})
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        for key, value in row.items():
            if isinstance(value, str) and value[:1] in "[{":
                row[key] = json.loads(value)
    return rows
