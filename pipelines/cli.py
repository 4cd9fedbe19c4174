"""The `clinic-audit` command line: a thin Click layer over `pipelines.run`.

Heavy imports (duckdb, pandas, pandera) happen inside commands so `--help` stays instant. Errors
meant for the user become one clear line on stderr and a documented exit code, never a traceback;
so do file-system, DuckDB and resource failures, SIGINT and SIGTERM (`main`). Anything else is exit 1
with one line, its traceback in the log file at debug (pipelines/logs.py), never its message.
"""

from __future__ import annotations

import dataclasses
import errno
import gzip
import logging
import math
import os
import signal
import sys
import threading
import time
import zlib
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pipelines import __version__
from pipelines.errors import (
    EXIT_CONFIG,
    EXIT_INTERNAL,
    USER_ERRORS,
    InputError,
    ResourceError,
    StorageError,
    file_fault,
)
from pipelines.formats import names as format_names
from pipelines.lock import database_lock
from pipelines.logs import FILE_ONLY, RUN_ID, add_log_file, configure, has_log_file, log_unexpected
from pipelines.settings import (
    ConfigError,
    Settings,
    did_you_mean,
    load_settings,
    settings_despite_errors,
    valid_value,
)

if TYPE_CHECKING:
    from pipelines.record import RunOutcome

log = logging.getLogger(__name__)
# The largest count an option takes (--limit, --keep-runs): past it, a number that fits no integer
# DuckDB binds (2**63) was an internal error rather than a usage one.
MAX_COUNT = 1_000_000_000


class Choice(click.Choice):
    """click.Choice that names the nearest choice for a typo (--format synthee: 'synthea')."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The choice, or a BadParameter saying which one was probably meant."""
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as error:
            error.message += did_you_mean(str(value), [str(c) for c in self.choices])
            raise


class SettingPath(click.Path):
    """click.Path for an option naming a path setting (--exports, --out, --db, --config): a blank
    value is refused (exit 2), where click would make it Path("") (the working folder: the outputs
    written wherever the command was started, or a database with no file name)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The path, or a BadParameter for a blank one."""
        if isinstance(value, str) and not value.strip():
            self.fail("is blank; give a path (or leave the option out)", param, ctx)
        return super().convert(value, param, ctx)


def _parse_params(values: Sequence[str]) -> dict[str, dict[str, Any]]:
    """`--param check_id.name=value` pairs into {check_id: {name: value}}."""
    params: dict[str, dict[str, Any]] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        check_id, dot, name = key.partition(".")
        if not sep or not dot:
            raise click.BadParameter(f"'{item}' is not CHECK_ID.NAME=VALUE", param_hint="--param")
        params.setdefault(check_id.strip(), {})[name.strip()] = raw.strip()
    return params


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="clinic-audit")
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail to stderr.")
@click.option("-q", "--quiet", is_flag=True, help="Log warnings and errors only.")
@click.option(
    "--log-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also append logs to this file as JSON lines (time, level, logger, message, run_id).",
)
@click.pass_context
def cli(ctx: click.Context, verbose: bool, quiet: bool, log_file: Path | None) -> None:
    """Audit a clinic's exported records for medication-monitoring and symptom-management gaps.

    Example:

        clinic-audit run --exports sample_data/clinic_export --out out/ --as-of 2026-11-20
    """
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    configure(level, log_file)
    ctx.ensure_object(dict)
    ctx.obj.update(command=ctx.invoked_subcommand, log_level=level)


def _settings(ctx: click.Context, config: Path | None, **cli_values: Any) -> Settings:
    """Settings for a command: its flags over the environment over the config file."""
    settings = load_settings(config, ctx.obj.get("environ", os.environ), cli_values)
    ctx.obj["db"] = settings.db  # for main's messages about the database file
    if settings.log_file is not None and not has_log_file():  # --log-file wins over the setting
        add_log_file(settings.log_file, ctx.obj.get("log_level", logging.INFO))
    return settings


def _finite(_ctx: click.Context, _param: click.Parameter, value: float | None) -> float | None:
    """A number of seconds: FloatRange lets 'nan' through (no comparison holds), which failed the
    lock's wait as an internal error (exit 1), and 'inf' says no timeout; both are usage errors."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a number of seconds")
    return value


wait_options = [
    click.option("--wait", is_flag=True, help="If another run holds the database, wait for it to finish."),
    click.option(
        "--wait-timeout",
        type=click.FloatRange(min=0),
        callback=_finite,
        help="With --wait, give up (exit 5) after this many seconds; implies --wait.",
    ),
]


def with_wait(function):
    """Add --wait and --wait-timeout to a command that takes the database lock."""
    for option in reversed(wait_options):
        function = option(function)
    return function


@cli.command()
@click.option("--exports", type=SettingPath(path_type=Path), help="Folder with the export files.")
@click.option("--out", type=SettingPath(path_type=Path), help="Folder for summary.json and reports.")
@click.option(
    "--db", type=SettingPath(path_type=Path, readable=False), help="DuckDB database file (created if absent)."
)
@click.option(
    "--as-of",
    "as_of",
    help="Audit date YYYY-MM-DD; 'latest' for the newest record date; 'per-patient' for each patient "
    "as of their own last record, for date-shifted research data (default: today).",
)
@click.option(
    "--format",
    "export_format",
    type=Choice(["auto", *format_names()]),
    help="Export format (default: auto, detected from the files present).",
)
@click.option("--config", type=SettingPath(path_type=Path), help="TOML config file.")
@click.option(
    "--reject-threshold",
    type=float,
    help="Stop when a file's share of rejected rows exceeds this (default 0.05).",
)
@click.option("--checks", "checks", help="Comma-separated check ids to run (default: all).")
@click.option(
    "--local-codelists",
    "local_codelists",
    type=click.Path(path_type=Path),
    help="Folder of the clinic's own codelist additions, CSVs named after the codelist they extend.",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="CHECK.NAME=VALUE",
    help="Override a check parameter, e.g. diuretic_electrolyte_monitoring.lookback_days=180.",
)
@click.option("--email", "send_email", is_flag=True, help="Send the summary email (smtp_* settings).")
@click.option("--email-dry-run", is_flag=True, help="Write the summary email to OUT/email.eml instead.")
@click.option(
    "--strict",
    "volume_guard_strict",
    is_flag=True,
    default=None,
    help="Stop (exit 3) before loading when an export has under volume_guard_ratio of last run's rows.",
)
@click.option(
    "--ad-hoc",
    "ad_hoc",
    is_flag=True,
    help="An ad-hoc run: kept out of the nightly lifecycle, trends and outputs (also implied by "
    "--as-of other than the configured one, --checks or --param).",
)
@click.option(
    "--scheduled",
    is_flag=True,
    help="The nightly run, even with --as-of, --checks or --param (e.g. re-running a missed night "
    "before the next one runs; a nightly dated before the newest nightly is refused, exit 2: use "
    "--ad-hoc for that date).",
)
@with_wait
@click.pass_context
def run(
    ctx: click.Context,
    config: Path | None,
    params: tuple[str, ...],
    send_email: bool,
    email_dry_run: bool,
    ad_hoc: bool,
    scheduled: bool,
    wait: bool,
    wait_timeout: float | None,
    **options: Any,
) -> None:
    """Load an export into the database, run the audit checks and write the outputs.

    Outputs in OUT: summary.json, findings.csv, report.html, email.html, worklist_<check>.csv,
    calllist.csv, due_soon.csv, measures.csv and measures_shared.csv (worklist_format = xlsx or
    both: the worklists and call list as .xlsx too).
    The SMTP password is read from the CLINIC_AUDIT_SMTP_PASSWORD environment variable only.

    Exit codes: 0 success, 2 configuration error (or a database written by a newer clinic-audit),
    3 unusable input (a missing file or column, a file that changed while being read, a file whose
    rejected share passes the threshold, or with --strict an export much smaller than last time;
    the database is left unchanged), 4 the summary email could not be sent (the run itself
    succeeded), 5 another run, or another program's DuckDB session, holds the database (see --wait),
    6 the database file or a folder or file to write cannot be used (damaged, not a DuckDB file,
    unreadable, read-only, a symlink), 7 disk full or out of memory, 8 the run committed but its
    outputs could not be written (`clinic-audit report` writes them), 9 with engine = spark, Spark
    stopped during the run (its Java process killed or crashed), 130/143 stopped by SIGINT/SIGTERM;
    on every failure a run that had not committed leaves the database unchanged.

    A run is scheduled (the nightly, as configured) or ad hoc (--as-of other than the configured
    date, --checks, --param, or --ad-hoc): an ad-hoc run is stored and listed but never changes the
    nightly flag lifecycle or trends, and writes to OUT/adhoc/<run id>/ unless --out is given. When
    a scheduled run fails, the report in OUT is marked stale and, with --email, a short "did not
    complete" email goes to smtp_recipients (no patient data).

    After a successful run the database is copied to <db stem>.analyst.duckdb beside it (atomically):
    analysts open that copy, which never blocks the next run.

    Example:

        clinic-audit run --exports sample_data/clinic_export --out out/ --db clinic_audit.duckdb --email
    """
    environ = ctx.obj.get("environ", os.environ)
    check_params = _parse_params(params)
    try:
        settings = _settings(ctx, config, **options, check_params=check_params)
        kind = _run_kind(ctx, config, settings, options, check_params, ad_hoc, scheduled)
    except ConfigError as error:
        if send_email or email_dry_run:
            asked = (check_params, ad_hoc, scheduled)
            _tell_config_failure(ctx, config, options, asked, error, email_dry_run)
        raise
    ctx.obj["kind"] = kind.kind
    started = datetime.now().replace(microsecond=0)
    quiet = ctx.obj.get("log_level") == logging.WARNING
    night = _Night(asked=send_email or email_dry_run)

    def after_outputs(outcome: RunOutcome) -> bool:
        """Committed, outputs in place: from here a failure is no failed run. The summary email
        goes now, before anything is printed (a full disk under cron's output cannot lose it); one
        that cannot be sent (exit 4) is raised once the run is done: copied for the analysts, its
        outcome printed and logged."""
        night.stage = "outputs"
        if not night.asked or outcome.reports is None:
            return False
        from reports.email import PASSWORD_VARIABLE, deliver
        from reports.errors import EmailError

        into = dataclasses.replace(settings, out=outcome.reports.report.parent)  # OUT/adhoc/<id> too
        try:
            eml = deliver(outcome.reports, into, environ.get(PASSWORD_VARIABLE), dry_run=email_dry_run)
        except EmailError as error:  # said of the summary email: the audit itself completed
            night.undelivered = EmailError(
                f"the summary email was not sent: {error} (the audit completed; its outputs are written)"
            )
            return False
        recipients = len(settings.smtp_recipients)
        night.sent = f"email written to {eml}" if eml else f"email sent to {recipients} recipient(s)"
        return True

    def after_commit(outcome: RunOutcome) -> None:
        """Committed, outputs not yet written: from here a stop (a signal) is no failed run."""
        night.stage, night.run_id = "committed", outcome.run_id
        ctx.obj["committed"] = True  # for the "stopped by" line (main)

    try:
        # imported here, inside the failure handling: they take about a second (DuckDB, pandas,
        # pandera), and a signal then is a failed night like any other (stale mark, failure email)
        from pipelines.console import print_outcome, progress_reporter
        from pipelines.db import publish_analyst_copy
        from pipelines.run import execute_run

        with (
            database_lock(settings.db, wait or wait_timeout is not None, wait_timeout),
            progress_reporter() as progress,
        ):
            night.stage = "running"
            outcome = execute_run(settings, started, progress, kind, night.asked, after_outputs, after_commit)
            ctx.obj["outcome"] = outcome  # for the "run finished" log line (main)
            night.stage = "done"
            publish_analyst_copy(settings.db)
    except BaseException as error:
        # committed and stopped (a signal) while writing its outputs, or stopped or failed once they
        # were in place: no failed run (no stale mark, no failure email); a committed run whose
        # outputs could not be written (exit 8) is told as one, to have them written again
        if night.stage in ("outputs", "done") or (night.stage == "committed" and _stopped(error)):
            click.echo(f"clinic-audit: {night.stopped_after_commit(kind.ad_hoc)}", err=True)
        elif not kind.ad_hoc:
            _tell_failure(
                settings, error, started, night.stage == "running", send_email, email_dry_run, environ
            )
        raise
    # -q, as cron runs it: nothing, so a night with nothing to say prints nothing (cron mails
    # whatever a job prints); its warnings are logged to stderr anyway
    if not quiet:
        print_outcome(outcome, settings)
        if night.sent:
            click.echo(night.sent)
    if night.undelivered is not None:
        raise night.undelivered


@dataclasses.dataclass
class _Night:
    """Where a run got to, as the CLI tells it: `stage` waiting, running, committed (writing its
    outputs), outputs (committed, its outputs in place), done (copying for the analysts); what the
    email's delivery said (`sent`), or why it could not be sent (`undelivered`: exit 4 once the run
    is done)."""

    asked: bool  # --email or --email-dry-run
    stage: str = "waiting"
    run_id: str = ""
    sent: str = ""
    undelivered: Exception | None = None

    def stopped_after_commit(self, ad_hoc: bool) -> str:
        """What a run stopped after its commit says besides its error: it is no failed run (no stale
        mark, no failure email), only one that did not finish."""
        if self.stage == "committed":
            unsent = " Its summary email was not sent" + (
                "." if ad_hoc else " (the next nightly run says so)."
            )
            return (
                "the run committed (its results are in the database); it was stopped while writing its "
                "outputs, which may be incomplete: the report in OUT keeps its stale notice until "
                f"`clinic-audit report --run {self.run_id}` (with the same --db or --config) writes "
                "them from the stored run, or the next run writes its own." + (unsent if self.asked else "")
            )
        done = "the run committed and its outputs are in place; it was stopped "
        if self.stage == "done":
            return (
                done
                + "while updating the analysts' copy"
                + (" (its summary email was sent)" if self.sent else "")
            )
        if self.sent:
            return done + "before it finished (its summary email was sent)"
        if self.asked:  # only a nightly's unsent email is warned of by the next nightly
            return (
                done
                + "before it sent its summary email"
                + ("" if ad_hoc else " (the next nightly run says so)")
            )
        return done + "before it finished"


def _run_kind(
    ctx: click.Context,
    config: Path | None,
    settings: Settings,
    options: dict[str, Any],
    check_params: dict[str, dict[str, Any]],
    ad_hoc: bool,
    scheduled: bool,
) -> Any:
    """Scheduled or ad hoc (pipelines/run_kind.py), from the options given beside the configured ones."""
    from pipelines.run_kind import decide

    if ad_hoc and scheduled:
        raise click.UsageError("--ad-hoc and --scheduled contradict each other; give one")
    configured = load_settings(config, ctx.obj.get("environ", os.environ), {})
    cli_as_of = settings.as_of if options.get("as_of") is not None else None
    checks = settings.checks if options.get("checks") is not None else None
    kind = decide(configured.as_of, cli_as_of, checks, check_params, ad_hoc, scheduled)
    return dataclasses.replace(kind, out_per_run=kind.ad_hoc and options.get("out") is None)


def _tell_config_failure(
    ctx: click.Context,
    config: Path | None,
    options: dict[str, Any],
    asked: tuple[dict[str, dict[str, Any]], bool, bool],
    error: ConfigError,
    dry_run: bool,
) -> None:
    """The nightly's settings could not be loaded (exit 2): the failure email all the same, with
    the settings that are valid on their own (settings_despite_errors), unless the options make it
    an ad-hoc run (`asked`: --param values, --ad-hoc, --scheduled; an --as-of or --checks given,
    even one that is wrong). The report is left as it is: without valid settings this run never
    takes the database's lock. Never raises: the ConfigError and its exit code stand."""
    from pipelines.alerts import report_failure
    from pipelines.run_kind import decide
    from reports.email import PASSWORD_VARIABLE

    environ = ctx.obj.get("environ", os.environ)
    given = {key: options[key] for key in ("as_of", "checks") if options.get(key) is not None}
    try:
        if not all(valid_value(key, value) for key, value in given.items()):
            return  # an analyst's --as-of or --checks with a typo: an ad-hoc run, which sends nothing
        usable = settings_despite_errors(config, environ, options)
        configured = settings_despite_errors(config, environ, {})
        if usable is None or configured is None:
            return  # no readable config file: no SMTP settings to send with
        check_params, ad_hoc, scheduled = asked
        cli_as_of = usable.as_of if "as_of" in given else None
        checks = usable.checks if "checks" in given else None
        if decide(configured.as_of, cli_as_of, checks, check_params, ad_hoc, scheduled).ad_hoc:
            return
        if usable.log_file is not None and not has_log_file():  # where the email says the message is
            add_log_file(usable.log_file, ctx.obj.get("log_level", logging.INFO))
        started, email = datetime.now().replace(microsecond=0), "dry-run" if dry_run else "send"
        report_failure(usable, error, EXIT_CONFIG, "", started, email, environ.get(PASSWORD_VARIABLE), False)
    except Exception as problem:  # telling must not replace the run's own error
        log.error("the failure email could not be sent: %s", type(problem).__name__)


def _tell_failure(
    settings: Settings,
    error: BaseException,
    started: datetime,
    holding_lock: bool,
    send_email: bool,
    email_dry_run: bool,
    environ: Mapping[str, str],
) -> None:
    """A scheduled run failed: the old report marked stale (only while this run holds the lock, so
    never under another run's feet) and, with --email, the failure email (pipelines/alerts.py)."""
    from pipelines.alerts import report_failure
    from pipelines.logs import RUN_ID
    from reports.email import PASSWORD_VARIABLE

    signum = _signal_received[0] if _signal_received else None
    if isinstance(error, KeyboardInterrupt | Interrupted) and signum is None:
        signum = signal.SIGINT
    failure = _as_user_error(error, settings.db)
    code = 128 + signum if signum else getattr(failure, "exit_code", EXIT_INTERNAL)
    email = "dry-run" if email_dry_run else "send" if send_email else None
    report_failure(
        settings,
        failure,
        code,
        RUN_ID.get() or "",
        started,
        email,
        environ.get(PASSWORD_VARIABLE),
        mark=holding_lock,
    )


@cli.command(name="checks")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def list_checks(fmt: str) -> None:
    """List every audit check: what it implements, who it covers, when it flags, its parameters.

    Example:

        clinic-audit checks --format json
    """
    from pipelines.console import print_checks

    print_checks(fmt)


@cli.command()
@click.option("--db", type=SettingPath(path_type=Path, readable=False), help="DuckDB database file.")
@click.option("--config", type=SettingPath(path_type=Path), help="TOML config file.")
@click.option("--limit", type=click.IntRange(min=1, max=MAX_COUNT), help="Show only the newest N runs.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def runs(ctx: click.Context, db: Path | None, config: Path | None, limit: int | None, fmt: str) -> None:
    """List past runs, newest first: sequence, run id, start, as-of date, rows, flags, outcome.

    Example:

        clinic-audit runs --db clinic_audit.duckdb --limit 10
    """
    from pipelines.console import print_runs
    from pipelines.history import list_runs, open_existing

    settings = _settings(ctx, config, db=db)
    with database_lock(settings.db):
        con = open_existing(settings.db, settings.memory_limit, settings.threads)
        try:
            print_runs(list_runs(con, limit), fmt)
        finally:
            con.close()


@cli.command()
@click.option(
    "--unmatched",
    is_flag=True,
    help="List the lab tests, drug names and diagnosis codes in the database that match no codelist "
    "but look related, with counts of rows and patients.",
)
@click.option("--run", "run_id", help="With --unmatched: the list a past run stored (id or prefix).")
@click.option("--db", type=SettingPath(path_type=Path, readable=False), help="DuckDB database file.")
@click.option("--config", type=SettingPath(path_type=Path), help="TOML config file.")
@click.option(
    "--local-codelists",
    "local_codelists",
    type=click.Path(path_type=Path),
    help="Folder of the clinic's own codelist additions (setting local_codelists).",
)
@click.option(
    "--limit", type=click.IntRange(min=1, max=MAX_COUNT), help="Show only the first N of each kind."
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def codelists(
    ctx: click.Context,
    unmatched: bool,
    run_id: str | None,
    db: Path | None,
    config: Path | None,
    local_codelists: Path | None,
    limit: int | None,
    fmt: str,
) -> None:
    """List the codelists in use (shipped and local, with sha256 and rows), or with --unmatched what
    they may have missed in this clinic's data.

    --unmatched judges the database's data under today's codelists (local additions included), so
    a code just added to a local codelist drops off the list; nothing is written. With --run it
    shows the list that run stored instead. Counts only: no patient identifier is shown.

    Example:

        clinic-audit codelists --unmatched --db clinic_audit.duckdb --limit 20
    """
    from pipelines import unmatched as diagnostic
    from pipelines.codelists import codelist_files

    settings = _settings(ctx, config, db=db, local_codelists=local_codelists)
    files = codelist_files(settings.local_codelists)
    if not unmatched:
        _print_codelists(files, fmt)
        return
    from pipelines.history import open_existing, resolve_run

    with database_lock(settings.db):
        con = open_existing(settings.db, settings.memory_limit, settings.threads)
        try:
            if run_id is not None:
                found = diagnostic.stored(con, resolve_run(con, run_id))
            else:
                found = diagnostic.live(con, files)
        finally:
            con.close()
    shown = diagnostic.as_json if fmt == "json" else diagnostic.as_text
    click.echo(shown(found, limit, files), nl=False)


def _print_codelists(files: Sequence[Any], fmt: str) -> None:
    """Every codelist file read: codelist, source, rows, sha256, path."""
    if fmt == "json":
        import json

        rows = [
            {
                "codelist": f.codelist,
                "source": f.source,
                "rows": f.rows,
                "sha256": f.sha256,
                "file": str(f.path),
            }
            for f in files
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    for f in files:
        click.echo(f"{f.codelist:<32} {f.source:<8} {f.rows:>5} rows  sha256 {f.sha256[:12]}  {f.path}")


@cli.command()
@click.option("--run", "run_id", help="Run id or a unique prefix (default: the latest scheduled run).")
@click.option("--out", type=SettingPath(path_type=Path), help="Folder for the re-rendered outputs.")
@click.option("--db", type=SettingPath(path_type=Path, readable=False), help="DuckDB database file.")
@click.option("--config", type=SettingPath(path_type=Path), help="TOML config file.")
@click.pass_context
def report(
    ctx: click.Context, run_id: str | None, out: Path | None, db: Path | None, config: Path | None
) -> None:
    """Re-render a past run's report.html, email.html, worklists, findings.csv and summary.json from
    the database, as a set (this also repairs an OUT that a failed or killed run left marked stale).

    Without --run: the latest scheduled run. An ad-hoc run is written to OUT/adhoc/<run id>/ unless
    --out is given.

    Example:

        clinic-audit report --run 20261120T030000-1a2b3c --db clinic_audit.duckdb --out old_report/
    """
    from pipelines.history import open_existing, rerender, resolve_run, run_kind
    from pipelines.outputs import adhoc_out

    settings = _settings(ctx, config, db=db, out=out)
    with database_lock(settings.db):
        con = open_existing(settings.db, settings.memory_limit, settings.threads)
        try:
            run_id = resolve_run(con, run_id)
            if out is None and run_kind(con, run_id) == "ad hoc":
                settings = dataclasses.replace(settings, out=adhoc_out(settings.out, run_id))
            rerender(con, settings, run_id, datetime.now().replace(microsecond=0))
        finally:
            con.close()
    click.echo(f"run {run_id}: report written to {settings.out}")


@cli.command()
@click.argument("patient_id")
@click.option("--check", "check_ids", multiple=True, help="Explain only this check (repeatable).")
@click.option(
    "--as-of",
    "as_of",
    help="Audit date YYYY-MM-DD, latest, or per-patient (each patient as of their own last record); "
    "default: the as-of date of the latest nightly run (so the answer matches the call list; the "
    "latest run when no nightly ran yet), or today when the database holds no run.",
)
@click.option("--db", type=SettingPath(path_type=Path, readable=False), help="DuckDB database file.")
@click.option("--config", type=SettingPath(path_type=Path), help="TOML config file.")
@click.option("--param", "params", multiple=True, metavar="CHECK.NAME=VALUE", help="Override a parameter.")
@click.pass_context
def explain(
    ctx: click.Context,
    patient_id: str,
    check_ids: tuple[str, ...],
    as_of: str | None,
    db: Path | None,
    config: Path | None,
    params: tuple[str, ...],
) -> None:
    """Explain one patient: per check, in the population?, flagged?, the evidence, what clears it.

    The checks run on the database's data as of the latest nightly run's date (or --as-of); nothing
    is stored.

    Example:

        clinic-audit explain P0042 --check diuretic_electrolyte_monitoring --as-of 2026-11-20
    """
    from pipelines.codelists import codelist_files, paths_of
    from pipelines.console import print_explanations
    from pipelines.explain import explain as explain_patient
    from pipelines.guards import data_range
    from pipelines.history import open_existing
    from pipelines.reviews import list_reviews, review_text
    from pipelines.run import checks_for

    settings = _settings(
        ctx, config, db=db, as_of=as_of, checks=check_ids or None, check_params=_parse_params(params)
    )
    day = settings.resolved_as_of(datetime.now().date())
    selected = checks_for(settings, day)
    codelist_paths = paths_of(codelist_files(settings.local_codelists))
    per_patient = settings.as_of == "per-patient"
    with database_lock(settings.db):
        con = open_existing(settings.db, settings.memory_limit, settings.threads)
        try:
            if settings.as_of in ("latest", "per-patient"):  # as a run: the newest record date
                day = data_range(con)[1] or day
            elif settings.as_of is None:  # what the team calling patients saw: the nightly's date
                day = _latest_nightly_as_of(con) or day
            explanations, shift = explain_patient(
                con, patient_id, day, selected, settings.check_params, per_patient, codelist_paths
            )
            recorded = list_reviews(con, patient_id)
        finally:
            con.close()
    print_explanations(patient_id, day, explanations, shift)
    for row in recorded:  # the team's decisions, with their state in the check's latest run
        click.echo(f"Review of {row.check_id}: {review_text(row)}")


def _latest_nightly_as_of(con: Any) -> date | None:
    """The as-of date of the latest scheduled run (else the latest run); None with no run."""
    from pipelines.history import resolve_run

    try:
        run_id = resolve_run(con, None)
    except ConfigError:
        return None
    return con.execute("SELECT as_of FROM runs WHERE run_id = $r", {"r": run_id}).fetchone()[0]


@cli.command()
@click.argument("patient_id", required=False)
@click.option("--check", "check_id", help="The check whose flag is reviewed.")
# not a click.Choice: its error quotes the value given (a patient id typed in the wrong place) into
# stderr and the log; reviews.validate names the option and the values it takes instead
@click.option("--status", metavar="[acknowledged|exception]", help="What was decided.")
@click.option(
    "--reason",
    help="Reason code (QOF/HEDIS conventions): patient_declined, not_clinically_appropriate, "
    "done_elsewhere (needs --done-on), palliative, action_planned (acknowledged only, needs --note), "
    "other (needs --note).",
)
@click.option("--note", default="", help="Free text: what was decided or done.")
@click.option("--until", default="", metavar="DATE", help="The review applies up to this date.")
@click.option("--done-on", default="", metavar="DATE", help="done_elsewhere: the date it was done.")
@click.option("--by", "by", default="", help="Who decided (default: the user running the command).")
@click.option(
    "--import",
    "sheet",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Record every review in a CSV sheet (columns patient_id, check_id, status, reason, note, "
    "until, done_on, by), all or none.",
)
@click.option("--db", type=SettingPath(path_type=Path, readable=False), help="DuckDB database file.")
@click.option("--config", type=SettingPath(path_type=Path), help="TOML config file.")
@with_wait
@click.pass_context
def review(
    ctx: click.Context,
    patient_id: str | None,
    sheet: Path | None,
    db: Path | None,
    config: Path | None,
    wait: bool,
    wait_timeout: float | None,
    **fields: str,
) -> None:
    """Record a review of a patient's flag: acknowledged (stays on the worklist) or an exception (out of
    the check's numerator while it applies), with a reason code, who and when.

    The flag must stand in the check's latest run. A review applies to later runs while the flag's
    evidence is unchanged (a new prescription or result re-opens it) and up to --until; done_elsewhere
    without --until lasts until the test falls due again (--done-on plus the check's lookback).

    Exit codes: 0 recorded, 2 a wrong value on the command line (nothing recorded), 3 a sheet with a
    missing column or bad rows, each listed with file, line and column (nothing recorded), 5 the
    database is busy, 6 it cannot be used.

    Example:

    \b
        clinic-audit review P0042 --check diuretic_electrolyte_monitoring --status exception
        --reason done_elsewhere --done-on 2026-10-02 --note "U&E at the renal clinic" --by "Dr Shah"

        clinic-audit review --import reviews.csv
    """
    from pipelines.history import open_existing
    from pipelines.reviews import ReviewInput, read_sheet, record, reviewer

    settings = _settings(ctx, config, db=db)
    if sheet is not None:
        if patient_id or fields["check_id"] or fields["status"] or fields["reason"]:
            raise click.UsageError("give either --import FILE or PATIENT_ID with its options, not both")
        items = read_sheet(sheet)
    else:
        missing = [f"--{k}" for k in ("check_id", "status", "reason") if not fields[k]]
        if not patient_id or missing:
            raise click.UsageError(f"PATIENT_ID and {', '.join(missing) or 'its options'} are needed")
        items = [
            ReviewInput(
                patient_id,
                fields["check_id"],
                fields["status"],
                fields["reason"],
                fields["note"],
                fields["until"],
                fields["done_on"],
                fields["by"],
            )
        ]
    with database_lock(settings.db, wait or wait_timeout is not None, wait_timeout):
        con = open_existing(settings.db, settings.memory_limit, settings.threads)
        try:
            ids = record(con, items, reviewer(fields["by"]), datetime.now().replace(microsecond=0))
        finally:
            con.close()
    click.echo(
        f"{len(ids)} review(s) recorded (ids {', '.join(map(str, ids))}); they apply from the next run"
    )


@cli.command()
@click.option("--patient", "patient_id", help="Only this patient's reviews.")
@click.option("--check", "check_id", help="Only this check's reviews.")
@click.option("--history", is_flag=True, help="Every review ever recorded, superseded ones too.")
@click.option("--db", type=SettingPath(path_type=Path, readable=False), help="DuckDB database file.")
@click.option("--config", type=SettingPath(path_type=Path), help="TOML config file.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def reviews(
    ctx: click.Context,
    patient_id: str | None,
    check_id: str | None,
    history: bool,
    db: Path | None,
    config: Path | None,
    fmt: str,
) -> None:
    """List the current review of each flag, newest first, with its state in the check's latest run:
    applies, re-opened (the evidence changed), expired, flag resolved, or awaiting the next run.

    Example:

        clinic-audit reviews --check diuretic_electrolyte_monitoring --format json
    """
    from pipelines.history import open_existing
    from pipelines.reviews import list_reviews, review_text

    settings = _settings(ctx, config, db=db)
    with database_lock(settings.db):
        con = open_existing(settings.db, settings.memory_limit, settings.threads)
        try:
            rows = list_reviews(con, patient_id, check_id, history)
        finally:
            con.close()
    if fmt == "json":
        import json

        click.echo(json.dumps([r.as_dict() for r in rows], indent=2, default=str))
        return
    for r in rows:
        click.echo(f"{r.review_id:>5}  {r.patient_id}  {r.check_id}  {review_text(r)}")


@cli.command()
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False), default="clinic-audit.toml")
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
def init(path: Path, force: bool) -> None:
    """Write a commented TOML config with every setting and check parameter at its default.

    Example:

        clinic-audit init /etc/clinic-audit/config.toml
    """
    from pipelines.init_config import write_config

    click.echo(f"config written to {write_config(path, force)}")


@cli.command()
@click.option(
    "--keep-runs",
    required=True,
    type=click.IntRange(min=1, max=MAX_COUNT),
    help="Nightly runs to keep, newest first (with the ad-hoc runs among them, up to as many).",
)
@click.option("--db", type=SettingPath(path_type=Path, readable=False), help="DuckDB database file.")
@click.option("--config", type=SettingPath(path_type=Path), help="TOML config file.")
@with_wait
@click.pass_context
def prune(
    ctx: click.Context,
    keep_runs: int,
    db: Path | None,
    config: Path | None,
    wait: bool,
    wait_timeout: float | None,
) -> None:
    """Delete the findings, check results, quarantine rows, file records and unmatched-code lists of all
    but the newest nightly runs.

    Counted in nights: the newest KEEP_RUNS scheduled runs stay, with the ad-hoc runs no older than
    the oldest of them (the newest KEEP_RUNS ad-hoc runs at most). The runs themselves stay listed
    (as pruned); the clinical data tables are not touched.

    Example:

        clinic-audit prune --keep-runs 24 --db clinic_audit.duckdb
    """
    from pipelines.db import publish_analyst_copy
    from pipelines.history import open_existing
    from pipelines.history import prune as prune_runs

    settings = _settings(ctx, config, db=db)
    with database_lock(settings.db, wait or wait_timeout is not None, wait_timeout):
        con = open_existing(settings.db, settings.memory_limit, settings.threads)
        try:
            removed = prune_runs(con, keep_runs)
        finally:
            con.close()
        publish_analyst_copy(settings.db)
    click.echo(", ".join(f"{table}: {n} rows removed" for table, n in removed.items()))


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived; unwinds like KeyboardInterrupt, so open transactions roll back."""


_signal_received: list[int] = []  # the signal that stopped the command (DuckDB may swallow the raise)


def _on_signal(signum: int, _frame: object) -> None:
    _signal_received.append(signum)
    raise Interrupted(signum)


def _catch_signals() -> dict[int, Any]:
    """SIGINT and SIGTERM raise Interrupted (DuckDB then stops its query), instead of a traceback
    (SIGINT) or an instant death that skips the one-line message (SIGTERM); returns the handlers
    they replace (none when not on the main thread, where Python allows no handler)."""
    _signal_received.clear()
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, _on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}


_memory_lost: list[str] = []  # a MemoryError Python could not raise during the command (its name only:
# the error itself would keep its frames, and their memory, alive)


def _on_unraisable(unraisable: Any) -> None:
    """Python's report of an exception it cannot raise (one in a generator's or an object's
    clean-up), which by default prints a traceback on stderr. Out of memory, the clean-up's
    MemoryError is lost that way and the code that was running fails with an error that no longer
    names it (a SystemError, seen under an address-space limit in ibis's graph walk while the
    export was validated): it is remembered, so that error reads as out of memory (`_out_of_memory`,
    exit 7), and what Python would have printed goes to the log file only."""
    if isinstance(unraisable.exc_value, MemoryError):
        _memory_lost.append(type(unraisable.exc_value).__name__)
    log.debug("an exception Python could not raise: %s", type(unraisable.exc_value).__name__, extra=FILE_ONLY)


def _note_unraisable() -> Any:
    """`_on_unraisable` takes Python's reports of exceptions it cannot raise; returns the hook it
    replaces (put back when the command ends)."""
    _memory_lost.clear()
    previous, sys.unraisablehook = sys.unraisablehook, _on_unraisable
    return previous


def _stopped(error: BaseException) -> bool:
    """The command was stopped by a signal (DuckDB may have turned it into another error)."""
    return isinstance(error, Interrupted | KeyboardInterrupt) or bool(_signal_received)


def _interrupted(signum: int, committed: bool = False) -> int:
    name = signal.Signals(signum).name
    _error(f"stopped by {name}" + (" after the run committed" if committed else ""))
    said = (
        "The run committed: its results are in the database (see above)."
        if committed
        else "A run stopped before it committed leaves the database unchanged; outputs are written "
        "whole or not at all."
    )
    click.echo(f"clinic-audit: stopped by {name}. {said}", err=True)
    return 128 + signum


def _os_error(error: OSError) -> StorageError | ResourceError:
    """A file-system failure as a message naming the file (a path, never data) and an exit code."""
    where = f"{error.filename}: " if error.filename else ""
    if error.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return ResourceError(
            f"{where}disk full ({error.strerror}). A run that had not committed leaves the database "
            "unchanged; outputs are written whole or not at all."
        )
    reason = (
        "a symbolic link: clinic-audit never writes through one"
        if error.errno == errno.ELOOP
        else error.strerror
    )
    return StorageError(f"{where}cannot use this file or folder ({reason}).")


def _as_user_error(error: BaseException, db: Path | None) -> BaseException:
    """File-system, DuckDB and memory failures as user errors; anything else unchanged."""
    if isinstance(error, EOFError | zlib.error | gzip.BadGzipFile):  # a reader that did not name the file
        return InputError(f"an export file cannot be read ({file_fault(error)}); the database is unchanged")
    if isinstance(error, OSError):
        return _os_error(error)
    if _no_thread(error):
        return ResourceError(
            "cannot start a thread: out of memory, or at the limit on processes and threads. A run "
            "that had not committed leaves the database unchanged; lower threads or memory_limit, or "
            "raise the limit."
        )
    if _out_of_memory(error):
        return ResourceError(
            "out of memory. A run that had not committed leaves the database unchanged; give the "
            "machine more memory or lower memory_limit."
        )
    duckdb = sys.modules.get("duckdb")  # loaded only if a command used it
    if duckdb is not None and isinstance(error, duckdb.Error):
        from pipelines.db import database_error

        return database_error(error, db)
    return error


def _out_of_memory(error: BaseException) -> bool:
    """A MemoryError, or an error raised while handling one or caused by one: a C extension that
    runs out of memory part-way may report it as a SystemError ("returned a result with an
    exception set") whose cause or context is the MemoryError; seen once as "internal error
    (SystemError)" under an address-space limit (tests/functional/test_faults_storage.py)."""
    if isinstance(error, SystemError) and _memory_lost:  # the MemoryError was lost in a clean-up
        return True
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, MemoryError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _no_thread(error: BaseException) -> bool:
    """Python's "can't start new thread": the memory for its stack was not there."""
    return isinstance(error, RuntimeError) and "can't start new thread" in str(error)


def main(args: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Entry point: returns the exit code instead of raising, so tests can call it directly.

    Every error printed is logged too (the log file keeps it with -q), and a `run` ends its log with
    one "run finished" line for schedulers (`_log_finished`)."""
    os.umask(0o077)  # everything the tool writes is readable by its owner only
    obj: dict[str, Any] = {"environ": environ if environ is not None else os.environ}
    started = time.monotonic()
    RUN_ID.set(None)  # a run sets it; an earlier command in this process must not lend it its id
    code = _main(args, obj)
    if obj.get("command") == "run" and (code != 0 or "outcome" in obj):  # not for `run --help`
        _log_finished(obj, code, time.monotonic() - started)
    return code


def _error(message: str) -> None:
    """An error the user is shown on stderr, also kept in the log file (stderr has it already).
    Messages name files, keys, lines and counts, never a patient's data (see pipelines/logs.py)."""
    log.error("%s", message, extra=FILE_ONLY)


def _log_finished(obj: dict[str, Any], code: int, seconds: float) -> None:
    """The run's last log line: run id, kind, outcome, exit code, duration and counts (JSON fields in
    the log file; the same as text on stderr unless -q)."""
    outcome = obj.get("outcome")
    files = getattr(outcome, "files", []) or []
    checks = getattr(outcome, "checks", []) or []
    counted = outcome is not None  # a run that failed never returned its counts: null, not 0
    fields = {
        "event": "run finished",
        "kind": getattr(outcome, "kind", None) or obj.get("kind"),
        "outcome": "succeeded" if code == 0 else "email failed" if code == 4 else "failed",
        "exit_code": code,
        "duration_seconds": round(seconds, 3),
        "rows_read": sum(f.rows_read for f in files) if counted else None,
        "rows_loaded": sum(f.rows_loaded for f in files) if counted else None,
        "rows_rejected": sum(f.rows_rejected for f in files) if counted else None,
        "checks": len(checks) if counted else None,
        "flagged": sum(c.flagged for c in checks) if counted else None,
    }
    run_id = getattr(outcome, "run_id", None) or RUN_ID.get()
    text = " ".join(f"{k}={v}" for k, v in fields.items() if k != "event")
    extra = {"fields": fields, "run_id": run_id}
    if code == 0:
        log.info("run finished: %s", text, extra=extra)
    else:  # stderr has said why already
        log.error("run finished: %s", text, extra=extra | FILE_ONLY)


def _main(args: Sequence[str] | None, obj: dict[str, Any]) -> int:
    """The command, with every error turned into its message (printed and logged) and exit code."""
    previous_handlers = _catch_signals()
    previous_hook = _note_unraisable()
    try:
        cli.main(
            args=list(args) if args is not None else None,
            prog_name="clinic-audit",
            standalone_mode=False,
            obj=obj,
        )
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as error:
        error.show()
        _error(f"usage: {error.format_message()}")
        return EXIT_CONFIG
    except (Interrupted, KeyboardInterrupt, click.exceptions.Abort) as stop:
        if not _signal_received and isinstance(stop.__context__, EOFError):
            return _failed(stop.__context__, obj)  # click turns an EOFError (a truncated .gz) into Abort
        return _interrupted(
            _signal_received[0] if _signal_received else signal.SIGINT, obj.get("committed", False)
        )
    except Exception as error:
        return _failed(error, obj)
    finally:
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
        sys.unraisablehook = previous_hook
    return 0


def _failed(error: BaseException, obj: dict[str, Any]) -> int:
    """An error's one line on stderr (and in the log) and its exit code."""
    if _signal_received:  # DuckDB turned the signal into "query interrupted"
        return _interrupted(_signal_received[0], obj.get("committed", False))
    failure = _as_user_error(error, obj.get("db"))
    if not isinstance(failure, USER_ERRORS):
        log_unexpected(error)
        click.echo(
            f"clinic-audit: internal error ({type(error).__name__}), please report it; its traceback "
            "is in the --log-file, if one is given. A run that had not committed leaves the "
            "database unchanged.",
            err=True,
        )
        _error(f"internal error ({type(error).__name__})")
        return EXIT_INTERNAL
    click.echo(f"clinic-audit: error: {failure}", err=True)
    _error(str(failure))
    return failure.exit_code


def entry_point() -> None:
    """Console-script wrapper."""
    sys.exit(main())
