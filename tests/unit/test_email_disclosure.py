"""The email's counts under the one rule for published counts (#19 outcome 4, #20 review 1, 2, 8):
for every combination of small true counts, everything a reader can combine (the shown counts of a
row, which sum: flagged = exceptions + after exceptions, population = flagged + not flagged; and two
consecutive nights: tonight's flagged = last night's + new - resolved) still leaves each suppressed
count with more than one possible value. Exhaustive over counts 0..39, threshold 7, and over
settings the rule raises to a band it holds for (reports.measures.banded: 3 and 5 gave a "5" that
could only be 6 or 7, 10 a "10" that could only be 11 or 12, 2 a "1–2" split into two "1–2")."""

from __future__ import annotations

from collections import defaultdict

import pytest

from reports.email_body import RowCounts, row_counts

T = 7
N = 40
BAND = f"1–{T}"


def row(flagged=0, population=0, exceptions=0, high=0, new=0, resolved=0, threshold=T):
    counts = RowCounts(flagged, population, high, high, new, resolved, exceptions, flagged - exceptions)
    return row_counts("check", "Check", counts, threshold)


def suppressed(shown: str) -> bool:
    return shown == "—" or shown.startswith("1–")


def inside(display: tuple[str, ...]) -> bool:
    """A display every count of which lies well inside the enumerated range (none cut off at its edge)."""
    return all(int(d) <= N - 5 for d in display if d.isdigit())


def assert_nothing_recovered(seen: dict[tuple, set[tuple]], names: tuple[str, ...]) -> None:
    """Each display groups the true counts it could have come from; a suppressed count must keep
    at least two possible values among them."""
    checked = [d for d in seen if inside(d)]
    assert len(checked) > 20
    for display, truths in ((d, seen[d]) for d in checked):
        for i, name in enumerate(names):
            if suppressed(display[i]):
                values = {t[i] for t in truths}
                # a zero worked out is no small group; any other single value is
                assert len(values) > 1 or values == {0}, f"{name} recovered as {values} from {display}"


SETTINGS = [T, 1, 2, 3, 5, 10]


@pytest.mark.parametrize("setting", SETTINGS)
def test_no_suppressed_count_is_recoverable_within_a_row(setting):
    seen: dict[tuple, set[tuple]] = defaultdict(set)
    for population in range(N):
        for flagged in range(population + 1):
            for exceptions in range(flagged + 1):
                r = row(flagged, population, exceptions, threshold=setting)
                display = (r.flagged, r.denominator, r.exceptions, r.flagged_after_exceptions, r.rate)
                truth = (flagged, population, exceptions, flagged - exceptions, population - flagged)
                seen[display].add(truth)
    # the not-flagged count (population - flagged) is never shown but must not be recoverable either
    for display, truths in seen.items():
        rest = {t[4] for t in truths}
        small = any(1 <= n <= max(setting, T) for n in rest)
        assert not small or len(rest) > 1, f"not flagged {rest} from {display}"
    assert_nothing_recovered(
        {d[:4]: {t[:4] for t in ts} for d, ts in seen.items()},
        ("flagged", "population", "exceptions", "after exceptions"),
    )


@pytest.mark.parametrize("setting", SETTINGS)
def test_no_suppressed_count_is_recoverable_from_the_previous_night(setting):
    seen: dict[tuple, set[tuple]] = defaultdict(set)
    for last in range(N):
        for resolved in range(last + 1):
            for new in range(N - (last - resolved)):
                tonight = last - resolved + new
                before = row(last, 40, threshold=setting).flagged
                r = row(tonight, 40, new=new, resolved=resolved, threshold=setting)
                seen[(before, r.flagged, r.new, r.resolved)].add((last, tonight, new, resolved))
    assert_nothing_recovered(seen, ("last night's flagged", "flagged", "new", "resolved"))


@pytest.mark.parametrize(
    ("flagged", "population", "exceptions", "shown"),
    [
        (14, 41, 13, ("15", "40", "—", "—")),  # the review's row: 14 - 13 = 1 no longer follows
        (20, 41, 10, ("20", "40", "10", "10")),
        (8, 10, 0, ("—", "10", "—", "—")),  # 2 not flagged: the flagged count would tell it
        (0, 5, 0, ("—", BAND, "—", "—")),  # "0 of 1–7" would tell 1-7 not flagged
        (3, 41, 0, (BAND, "40", "0", BAND)),
        (0, 0, 0, ("0", "0", "0", "0")),
    ],
)
def test_the_review_rows(flagged, population, exceptions, shown):
    r = row(flagged, population, exceptions)
    assert (r.flagged, r.denominator, r.exceptions, r.flagged_after_exceptions) == shown


def test_rates_come_from_the_shown_counts_and_an_empty_population_is_not_a_rate():
    assert row(0, 0).rate == "n/a" and row(0, 0, threshold=0).rate == "n/a"
    assert row(8, 10).rate == "—"  # 2 not flagged
    assert row(13, 41).rate == row(15, 40).rate  # 15 of 40: no more exact than the counts


def test_exact_mode_shows_every_count_as_it_is():
    r = row(14, 41, 13, high=2, new=1, resolved=3, threshold=0)
    assert (r.flagged, r.denominator, r.exceptions, r.flagged_after_exceptions) == ("14", "41", "13", "1")
    assert (r.high_priority, r.new, r.resolved) == ("2", "1", "3")
    assert row(14, 41, resolved=3).resolved == "—"  # suppressed: never beside last night and new


def test_a_first_run_row_whose_flagged_count_is_hidden_hides_new_and_high_priority_too():
    """On a first run every flag is new (and may all be high priority): "— flagged of 15 · 10 new"
    would give the hidden count straight back (review of #20)."""
    first = RowCounts(
        flagged=10, population=15, high_priority=10, high_before=10, new=10, resolved=None,
        exceptions=None, after=None,
    )  # fmt: skip
    row = row_counts("nsaid_kidney_disease", "NSAID in CKD", first, threshold=7)
    assert row.flagged == "—" and row.new == "—" and row.high_priority == "—"
    assert row.high_priority_before == "—"  # the plain-text email prints it: 10 would give it back
    assert row.resolved == "first run"


@pytest.mark.parametrize(("threshold", "rate"), [(7, "≈36%"), (0, "35.1%")])
def test_the_emails_rate_from_rounded_counts_is_approximate_and_whole(threshold, rate):
    """20 flagged of 57 publish as 20 of 55: a rate of 36.4% from them, to a tenth, beside the
    report's exact 35.1% read as a contradiction. From rounded counts it is whole and marked ≈;
    with exact counts (threshold 0) it is the exact rate."""
    row = row_counts("c", "Check", RowCounts(20, 57, 5, 5, 2, None, 0, 20), threshold)
    assert row.rate == rate


@pytest.mark.parametrize(
    ("flagged", "population", "rate"),
    [(25, 1000, "≈3%"), (45, 1000, "≈5%"), (10, 5000, "<1%"), (0, 55, "0%")],
)
def test_an_approximate_rate_rounds_halves_up_and_says_below_one_and_none(flagged, population, rate):
    """Python's round() takes halves to even (2.5% showed ≈2%); a flagged count rounding to no whole
    percent showed ≈0% beside "10"; none flagged is exactly 0%."""
    from reports.email_body import approximate_rate

    assert approximate_rate(flagged, population) == rate
