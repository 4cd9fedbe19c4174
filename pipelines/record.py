"""The run record: what one run did, stored with it (runs, run_files) and written as summary.json.

Every fact a report shows about a run (data range, guard verdicts, rejection reasons, coverage,
parameters) is decided once, during the run, and stored here; reports read the record and never
recompute it from the live tables, so re-rendering an old run shows what that run saw.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from checks.evaluate import CheckResult
from pipelines import __version__
from pipelines.codelists import CodelistFile
from pipelines.guards import Coverage, VolumeVerdict
from pipelines.ingest import FileResult
from pipelines.settings import Settings
from reports.files import write_text_private


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


def record_run(con: duckdb.DuckDBPyConnection, settings: Settings, outcome: RunOutcome) -> None:
    """Insert the run and its files, inside the run's transaction (a failed run leaves no trace)."""
    con.execute(
        "INSERT INTO runs (run_id, seq, started_at, finished_at, status, as_of, exports, export_format, "
        "tool_version, settings, warnings, data_from, data_to, coverage, kind) "
        "SELECT $id, coalesce(max(seq), 0) + 1, $start, $end, $status, $as_of, $exports, "
        "$fmt, $ver, $settings, $warnings, $data_from, $data_to, $coverage, $kind FROM runs",
        {
            "id": outcome.run_id,
            "start": outcome.started_at,
            "end": outcome.finished_at,
            "status": outcome.status,
            "as_of": outcome.as_of,
            "exports": str(settings.exports),
            "fmt": settings.export_format,
            "ver": __version__,
            "settings": json.dumps(
                settings_record(settings, outcome.as_of) | {"ad_hoc_because": list(outcome.kind_reasons)}
            ),
            "warnings": json.dumps(outcome.warnings),
            "data_from": outcome.data_from,
            "data_to": outcome.data_to,
            "coverage": json.dumps(outcome.coverage.as_dict()) if outcome.coverage else None,
            "kind": outcome.kind,
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


def settings_record(settings: Settings, as_of: date) -> dict:
    """The settings as used, JSON-ready, stored with the run for reproducibility."""
    record = {k: (str(v) if isinstance(v, Path | date) else v) for k, v in asdict(settings).items()}
    record["as_of"] = as_of.isoformat()
    record["as_of_mode"] = settings.as_of if isinstance(settings.as_of, str) else "date"
    record["checks"] = list(settings.checks)
    return record


def write_summary(out: Path, outcome: RunOutcome) -> Path:
    """`summary.json`: the record as a file for schedulers, also for a failed run (which leaves no
    trace in the database): per file counts and top rejection reasons, per check the rates.

    It carries no patient identifier or value: a reason gives its example's line number, never the
    row's text (the database's `quarantine` and `run_files` keep that, for analysts)."""
    out.mkdir(parents=True, exist_ok=True)
    summary = {
        "run_id": outcome.run_id,
        "kind": outcome.kind,
        "status": outcome.status,
        "message": outcome.message,
        "warnings": outcome.warnings,
        "as_of": outcome.as_of.isoformat(),
        "started_at": outcome.started_at.isoformat(),
        "finished_at": outcome.finished_at.isoformat() if outcome.finished_at else None,
        "tool_version": __version__,
        "coverage": outcome.coverage.as_dict() if outcome.coverage else None,
        "files": {
            f.table: {
                "file": f.file,
                "sha256": f.sha256,
                "rows_read": f.rows_read,
                "rows_loaded": f.rows_loaded,
                "rows_duplicate": f.rows_duplicate,
                "rows_rejected": f.rows_rejected,
                "reject_rate": round(f.reject_rate, 6),
                "skipped_unchanged": f.skipped_unchanged,
                "top_rejection_reasons": without_examples(f.top_reasons),
                "rows_skipped": f.rows_skipped,
                "skip_reasons": f.skip_reasons,
                "rows_noted": f.rows_noted,
                "top_notes": without_examples(f.top_notes),
            }
            for f in outcome.files
        },
        "checks": {
            c.check_id: {
                "title": c.title,
                "denominator": c.denominator,
                "flagged": c.flagged,
                "high_priority": c.high_priority,
                "rate": round(c.rate, 6),
                "deceased_excluded": c.deceased_excluded,
                "exceptions": c.exceptions,
                "flagged_after_exceptions": c.flagged_after_exceptions,
                "parameters": c.parameters,
            }
            for c in outcome.checks
        },
    }
    return write_text_private(out / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")


def without_examples(reasons: list[dict]) -> list[dict]:
    """Reasons without the example row's text (it quotes a patient's row); its line number stays."""
    return [{k: v for k, v in reason.items() if k != "example"} for reason in reasons]


def write_stored_summary(con: duckdb.DuckDBPyConnection, out: Path, run_id: str) -> Path:
    """`summary.json` of a committed run rewritten from its record (`clinic-audit report`): the run,
    its files (run_files) and checks (check_results), every stored column, marked
    "from_record": true. The keys of files and checks are the stored column names."""
    run = _dicts(con, "SELECT * EXCLUDE (settings, exports) FROM runs WHERE run_id = $r", run_id)[0]
    summary = run | {"warnings": run["warnings"] or [], "message": "", "from_record": True}
    summary["files"] = {
        f.pop("table_name"): f
        | {k: without_examples(f[k] or []) for k in ("top_reasons", "top_notes") if k in f}
        for f in _dicts(con, "SELECT * EXCLUDE (run_id) FROM run_files WHERE run_id = $r", run_id)
    }
    summary["checks"] = {
        c.pop("check_id"): c
        for c in _dicts(con, "SELECT * EXCLUDE (run_id) FROM check_results WHERE run_id = $r", run_id)
    }
    return write_text_private(out / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")


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
