"""From flags to action: the reviews beside each flag, counts with and without exceptions, one call
list across checks (report section and calllist.csv) and the headline the email opens with.

Read from one run's record (findings, review_outcomes with their reviews, check_results), never
from today's data, so a re-rendered report shows the reviews as that run judged them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import duckdb


@dataclass(frozen=True)
class FlagReview:
    """The team's review of one flag, as this run judged it (review_outcomes)."""

    status: str  # acknowledged | exception
    reason: str
    note: str | None
    recorded_by: str
    recorded_at: datetime
    valid_until: date | None
    done_on: date | None
    state: str  # applies | re-opened | expired

    @property
    def excepted(self) -> bool:
        """An exception that applies: the patient is out of the check's numerator in this run."""
        return self.status == "exception" and self.state == "applies"

    @property
    def text(self) -> str:
        """'exception: patient declined (ana, 2026-11-21; until 2027-02-01): note'."""
        reason = self.reason.replace("_", " ")
        when = [f"{self.recorded_by}, {self.recorded_at:%Y-%m-%d}"]
        if self.done_on:
            when.append(f"done {self.done_on.isoformat()}")
        if self.valid_until:
            when.append(f"until {self.valid_until.isoformat()}")
        head = {"re-opened": "re-opened (evidence changed since) ", "expired": "expired "}.get(self.state, "")
        note = f": {self.note}" if self.note else ""
        return f"{head}{self.status}: {reason} ({'; '.join(when)}){note}"


@dataclass(frozen=True)
class CheckCounts:
    """A check's counts both ways, as QOF reports exception rates. None: a run before schema 6."""

    flagged: int
    denominator: int
    exceptions: int | None
    flagged_after_exceptions: int | None
    high_after_exceptions: int | None = None  # high-priority flags not under an applying exception

    @property
    def rate_after_exceptions(self) -> float | None:
        """Flagged after exceptions ÷ (population less exceptions); None with nobody left."""
        if self.exceptions is None or self.flagged_after_exceptions is None:
            return None
        left = self.denominator - self.exceptions
        return self.flagged_after_exceptions / left if left else None

    @property
    def exception_rate(self) -> float | None:
        """Exceptions ÷ population (QOF's exception rate); None when the population is empty."""
        if self.exceptions is None or not self.denominator:
            return None
        return self.exceptions / self.denominator


def high_after(high_priority: int, counts: CheckCounts | None) -> int:
    """A check's high-priority flags left once applying exceptions are taken out, as the report and
    the email show them: all `high_priority` of them for a run before schema 6 (no counts)."""
    if counts is None or counts.high_after_exceptions is None:
        return high_priority
    return counts.high_after_exceptions


@dataclass(frozen=True)
class CallFlag:
    """One flag of a patient on the call list."""

    check_id: str
    title: str
    priority: str
    reason: str
    days_flagged: int
    overdue_days: int | None  # as-of minus the evidence's due_on (negative: due in N days); None: no due date
    new: bool  # first raised in this run (every flag of a check's first run)
    review: FlagReview | None


@dataclass(frozen=True)
class CallRow:
    """One patient: every flag needing action, across checks."""

    rank: int
    patient_id: str
    flags: tuple[CallFlag, ...]  # high priority first, then most overdue

    @property
    def high(self) -> int:
        """High-priority flags."""
        return sum(f.priority == "high" for f in self.flags)

    @property
    def most_overdue(self) -> int | None:
        """Days the most overdue flag is past its due date; None when no flag has a due date."""
        known = [f.overdue_days for f in self.flags if f.overdue_days is not None]
        return max(known) if known else None

    @property
    def longest_flagged(self) -> int:
        """Days the longest-standing flag has stood."""
        return max(f.days_flagged for f in self.flags)

    @property
    def new(self) -> bool:
        """Any flag first raised in this run."""
        return any(f.new for f in self.flags)


@dataclass(frozen=True)
class Headline:
    """What the email opens with: patients needing action, how many are new, how many high priority."""

    patients: int
    new: int
    high: int
    excepted: int  # patients whose every flag is under an exception that applies

    def sentence(self, count: Any = str) -> str:
        """'12 patients need action tonight, 3 new, 2 high priority' (counts through `count`)."""
        if not self.patients:
            return "No patient needs action tonight"
        shown = count(self.patients)  # a band ("1–7") is plural: its grammar must not tell "1"
        noun = "patient needs" if shown == "1" else "patients need"
        return f"{shown} {noun} action tonight, {count(self.new)} new, {count(self.high)} high priority"


@dataclass(frozen=True)
class DueSoon:
    """A patient not flagged yet whose test falls due within the run's horizon (table due_soon)."""

    patient_id: str
    check_id: str
    title: str
    due_on: date
    due_in_days: int


@dataclass(frozen=True)
class ActionContext:
    """Reviews by flag, counts both ways by check, the call list and its headline, and the
    prospective list (due soon)."""

    reviews: Mapping[tuple[str, str], FlagReview]
    counts: Mapping[str, CheckCounts]
    calllist: tuple[CallRow, ...]
    headline: Headline
    due_soon: tuple[DueSoon, ...] = ()

    def review_of(self, check_id: str, patient_id: str) -> FlagReview | None:
        """The review beside a worklist row, if any."""
        return self.reviews.get((check_id, patient_id))


def flag_reviews(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[tuple[str, str], FlagReview]:
    """Each reviewed flag of the run, with the review's state as the run judged it."""
    rows = con.execute(
        """
        SELECT o.check_id, o.patient_id, v.status, v.reason, v.note, v.recorded_by, v.recorded_at,
               v.valid_until, v.done_on, o.state
        FROM review_outcomes o JOIN reviews v USING (review_id)
        WHERE o.run_id = $r ORDER BY o.check_id, o.patient_id
        """,
        {"r": run_id},
    ).fetchall()
    return {(r[0], r[1]): FlagReview(*r[2:]) for r in rows}


def check_counts(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, CheckCounts]:
    """Per check: flagged, population, exceptions and flagged after exceptions (check_results)."""
    rows = con.execute(
        "SELECT check_id, flagged, denominator, exceptions, flagged_after_exceptions "
        "FROM check_results WHERE run_id = $r ORDER BY check_id",
        {"r": run_id},
    ).fetchall()
    return {r[0]: CheckCounts(*r[1:]) for r in rows}


def _overdue(evidence: Sequence[tuple[str, Any]], as_of: date) -> int | None:
    """Days past the evidence's declared `due_on` (the date the missing test or action fell due)."""
    due = dict(evidence).get("due_on")
    if due in (None, ""):
        return None
    due_day = due if isinstance(due, date) else date.fromisoformat(str(due)[:10])
    return (as_of - due_day).days


def call_list(
    sections: Sequence[Any], reviews: Mapping[tuple[str, str], FlagReview], as_of: date
) -> tuple[tuple[CallRow, ...], int]:
    """One row per patient with a flag needing action (flags under an applying exception left out),
    ranked by high-priority flags, then how overdue the most overdue is, then how many flags (more to
    settle in one call), then how long flagged.
    `sections` are reports.context.CheckSection (not imported: context imports this module).

    Also returns how many patients were left off because every flag of theirs is excepted.
    """
    flags: dict[str, list[CallFlag]] = {}
    excepted_only: set[str] = set()
    for section in sections:
        s = section.summary
        for row in section.worklist:
            review = reviews.get((s.check_id, row.patient_id))
            if review is not None and review.excepted:
                excepted_only.add(row.patient_id)
                continue
            new = row.runs_flagged == 1  # on a check's first run every flag is new
            overdue = _overdue(row.evidence, as_of)
            flag = CallFlag(
                s.check_id, s.title, row.priority, row.reason, row.days_flagged, overdue, new, review
            )
            flags.setdefault(row.patient_id, []).append(flag)
    ranked = sorted(flags.items(), key=lambda item: _rank_key(item[0], item[1]))
    rows = tuple(
        CallRow(i, patient, tuple(sorted(fs, key=_flag_key))) for i, (patient, fs) in enumerate(ranked, 1)
    )
    return rows, len(excepted_only - set(flags))


def _rank_key(patient_id: str, flags: Sequence[CallFlag]) -> tuple:
    high = sum(f.priority == "high" for f in flags)
    overdue = [f.overdue_days for f in flags if f.overdue_days is not None]
    return (
        -high,
        -(max(overdue) if overdue else -(10**9)),
        -len(flags),
        -max(f.days_flagged for f in flags),
        patient_id,
    )


def _flag_key(flag: CallFlag) -> tuple:
    overdue = flag.overdue_days if flag.overdue_days is not None else -(10**9)
    return (flag.priority != "high", -overdue, flag.check_id)


def due_soon(
    con: duckdb.DuckDBPyConnection, run_id: str, as_of: date, titles: Mapping[str, str]
) -> tuple[DueSoon, ...]:
    """The run's prospective list, soonest first."""
    rows = con.execute(
        "SELECT patient_id, check_id, due_on FROM due_soon WHERE run_id = $r "
        "ORDER BY due_on, patient_id, check_id",
        {"r": run_id},
    ).fetchall()
    return tuple(DueSoon(p, c, titles.get(c, c), d, (d - as_of).days) for p, c, d in rows)


def action_context(
    con: duckdb.DuckDBPyConnection, run_id: str, as_of: date, sections: Sequence[Any]
) -> ActionContext:
    """Everything the report and email say about acting on this run's flags."""
    reviews = flag_reviews(con, run_id)
    rows, excepted = call_list(sections, reviews, as_of)
    headline = Headline(len(rows), sum(r.new for r in rows), sum(r.high > 0 for r in rows), excepted)
    titles = {s.summary.check_id: s.summary.title for s in sections}
    soon = due_soon(con, run_id, as_of, titles)
    counts = with_high_after_exceptions(check_counts(con, run_id), sections, reviews)
    return ActionContext(reviews, counts, rows, headline, soon)


def with_high_after_exceptions(
    counts: Mapping[str, CheckCounts], sections: Sequence[Any], reviews: Mapping[tuple[str, str], FlagReview]
) -> dict[str, CheckCounts]:
    """Each check's high-priority flags left once applying exceptions are taken out: what the
    headline counts (its patients with a high flag on the call list) and the email orders by."""

    def open_high(check_id: str, row: Any) -> bool:
        review = reviews.get((check_id, row.patient_id))
        return row.priority == "high" and not (review is not None and review.excepted)

    high = {s.summary.check_id: sum(open_high(s.summary.check_id, r) for r in s.worklist) for s in sections}
    return {
        cid: replace(c, high_after_exceptions=high[cid]) if c.exceptions is not None and cid in high else c
        for cid, c in counts.items()
    }


DUE_SOON_HEADER = ["patient_id", "check_id", "due_on", "due_in_days"]


def due_soon_rows(action: ActionContext) -> tuple[list[str], list[list[Any]]]:
    """due_soon.csv: the prospective list, soonest first."""
    rows = [[d.patient_id, d.check_id, d.due_on.isoformat(), d.due_in_days] for d in action.due_soon]
    return DUE_SOON_HEADER, rows


CALLLIST_HEADER = [
    "rank",
    "patient_id",
    "high_priority_flags",
    "flags",
    "most_overdue_days",
    "longest_flagged_days",
    "new",
    "checks",
    "reviews",
]


def calllist_rows(action: ActionContext) -> tuple[list[str], list[list[Any]]]:
    """calllist.csv: one row per patient; its checks and reviews as text, one per check, separated by
    ' | ' (reasons hold semicolons)."""
    rows = [
        [
            r.rank,
            r.patient_id,
            r.high,
            len(r.flags),
            r.most_overdue,
            r.longest_flagged,
            r.new,
            " | ".join(f"{f.check_id} ({f.priority}): {f.reason}" for f in r.flags),
            " | ".join(f"{f.check_id}: {f.review.text}" for f in r.flags if f.review),
        ]
        for r in action.calllist
    ]
    return CALLLIST_HEADER, rows
