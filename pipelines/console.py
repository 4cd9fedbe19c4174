"""What a person at a terminal sees: progress bars on a run and the run's summary table."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from rich import filesize
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from pipelines.logs import FILE_ONLY, stderr_handler
from pipelines.run import RunOutcome
from pipelines.settings import Settings

log = logging.getLogger("pipelines.progress")
POLL_SECONDS = 0.1


@contextmanager
def progress_reporter(terminal: bool | None = None) -> Iterator[Callable[[str], None]]:
    """The run's `progress(message)`: on a terminal (stderr a TTY) a bar per export file with bytes
    read, throughput and time left, then one per stage (checks, measures, recording, outputs), log
    lines printed above the bars; otherwise (cron, systemd) no bar, one log line per stage."""
    if not (sys.stderr.isatty() if terminal is None else terminal):
        yield lambda message: log.info("%s", message)
        return
    console = Console(stderr=True)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), *_BYTE_COLUMNS)
    with Progress(*columns, TimeElapsedColumn(), console=console) as bars, _logs_above(console):
        reporter = _Bars(bars)
        try:
            yield reporter
        finally:
            reporter.finish()


class _OnlyForBytes(ProgressColumn):
    """A column shown for a task that counts bytes (an export file), blank for a stage."""

    def __init__(self, column: ProgressColumn) -> None:
        super().__init__()
        self.column = column

    def render(self, task: Task) -> Any:
        """The wrapped column, or nothing."""
        return self.column.render(task) if task.fields.get("bytes") else Text("")


class _Rate(TransferSpeedColumn):
    """Bytes a second: rich's estimate while it has two samples, else (a file read faster than a
    poll) its size over the time it took."""

    def render(self, task: Task) -> Text:
        """The rate, or "?" before there is one."""
        speed = task.finished_speed or task.speed
        if speed is None and task.finished and task.elapsed:
            speed = task.completed / task.elapsed
        if speed is None:
            return Text("?", style="progress.data.speed")
        return Text(f"{filesize.decimal(int(speed))}/s", style="progress.data.speed")


_BYTE_COLUMNS = tuple(_OnlyForBytes(column) for column in (DownloadColumn(), _Rate(), TimeRemainingColumn()))


@contextmanager
def _logs_above(console: Console) -> Iterator[None]:
    """Log lines go through the console while the bars are live, so each prints whole above them
    instead of over the bar line: rich's live display swaps sys.stderr for a proxy that does so."""
    handler = stderr_handler()
    if handler is None or not console.is_terminal:
        yield
        return
    previous = handler.setStream(sys.stderr)  # the proxy, while the bars are live
    try:
        yield
    finally:
        handler.setStream(previous)


class _Bars:
    """One bar per step: an export file's fills with the share of its DuckDB statement done
    (`query_progress()`, polled from a thread) times the file's size; a stage's spins until the next."""

    def __init__(self, bars: Progress) -> None:
        self.bars = bars
        self.task: TaskID | None = None
        self.stop = threading.Event()
        self.poller: threading.Thread | None = None

    def __call__(self, message: str) -> None:
        """Close the current step's bar and open the next."""
        self.finish()
        log.info("%s", message, extra=FILE_ONLY)  # the log file has the steps, as without a terminal
        total = getattr(message, "total_bytes", None)
        connection = getattr(message, "connection", None)
        self.task = self.bars.add_task(str(message), total=total, bytes=total is not None)
        if total is not None and connection is not None:
            self._watch(connection, self.task, total)

    def finish(self) -> None:
        """The current bar full, its poller stopped."""
        if self.poller is not None:
            self.stop.set()
            self.poller.join()
            self.poller = None
        if self.task is not None:
            total = self.bars.tasks[-1].total
            self.bars.update(self.task, total=total or 1, completed=total or 1)
            self.task = None

    def _watch(self, connection: Any, task: TaskID, total: int) -> None:
        """Poll the statement's progress while the file is read (DuckDB allows it from a thread)."""
        try:  # DuckDB tracks a statement's progress only with its progress bar on (not printed)
            connection.execute("SET enable_progress_bar = true")
            connection.execute("SET enable_progress_bar_print = false")
        except Exception:  # a bar that cannot fill is no reason to stop a run
            return
        self.stop = threading.Event()
        self.poller = threading.Thread(target=self._poll, args=(connection, task, total), daemon=True)
        self.poller.start()

    def _poll(self, connection: Any, task: TaskID, total: int) -> None:
        done = 0.0
        while not self.stop.wait(POLL_SECONDS):
            try:
                share = connection.query_progress()
            except Exception:  # the connection closed under us: the step is over
                return
            if share > 0:  # each statement of the file starts again at 0: keep the furthest
                done = max(done, total * min(share, 100) / 100)
                self.bars.update(task, completed=done)


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
    """Per check: population, flagged, rate, high priority, left out as deceased, as having left
    the practice or with a patients row that could not be read (counts only)."""
    table = Table(title="checks")
    table.add_column("check")
    # one column for the three reasons, so the table still fits an 80-column terminal
    headers = ("population", "flagged", "rate", "high priority", "left out: dead/gone/row unreadable")
    for header in headers:
        table.add_column(header, justify="right")
    for c in outcome.checks:
        table.add_row(
            c.check_id,
            f"{c.denominator:,}",
            f"{c.flagged:,}",
            f"{c.rate:.1%}" if c.denominator else "n/a",
            f"{c.high_priority:,}",
            f"{c.deceased_excluded:,} / {c.deregistered_excluded:,} / {c.unreadable_excluded:,}",
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
            ("Codelists", check.codelists_read),
            ("Population drawn from", ", ".join(check.population_codelists) or "every patient"),
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
        if e.left_out:
            console.print(f"Not in the population: {e.left_out_text}", highlight=False)
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
