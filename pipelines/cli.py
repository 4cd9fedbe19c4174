"""The `clinic-audit` command line: a thin Click layer over `pipelines.run`.

Heavy imports (duckdb, pandas, pandera) happen inside commands so `--help` stays instant. Errors
meant for the user become one clear line on stderr and a documented exit code, never a traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from pipelines import __version__
from pipelines.errors import EXIT_CONFIG, EXIT_INTERNAL, ClinicAuditError
from pipelines.settings import load_settings

log = logging.getLogger("pipelines")


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
@click.pass_context
def cli(ctx: click.Context, verbose: bool, quiet: bool) -> None:
    """Audit a clinic's exported records for medication-monitoring and symptom-management gaps.

    Example:

        clinic-audit run --exports sample_data/clinic_export --out out/ --as-of 2026-11-20
    """
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    for name in ("pipelines", "checks", "reports"):
        logging.getLogger(name).setLevel(level)
    ctx.ensure_object(dict)


@cli.command()
@click.option("--exports", type=click.Path(path_type=Path), help="Folder with the export files.")
@click.option("--out", type=click.Path(path_type=Path), help="Folder for summary.json and reports.")
@click.option("--db", type=click.Path(path_type=Path), help="DuckDB database file (created if absent).")
@click.option("--as-of", "as_of", help="Audit date YYYY-MM-DD (default: today).")
@click.option("--config", type=click.Path(path_type=Path), help="TOML config file.")
@click.option(
    "--reject-threshold",
    type=float,
    help="Stop when a file's share of rejected rows exceeds this (default 0.05).",
)
@click.option("--checks", "checks", help="Comma-separated check ids to run (default: all).")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="CHECK.NAME=VALUE",
    help="Override a check parameter, e.g. diuretic_electrolyte_monitoring.lookback_days=180.",
)
@click.option("--email", "send_email", is_flag=True, help="Send the summary email (smtp_* settings).")
@click.option("--email-dry-run", is_flag=True, help="Write the summary email to OUT/email.eml instead.")
@click.pass_context
def run(
    ctx: click.Context,
    config: Path | None,
    params: tuple[str, ...],
    send_email: bool,
    email_dry_run: bool,
    **options: Any,
) -> None:
    """Load an export into the database, run the audit checks and write the outputs.

    Outputs in OUT: summary.json, findings.csv, report.html, email.html and worklist_<check>.csv.
    The SMTP password is read from the CLINIC_AUDIT_SMTP_PASSWORD environment variable only.

    Exit codes: 0 success, 2 configuration error, 3 unusable input (a missing file or column,
    or a file whose rejected share passes the threshold; the database is left unchanged),
    4 the summary email could not be sent (the run itself succeeded).

    Example:

        clinic-audit run --exports sample_data/clinic_export --out out/ --db audit.duckdb --email
    """
    environ = ctx.obj.get("environ", os.environ)
    settings = load_settings(config, environ, {**options, "check_params": _parse_params(params)})
    from pipelines.console import print_outcome, progress_reporter
    from pipelines.run import execute_run

    with progress_reporter() as progress:
        outcome = execute_run(settings, datetime.now().replace(microsecond=0), progress)
    print_outcome(outcome, settings)
    if (send_email or email_dry_run) and outcome.reports is not None:
        from reports.email import PASSWORD_VARIABLE, deliver

        eml = deliver(outcome.reports, settings, environ.get(PASSWORD_VARIABLE), dry_run=email_dry_run)
        click.echo(
            f"email written to {eml}"
            if eml
            else f"email sent to {len(settings.smtp_recipients)} recipient(s)"
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


def main(args: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Entry point: returns the exit code instead of raising, so tests can call it directly."""
    os.umask(0o077)  # everything the tool writes is readable by its owner only
    try:
        cli.main(
            args=list(args) if args is not None else None,
            prog_name="clinic-audit",
            standalone_mode=False,
            obj={"environ": environ if environ is not None else os.environ},
        )
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as error:
        error.show()
        return EXIT_CONFIG
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return EXIT_INTERNAL
    except ClinicAuditError as error:
        click.echo(f"clinic-audit: error: {error}", err=True)
        return error.exit_code
    return 0


def entry_point() -> None:
    """Console-script wrapper."""
    sys.exit(main())
