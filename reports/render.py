"""Turn a `ReportContext` into report.html, email.html (+ its plain-text twin) and CSV worklists.

Jinja autoescapes everything: a drug name typed as `<script>` arrives in the HTML as text. The
email gets its own plain-data summary built here, holding counts only, so no template change can
leak a patient identifier into it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import css_inline
import duckdb
from jinja2 import Environment, PackageLoader, StrictUndefined

from checks.framework import CheckDefinition
from reports.context import CheckSection, RatePoint, ReportContext, build_context
from reports.worklists import write_csv, write_private_text

if TYPE_CHECKING:
    from reports.options import ReportOptions

SPARK_WIDTH, SPARK_HEIGHT = 140, 36


def pct(rate: float) -> str:
    """A rate as a percentage with one decimal."""
    return f"{rate * 100:.1f}%"


def show(value: Any) -> str:
    """An evidence value as a reader wants it: yes/no, a dash for nothing, numbers without noise."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def label(name: str) -> str:
    """An evidence column name as words."""
    return name.replace("_", " ")


def days(n: int) -> str:
    """How long a patient has been flagged, in words."""
    return "first flagged in this run" if n == 0 else f"{n} day{'s' if n != 1 else ''}"


def sparkline(history: Sequence[RatePoint]) -> dict[str, Any] | None:
    """Polyline coordinates for a rate chart (None below two runs); the y axis starts at zero."""
    if len(history) < 2:
        return None
    top = max(max(p.rate for p in history), 0.01)
    step = (SPARK_WIDTH - 8) / (len(history) - 1)
    coords = [
        (4 + i * step, SPARK_HEIGHT - 2 - (p.rate / top) * (SPARK_HEIGHT - 6)) for i, p in enumerate(history)
    ]
    first, last = history[0], history[-1]
    return {
        "width": SPARK_WIDTH,
        "height": SPARK_HEIGHT,
        "points": " ".join(f"{x:.1f},{y:.1f}" for x, y in coords),
        "last_x": f"{coords[-1][0]:.1f}",
        "last_y": f"{coords[-1][1]:.1f}",
        "label": f"{len(history)} runs: {pct(first.rate)} ({first.as_of}) to {pct(last.rate)} ({last.as_of})",
    }


def environment() -> Environment:
    """The Jinja environment: templates from the package, autoescape on, undefined names fail."""
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(pct=pct, show=show, label=label, days=days, sparkline=sparkline)
    return env


def render_report(ctx: ReportContext) -> str:
    """The analyst's full, self-contained report."""
    return environment().get_template("report.html.j2").render(ctx=ctx, h=ctx.header)


def small(n: int, threshold: int) -> str:
    """A count for the email: 1..threshold becomes "1–threshold" so small groups are not exposed."""
    return f"1–{threshold}" if 1 <= n <= threshold else str(n)


def _change(n: int | None, threshold: int) -> str:
    return "first run" if n is None else small(n, threshold)


@dataclass(frozen=True)
class EmailCheckRow:
    """One check's counts, already formatted and suppressed for the email."""

    title: str
    flagged: str
    denominator: str
    rate: str
    high_priority: str
    new: str
    resolved: str


@dataclass(frozen=True)
class EmailSummary:
    """The email's content: counts only, never a patient identifier."""

    subject: str
    clinic_name: str
    as_of: str
    run_id: str
    generated_at: str
    tool_version: str
    checks: tuple[EmailCheckRow, ...]
    warnings: tuple[str, ...]
    rejected_total: int
    report_location: str
    small_count_threshold: int


def email_row(section: CheckSection, threshold: int) -> EmailCheckRow:
    """Counts for one check; the rate is hidden when it would reveal a suppressed count."""
    s = section.summary
    exact = not (1 <= s.flagged <= threshold or 1 <= s.denominator <= threshold)
    return EmailCheckRow(
        s.title,
        small(s.flagged, threshold),
        small(s.denominator, threshold),
        pct(s.rate) if exact else "—",
        small(s.high_priority, threshold),
        _change(s.new, threshold),
        _change(s.resolved, threshold),
    )


def email_summary(ctx: ReportContext, report_location: str, threshold: int) -> EmailSummary:
    """The counts the email shows, built from the report context without any patient rows."""
    h = ctx.header
    warnings = tuple(
        f"{f.file} is much smaller than last time ({f.rows_read} rows, previously {f.previous_rows_read})."
        for f in ctx.files
        if f.shrunk
    )
    return EmailSummary(
        subject=f"{h.clinic_name}: clinical audit as of {h.as_of.isoformat()}",
        clinic_name=h.clinic_name,
        as_of=h.as_of.isoformat(),
        run_id=h.run_id,
        generated_at=h.generated_at.strftime("%Y-%m-%d %H:%M"),
        tool_version=h.tool_version,
        checks=tuple(email_row(c, threshold) for c in ctx.checks),
        warnings=warnings,
        rejected_total=sum(f.rows_rejected for f in ctx.files),
        report_location=report_location,
        small_count_threshold=threshold,
    )


def render_email_html(summary: EmailSummary) -> str:
    """email.html: table layout, every style inlined for email clients that drop <style>."""
    html = environment().get_template("email.html.j2").render(e=summary)
    inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False)
    return inliner.inline(html)


def render_email_text(summary: EmailSummary) -> str:
    """The plain-text alternative part of the email."""
    lines = [
        f"{summary.clinic_name}: clinical audit summary",
        f"As of {summary.as_of}, run {summary.run_id}, generated {summary.generated_at}, "
        f"clinic-audit {summary.tool_version}",
        "",
    ]
    for r in summary.checks:
        lines += [
            r.title,
            f"  flagged {r.flagged} of {r.denominator} ({r.rate}); high priority {r.high_priority}; "
            f"new {r.new}; resolved {r.resolved}",
        ]
    lines += ["", *(f"Warning: {w}" for w in summary.warnings)]
    lines += [
        f"Rows rejected from the export: {summary.rejected_total}",
        f"Full report: {summary.report_location}",
    ]
    if summary.small_count_threshold:
        t = summary.small_count_threshold
        lines.append(f"Counts from 1 to {t} are shown as 1–{t}. This email carries counts only.")
    return "\n".join(lines) + "\n"


def worklist_rows(section: CheckSection) -> tuple[list[str], list[list[Any]]]:
    """A check's full worklist as CSV header and rows (ISO dates; evidence one column each)."""
    header = [
        "patient_id",
        "priority",
        "flagged_since",
        "days_flagged",
        "runs_flagged",
        "reason",
        *section.evidence_columns,
    ]
    rows = [
        [r.patient_id, r.priority, r.flagged_since.isoformat(), r.days_flagged, r.runs_flagged, r.reason]
        + [v.isoformat() if isinstance(v, date) else v for _, v in r.evidence]
        for r in section.worklist
    ]
    return header, rows


@dataclass(frozen=True)
class Reports:
    """What `write_reports` wrote, and the email content for sending."""

    report: Path
    email_html: Path
    worklists: tuple[Path, ...]
    email: EmailSummary
    email_html_text: str
    email_plain_text: str


def write_reports(
    con: duckdb.DuckDBPyConnection,
    settings: ReportOptions,
    run_id: str,
    definitions: Sequence[CheckDefinition],
    generated_at: datetime,
) -> Reports:
    """Write report.html, email.html and worklist_<check>.csv into `settings.out`, owner-only."""
    ctx = build_context(
        con,
        run_id,
        definitions,
        clinic_name=settings.clinic_name,
        generated_at=generated_at,
        max_rows=settings.report_max_rows,
        volume_guard_ratio=settings.volume_guard_ratio,
    )
    out = settings.out
    os.makedirs(out, mode=0o700, exist_ok=True)
    report = write_private_text(out / "report.html", render_report(ctx))
    location = settings.report_location or str((out / "report.html").resolve())
    summary = email_summary(ctx, location, settings.small_count_threshold)
    html, text = render_email_html(summary), render_email_text(summary)
    email_html = write_private_text(out / "email.html", html)
    worklists = tuple(
        write_csv(out / f"worklist_{c.summary.check_id}.csv", *worklist_rows(c)) for c in ctx.checks
    )
    return Reports(report, email_html, worklists, summary, html, text)
