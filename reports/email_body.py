"""The summary email's content (email.html and its plain-text twin), built from the report context.

The email gets its own plain-data summary built here, holding counts only, so no template change
can leak a patient identifier into it. Unless `email_exact_counts` is set, every count follows the
rule of measures_shared.csv (reports.measures): 1 to `small_count_threshold` (as `banded` puts it
in force: 7, 12, 17, ...) banded, the rest rounded to 5, a flagged count hidden when its not-flagged
rest is small, so no suppressed count can be worked out from the other counts of its row or from
the previous night's email (tests/unit/test_disclosure_known_limits.py: what that does not cover).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath, PureWindowsPath

import css_inline

from reports.action import CheckCounts, high_after
from reports.context import CheckSection, ReportContext
from reports.html import environment, pct
from reports.measures import banded, disclosive_total, published, round_to


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
    high_priority_before: str = "—"  # high-priority flags counting those under an exception
    check_id: str = field(kw_only=True)  # whose row it is (withheld pairs it with its check), never shown


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
    rejected_total: str  # published as every other count ("1–7" under the small-number rule)
    report_location: str
    small_count_threshold: int
    headline: str = ""  # "12 patients need action tonight, 3 new, 2 high priority"
    report_link: str = ""  # href of the report when report_location is set; "" shows it as text
    ad_hoc_note: str = ""  # an ad-hoc run's email says so first (AD_HOC_NOTE); "" for the nightly


# A clinic lead must never mistake an analyst's run for the nightly email, whose counts it does not
# change: the note opens the body, and the subject starts "[ad hoc]" (a mail rule filing the nightly
# by "<clinic>:" at its start leaves such an email out).
AD_HOC_NOTE = "Ad-hoc run ({reasons}): an analyst's question, not tonight's audit."


def ad_hoc_note(kind: str, because: Sequence[str]) -> str:
    """The note an ad-hoc run's email opens with, naming the options that made it one."""
    return AD_HOC_NOTE.format(reasons=", ".join(because) or "--ad-hoc") if kind == "ad hoc" else ""


def email_row(
    section: CheckSection, threshold: int, ctx_counts: Mapping[str, CheckCounts] | None = None
) -> EmailCheckRow:
    """Counts for one check under the one rule for published counts (reports.measures.published):
    with threshold 0 every count is exact."""
    s = section.summary
    counts = ctx_counts.get(s.check_id) if ctx_counts else None
    first = s.new is None  # the check's first run: every flag is new, none resolved
    return row_counts(
        s.check_id,
        s.title,
        RowCounts(
            flagged=s.flagged,
            population=s.denominator,
            high_priority=high_after(s.high_priority, counts),
            high_before=s.high_priority,
            new=s.flagged if first else s.new,
            resolved=None if first else s.resolved,
            exceptions=counts.exceptions if counts else None,
            after=counts.flagged_after_exceptions if counts else None,
        ),
        threshold,
    )


@dataclass(frozen=True)
class RowCounts:
    """One check's exact counts, before the email's rule is applied. None: not known (a run
    before schema 6 has no exceptions; a first run resolved nothing)."""

    flagged: int
    population: int
    high_priority: int  # after exceptions
    high_before: int
    new: int
    resolved: int | None
    exceptions: int | None
    after: int | None


def approximate_rate(flagged: int, population: int) -> str:
    """A rate from published (rounded) counts: whole percent, halves up, marked ≈; "<1%" for a
    flagged count that rounds to none, "0%" for none flagged."""
    if not flagged:
        return "0%"
    percent = 100 * flagged / population
    return "<1%" if percent < 1 else f"≈{int(percent + 0.5)}%"


def row_counts(check_id: str, title: str, c: RowCounts, threshold: int) -> EmailCheckRow:
    """The row as shown. Suppression on (threshold > 0): each count is published (0; "1–t"; else
    rounded to 5); a flagged count whose not-flagged rest is from 1 to t is hidden ("—"), and with
    it the exceptions and after-exceptions counts that sum to it (both hidden too when either is
    small and the flagged count is not: the total less the other would tell it); resolved is not
    shown (resolved_shown); the rate is computed from the shown counts, in whole percent marked "≈"
    (36.4% of a rounded 20/55 beside the report's exact 35.1% read as a contradiction), and hidden
    when the total is disclosive; an empty population's rate is "n/a"."""
    threshold = banded(threshold)  # in force: 7, 12, 17, ... (others leave counts pinned, see banded)
    count = partial(published, threshold=threshold)
    hidden = disclosive_total(c.population, c.flagged, threshold)
    # the small part is its rest (or the whole population is small: then "0" would tell as much)
    flagged_hidden = hidden and (c.flagged > threshold or c.population <= threshold)
    rounded = round_to if threshold else int
    if not c.population:
        rate = "n/a"
    elif hidden:
        rate = "—"
    elif threshold:
        rate = approximate_rate(rounded(c.flagged), rounded(c.population))
    else:
        rate = pct(c.flagged / c.population)
    excepted = c.exceptions is not None and c.after is not None and not flagged_hidden
    if excepted and threshold and c.flagged > threshold:  # secondary: a small part alone would be
        excepted = not any(1 <= n <= threshold for n in (c.exceptions, c.after))  # the total less the other
    return EmailCheckRow(
        title,
        "—" if flagged_hidden else count(c.flagged),
        count(c.population),
        rate,
        "—" if flagged_hidden else count(c.high_priority),  # each may equal the hidden flagged count
        "—" if flagged_hidden else count(c.new),  # (on a first run every flag is new)
        resolved_shown(c.resolved, threshold),
        # exceptions + flagged after them, or high priority before them, would give the hidden count
        count(c.exceptions) if excepted and not flagged_hidden else "—",
        count(c.after) if excepted and not flagged_hidden else "—",
        "—" if flagged_hidden else count(c.high_before),
        check_id=check_id,
    )


def resolved_shown(resolved: int | None, threshold: int) -> str:
    """Resolved only with exact counts: beside last night's flagged, tonight's and the new, a
    banded resolved (or new) count could be pinned down at the edges of the bands ("1–7" flagged
    last night, 15 tonight, "1–7" new and "1–7" resolved can only be 7 + 7 - 1 = 13)."""
    if resolved is None:
        return "first run"
    return f"{resolved:,}" if not threshold else "—"


def by_high_priority(rows: Sequence[EmailCheckRow]) -> list[EmailCheckRow]:
    """Checks with the most high-priority flags after exceptions first, then the most flags after
    exceptions, then by title: as the email SHOWS them (rounded, a band, or hidden), never by the exact
    counts, or the order would tell what a hidden or rounded cell holds."""

    def shown(text: str) -> float:
        if text.replace(",", "").isdigit():
            return float(text.replace(",", ""))
        band = re.fullmatch(r"1–(\d+)", text)
        return (1 + int(band[1])) / 2 if band else 0.0  # "1–7": somewhere in it; "—": nothing known

    def key(r: EmailCheckRow) -> tuple:
        after = r.flagged_after_exceptions if r.flagged_after_exceptions != "—" else r.flagged
        return (-shown(r.high_priority), -shown(after), r.title)

    return sorted(rows, key=key)


# The coverage guard's warning (pipelines/guards.py coverage_warnings) counts patients, as does the
# one on patients left out with an unreadable row (unreadable_patient_warnings), and the volume
# guard's (VolumeVerdict.warning) counts rows, a patient each in patients.csv; the run records them as
# text, so the email re-states their counts under the rule here (tests hold the patterns to the
# guards' own sentences).
_COVERAGE = re.compile(r"\bOnly (\d+) of (\d+) patients \(\d+%\)")
_VOLUME = re.compile(r"\babout (\d+) rows, under (\d+%) of the (\d+) the previous run read")
_UNREADABLE = re.compile(r"^Left out of every check: ([\d,]+) patient\(s\)")


def email_warning(text: str, threshold: int) -> str:
    """A recorded warning as the email shows it: its counts of patients (and of rows, in the volume
    guard's) published like every other count (a band, else rounded to 5), the coverage share
    computed from the shown counts and left out when a count is a band (threshold 0: as recorded)."""

    def shown(found: re.Match) -> str:
        recent, patients = int(found[1]), int(found[2])
        counts = f"Only {published(recent, threshold)} of {published(patients, threshold)} patients"
        if disclosive_total(patients, recent, threshold) or not round_to(patients):
            return counts
        return f"{counts} ({round_to(recent) / round_to(patients):.0%})"

    def rows(found: re.Match) -> str:
        now, before = published(int(found[1]), threshold), published(int(found[3]), threshold)
        return f"about {now} rows, under {found[2]} of the {before} the previous run read"

    def left_out(found: re.Match) -> str:
        return f"Left out of every check: {published(int(found[1].replace(',', '')), threshold)} patient(s)"

    return _UNREADABLE.sub(left_out, _VOLUME.sub(rows, _COVERAGE.sub(shown, text))) if threshold else text


def report_href(location: str) -> str:
    """A link to the report: a URL as given, an absolute path as a file:// URI, else none."""
    if location.startswith(("http://", "https://", "file://")):
        return location
    if PurePosixPath(location).is_absolute():
        return Path(location).as_uri()
    windows = PureWindowsPath(location)  # a share (\\server\audit\report.html) or C:\...
    return windows.as_uri() if windows.is_absolute() else ""


WITHHELD_HEADLINE = (
    "Tonight's counts of patients needing action are in the full report: a check's count below is "
    "withheld (—), and tonight's totals beside it could tell it."
)


def withheld(sections: Sequence[CheckSection], rows: Sequence[EmailCheckRow], threshold: int) -> bool:
    """Whether the headline's counts (patients needing action, new, high priority: across every
    check) must go unsaid: a row hides its flagged count ("—", row_counts) and the other checks
    flag too few patients to blur it. The headline counts the patients of every check, so it is at
    least the hidden count and at most that plus the others' flags: with one check audited, or the
    others flagging at most twice the threshold between them, the headline (rounded) beside the
    row's population would pin down the small rest the row hid, and its high-priority band the one
    the row hid too. With more, the others' flags cover it (the sample clinic's email keeps its
    headline)."""
    if not threshold:
        return False
    hidden = {r.check_id for r in rows if r.flagged == "—"}
    flagged = {c.summary.check_id: c.summary.flagged for c in sections}
    for check_id in hidden:
        others = sum(n for other, n in flagged.items() if other != check_id)
        if others <= 2 * banded(threshold):
            return True
    return False


def subject_counts(ctx: ReportContext, threshold: int) -> str:
    """The headline's numbers for the subject line: 'N need action, N new, N high priority'."""
    if ctx.action is None:
        return ""
    h = ctx.action.headline
    count = partial(published, threshold=threshold)
    return f"{count(h.patients)} need action, {count(h.new)} new, {count(h.high)} high priority"


def email_summary(
    ctx: ReportContext, report_location: str, threshold: int, linked: bool = False
) -> EmailSummary:
    """The counts the email shows, built from the report context without any patient rows: the
    headline first, checks with the most high-priority flags first. `linked`: report_location was
    set, so the email links to it."""
    h = ctx.header
    # as the run recorded them (volume, as-of, coverage, freshness guards), counts under the rule
    warnings = tuple(email_warning(w, threshold) for w in ctx.warnings)
    rows = by_high_priority(
        [email_row(c, threshold, ctx.action.counts if ctx.action else None) for c in ctx.checks]
    )
    # "No patient needs action tonight" tells nothing a row hid (its flags are all excepted)
    counted = ctx.action is not None and (
        not ctx.action.headline.patients or not withheld(ctx.checks, rows, threshold)
    )
    return EmailSummary(
        # an ad-hoc run's subject says so first: in an inbox it read as tonight's audit
        subject=("[ad hoc] " if h.kind == "ad hoc" else "")
        + f"{h.clinic_name}: "
        + (
            f"{subject_counts(ctx, threshold)} (audit as of {h.as_of.isoformat()})"
            if counted
            else f"clinical audit as of {h.as_of.isoformat()}"
        ),
        clinic_name=h.clinic_name,
        as_of=h.as_of.isoformat(),
        run_id=h.run_id,
        generated_at=h.generated_at.strftime("%Y-%m-%d %H:%M"),
        tool_version=h.tool_version,
        checks=tuple(rows),
        warnings=warnings,
        rejected_total=published(sum(f.rows_rejected for f in ctx.files), threshold),
        report_location=report_location,
        small_count_threshold=banded(threshold),  # the note names the band in force
        headline=ctx.action.headline.sentence(partial(published, threshold=threshold)) + "."
        if counted and ctx.action
        else WITHHELD_HEADLINE
        if ctx.action
        else "",
        report_link=report_href(report_location) if linked else "",
        ad_hoc_note=ad_hoc_note(h.kind, h.ad_hoc_because),
    )


def render_email_html(summary: EmailSummary) -> str:
    """email.html: table layout, every style inlined for email clients that drop <style>."""
    html = environment().get_template("email.html.j2").render(e=summary)
    inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False)
    return inliner.inline(html)


def render_email_text(summary: EmailSummary) -> str:
    """The plain-text alternative part of the email."""
    lines = [
        *([summary.headline] if summary.headline else []),
        *([summary.ad_hoc_note] if summary.ad_hoc_note else []),
        *([""] if summary.headline or summary.ad_hoc_note else []),
        f"{summary.clinic_name}: clinical audit summary",
        f"As of {summary.as_of}, run {summary.run_id}, generated {summary.generated_at}, "
        f"clinic-audit {summary.tool_version}",
        "",
    ]
    for r in summary.checks:
        lines += [
            r.title,
            f"  flagged {r.flagged} of {r.denominator} ({r.rate}); high priority {r.high_priority}; "
            f"new {r.new}; {'first run' if r.resolved == 'first run' else f'resolved {r.resolved}'}; "
            f"exceptions {r.exceptions}, "
            f"flagged after exceptions {r.flagged_after_exceptions}; "
            f"high priority before exceptions {r.high_priority_before}",
        ]
    lines += ["", *(f"Warning: {w}" for w in summary.warnings)]
    lines += [
        f"Rows rejected from the export: {summary.rejected_total}",
        f"Full report: {summary.report_location}",
    ]
    if summary.small_count_threshold:
        t = summary.small_count_threshold
        lines.append(
            f"Counts from 1 to {t} are shown as 1–{t}, larger counts rounded to the nearest 5; a count "
            f"that would reveal 1 to {t} patients is not shown (—). This email carries counts only."
        )
    return "\n".join(lines) + "\n"
