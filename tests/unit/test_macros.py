"""The SQL helpers in pipelines/sql/macros.sql behave like the plain expressions they stand for."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.db import sql_file

# Every character DuckDB's trim() strips, then values around them; tabs are not stripped by either.
UNICODE_SPACES = ["\u00a0", "\u1680", *(chr(c) for c in range(0x2000, 0x200B)), "\u202f", "\u205f", "\u3000"]
VALUES = [
    "",
    " ",
    "a",
    " a",
    "a ",
    "  a b  ",
    "\ta\t",
    "é",
    " é ",
    "Müller",
    "2026-10-01",
    " 4.1 ",
    "4.1",
    *UNICODE_SPACES,
    *(f"{s}4.1{s}" for s in UNICODE_SPACES),
    *(f"2026-10-01{s}" for s in UNICODE_SPACES),
    *(f"{s}P1" for s in UNICODE_SPACES),
]


@pytest.fixture(scope="module")
def con():
    with duckdb.connect() as connection:
        connection.execute(sql_file("macros.sql"))
        yield connection


@pytest.mark.parametrize("value", VALUES, ids=[repr(v) for v in VALUES])
def test_clean_is_nullif_trim(con, value):
    row = con.execute("SELECT clean($v), nullif(trim($v), '')", {"v": value}).fetchall()[0]
    assert row[0] == row[1]


@pytest.mark.parametrize("value", ["2026-10-01", " 2026-10-01T08:30:00 ", "2026-10-01\u00a0", "\u2009"])
def test_iso_timestamp_reads_padded_dates(con, value):
    parsed = con.execute(
        "SELECT iso_timestamp($v), try_cast(trim($v) AS TIMESTAMP)", {"v": value}
    ).fetchall()[0]
    assert parsed[0] == parsed[1]
