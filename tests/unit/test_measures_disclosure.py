"""measures_shared.csv's small-number rule (reports/measures.py): primary and secondary suppression,
rounding, and a suppressed count not recoverable from its row's total or from the previous night."""

from __future__ import annotations

from datetime import date

import pytest

from reports.charts import MonthPoint, SitePoint, control_limit, funnel_svg, trend_svg
from reports.measures import Cell, round_to, shared_rows, suppress_row

M = date(2026, 10, 31)
T = 7  # small_count_threshold's default


def cell(group: str, population: int, flagged: int, breakdown: str = "site") -> Cell:
    return Cell("nsaid_kidney_disease", M, breakdown, group, population, flagged)


def month(groups: dict[str, tuple[int, int]]) -> list[Cell]:
    """A month's total and its site breakdown from {site: (population, flagged)}."""
    total = cell("", sum(p for p, _ in groups.values()), sum(f for _, f in groups.values()), "total")
    return [total, *(cell(g, p, f) for g, (p, f) in sorted(groups.items()))]


def published(rows: list[list]) -> dict[str, tuple[int, int] | None]:
    """{group: (population, flagged)} as published, None when suppressed ('' for the total)."""
    return {r[3]: None if r[7] == "true" else (r[4], r[5]) for r in rows}


def test_a_small_group_is_suppressed_with_the_next_smallest():
    total, groups = suppress_row(*_row({"A": (40, 3), "B": (60, 20), "C": (90, 30), "D": (200, 50)}))
    assert [g.suppressed for g in groups] == [True, True, False, False]  # A small; B the next smallest
    assert not total.suppressed


def test_secondary_suppression_goes_on_while_the_hidden_groups_together_are_small():
    # A and B each have 2 not-flagged patients: together 4, still small, so C is hidden too
    _, groups = suppress_row(*_row({"A": (10, 8), "B": (12, 10), "C": (30, 10), "D": (300, 40)}))
    assert [g.suppressed for g in groups] == [True, True, True, False]
    hidden = [g for g in groups if g.suppressed]
    assert sum(g.flagged for g in hidden) > T and sum(g.population - g.flagged for g in hidden) > T


def test_a_small_total_suppresses_the_whole_month():
    rows = shared_rows(month({"A": (20, 2), "B": (30, 3)}), T)
    assert all(r[7] == "true" for r in rows)


def test_no_small_group_is_suppressed_when_none_is_small():
    rows = shared_rows(month({"A": (40, 10), "B": (60, 20)}), T)
    assert published(rows) == {"": (100, 30), "A": (40, 10), "B": (60, 20)}


def test_published_counts_are_rounded_to_fives_and_rates_follow_them():
    rows = shared_rows(month({"A": (41, 12), "B": (63, 23)}), T)
    assert published(rows) == {"": (105, 35), "A": (40, 10), "B": (65, 25)}
    assert rows[0][6] == round(35 / 105, 4)
    assert [round_to(n) for n in (0, 2, 3, 7, 8, 12, 13)] == [0, 0, 5, 5, 10, 10, 15]


def _row(groups: dict[str, tuple[int, int]]) -> tuple[Cell, list[Cell], int]:
    cells = month(groups)
    return cells[0], cells[1:], T


def _feasible_flagged(night1: list[list], night2: list[list], group: str, base: int) -> set[int]:
    """What an outsider holding both nights' files can say about `group`'s flagged count on night 1,
    knowing that only that group changed, by one flagged patient: night 1's total less its visible
    groups, with the other groups read from night 2 where night 1 hid them; every published count
    known only to within its rounding."""
    n1, n2 = published(night1), published(night2)
    slack = base // 2

    def span(v: int) -> range:
        return range(v - slack, v + slack + 1)

    candidates = set()
    for total in span(n1[""][1]):
        known = [g for g in n1 if g not in ("", group)]
        others = [n1[g] or n2[g] for g in known]
        if any(o is None for o in others):
            return set(range(0, n1[""][1] + slack + 1))  # still hidden on both nights: nothing learnt
        lows = sum(o[1] - slack for o in others)
        highs = sum(o[1] + slack for o in others)
        candidates |= {total - x for x in range(lows, highs + 1) if total - x >= 0}
    if n2[group] is not None:  # night 2 shows the group: night 1 was that less one
        candidates &= {v - 1 for v in span(n2[group][1])}
    return candidates


@pytest.mark.parametrize("base", [1, 5])
def test_a_suppressed_count_is_not_recovered_by_differencing_two_nights(base):
    """Night 1: site A has 7 flagged (suppressed, and B with it). Night 2: A has 8, so A is shown, and
    B with it. Without rounding (base 1) night 1's A is recovered exactly from night 1's total and
    night 2's B: the test shows the attack works there; with base 5 it leaves A undetermined."""
    night1 = shared_rows(month({"A": (30, 7), "B": (50, 20), "C": (400, 100)}), T, base)
    night2 = shared_rows(month({"A": (31, 8), "B": (50, 20), "C": (400, 100)}), T, base)
    assert published(night1)["A"] is None and published(night2)["A"] is not None
    feasible = _feasible_flagged(night1, night2, "A", base)
    assert 7 in feasible
    if base == 1:
        assert feasible == {7}
    else:
        assert len(feasible) >= 3 and any(v <= T for v in feasible) and any(v > T for v in feasible)


def test_a_suppressed_count_is_not_recovered_from_its_row_total():
    rows = shared_rows(month({"A": (30, 2), "B": (35, 12), "C": (400, 100)}), T)
    shown = published(rows)
    assert shown["A"] is None and shown["B"] is None  # A and B hidden together
    hidden_flagged = shown[""][1] - shown["C"][1]  # all an outsider gets: A and B together, roughly
    assert hidden_flagged > T


def test_trend_chart_is_dated_with_rate_and_population():
    points = [MonthPoint(date(2026, m, 28), 40 + m, m) for m in range(1, 11)]
    svg = str(trend_svg(points, "Trend <NSAIDs>"))
    assert svg.startswith("<svg") and "<script" not in svg
    assert "Trend &lt;NSAIDs&gt;" in svg  # text escaped
    assert "Oct 26" in svg and "Jul 26" in svg  # month axis
    assert "n 50" in svg  # population axis
    assert "Oct 2026: 10 of 50 (20.0%)" in svg
    assert trend_svg(points[:1], "one month") is None


def test_funnel_plot_marks_the_site_outside_its_limits():
    assert control_limit(0.5, 100, 1.96) == pytest.approx((0.4038, 0.5962), abs=1e-4)  # Wilson score
    sites = [SitePoint("north", 400, 60), SitePoint("south", 380, 57), SitePoint("east", 200, 60)]
    svg = str(funnel_svg(sites, "Sites"))
    assert "site east: 60 of 200 (30.0%)" in svg and ">east</text>" in svg  # outlier labelled
    assert ">north</text>" not in svg
    assert "network 18.1%" in svg  # 177 of 980
    assert funnel_svg(sites[:1], "one site") is None


def test_funnel_limits_are_wilson_score_limits_inside_0_and_1_without_clipping():
    """Near a rate of 0 the normal approximation's limits collapse onto p and its lower one is
    clipped: a small site with one flag would be drawn as an outlier (#19 review 12)."""
    low, high = control_limit(0.0, 10, 3.09)
    assert low == 0.0 and high == pytest.approx(3.09**2 / 10 / (1 + 3.09**2 / 10))
    low, high = control_limit(0.002, 5, 3.09)
    assert 0.0 < low < 0.002 < high < 1.0
    assert control_limit(1.0, 10, 1.96) == pytest.approx((0.7225, 1.0), abs=1e-4)
    sites = [SitePoint("large", 5000, 10), SitePoint("small", 5, 1)]  # 1 of 5 at a 0.2% network rate
    assert ">small</text>" not in str(funnel_svg(sites, "Sites"))
