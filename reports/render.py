"""Every output of one run, written from its stored record: report.html (reports/html.py), the
summary email (reports/email_body.py), findings.csv and the worklists (reports/worklists.py).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from checks.framework import CheckDefinition
from reports.action import calllist_rows, due_soon_rows
from reports.context import build_context
from reports.email_body import EmailSummary, email_summary, render_email_html, render_email_text
from reports.files import write_csv, write_text_private
from reports.html import render_report
from reports.measures import measures_tables
from reports.worklists import worklist_rows, write_findings

if TYPE_CHECKING:
    from reports.options import ReportOptions


@dataclass(frozen=True)
class Reports:
    """What `write_reports` wrote, and the email content for sending."""

    report: Path
    email_html: Path
    findings: Path
    worklists: tuple[Path, ...]
    email: EmailSummary
    email_html_text: str
    email_plain_text: str
    calllist: tuple[Path, ...] = ()  # calllist.csv and/or .xlsx: one row per patient, across checks


def write_reports(
    con: duckdb.DuckDBPyConnection,
    settings: ReportOptions,
    run_id: str,
    definitions: Sequence[CheckDefinition],
    generated_at: datetime,
    linked: bool | None = None,
) -> Reports:
    """Write report.html, email.html, findings.csv and worklist_<check>.csv into `settings.out`,
    owner-only, all read from the run's record in the database. `linked`: the email links to the
    report (report_location set by the user); None: whenever report_location is set here (a caller
    that fills it with the report's own path for the text says False: a file:// link to the server's
    disk is dead on the recipient's machine and shows the server's folders)."""
    ctx = build_context(
        con,
        run_id,
        definitions,
        clinic_name=settings.clinic_name,
        generated_at=generated_at,
        max_rows=settings.report_max_rows,
    )
    out = settings.out
    os.makedirs(out, mode=0o700, exist_ok=True)
    findings = write_findings(con, out, run_id, definitions)
    h = ctx.header  # measures.csv exact; measures_shared.csv under the small-number rule (#19)
    for name, (header, rows) in measures_tables(
        con, run_id, h.as_of, h.measures_months, settings.small_count_threshold
    ).items():
        write_csv(out / name, header, rows)
    report = write_text_private(out / "report.html", render_report(ctx))
    location = settings.report_location or str((out / "report.html").resolve())
    exact = getattr(settings, "email_exact_counts", False)  # clinic staff only: no suppression
    threshold = 0 if exact else settings.small_count_threshold
    summary = email_summary(
        ctx, location, threshold, linked=bool(settings.report_location) if linked is None else linked
    )
    html, text = render_email_html(summary), render_email_text(summary)
    email_html = write_text_private(out / "email.html", html)
    fmt = getattr(settings, "worklist_format", "csv")
    worklists = tuple(
        path
        for c in ctx.checks
        for path in write_table(out, f"worklist_{c.summary.check_id}", worklist_rows(c, ctx.action), fmt)
    )
    calllist = ()
    if ctx.action:
        calllist = write_table(out, "calllist", calllist_rows(ctx.action), fmt)
        calllist += write_table(out, "due_soon", due_soon_rows(ctx.action), fmt)
    return Reports(report, email_html, findings, worklists, summary, html, text, calllist)


def write_table(out: Path, stem: str, table: tuple[list[str], list[list[Any]]], fmt: str) -> tuple[Path, ...]:
    """A worklist or the call list as <stem>.csv, <stem>.xlsx, or both (setting worklist_format)."""
    written = []
    if fmt in ("csv", "both"):
        written.append(write_csv(out / f"{stem}.csv", *table))
    if fmt in ("xlsx", "both"):
        from reports.xlsx import write_xlsx  # openpyxl loads only when asked for

        written.append(write_xlsx(out / f"{stem}.xlsx", *table, title=stem.removeprefix("worklist_")))
    return tuple(written)
