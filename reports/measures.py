"""The monthly measures as files (issue #19): `measures.csv` with exact counts, for the clinic's
analysts, and `measures_shared.csv` under disclosure control, for anyone outside the clinic.

The rule for a shared file (`shared_rows`), per check, month and breakdown (a row of groups with its
total), with t = small_count_threshold as `banded` puts it in force (7, 12, 17, ...):
1. primary: a group whose flagged or not-flagged count is from 1 to t is suppressed (both its counts
   blank); a total that small suppresses the whole month of that check, groups and all;
2. secondary: while the suppressed groups of a row, taken together, could be read off the total (one
   group alone, or their flagged or not-flagged counts summing to 1 to t), the next smallest group is
   suppressed too; a group suppressed in one breakdown is suppressed in every other breakdown of the
   month where a group has the same counts (maybe the same patients: 'unknown'), and so on
   (`suppress_month`);
3. rounding: every published count is rounded to the nearest multiple of `base` (5), rates are
   computed from the rounded counts. So neither a row's total less its visible groups, nor tonight's
   file less last night's (a suppressed group that grows past t tonight, a late record moving a
   total by one) gives back a suppressed count: each published figure is only known to within ±2.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from itertools import groupby

import duckdb

from reports.charts import MonthPoint, SitePoint

HEADER = ("check_id", "month_end", "breakdown", "group", "population", "flagged", "rate")
SHARED_HEADER = (*HEADER, "suppressed")
ROUNDING_BASE = 5


@dataclass(frozen=True)
class Cell:
    """One measure: a check's month, total or group of a breakdown, with exact counts."""

    check_id: str
    month_end: date
    breakdown: str
    group: str
    population: int
    flagged: int
    suppressed: bool = False

    @property
    def rate(self) -> float | None:
        """Flagged share of the population (None when nobody is in it)."""
        return self.flagged / self.population if self.population else None


def read_cells(con: duckdb.DuckDBPyConnection, run_id: str, as_of: date, months: int) -> list[Cell]:
    """The measures of the `months` latest month-ends on or before `as_of`, as run `run_id` saw them
    (measures_of: a later run's re-evaluation never changes an old run's files), sorted."""
    rows = con.execute(
        """
        WITH seen AS (SELECT * FROM measures_of($run)),
        wanted AS (
            SELECT DISTINCT month_end FROM seen WHERE month_end <= $as_of
            ORDER BY month_end DESC LIMIT $n
        )
        SELECT check_id, month_end, breakdown, group_value, population, flagged
        FROM seen JOIN wanted USING (month_end)
        ORDER BY check_id, month_end, breakdown <> 'total', breakdown, group_value
        """,
        {"run": run_id, "as_of": as_of, "n": months},
    ).fetchall()
    return [Cell(*row) for row in rows]


def _small(count: int, threshold: int) -> bool:
    return 0 < count <= threshold


def _disclosive(cells: Sequence[Cell], threshold: int) -> bool:
    """True when a set of cells, taken together, gives away a small number: its flagged or its
    not-flagged patients count from 1 to the threshold."""
    flagged = sum(c.flagged for c in cells)
    others = sum(c.population - c.flagged for c in cells)
    return _small(flagged, threshold) or _small(others, threshold)


def suppress_row(total: Cell, groups: Sequence[Cell], threshold: int) -> tuple[Cell, list[Cell]]:
    """Steps 1 and 2 of the rule for one row: the total and its groups, marked suppressed (a month
    of one breakdown, `suppress_month`)."""
    total, (suppressed,) = suppress_month(total, [list(groups)], threshold)
    return total, suppressed


def _primary(groups: Sequence[Cell], threshold: int) -> set[int]:
    return {i for i, g in enumerate(groups) if _disclosive([g], threshold)}


def _secondary(groups: Sequence[Cell], hidden: set[int], threshold: int) -> set[int]:
    """Step 2: `hidden` grown by the next smallest groups until the hidden ones, together, are no
    longer read off the total (or every group is hidden)."""
    hidden = set(hidden)
    by_size = sorted(range(len(groups)), key=lambda i: (groups[i].population, groups[i].group))
    while hidden and len(hidden) < len(groups):
        chosen = [groups[i] for i in hidden]
        if len(hidden) > 1 and not _disclosive(chosen, threshold):
            break
        hidden.add(next(i for i in by_size if i not in hidden))
    return hidden


def suppress_month(
    total: Cell, rows: Sequence[Sequence[Cell]], threshold: int
) -> tuple[Cell, list[list[Cell]]]:
    """Steps 1 and 2 for a month: a disclosive total hides the month, groups and all; else step 2
    across its breakdowns: a group hidden in one is hidden in every other where a group has the
    same counts, and that row's secondary suppression runs again, until nothing changes. The same
    counts may be the same patients (the 'unknown' group of patients with no row in patients.csv is
    in every breakdown; a site with one clinician): shown in one breakdown, it would give back the
    group it was hidden with in the other (the total less the rest, at the edges of the rounding)."""
    if _disclosive([total], threshold):
        return replace(total, suppressed=True), [[replace(g, suppressed=True) for g in row] for row in rows]
    hidden = [_secondary(groups, _primary(groups, threshold), threshold) for groups in rows]
    while True:
        secret = [{_counts(groups[i]) for i in h} for groups, h in zip(rows, hidden, strict=True)]
        grown = [
            _secondary(
                groups, h | {i for i, g in enumerate(groups) if _hidden_elsewhere(g, secret, n)}, threshold
            )
            for n, (groups, h) in enumerate(zip(rows, hidden, strict=True))
        ]
        if grown == hidden:
            break
        hidden = grown
    return total, [
        [replace(g, suppressed=i in h) for i, g in enumerate(groups)]
        for groups, h in zip(rows, hidden, strict=True)
    ]


def _counts(cell: Cell) -> tuple[int, int]:
    return cell.population, cell.flagged


def _hidden_elsewhere(cell: Cell, secret: Sequence[set[tuple[int, int]]], row: int) -> bool:
    """A group of another breakdown with the same counts is hidden (within one breakdown the groups
    are different patients)."""
    return any(_counts(cell) in counts for n, counts in enumerate(secret) if n != row)


def round_to(count: int, base: int = ROUNDING_BASE) -> int:
    """To the nearest multiple of `base`, halves up (12 -> 10, 13 -> 15)."""
    return (count + base // 2) // base * base


SMALLEST_BAND = 7  # "1–7": a band split in two banded parts (exceptions, after them) keeps 2..7 open


def banded(threshold: int, base: int = ROUNDING_BASE) -> int:
    """The threshold in force: 0 stays 0 (exact counts, for the clinic's own email); any other is
    raised to the smallest t from SMALLEST_BAND up whose first rounded value is a whole one (t + 1
    is the lowest count rounding to its multiple of `base`: 7, 12, 17, ... for 5). Otherwise the
    counts just above the band are pinned: with 10, a "10" is 11 or 12, and "—" flagged of "10"
    leaves 1 not flagged; with 5, a "5" is 6 or 7; with 1 or 2, a count of 1 or 2 rounds to "0"
    and a "1–2" split in two "1–2" is 2."""
    if not threshold or base <= 1:
        return threshold
    t = max(threshold, SMALLEST_BAND)
    return t + (-(t + 1 + base // 2)) % base


def published(count: int, threshold: int, base: int = ROUNDING_BASE) -> str:
    """One count as a file or email meant for sharing shows it (threshold 0: exact, for the clinic).
    0 stays 0; 1 to `threshold` (`banded`) is the band "1–t"; anything larger is rounded to `base`
    (step 3), so a count shown is only known to within ±2 and no difference of shown counts is exact."""
    threshold = banded(threshold, base)
    if not threshold or count == 0:
        return f"{count:,}"
    return f"1–{threshold}" if _small(count, threshold) else f"{round_to(count, base):,}"


def disclosive_total(population: int, flagged: int, threshold: int) -> bool:
    """Step 1 for one total: its flagged or its not-flagged count is from 1 to the threshold."""
    threshold = banded(threshold)
    return threshold > 0 and _disclosive([Cell("", date.min, "total", "", population, flagged)], threshold)


def shared_rows(cells: Iterable[Cell], threshold: int, base: int = ROUNDING_BASE) -> list[list]:
    """measures_shared.csv's rows: the rule above applied to every check, month and breakdown, with
    the threshold in force (`banded`); the file is for sharing outside the clinic, so a threshold
    of 0 (exact counts in the clinic's own email) is no threshold here: the smallest band applies."""
    threshold = banded(max(threshold, 1), base)
    rows = []
    for _, month in groupby(cells, key=lambda c: (c.check_id, c.month_end)):
        month_cells = list(month)
        total = next(c for c in month_cells if c.breakdown == "total")
        breakdowns = [
            list(row)
            for _, row in groupby(
                (c for c in month_cells if c.breakdown != "total"), key=lambda c: c.breakdown
            )
        ]
        total, breakdowns = suppress_month(total, breakdowns, threshold)
        rows.append(_shared(total, base))
        rows.extend(_shared(g, base) for groups in breakdowns for g in groups)
    return rows


def _shared(cell: Cell, base: int) -> list:
    head = [cell.check_id, cell.month_end.isoformat(), cell.breakdown, cell.group]
    if cell.suppressed:
        return [*head, "", "", "", "true"]
    population, flagged = round_to(cell.population, base), round_to(cell.flagged, base)
    rate = round(flagged / population, 4) if population else ""
    return [*head, population, flagged, rate, "false"]


def exact_rows(cells: Iterable[Cell]) -> list[list]:
    """measures.csv's rows: exact counts, for the clinic's analysts."""
    return [
        [
            c.check_id,
            c.month_end.isoformat(),
            c.breakdown,
            c.group,
            c.population,
            c.flagged,
            "" if c.rate is None else round(c.rate, 4),
        ]
        for c in cells
    ]


def measures_tables(
    con: duckdb.DuckDBPyConnection, run_id: str, as_of: date, months: int, threshold: int
) -> dict[str, tuple[tuple[str, ...], list[list]]]:
    """measures.csv (exact) and measures_shared.csv (disclosure control): file name -> header, rows."""
    cells = read_cells(con, run_id, as_of, months)
    return {
        "measures.csv": (HEADER, exact_rows(cells)),
        "measures_shared.csv": (SHARED_HEADER, shared_rows(cells, threshold)),
    }


def monthly_points(
    con: duckdb.DuckDBPyConnection, run_id: str, check_id: str, as_of: date, months: int
) -> tuple[MonthPoint, ...]:
    """A check's totals for the `months` latest month-ends on or before `as_of` as run `run_id` saw
    them, oldest first."""
    rows = con.execute(
        """
        SELECT month_end, population, flagged FROM (
            SELECT month_end, population, flagged FROM measures_of($run)
            WHERE check_id = $c AND breakdown = 'total' AND month_end <= $as_of
            ORDER BY month_end DESC LIMIT $n)
        ORDER BY month_end
        """,
        {"run": run_id, "c": check_id, "as_of": as_of, "n": months},
    ).fetchall()
    return tuple(MonthPoint(*row) for row in rows)


def site_points(
    con: duckdb.DuckDBPyConnection, run_id: str, check_id: str, as_of: date
) -> tuple[SitePoint, ...]:
    """Each known site's counts at the latest month-end on or before `as_of`, as run `run_id` saw them
    (none: no site data)."""
    rows = con.execute(
        """
        WITH seen AS (SELECT * FROM measures_of($run) WHERE check_id = $c AND month_end <= $as_of)
        SELECT group_value, population, flagged FROM seen
        WHERE breakdown = 'site' AND group_value <> 'unknown'
          AND month_end = (SELECT max(month_end) FROM seen)
        ORDER BY group_value
        """,
        {"run": run_id, "c": check_id, "as_of": as_of},
    ).fetchall()
    return tuple(SitePoint(*row) for row in rows)
