"""csv_scan against Python's csv module and against itself at every chunk size: the scan that
decides whether DuckDB may read a file as it is, and how many records it must then account for."""

from __future__ import annotations

import csv
import io

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines import csv_scan
from pipelines.csv_tables import delimiter_of, header_line
from pipelines.errors import InputError

# Bytes that make CSV structure: a field character, delimiter, quote, line ends, a NUL.
TEXT = st.lists(st.sampled_from([b"a", b"a", b"7", b",", b'"', b"\n", b"\r\n", b"\r", b"\x00"]), max_size=60)


def write(tmp_path, data: bytes):
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    return path


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=TEXT, chunk=st.integers(min_value=1, max_value=12))
def test_the_verdict_does_not_depend_on_where_chunks_end(tmp_path, monkeypatch, parts, chunk):
    path = write(tmp_path, b"h,i\n" + b"".join(parts))
    monkeypatch.setattr(csv_scan, "CHUNK", 8 << 20)  # (the fixture lasts across examples)
    whole = csv_scan.layout(path, ",")
    monkeypatch.setattr(csv_scan, "CHUNK", chunk)
    split = csv_scan.layout(path, ",")
    # A chunk ending between CR and LF may call a clean file unclean (then it is only mended), never
    # the other way round; a clean verdict always comes with the same count.
    assert split == whole or (whole.clean and not split.clean)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=TEXT)
def test_a_clean_file_has_the_records_pythons_csv_reader_finds(tmp_path, parts):
    data = b"h,i\n" + b"".join(parts)
    found = csv_scan.layout(write(tmp_path, data), ",")
    if found.clean:
        rows = list(csv.reader(io.StringIO(data.decode(), newline="")))
        assert found.records == len(rows) - 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=TEXT)
def test_mending_accounts_for_every_record_and_leaves_a_clean_file(tmp_path, parts):
    data = b"h,i\n" + b"".join(parts)
    source = write(tmp_path, data)
    mended = csv_scan.mend(source, tmp_path / "m.csv", ",")
    again = csv_scan.mend(tmp_path / "m.csv", tmp_path / "m2.csv", ",")  # the copy needs no mending
    assert again.rejects == [] and again.records == mended.records
    assert (tmp_path / "m2.csv").read_bytes() == (tmp_path / "m.csv").read_bytes()
    lines = mended.lines + [line for line, *_ in mended.rejects]
    assert sorted(lines) == sorted(set(lines))  # every record (copied or left out) once, by its first line
    found = csv_scan.layout(source, ",")
    if found.clean:
        assert mended.records + len(mended.rejects) == found.records


@pytest.mark.parametrize(
    ("data", "lines", "rejects"),
    [
        (b'h,i\n1,x\n2,"y\n3,z\n', [1, 2, 4], [(3, "UNTERMINATED QUOTE")]),
        (b"\nh,i\n\n1,x\n", [2, 4], []),
        (b"h,i\r1,x\r2,y\r", [1, 2, 3], []),
        (b"h,i\r\r\n1,x\r\r\n", [1, 2], []),
        (b"h,i\n1,x\r y\n2,y", [1, 3], [(2, "STRAY CARRIAGE RETURN")]),
        (b'h,i\n1,"x\ny"\n\n2,y\n', [1, 2, 5], []),
    ],
    ids=["unterminated", "blank-lines", "cr-only", "cr-cr-lf", "stray-cr", "quoted-newline"],
)
def test_mended_records_keep_their_own_lines(tmp_path, data, lines, rejects):
    mended = csv_scan.mend(write(tmp_path, data), tmp_path / "m.csv", ",")
    assert mended.lines == lines
    assert [(line, kind) for line, kind, _ in mended.rejects] == rejects


def test_a_record_too_long_is_left_out_by_its_line(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_scan, "MAX_RECORD_BYTES", 100)
    mended = csv_scan.mend(
        write(tmp_path, b"h,i\n1,x\n2," + b"y" * 200 + b"\n3,z\n"), tmp_path / "m.csv", ","
    )
    assert mended.lines == [1, 2, 4] and [r[:2] for r in mended.rejects] == [(3, "RECORD TOO LONG")]


def test_an_encoding_is_read_into_utf8(tmp_path):
    data = "h,i\n1,Hämoglobin µmol/L €\n".encode("cp1252") + b"2,\x81\n"  # 0x81: no cp1252 character
    mended = csv_scan.mend(write(tmp_path, data), tmp_path / "m.csv", ",", "cp1252")
    assert (tmp_path / "m.csv").read_text(encoding="utf-8") == "h,i\n1,Hämoglobin µmol/L €\n"
    assert [r[:2] for r in mended.rejects] == [(3, "INVALID ENCODING")]


@pytest.mark.parametrize("chunk", range(1, 13))
def test_a_quote_inside_a_field_is_seen_wherever_a_chunk_ends(tmp_path, monkeypatch, chunk):
    # 'a"a' is a stray quote (the file must be mended); with 5-byte chunks its quote opened the
    # second chunk and its letter 'a' before it was the first chunk's: the file was called clean.
    path = write(tmp_path, b'h,i\naa\r\na"a"')
    monkeypatch.setattr(csv_scan, "CHUNK", chunk)
    assert csv_scan.layout(path, ",") == csv_scan.Layout(False)


# Field text with the quotes real exports misplace: an inch mark, a quote ending a field, spaces
# around quotes, quoted line breaks.
FIELDS = st.lists(st.sampled_from([b"a", b"7", b" ", b",", b";", b"\t", b'"', b"\n", b"\r\n"]), max_size=40)


def reader_records(path, delimiter: str = ",") -> int:
    """Records DuckDB's reader finds in the file, with the options the load uses (csv_tables.reader):
    rows read plus lines rejected."""
    with duckdb.connect() as con:
        rows = con.execute(  # every column: a count(*) alone would not parse the fields
            "SELECT * FROM read_csv($p, header = true, auto_detect = false, delim = $d, "
            "quote = '\"', escape = '\"', columns = {'h': 'VARCHAR', 'i': 'VARCHAR'}, "
            "strict_mode = true, store_rejects = true)",
            {"p": str(path), "d": delimiter},
        ).fetchall()
        tables = con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        if ("reject_errors",) not in tables:
            return len(rows)  # (no data line: no rejects table)
        return len(rows) + con.execute("SELECT count(DISTINCT line) FROM reject_errors").fetchone()[0]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=FIELDS, delimiter=st.sampled_from([",", ";", "\t"]))
def test_the_reader_reads_as_many_records_as_the_scan_and_the_mending_count(tmp_path, parts, delimiter):
    # The run stops (exit 3, nothing loaded) when the reader's records and the scan's differ: a file
    # called clean must hold what the reader reads, and a mended copy the records mending kept. The
    # other delimiters in the text are characters to the reader.
    data = f"h{delimiter}i\n".encode() + b"".join(parts) + b"\n"
    source = write(tmp_path, data)
    found = csv_scan.layout(source, delimiter)
    if found.clean:
        assert reader_records(source, delimiter) == found.records
    mended = csv_scan.mend(source, tmp_path / "m.csv", delimiter)
    assert reader_records(tmp_path / "m.csv", delimiter) == mended.records


def test_a_quoted_field_open_across_a_chunk_without_a_quote_is_not_clean(tmp_path, monkeypatch):
    # The second chunk's line break is inside the field the first chunk opened, though the chunk
    # holds no quote of its own: counted as a record's end, the file was clean with a record too many.
    path = write(tmp_path, b'h,i\n1,"aaaa\nbbbbbb"\n2,yy\n')
    monkeypatch.setattr(csv_scan, "CHUNK", 8)
    assert csv_scan.layout(path, ",") == csv_scan.Layout(False)


@pytest.mark.parametrize("data", [b'id,"value"\t\n1,a\n2,b\n', b'"h"x;i\n1;a\n2;b\n', b"h,i\r1,x\n2,y\n"])
def test_a_header_the_mending_cannot_keep_refuses_the_file(tmp_path, data):
    # Left out, the header's place went to the first data record, read as the header and lost unseen.
    path = write(tmp_path, data)
    with pytest.raises(InputError, match="line 1, the header, cannot be read"):
        csv_scan.mend(path, tmp_path / "m.csv", delimiter_of(header_line(path)))  # as generic.py reads it


def test_quotes_are_judged_by_the_delimiter_the_reader_uses_not_by_the_header(tmp_path):
    # MIMIC-IV is read at commas whatever its header holds (formats/mimic.py). Judged by the tabs
    # its header has more of, the quote after a comma was a character and the quoted line break
    # split the record in two: a record more than the reader reads at commas.
    path = write(tmp_path, b'h,i\t\t\n1,"a;\tb\nc"\n2,d\n')
    assert csv_scan.layout(path, ",") == csv_scan.Layout(False)  # a quoted line break: mended
    mended = csv_scan.mend(path, tmp_path / "m.csv", ",")
    assert mended.lines == [1, 2, 4] and mended.rejects == []
    assert reader_records(tmp_path / "m.csv", ",") == mended.records == csv_scan.count_records(path, ",") == 2
