"""small_count_threshold below what rounding to 5 needs (#19 outcome 4): with a threshold of 0 (the
shared file still rounds), 1 or 2, a count of 1 or 2 rounded to the nearest 5 would be published as
"0", in the email and in measures_shared.csv: a flagged patient reported as none, and "0", which
readers take as exact, no longer is. Such counts are banded or suppressed like any small count."""

from __future__ import annotations

from datetime import date

import pytest

from reports.email_body import RowCounts, row_counts
from reports.measures import Cell, published, shared_rows

M = date(2026, 10, 31)


def cell(group: str, population: int, flagged: int, breakdown: str = "age_band") -> Cell:
    return Cell("nsaid_kidney_disease", M, breakdown, group, population, flagged)


@pytest.mark.parametrize("threshold", [1, 2])
@pytest.mark.parametrize("count", [1, 2])
def test_a_small_nonzero_count_is_never_published_as_zero(threshold, count):
    assert published(count, threshold) not in ("0", "")
    assert published(count, threshold).startswith("1–")


def test_the_band_covers_what_rounding_would_turn_into_zero():
    assert published(2, 1) == "1–2" and published(1, 2) == "1–2"
    assert published(3, 1) == "5" and published(8, 7) == "10" and published(7, 7) == "1–7"
    assert published(2, 0) == "2"  # 0: exact counts (the email for clinic staff)


@pytest.mark.parametrize("threshold", [0, 1, 2])
def test_a_group_of_two_is_not_published_as_an_empty_group(threshold):
    """nsaid_kidney_disease on the sample clinic, threshold 1: age 40-64 held 2 patients, none
    flagged, and measures_shared.csv said 0 of 0."""
    cells = [
        cell("", 16, 10, "total"),
        cell("40-64", 2, 0),
        cell("65-74", 12, 8),
        cell("75-84", 2, 2),
    ]
    rows = {r[3]: r for r in shared_rows(cells, threshold)}
    for group in ("40-64", "75-84"):
        assert rows[group][7] == "true", rows[group]


def test_an_email_row_with_two_flagged_does_not_say_none():
    counts = RowCounts(2, 40, 2, 2, 2, None, 0, 2)
    row = row_counts("NSAID in CKD", counts, threshold=1)
    assert row.flagged == "1–2" and row.high_priority == "1–2" and row.new == "1–2"
