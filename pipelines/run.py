"""One audit run: ingest the export, evaluate the checks, record the run, write the outputs.

Everything that changes the database happens in one transaction: a run that fails (bad input over
the threshold, a crash, a kill) leaves the database exactly as it was.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from checks.evaluate import CheckResult, run_checks, select_checks
from checks.framework import CheckConfigError, CheckDefinition
from pipelines import __version__
from pipelines.codelists import CodelistFile, codelist_files, paths_of
from pipelines.db import connect, load_lab_codelists, memory_limit_bytes, refresh_lab_concepts
from pipelines.errors import InputError
from pipelines.guards import Coverage, as_of_warnings, coverage, coverage_warnings, data_range, volume_guard
from pipelines.ingest import (
    FileResult,
    RawSource,
    StagingBudget,
    duplicate_key_warnings,
    file_state,
    ingest_file,
    preflight,
)
from pipelines.logs import RUN_ID
from pipelines.settings import ConfigError, Settings
from pipelines.unmatched import find as find_unmatched
from pipelines.unmatched import record as record_unmatched
from reports.render import Reports, write_reports
from reports.worklists import findings_rows, write_csv

log = logging.getLogger(__name__)


@dataclass
class RunOutcome:
    """What a run did; the CLI prints it and `summary.json` records it."""

    run_id: str
    as_of: date
    status: str
    started_at: datetime
    finished_at: datetime | None = None
    files: list[FileResult] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    message: str = ""
    warnings: list[str] = field(default_factory=list)  # volume guard: exports much smaller than last time
    reports: Reports | None = None  # report.html, email.html, worklists, written after the commit
    coverage: Coverage | None = None  # patients with a record in the lookback before as-of
    data_from: date | None = None  # the clinical date range the data held, recorded with the run
    data_to: date | None = None
    codelists: tuple[CodelistFile, ...] = ()  # the codelist files read: shipped, then the clinic's own


def new_run_id(now: datetime) -> str:
    """Sortable by time, unique across runs started in the same second."""
    return f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def execute_run(
    settings: Settings,
    now: datetime,
    progress: Callable[[str], None] = lambda _: None,
) -> RunOutcome:
    """Run the whole audit; raises InputError (database untouched) when the export is unusable."""
    as_of = settings.resolved_as_of(now.date())
    outcome = RunOutcome(new_run_id(now), as_of, "running", now)
    RUN_ID.set(outcome.run_id)
    selected = checks_for(settings, as_of)
    outcome.codelists = codelist_files(settings.local_codelists)  # a bad local file: exit 2, nothing read
    files = preflight(settings.exports, settings.export_format)
    con = connect(settings.db, settings.memory_limit)
    try:
        load_lab_codelists(con, paths_of(outcome.codelists, "lab_tests"))
        outcome.warnings = volume_guard(con, files, settings.volume_guard_ratio)
        if outcome.warnings and settings.volume_guard_strict:
            raise InputError("volume guard (strict): " + " ".join(outcome.warnings) + " Nothing was loaded.")
        outcome.warnings += duplicate_key_warnings(con, files)  # lookup tables with a repeated key
        _run_in_transaction(con, settings, outcome, files, selected, progress)
        write_findings(con, settings.out, outcome.run_id, selected)
        outcome.reports = write_reports(con, settings, outcome.run_id, selected, now)
    except InputError as error:
        outcome.status, outcome.message = "failed", str(error)
        write_summary(settings.out, outcome)
        raise
    finally:
        con.close()
    write_summary(settings.out, outcome)
    return outcome


def checks_for(settings: Settings, as_of: date) -> tuple[CheckDefinition, ...]:
    """The selected checks, with every parameter override validated before anything is loaded."""
    try:
        selected = select_checks(settings.checks)
        for definition in selected:
            definition.resolve(settings.check_params.get(definition.id, {}), as_of)
    except CheckConfigError as error:
        raise ConfigError(str(error)) from None
    return selected


def _run_in_transaction(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    outcome: RunOutcome,
    files: list[RawSource],
    selected: tuple[CheckDefinition, ...],
    progress: Callable[[str], None],
) -> None:
    con.begin()
    try:
        # Smallest file first: staged rows hold their memory until the commit (DuckDB keeps them for
        # a rollback, even once dropped), so the small files are staged in memory and the biggest,
        # once memory is spoken for, in the database file (StagingBudget). Results keep export order.
        export_order = {source.label: i for i, source in enumerate(files)}
        budget = StagingBudget(memory_limit_bytes(con))
        for source in sorted(files, key=lambda source: sum(size for size, _ in file_state(source))):
            progress(f"loading {source.label}")
            log.debug("loading %s", source.label)
            started = time.perf_counter()
            result = ingest_file(con, source, outcome.run_id, outcome.started_at.date(), budget)
            outcome.files.append(result)
            outcome.files.sort(key=lambda done: export_order[done.file])
            _log_file(result, time.perf_counter() - started)
            _enforce_threshold(result, settings.reject_threshold)
        refresh_lab_concepts(con)  # labs loaded by earlier runs follow today's codelists
        first, last = outcome.data_from, outcome.data_to = data_range(con)
        per_patient = settings.as_of == "per-patient"
        if settings.as_of in ("latest", "per-patient"):  # date-shifted research data has no "today"
            outcome.as_of = last or outcome.as_of
        if per_patient:  # every patient is audited as of their own last record: coverage is whole
            outcome.warnings.append(PER_PATIENT_NOTE.format(as_of=outcome.as_of))
        else:
            _date_warnings(con, settings, outcome, first, last)
        progress("running the checks")
        outcome.checks = run_checks(
            con,
            outcome.run_id,
            outcome.as_of,
            selected,
            settings.check_params,
            per_patient,
            paths_of(outcome.codelists),
        )
        for result in outcome.checks:
            log.info("%s: population=%d flagged=%d", result.check_id, result.denominator, result.flagged)
        progress("recording the run")
        outcome.finished_at = datetime.now().replace(microsecond=0)
        outcome.status = "succeeded"
        _record_run(con, settings, outcome)
        find_unmatched(con)  # what the codelists may have missed, stored with the run
        record_unmatched(con, outcome.run_id, outcome.codelists)
        con.commit()
    except BaseException:
        con.rollback()
        raise


PER_PATIENT_NOTE = (
    "As of per patient: each patient is audited as of their own last record (lab, prescription or "
    "diagnosis), their dates moved so that day falls on {as_of}; dates in evidence are on that calendar."
)


def _date_warnings(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    outcome: RunOutcome,
    first: date | None,
    last: date | None,
) -> None:
    """The as-of and coverage guards; an as-of date outside the data explains low coverage too, so
    only one of the two warns."""
    outcome.coverage = coverage(con, outcome.as_of, settings.coverage_lookback_days)
    warnings = as_of_warnings(first, last, outcome.as_of, settings.as_of_gap_warning_days) or (
        coverage_warnings(outcome.coverage, outcome.as_of, settings.coverage_warning_share)
    )
    for warning in warnings:
        log.warning("as-of date: %s", warning)
        outcome.warnings.append(warning)


def _log_file(result: FileResult, seconds: float) -> None:
    """Counts only: logs never carry patient identifiers or values."""
    log.info(
        "%s: read=%d loaded=%d duplicate=%d rejected=%d skipped=%d noted=%d (%.1fs)",
        result.file,
        result.rows_read,
        result.rows_loaded,
        result.rows_duplicate,
        result.rows_rejected,
        result.rows_skipped,
        result.rows_noted,
        seconds,
    )


def _enforce_threshold(result: FileResult, threshold: float) -> None:
    if result.reject_rate <= threshold:
        return
    reasons = "; ".join(f"{r['column']}: {r['message']} ({r['count']})" for r in result.top_reasons)
    audited = result.rows_read - result.rows_skipped
    skipped = f" ({result.rows_skipped} more skipped as outside the audit)" if result.rows_skipped else ""
    raise InputError(
        f"{result.file}: {result.rows_rejected} of {audited} rows rejected{skipped} "
        f"({result.reject_rate:.1%}, threshold {threshold:.0%}); nothing was loaded. "
        f"Top reasons: {reasons}"
    )


def _record_run(con: duckdb.DuckDBPyConnection, settings: Settings, outcome: RunOutcome) -> None:
    con.execute(
        "INSERT INTO runs (run_id, seq, started_at, finished_at, status, as_of, exports, export_format, "
        "tool_version, settings, warnings, data_from, data_to) "
        "SELECT $id, coalesce(max(seq), 0) + 1, $start, $end, $status, $as_of, $exports, "
        "$fmt, $ver, $settings, $warnings, $data_from, $data_to FROM runs",
        {
            "id": outcome.run_id,
            "start": outcome.started_at,
            "end": outcome.finished_at,
            "status": outcome.status,
            "as_of": outcome.as_of,
            "exports": str(settings.exports),
            "fmt": settings.export_format,
            "ver": __version__,
            "settings": json.dumps(settings_record(settings, outcome.as_of)),
            "warnings": json.dumps(outcome.warnings),
            "data_from": outcome.data_from,
            "data_to": outcome.data_to,
        },
    )
    for f in outcome.files:
        con.execute(
            "INSERT INTO run_files (run_id, table_name, file, sha256, rows_read, rows_loaded, "
            "rows_duplicate, rows_rejected, skipped_unchanged, bytes, rows_skipped, rows_noted, "
            "skip_reasons) VALUES ($run, $t, $file, $sha, $read, $loaded, $dup, $rej, $skip, $bytes, "
            "$skipped, $noted, $reasons)",
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
            },
        )


def settings_record(settings: Settings, as_of: date) -> dict:
    """The settings as used, JSON-ready, stored with the run for reproducibility."""
    record = {k: (str(v) if isinstance(v, Path | date) else v) for k, v in asdict(settings).items()}
    record["as_of"] = as_of.isoformat()
    record["as_of_mode"] = settings.as_of if isinstance(settings.as_of, str) else "date"
    record["checks"] = list(settings.checks)
    return record


def write_findings(
    con: duckdb.DuckDBPyConnection, out: Path, run_id: str, selected: tuple[CheckDefinition, ...]
) -> Path:
    """`findings.csv`: every flag of the run, highest priority first, evidence as columns."""
    out.mkdir(parents=True, exist_ok=True)
    cursor = con.execute(
        "SELECT check_id, patient_id, priority, reason, evidence FROM findings WHERE run_id = $run "
        "ORDER BY check_id, priority = 'high' DESC, patient_id",
        {"run": run_id},
    )
    names = [d[0] for d in cursor.description]
    findings = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    evidence_order = list(dict.fromkeys(e for c in selected for e in c.evidence))
    header, rows = findings_rows(findings, evidence_order)
    return write_csv(out / "findings.csv", header, rows)


def write_summary(out: Path, outcome: RunOutcome) -> Path:
    """`summary.json`: per file counts and top rejection reasons, per check the rates."""
    out.mkdir(parents=True, exist_ok=True)
    summary = {
        "run_id": outcome.run_id,
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
                "top_rejection_reasons": f.top_reasons,
                "rows_skipped": f.rows_skipped,
                "skip_reasons": f.skip_reasons,
                "rows_noted": f.rows_noted,
                "top_notes": f.top_notes,
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
                "parameters": c.parameters,
            }
            for c in outcome.checks
        },
    }
    path = out / "summary.json"
    path.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    return path
