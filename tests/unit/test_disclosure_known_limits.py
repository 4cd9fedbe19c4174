"""What measures_shared.csv's rule (reports/measures.py) does not yet withstand (#19 outcome 4), kept
as strict xfails: each passes the day the rule is changed to withstand it (then drop the marker).

1. A night where one flagged patient joins a group whose 7 flagged were suppressed: tonight the group
   is shown (rounded "10", so 8 to 12), the others unchanged and not small, so last night's hiding
   was the group's own (primary: 1 to 7 flagged), and 8 to 12 less one is 7: exactly 7. Any rule
   that decides from the exact count alone has that edge (the email's "1–7" then "10" too); only
   perturbation the reader cannot undo (a cell key from a secret per-patient key) removes it.
2. Clinicians nested in sites, which a reader may know: a clinician hidden as small equals its
   site less its colleague, and the site's own interval is narrowed by the site row summing to the
   total; at the edges of the rounding one value is left.
3. The 'unknown' group, the same patients in every breakdown, hidden in both (suppress_month): the
   age row's hidden less the sex row's hidden is the sex row's visible less the age row's, 'unknown'
   cancelling; at the edges of the rounding that pins a hidden group."""

from __future__ import annotations

from datetime import date
from itertools import product

import pytest

from reports.measures import Cell, shared_rows

M = date(2026, 10, 31)
T = 7


def shown(cells: list[tuple[str, str, int, int]]) -> dict[str, tuple[int, int] | None]:
    rows = shared_rows([Cell("nsaid_kidney_disease", M, *c) for c in cells], T)
    return {r[3]: None if r[7] == "true" else (r[4], r[5]) for r in rows}


def around(value: int) -> range:
    return range(max(value - 2, 0), value + 3)


@pytest.mark.xfail(strict=True, reason="a suppressed 7 that becomes 8 is recovered (known limit 1)")
def test_a_group_crossing_the_threshold_by_one_patient_does_not_give_back_last_nights_count():
    def night(a: tuple[int, int]) -> list[tuple[str, str, int, int]]:
        groups = {"A": a, "B": (50, 20), "C": (400, 100)}
        total = (sum(p for p, _ in groups.values()), sum(f for _, f in groups.values()))
        return [("total", "", *total), *(("site", g, *pf) for g, pf in groups.items())]

    first, second = shown(night((30, 7))), shown(night((31, 8)))
    assert first["A"] is None and first["B"] is None and second["A"] and second["B"]
    # B is shown tonight, unchanged and not small: last night's hiding was A's own (primary)
    flagged = {f - 1 for f in around(second["A"][1])}
    rest = {p - f for p, f in product(around(second["A"][0]), around(second["A"][1]))}
    small_flagged = {f for f in flagged if 1 <= f <= T}
    assert not any(1 <= r <= T for r in rest)  # so it was the flagged count that was small
    assert len(small_flagged) > 1, f"last night's flagged count recovered: {small_flagged}"


@pytest.mark.xfail(strict=True, reason="a nested clinician is recovered at the rounding's edges (2)")
def test_a_clinician_nested_in_a_site_is_not_recovered_from_the_site_rows():
    pops = {"d1": 40, "d2": 41, "d3": 42, "d4": 43}
    flagged = {"d1": 0, "d2": 8, "d3": 1, "d4": 8}  # d1, d2 at S1; d3, d4 at S2
    cells = [("total", "", sum(pops.values()), sum(flagged.values()))]
    cells += [("clinician", d, pops[d], flagged[d]) for d in pops]
    cells += [("site", "S1", 81, 8), ("site", "S2", 85, 9)]
    published = shown(cells)
    assert published["d3"] is None and published["d4"] is not None
    total, s1, d4 = published[""][1], published["S1"][1], published["d4"][1]
    d3 = {t - a - b for t, a, b in product(around(total), around(s1), around(d4)) if 1 <= t - a - b <= T}
    assert len(d3) > 1, f"d3 recovered: {d3}"


@pytest.mark.xfail(strict=True, reason="'unknown' cancels between breakdowns (known limit 3)")
def test_the_unknown_group_hidden_in_two_breakdowns_does_not_link_their_hidden_groups():
    cells = [("total", "", 80, 26), ("age_band", "40-64", 20, 12), ("age_band", "65-74", 40, 7)]
    cells += [("age_band", "unknown", 20, 7), ("sex", "F", 30, 1), ("sex", "M", 30, 18)]
    cells += [("sex", "unknown", 20, 7)]
    rows = shared_rows([Cell("nsaid_kidney_disease", M, *c) for c in cells], T)
    published = {(r[2], r[3]): None if r[7] == "true" else r[5] for r in rows}
    hidden = {k for k, v in published.items() if v is None}
    assert hidden == {("age_band", "65-74"), ("age_band", "unknown"), ("sex", "F"), ("sex", "unknown")}
    # 65-74 is hidden as small (had only 'unknown' been small, 40-64, smaller, would be hidden with
    # it), so from 1 to 7; F holds at least 1 flagged (with none, 'unknown' would be small and F with
    # it would leave M's row readable, so M would be hidden too); 65-74 less F = M less 40-64, the
    # 'unknown' patients cancelling
    young, men = published[("age_band", "40-64")], published[("sex", "M")]
    differences = {m - y for m, y in product(around(men), around(young))}
    older = {d + f for d in differences for f in range(1, 31) if 1 <= d + f <= T}
    assert len(older) > 1, f"65-74 recovered: {older}"
