"""The summary email's content (email.html and its plain-text twin), built from the report context.

The email gets its own plain-data summary built here, holding counts only, so no template change
can leak a patient identifier into it; counts from 1 to `small_count_threshold` are suppressed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath, PureWindowsPath

import css_inline

from reports.action import CheckCounts
from reports.context import CheckSection, ReportContext
from reports.html import environment, pct


def small(n: int, threshold: int) -> str:
    """A count for the email: 1..threshold becomes "1–threshold" so small groups are not exposed."""
    return f"1–{threshold}" if 1 <= n <= threshold else f"{n:,}"


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
    exceptions: str = "—"  # flagged patients with an exception that applied ("—": a run before schema 6)
    flagged_after_exceptions: str = "—"


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
    headline: str = ""  # "12 patients need action tonight, 3 new, 2 high priority"
    report_link: str = ""  # href of the report when report_location is set; "" shows it as text


def email_row(
    section: CheckSection, threshold: int, ctx_counts: Mapping[str, CheckCounts] | None = None
) -> EmailCheckRow:
    """Counts for one check; the rate is hidden when it would reveal a suppressed count."""
    s = section.summary
    exact = not (1 <= s.flagged <= threshold or 1 <= s.denominator <= threshold)
    counts = ctx_counts.get(s.check_id) if ctx_counts else None
    excepted = counts is not None and counts.exceptions is not None
    return EmailCheckRow(
        s.title,
        small(s.flagged, threshold),
        small(s.denominator, threshold),
        pct(s.rate) if exact else "—",
        small(s.high_priority, threshold),
        _change(s.new, threshold),
        _change(s.resolved, threshold),
        small(counts.exceptions, threshold) if excepted else "—",
        small(counts.flagged_after_exceptions, threshold) if excepted else "—",
    )


def by_high_priority(sections: Sequence[CheckSection]) -> list[CheckSection]:
    """Checks with the most high-priority flags first, then the most flags, then by title."""
    return sorted(sections, key=lambda c: (-c.summary.high_priority, -c.summary.flagged, c.summary.title))


def report_href(location: str) -> str:
    """A link to the report: a URL as given, an absolute path as a file:// URI, else none."""
    if location.startswith(("http://", "https://", "file://")):
        return location
    if PurePosixPath(location).is_absolute():
        return Path(location).as_uri()
    windows = PureWindowsPath(location)  # a share (\\server\audit\report.html) or C:\...
    return windows.as_uri() if windows.is_absolute() else ""


def subject_counts(ctx: ReportContext, threshold: int) -> str:
    """The headline's numbers for the subject line: 'N need action, N new, N high priority'."""
    if ctx.action is None:
        return ""
    h = ctx.action.headline
    count = partial(small, threshold=threshold)
    return f"{count(h.patients)} need action, {count(h.new)} new, {count(h.high)} high priority"


def email_summary(
    ctx: ReportContext, report_location: str, threshold: int, linked: bool = False
) -> EmailSummary:
    """The counts the email shows, built from the report context without any patient rows: the
    headline first, checks with the most high-priority flags first. `linked`: report_location was
    set, so the email links to it."""
    h = ctx.header
    warnings = ctx.warnings  # as the run recorded them (volume, as-of, coverage, freshness guards)
    return EmailSummary(
        subject=f"{h.clinic_name}: "
        + (
            f"{subject_counts(ctx, threshold)} (audit as of {h.as_of.isoformat()})"
            if ctx.action
            else f"clinical audit as of {h.as_of.isoformat()}"
        ),
        clinic_name=h.clinic_name,
        as_of=h.as_of.isoformat(),
        run_id=h.run_id,
        generated_at=h.generated_at.strftime("%Y-%m-%d %H:%M"),
        tool_version=h.tool_version,
        checks=tuple(
            email_row(c, threshold, ctx.action.counts if ctx.action else None)
            for c in by_high_priority(ctx.checks)
        ),
        warnings=warnings,
        rejected_total=sum(f.rows_rejected for f in ctx.files),
        report_location=report_location,
        small_count_threshold=threshold,
        headline=ctx.action.headline.sentence(partial(small, threshold=threshold)) + "."
        if ctx.action
        else "",
        report_link=report_href(report_location) if linked else "",
    )


def render_email_html(summary: EmailSummary) -> str:
    """email.html: table layout, every style inlined for email clients that drop <style>."""
    html = environment().get_template("email.html.j2").render(e=summary)
    inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False)
    return inliner.inline(html)


def render_email_text(summary: EmailSummary) -> str:
    """The plain-text alternative part of the email."""
    lines = [
        *([summary.headline, ""] if summary.headline else []),
        f"{summary.clinic_name}: clinical audit summary",
        f"As of {summary.as_of}, run {summary.run_id}, generated {summary.generated_at}, "
        f"clinic-audit {summary.tool_version}",
        "",
    ]
    for r in summary.checks:
        lines += [
            r.title,
            f"  flagged {r.flagged} of {r.denominator} ({r.rate}); high priority {r.high_priority}; "
            f"new {r.new}; resolved {r.resolved}; exceptions {r.exceptions}, "
            f"flagged after exceptions {r.flagged_after_exceptions}",
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
