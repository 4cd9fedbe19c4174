"""reports/files.py: the cells write_csv writes are safe_cell's, whatever decides them.

write_csv decides the common kinds of cell inline (`_safe_cells`: None, int, float, str) and hands
every other to safe_cell; both must give the same cell for every value, so the spreadsheet-formula
guard cannot differ between the fast path and the rule it stands for.
"""

from __future__ import annotations

import csv
import enum
from datetime import date, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from reports.files import _safe_cells, safe_cell, write_csv


class Level(enum.IntEnum):
    HIGH = 2


class Text(str):
    """A str subclass (as markupsafe's Markup is): decided by safe_cell, not inline."""


class Posing:
    """A value whose __class__ claims int (isinstance believes it): its type decides, so its text is
    judged as any other's."""

    __class__ = int

    def __str__(self) -> str:
        return "=w"


def by_rule(row: list) -> list:
    """What write_csv wrote before the inline path: None as is, every other cell through safe_cell."""
    return [v if v is None else safe_cell(v) for v in row]


CELLS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(),
    st.text(alphabet="=+-@\t\r '0123456789aé", max_size=4),
    st.dates(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.sampled_from([Level.HIGH, Text("=1+1"), Text("plain"), ["=a"], datetime(2026, 1, 2, 3, 4), Posing()]),
)


@given(st.lists(CELLS, max_size=12))
def test_every_cell_is_the_one_safe_cell_gives(row):
    assert _safe_cells(row) == by_rule(row)


def test_named_cells():
    row = ["=HYPERLINK(\"x\")", "-3", -3, 4.5, True, False, None, "", "+44 20", "@SUM(A1)", "\tx",
           "\rx", "plain", Text("=1"), date(2026, 1, 2), Decimal("-1.5"), Level.HIGH, Posing()]  # fmt: skip
    assert _safe_cells(row) == [
        "'=HYPERLINK(\"x\")", "'-3", -3, 4.5, "yes", "no", None, "", "'+44 20", "'@SUM(A1)", "'\tx",
        "'\rx", "plain", "'=1", "2026-01-02", "'-1.5", "2", "'=w",
    ]  # fmt: skip


def test_write_csv_writes_the_safe_cells(tmp_path):
    path = write_csv(tmp_path / "w.csv", ["a", "b", "c"], [["=1", -2, None], [True, "x,y", 0.5]])
    with path.open(encoding="utf-8-sig", newline="") as handle:
        assert list(csv.reader(handle)) == [["a", "b", "c"], ["'=1", "-2", ""], ["yes", "x,y", "0.5"]]
    assert path.read_bytes().startswith(b"\xef\xbb\xbfa,b,c\r\n")
