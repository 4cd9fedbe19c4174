"""measures_shared.csv across the breakdowns of one month (#19 outcome 4). The 'unknown' group is
the same patients in every breakdown when they have no row in patients.csv, so a group hidden as
secondary in one breakdown and shown in another gave the hidden primary back: the total less the
visible group less that 'unknown' (each rounded) left one possible value. Reproduced with the CLI
(nsaid_kidney_disease; 20 patients aged 40-64, 1 flagged; 40 aged 65-74, 18 flagged; 20 patients
without a patients.csv row, 8 flagged)."""

from __future__ import annotations

from datetime import date
from itertools import product

from reports.measures import Cell, shared_rows

M = date(2026, 10, 31)
T = 7
CELLS = [
    ("total", "", 80, 27),
    ("age_band", "40-64", 20, 1),
    ("age_band", "65-74", 40, 18),
    ("age_band", "unknown", 20, 8),
    ("sex", "F", 30, 10),
    ("sex", "M", 30, 9),
    ("sex", "unknown", 20, 8),
]


def shown(cells: list[tuple[str, str, int, int]]) -> dict[tuple[str, str], int | None]:
    """(breakdown, group) -> published flagged count, None when suppressed."""
    rows = shared_rows([Cell("nsaid_kidney_disease", M, *c) for c in cells], T)
    return {(r[2], r[3]): None if r[7] == "true" else r[5] for r in rows}


def around(value: int) -> range:
    return range(max(value - 2, 0), value + 3)


def feasible_young(published: dict[tuple[str, str], int | None]) -> set[int]:
    """What an outsider can say about 40-64's flagged count, knowing that 'unknown' is the same
    patients in both breakdowns: every exact value consistent with the published (rounded) counts,
    with a suppressed 'unknown' anywhere from 0 to the total."""
    total = published[("total", "")]
    older = published[("age_band", "65-74")]
    unknown = published[("age_band", "unknown")] or published[("sex", "unknown")]
    unknowns = around(unknown) if unknown is not None else range(total + 3)
    return {
        t - o - u
        for t, o, u in product(around(total), around(older), unknowns)
        if 1 <= t - o - u <= T  # hidden as small: 1 to 7
    }


def test_the_unknown_group_hidden_in_one_breakdown_is_hidden_in_every_other():
    published = shown(CELLS)
    assert published[("age_band", "40-64")] is None
    assert published[("age_band", "unknown")] is None
    assert published[("sex", "unknown")] is None
    assert len(feasible_young(published)) > 1


def test_the_sex_breakdown_keeps_a_second_hidden_group_beside_it():
    published = shown(CELLS)
    hidden = [g for (b, g), v in published.items() if b == "sex" and v is None]
    assert len(hidden) >= 2  # 'unknown' alone hidden would be the total less F and M


def test_a_group_is_left_alone_when_nothing_in_its_month_is_hidden():
    cells = [("total", "", 80, 30), ("age_band", "40-64", 40, 15), ("age_band", "unknown", 40, 15)]
    cells += [("sex", "F", 40, 15), ("sex", "unknown", 40, 15)]
    assert None not in shown(cells).values()


def test_groups_of_one_breakdown_with_the_same_counts_are_not_hidden_for_it():
    """Within a breakdown the groups are different patients: a site hidden as the second of a pair
    does not hide another site that happens to have its counts."""
    cells = [("total", "", 180, 43), ("site", "A", 30, 3), ("site", "B", 50, 20), ("site", "C", 50, 20)]
    cells += [("site", "D", 50, 0)]
    published = shown(cells)
    assert [published[("site", g)] is None for g in "ABCD"] == [True, True, False, False]
