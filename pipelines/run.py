"""One audit run, as a recipe: guards, load, checks, record, outputs.

Everything that changes the database happens in one transaction: a run that fails (bad input over
the threshold, a crash, a kill) leaves the database exactly as it was. The outputs are written from
the committed record (reports/), so a report can always be written again from the database; they
are written into a temporary folder and moved into place after the commit (pipelines/outputs.py).
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import duckdb

from checks.evaluate import run_checks, select_checks
from checks.framework import CheckConfigError, CheckDefinition
from checks.measures import compute_measures
from pipelines.codelists import codelist_files, paths_of
from pipelines.db import connect, load_lab_codelists, refresh_lab_concepts, scratch_beside, transaction
from pipelines.due_soon import record_due_soon
from pipelines.errors import InputError
from pipelines.formats import export_warnings, format_read
from pipelines.guards import (
    cleared_column_warnings,
    data_range,
    date_guards,
    freshness_warnings,
    patients_file_warnings,
    placeholder_death_warnings,
    reject_threshold_guard,
    unreadable_patient_warnings,
    volume_guard,
)
from pipelines.ingest import RawSource, duplicate_key_warnings, preflight
from pipelines.load import in_export_order, load_exports
from pipelines.logs import RUN_ID, log_unexpected
from pipelines.outputs import adhoc_out, in_progress_notice, mark_stale, write_outputs
from pipelines.record import (
    RunOutcome,
    email_sent,
    latest_nightly,
    outputs_in_place,
    record_run,
    summary_of_outcome,
    unfinished_night,
    write_summary,
)
from pipelines.reviews import apply_reviews
from pipelines.run_kind import RunKind
from pipelines.settings import ConfigError, Settings
from pipelines.unmatched import find as find_unmatched
from pipelines.unmatched import record as record_unmatched

log = logging.getLogger(__name__)

NIGHTLY = RunKind()  # a scheduled run; the CLI decides (pipelines/run_kind.py)

__all__ = ["RunOutcome", "checks_for", "execute_run"]


def new_run_id(now: datetime) -> str:
    """Sortable by time, unique across runs started in the same second."""
    return f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def execute_run(
    settings: Settings,
    now: datetime,
    progress: Callable[[str], None] = lambda _: None,
    kind: RunKind = NIGHTLY,
    email_due: bool = False,
    after_outputs: Callable[[RunOutcome], bool] | None = None,
    after_commit: Callable[[RunOutcome], None] | None = None,
) -> RunOutcome:
    """Run the whole audit; raises InputError (database untouched) when the export is unusable.

    `kind` says whether this is the nightly (scheduled) or an ad-hoc run (pipelines/run_kind.py).
    `after_outputs` is called once the run has committed and its outputs are in place (the CLI
    sends the summary email there, and knows from then on that the run is committed); it returns
    whether it sent the email the run was asked to (`email_due`, recorded with the run), which is
    then recorded, so a summary never sent is warned about by the next night (unfinished_night).
    `after_commit` is called as soon as the run has committed, before its outputs are written (the
    CLI then knows that a stop from there on is no failed run).
    """
    as_of = settings.resolved_as_of(now.date())
    outcome = RunOutcome(new_run_id(now), as_of, "running", now, kind=kind.kind, kind_reasons=kind.reasons)
    outcome.email_due = email_due
    RUN_ID.set(outcome.run_id)
    if kind.out_per_run:  # an ad-hoc run's outputs never replace the nightly's
        settings = replace(settings, out=adhoc_out(settings.out, outcome.run_id))
    selected = checks_for(settings, as_of)  # a bad parameter: exit 2, nothing read
    outcome.codelists = codelist_files(settings.local_codelists)  # a bad local file: exit 2, nothing read
    outcome.export_format = format_read(settings.exports, settings.export_format)  # detected once
    files = preflight(settings.exports, outcome.export_format, settings.encoding, settings.date_order)
    engine = _engine(settings)  # engine = spark: the session starts before anything is loaded
    fresh, committed = not settings.db.exists(), False
    con = connect(settings.db, settings.memory_limit, settings.threads)
    scratch = ExitStack()
    try:
        working = scratch.enter_context(scratch_beside(settings.db))  # mended copies of export files
        load_lab_codelists(con, paths_of(outcome.codelists, "lab_tests"))
        if not kind.ad_hoc:
            _in_date_order(con, settings, outcome.as_of)
        _volume_guard(con, settings, outcome, files, working)  # sets the run's first warnings
        if not kind.ad_hoc:
            outcome.warnings += unfinished_night(con)
        mark_stale(settings.out, in_progress_notice(settings.out, outcome.run_id, f"{now:%Y-%m-%d %H:%M}"))
        with transaction(con):
            _load(con, settings, outcome, files, progress, working)
            _guard_dates(con, settings, outcome)
            if kind.judge_freshness:
                _guard_freshness(con, settings, outcome)
            progress("running the checks")
            outcome.checks = run_checks(
                con,
                outcome.run_id,
                outcome.as_of,
                selected,
                settings.check_params,
                settings.as_of == "per-patient",
                paths_of(outcome.codelists),
                engine=engine,
                progress=progress,
            )
            outcome.checks = apply_reviews(con, outcome.run_id, outcome.as_of, outcome.checks)
            record_due_soon(con, outcome.run_id, outcome.as_of, selected, settings.due_soon_days)
            _measures(con, settings, outcome, selected, progress, kind)
            progress("recording the run")
            _record(con, settings, outcome)
        committed = True
        if after_commit is not None:
            after_commit(outcome)
        progress("writing the outputs")
        outcome.reports = write_outputs(con, settings, outcome.run_id, selected, now)
        outputs_in_place(con, outcome.run_id)
        if after_outputs is not None and after_outputs(outcome):
            email_sent(con, outcome.run_id)
    except InputError as error:
        outcome.status, outcome.message = "failed", str(error)
        _write_failed_summary(settings.out, outcome)
        raise
    finally:
        try:
            con.close()
            if fresh and not committed:  # the database the run created holds nothing: as before it
                _remove_database(settings.db)
        finally:
            try:
                scratch.close()  # the working copies go, whatever happened
            finally:
                if engine is not None:
                    engine.close()  # the staged copy of the data goes, whatever happened
    return outcome


def _write_failed_summary(out: Path, outcome: RunOutcome) -> None:
    """summary.json of a run stopped by its input, for the scheduler. Never raises: the input's
    error (exit 3, naming the file) is what the run reports, even when OUT cannot be written."""
    try:
        write_summary(out, summary_of_outcome(outcome))
    except OSError as error:
        where = error.filename or out
        log.warning("could not write the failed run's summary.json (%s: %s)", where, error.strerror)
    except Exception as error:  # a defect in writing it must not hide the input's error either
        log_unexpected(error)
        log.warning("could not write the failed run's summary.json (internal error %s)", type(error).__name__)


def _remove_database(path: Path) -> None:
    """Remove a database file (and its write-ahead log) that a failed first run created: "a run
    that had not committed leaves the database unchanged", and before it there was none. `--db`
    named through a symlink that led to no file yet (a deployment's link to its storage volume):
    the file DuckDB created at the link's target goes, the link stays, as it was."""
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    for leftover in {target, target.with_name(target.name + ".wal"), path.with_name(path.name + ".wal")}:
        if not leftover.is_symlink():
            leftover.unlink(missing_ok=True)


def _in_date_order(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> None:
    """A scheduled run may not go back before the newest nightly's as-of date: the nightly record
    (new, persisting, resolved; trends) reads the nightly runs in the order they ran, so a backfill
    of a missed night belongs before the next night, not after it. Exit 2, nothing read."""
    newest = latest_nightly(con)
    if isinstance(settings.as_of, str) or newest is None or as_of >= newest.as_of:
        return  # `latest` and `per-patient` take their date from the data
    raise ConfigError(
        f"a nightly (scheduled) run as of {as_of} would follow the nightly run as of {newest.as_of}: the "
        "nightly record would go back in time. Run it with --ad-hoc to audit that date (stored, kept "
        "out of the nightly record)."
    )


def _engine(settings: Settings) -> object | None:
    """Where the checks run: None for DuckDB (the run's connection), else the Spark engine
    (pipelines/engines/spark.py). The DuckDB file keeps the record either way."""
    if settings.engine != "spark":
        return None
    try:
        from pipelines.engines.spark import engine_for  # pyspark is loaded only when asked for
    except ImportError:
        raise ConfigError(
            "engine = spark needs the [spark] extra: pip install 'clinic-audit[spark]'"
        ) from None
    return engine_for(settings.spark_master, settings.spark_warehouse, settings.db)


def checks_for(settings: Settings, as_of: date) -> tuple[CheckDefinition, ...]:
    """The selected checks, with every parameter override validated before anything is loaded."""
    try:
        selected = select_checks(settings.checks)
        for definition in selected:
            definition.resolve(settings.check_params.get(definition.id, {}), as_of)
    except CheckConfigError as error:
        raise ConfigError(str(error)) from None
    return selected


def _volume_guard(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    outcome: RunOutcome,
    files: list[RawSource],
    scratch: Path,
) -> None:
    """Before the transaction: with `volume_guard_strict`, a much smaller export stops the run with
    nothing changed; otherwise the verdicts are recorded and warned about."""
    outcome.volume = volume_guard(con, files, settings.volume_guard_ratio, scratch)
    outcome.warnings = [verdict.warning for verdict in outcome.volume if verdict.shrunk]
    if outcome.warnings and settings.volume_guard_strict:
        raise InputError("volume guard (strict): " + " ".join(outcome.warnings) + " Nothing was loaded.")
    outcome.warnings += duplicate_key_warnings(con, files)  # lookup tables with a repeated key
    outcome.warnings += patients_file_warnings(files)
    outcome.warnings += export_warnings(settings.exports, outcome.export_format)


def _load(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    outcome: RunOutcome,
    files: list[RawSource],
    progress: Callable[[str], None],
    scratch: Path,
) -> None:
    """Every export file loaded (mended copies in `scratch`); a file over the reject threshold stops
    the run (rolled back)."""
    # an ad-hoc run's export is no statement of the latest facts (pipelines/ingest.py _restate)
    scheduled = outcome.kind != "ad hoc"
    for result in load_exports(
        con, files, outcome.run_id, outcome.started_at.date(), progress, scheduled, scratch
    ):
        outcome.files = in_export_order(files, [*outcome.files, result])
        reject_threshold_guard(result, settings.reject_threshold)
    refresh_lab_concepts(con)  # labs loaded by earlier runs follow today's codelists
    outcome.warnings += cleared_column_warnings(outcome.files)
    outcome.warnings += unreadable_patient_warnings(con) + placeholder_death_warnings(con)


def _guard_dates(con: duckdb.DuckDBPyConnection, settings: Settings, outcome: RunOutcome) -> None:
    """The data's date range; with `--as-of latest` or `per-patient` the as-of date follows it
    (date-shifted research data has no "today"); then the as-of and coverage guards."""
    outcome.data_from, outcome.data_to = data_range(con)
    if settings.as_of in ("latest", "per-patient"):
        outcome.as_of = outcome.data_to or outcome.as_of
    if settings.as_of == "per-patient":  # every patient is audited as of their own last record
        outcome.warnings.append(PER_PATIENT_NOTE.format(as_of=outcome.as_of))
        return
    outcome.coverage, warnings = date_guards(
        con, outcome.as_of, (outcome.data_from, outcome.data_to), settings
    )
    outcome.warnings += warnings


PER_PATIENT_NOTE = (
    "As of per patient: each patient is audited as of their own last record (lab, prescription or "
    "diagnosis), their dates moved so that day falls on {as_of}; dates in evidence are on that calendar."
)


def _measures(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    outcome: RunOutcome,
    selected: tuple[CheckDefinition, ...],
    progress: Callable[[str], None],
    kind: RunKind,
) -> None:
    """The monthly measures up to as-of, evaluated where the data or the check changed (checks/measures.py);
    an ad-hoc run's own evaluations stay out of the nightly record. Not with --as-of per-patient: each
    patient's dates are moved, so a month-end means nothing."""
    if settings.as_of == "per-patient" or not settings.measures_months:
        return
    progress("computing the monthly measures")
    compute_measures(
        con,
        outcome.run_id,
        outcome.as_of,
        selected,
        settings.check_params,
        settings.measures_months,
        private=kind.private_checks,
    )


def _guard_freshness(con: duckdb.DuckDBPyConnection, settings: Settings, outcome: RunOutcome) -> None:
    """The nightly: a table whose newest record is older than `freshness_max_days` before the as-of
    date warns, or with `freshness_strict` stops the run (rolled back, exit 3)."""
    warnings = freshness_warnings(con, outcome.as_of, settings.freshness_max_days)
    if warnings and settings.freshness_strict:
        raise InputError("freshness guard (strict): " + " ".join(warnings) + " Nothing was loaded.")
    outcome.warnings += warnings


def _record(con: duckdb.DuckDBPyConnection, settings: Settings, outcome: RunOutcome) -> None:
    """The run, its files and what the codelists may have missed, stored with it."""
    for result in outcome.checks:
        log.info("%s: population=%d flagged=%d", result.check_id, result.denominator, result.flagged)
    outcome.finished_at = datetime.now().replace(microsecond=0)
    outcome.status = "succeeded"
    record_run(con, settings, outcome)
    find_unmatched(con)
    record_unmatched(con, outcome.run_id, outcome.codelists)
