"""The headline, the per-check counts and the email's order agree (#20 review 3, 7, 13): high
priority counts flags not under an applying exception, a band is plural, and a check's first run
calls every flag new in the worklist, the call list and the headline alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from reports.action import CheckCounts, FlagReview, Headline, call_list, with_high_after_exceptions
from reports.email_body import EmailCheckRow, by_high_priority, email_row
from reports.measures import published

AS_OF = date(2026, 11, 20)


@dataclass(frozen=True)
class Summary:
    check_id: str
    title: str
    flagged: int = 8
    denominator: int = 40
    rate: float = 0.2
    high_priority: int = 8
    new: int | None = 0
    resolved: int | None = 0


@dataclass(frozen=True)
class Row:
    patient_id: str
    priority: str = "high"
    reason: str = "why"
    evidence: tuple = ()
    days_flagged: int = 0
    runs_flagged: int = 2


@dataclass(frozen=True)
class Section:
    summary: Summary
    worklist: tuple


def exception() -> FlagReview:
    return FlagReview(
        "exception", "palliative", None, "ana", datetime(2026, 11, 19, 9), None, None, "applies"
    )


def test_a_band_is_plural_so_its_grammar_does_not_tell_one():
    band = Headline(1, 1, 1, 0).sentence(lambda n: published(n, 7))
    assert band == "1–7 patients need action tonight, 1–7 new, 1–7 high priority"
    assert Headline(1, 1, 1, 0).sentence() == "1 patient needs action tonight, 1 new, 1 high priority"
    assert Headline(6, 0, 0, 0).sentence(lambda n: published(n, 7)).startswith("1–7 patients need")


def test_high_priority_is_counted_after_exceptions_and_orders_the_email():
    patients = [f"P{i}" for i in range(8)]
    cramps = Section(Summary("cramps", "Muscle cramps in cirrhosis"), tuple(Row(p) for p in patients))
    nsaid = Section(Summary("nsaid", "NSAID in CKD", high_priority=2, flagged=2), (Row("Q1"), Row("Q2")))
    reviews = {("cramps", p): exception() for p in patients}
    counts = {"cramps": CheckCounts(8, 40, 8, 0), "nsaid": CheckCounts(2, 40, 0, 2)}
    counts = with_high_after_exceptions(counts, [cramps, nsaid], reviews)
    assert counts["cramps"].high_after_exceptions == 0 and counts["nsaid"].high_after_exceptions == 2
    shown = by_high_priority([email_row(s, 0, counts) for s in (cramps, nsaid)])
    assert [r.title for r in shown] == ["NSAID in CKD", "Muscle cramps in cirrhosis"]
    row = email_row(cramps, 0, counts)
    assert (row.high_priority, row.high_priority_before, row.flagged_after_exceptions) == ("0", "8", "0")
    rows, excepted = call_list([cramps, nsaid], reviews, AS_OF)
    headline_high = sum(r.high > 0 for r in rows)
    assert headline_high == sum(c.high_after_exceptions for c in counts.values()) == 2
    assert excepted == 8


def test_a_checks_first_run_calls_every_flag_new_everywhere():
    first = Section(Summary("a", "Check A", new=None, resolved=None), (Row("P1", runs_flagged=1),))
    rows, _ = call_list([first], {}, AS_OF)
    assert rows[0].new and rows[0].flags[0].new
    row = email_row(first, 0, None)
    assert row.new == "8" and row.resolved == "first run"  # every flagged patient is new
    second = Section(Summary("a", "Check A", new=0), (Row("P1", runs_flagged=2),))
    assert not call_list([second], {}, AS_OF)[0][0].new


def test_the_emails_order_of_checks_tells_nothing_its_cells_hide():
    """Sorted by the exact counts, a hidden '—' placed below a shown '0' that its title would put it
    above told that it was 0 too. The order is a function of what is shown alone: a hidden cell
    ranks as 0 whatever it holds, a band as its middle, ties by title."""

    def row(title: str, high: str, after: str) -> EmailCheckRow:
        return EmailCheckRow(title, after, "40", "", high, "0", "0", "0", after, high, check_id=title.lower())

    assert [r.title for r in by_high_priority([row("Zeta", "—", "—"), row("Alpha", "0", "0")])] == [
        "Alpha",
        "Zeta",
    ]
    ordered = by_high_priority([row("Alpha", "0", "0"), row("Beta", "1–7", "10"), row("Gamma", "15", "15")])
    assert [r.title for r in ordered] == ["Gamma", "Beta", "Alpha"]
