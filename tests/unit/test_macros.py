"""The SQL helpers in pipelines/sql/macros.sql behave like the plain expressions they stand for."""

from __future__ import annotations

from datetime import date

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


# export_timestamp: ISO 8601 under every date_order; numeric dates with a four-digit year only under
# day-first or month-first, read in that order; a two-digit year, an impossible date or mixed
# separators never.
DATES = [
    # (text, iso, day-first, month-first)
    ("2026-03-05", "2026-03-05 00:00:00", "2026-03-05 00:00:00", "2026-03-05 00:00:00"),
    ("2026-03-05T14:05:00Z", "2026-03-05 14:05:00", "2026-03-05 14:05:00", "2026-03-05 14:05:00"),
    ("05/03/2026", None, "2026-03-05 00:00:00", "2026-05-03 00:00:00"),
    (" 5/3/2026 ", None, "2026-03-05 00:00:00", "2026-05-03 00:00:00"),
    ("31.05.2026", None, "2026-05-31 00:00:00", None),
    ("05-31-2026", None, None, "2026-05-31 00:00:00"),
    ("31/05/2026 14:05", None, "2026-05-31 14:05:00", None),
    ("31/05/2026 9:05:07", None, "2026-05-31 09:05:07", None),
    ("05/31/2026 2:05 PM", None, None, "2026-05-31 14:05:00"),
    ("05/31/2026 12:05:09 am", None, None, "2026-05-31 00:05:09"),
    # a fraction of a second, as SQL Server and .NET write a datetime; the dots of a date are no fraction
    ("31/05/2026 14:05:00.000", None, "2026-05-31 14:05:00", None),
    ("31.05.2026 14:05:07.25", None, "2026-05-31 14:05:07.25", None),
    ("5/31/2026 2:05:07.123 PM", None, None, "2026-05-31 14:05:07.123"),
    ("31/05/2026 14:05:00.1234567", None, None, None),  # beyond microseconds: not read
    ("31/05/26", None, None, None),  # two-digit year: the century is a guess
    ("30/02/2026", None, None, None),  # no such day
    ("05/03-2026", None, None, None),  # mixed separators
    ("2026/03/05", None, None, None),  # year first, not ISO: read by neither order
    ("31/05/2026 25:00", None, None, None),
    ("31/05/2026T14:05", None, None, None),
]


@pytest.mark.parametrize(("text", "iso", "day_first", "month_first"), DATES, ids=[d[0] for d in DATES])
def test_export_timestamp_reads_the_configured_date_order(con, text, iso, day_first, month_first):
    read = {}
    for order in ("iso", "day-first", "month-first"):
        con.execute("SET VARIABLE date_order = $o", {"o": order})
        value = con.execute("SELECT CAST(export_timestamp($v) AS VARCHAR)", {"v": text}).fetchall()[0][0]
        read[order] = value
    con.execute("RESET VARIABLE date_order")
    assert read == {"iso": iso, "day-first": day_first, "month-first": month_first}


def test_export_timestamp_without_the_variable_reads_iso_only(con):
    read = con.execute("SELECT export_timestamp('05/03/2026'), export_date('2026-03-05')").fetchall()
    assert read == [(None, date(2026, 3, 5))]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("P0001", "P0001"),
        ("P0001\t", "P0001"),
        ("\tP0001", "P0001"),
        ("\ufeffP0001", "P0001"),  # a byte-order mark from two Excel files joined into one
        ("P0001\u200b", "P0001"),  # zero-width space
        ("\u2060P0001\u00a0", "P0001"),  # word joiner, no-break space
        (" P0001 \r", "P0001"),
        ("P0001\x7f", "P0001"),  # DEL, a control character the ASCII fast path must not let through
        ("\x7fP0001", "P0001"),
        ("P 0001", "P 0001"),  # inside, the id is as sent
        ("P\t0001", "P\t0001"),
        ("\t\u200b", None),
        ("", None),
        ("Müller-1", "Müller-1"),
    ],
    ids=repr,
)
def test_clean_id_strips_what_no_eye_sees_at_either_end(con, value, expected):
    assert con.execute("SELECT clean_id($v)", {"v": value}).fetchall()[0][0] == expected


@pytest.mark.parametrize("value", VALUES, ids=[repr(v) for v in VALUES])
def test_clean_id_is_clean_where_clean_strips_all_there_is(con, value):
    got, cleaned = con.execute("SELECT clean_id($v), clean($v)", {"v": value}).fetchall()[0]
    assert got == (cleaned.strip("\t") or None if cleaned is not None else None)
