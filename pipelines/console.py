"""What a person at a terminal sees: a progress line on long loads and the run's summary table."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from rich.console import Console
from rich.table import Table

from pipelines.run import RunOutcome
from pipelines.settings import Settings


@contextmanager
def progress_reporter() -> Iterator[Callable[[str], None]]:
    """A spinner with the current step on a terminal; silent under cron (stderr not a TTY)."""
    console = Console(stderr=True)
    if not sys.stderr.isatty():
        yield lambda _message: None
        return
    with console.status("starting") as status:
        yield lambda message: status.update(message)


def print_outcome(outcome: RunOutcome, settings: Settings) -> None:
    """The per-file table (read, loaded, duplicate, rejected, skipped, noted), why rows were skipped,
    and where the outputs went."""
    console = Console()
    table = Table(title=f"clinic-audit run {outcome.run_id} (as of {outcome.as_of})")
    headers = ("file", "read", "loaded", "duplicate", "rejected", "skipped", "noted", "top rejection reason")
    for header in headers:
        table.add_column(header, justify="left" if header in {"file", "top rejection reason"} else "right")
    for f in outcome.files:
        reason = f.top_reasons[0] if f.top_reasons else None
        table.add_row(
            f.file + (" (unchanged)" if f.skipped_unchanged else ""),
            f"{f.rows_read:,}",
            f"{f.rows_loaded:,}",
            f"{f.rows_duplicate:,}",
            f"{f.rows_rejected:,}",
            f"{f.rows_skipped:,}",
            f"{f.rows_noted:,}",
            f"{reason['message']} ({reason['count']})" if reason else "",
        )
    console.print(table)
    for f in outcome.files:
        for why, rows in f.skip_reasons.items():
            console.print(f"skipped in {f.file}: {rows:,} rows, {why}", highlight=False)
        for note in f.top_notes:
            console.print(
                f"noted in {f.file}: {note['count']:,} rows, {note['message']} (loaded)", highlight=False
            )
    if outcome.checks:
        console.print(_checks_table(outcome))
    for warning in outcome.warnings:
        console.print(f"[bold red]warning:[/bold red] {warning}", highlight=False)
    out = outcome.reports.report.parent if outcome.reports is not None else settings.out
    console.print(f"database: {settings.db}    outputs: {out}    run: {outcome.kind}")
    if outcome.kind_reasons:
        console.print(f"ad-hoc run ({', '.join(outcome.kind_reasons)}): the nightly record is unchanged")


def _checks_table(outcome: RunOutcome) -> Table:
    """Per check: population, flagged, rate, high priority, left out as deceased (counts only)."""
    table = Table(title="checks")
    table.add_column("check")
    for header in ("population", "flagged", "rate", "high priority", "left out (deceased)"):
        table.add_column(header, justify="right")
    for c in outcome.checks:
        table.add_row(
            c.check_id,
            f"{c.denominator:,}",
            f"{c.flagged:,}",
            f"{c.rate:.1%}",
            f"{c.high_priority:,}",
            f"{c.deceased_excluded:,}",
        )
    return table


def print_checks(fmt: str) -> None:
    """Every check's definition, as readable text or as JSON for tooling."""
    import json
    from dataclasses import asdict

    from checks.evaluate import all_checks

    if fmt == "json":
        print(json.dumps([asdict(c) for c in all_checks()], indent=2))
        return
    console = Console()
    for check in all_checks():
        console.rule(f"[bold]{check.id}[/bold]: {check.title}")
        console.print(f"Guideline: {' / '.join(repr(g) for g in check.guideline)}", highlight=False)
        for label, text in (
            ("Population", check.population),
            ("Flag", check.flag),
            ("Windows", check.windows),
            ("Priority", check.priority),
            ("Codelists", ", ".join(check.codelists)),
        ):
            console.print(f"[bold]{label}:[/bold] {text}", highlight=False)
        for p in check.parameters:
            console.print(
                f"  --param {check.id}.{p.name}={p.default} ({p.unit}): {p.description}", highlight=False
            )
        console.print()


def print_runs(rows: list, fmt: str) -> None:
    """Past runs as a table (or JSON); counts of a pruned run show as a dash."""
    import json
    from dataclasses import asdict

    if fmt == "json":
        print(json.dumps([asdict(r) for r in rows], indent=2, default=str))
        return
    table = Table(title="clinic-audit runs (newest first)")
    headers = ("seq", "run id", "kind", "started", "as of", "read", "loaded", "rejected", "flags", "outcome")
    for header in headers:
        table.add_column(
            header, justify="right" if header in {"seq", "read", "loaded", "rejected", "flags"} else "left"
        )
    for r in rows:
        counts = (r.rows_read, r.rows_loaded, r.rows_rejected, r.flags)
        table.add_row(
            str(r.seq),
            r.run_id,
            r.kind,
            f"{r.started_at:%Y-%m-%d %H:%M}",
            r.as_of.isoformat(),
            *("—" if n is None else f"{n:,}" for n in counts),
            r.outcome,
        )
    Console(width=160).print(table)
    for r in rows:  # what each run evaluated, below the table (long lists would wrap it unreadably)
        checks = ", ".join(r.checks) if r.checks else "—"
        print(
            f"{r.run_id}  {r.kind}: checks {checks}; parameters {', '.join(r.parameters) or 'as configured'}"
        )


def print_explanations(patient_id: str, as_of, explanations: list, shift_days: int | None = None) -> None:
    """Per check: population, flag, evidence and what would clear the flag, as plain text.

    `shift_days` (as of per patient): how far the patient's dates were moved onto `as_of`.
    """
    console = Console()
    console.print(f"Patient {patient_id}, as of {as_of.isoformat()}", highlight=False)
    if shift_days is not None:
        own = as_of - timedelta(days=shift_days)
        console.print(
            f"As of per patient: audited as of their last record, {own.isoformat()}; dates below are "
            f"moved {shift_days:+d} days onto {as_of.isoformat()}.",
            highlight=False,
        )
    for e in explanations:
        console.rule(f"{e.check_id}: {e.title}")
        if e.deceased:
            console.print(
                f"Not in the population: {e.deceased_text}, on or before the as-of date", highlight=False
            )
            continue
        if not e.in_population:
            console.print(f"Not in the population: {e.population}", highlight=False)
            continue
        verdict = (
            f"FLAGGED ({e.priority} priority): {e.reason}" if e.flagged else "in the population, not flagged"
        )
        console.print(verdict, highlight=False)
        for name, value in e.evidence:
            console.print(f"  {name}: {'—' if value is None else value}", highlight=False)
        if e.flagged:
            console.print(f"What would clear it: {e.clears}", highlight=False)
        else:
            console.print(f"Would be flagged when: {e.flag}", highlight=False)
