"""Input-file faults through the real CLI (issue #17): every record is loaded, counted, skipped or
quarantined with its line, or the file is refused with exit 3 naming it; never a traceback, never a
record lost with exit 0, and never a line of the file in stderr or the log.

The files are shaped like the real exports (the generic contract, Synthea and OMOP CSVs, MIMIC-IV
.csv.gz, FHIR NDJSON) with the faults a spreadsheet, a truncated copy or a broken extract produce.
"""

from __future__ import annotations

import gzip
import json

import duckdb
import pytest

from tests.functional.test_format_fhir import RESOURCES, write_fhir
from tests.functional.test_format_mimic import write_mimic
from tests.functional.test_format_omop import write_cdm
from tests.functional.test_format_synthea import write_synthea
from tests.helpers import cli, run_args, table_counts, write_export

H = "patient_id,collected_at,loinc_code,test_name,value,unit"
GOOD = "P1,2026-01-02,2823-3,Potassium,4.1,mmol/L"
BAD_DATE = "P2,2026-02-30,2823-3,Potassium,4.2,mmol/L"  # no 30 February: rule `format`
TOO_MANY = "P3,2026-01-03,2823-3,Potassium,4.3,mmol/L,extra"
# A patient value that must never reach stderr or the log, however the file breaks.
SECRET = "ZZSECRET-4711"


def run(tmp_path, *extra: str, env: dict[str, str] | None = None) -> int:
    return cli(*run_args(tmp_path, tmp_path / "export", *extra), env=env)


def quarantined(tmp_path, file: str = "labs.csv") -> list[tuple]:
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        return con.execute(
            "SELECT line, rule FROM quarantine WHERE file = $f ORDER BY line, rule", {"f": file}
        ).fetchall()


def summary(tmp_path) -> dict:
    return json.loads((tmp_path / "out" / "summary.json").read_text())


def labs_file(tmp_path, data: bytes) -> None:
    export = write_export(tmp_path / "export")
    (export / "labs.csv").write_bytes(data)


def accounted(counts: dict) -> int:
    return counts["rows_loaded"] + counts["rows_duplicate"] + counts["rows_rejected"] + counts["rows_skipped"]


def test_an_unterminated_quote_quarantines_its_record_and_reading_goes_on(tmp_path):
    lines = [H, GOOD, GOOD, GOOD, 'P2,2026-01-02,2823-3,"Potassium,4.1,mmol/L', GOOD, GOOD, GOOD, BAD_DATE]
    labs_file(tmp_path, ("\n".join(lines) + "\n").encode())
    assert run(tmp_path, "--reject-threshold", "1") == 0
    assert quarantined(tmp_path) == [(5, "unterminated_quote"), (9, "format")]
    counts = summary(tmp_path)["files"]["labs"]
    assert counts["rows_read"] == 8 and counts["rows_loaded"] == 6 and accounted(counts) == 8


def test_a_quote_inside_an_unquoted_field_is_a_character_and_opens_nothing(tmp_path):
    # An inch mark in free text ('5" tube'), twice a few lines apart, in a file mended for a blank
    # line: as the reader, the mending takes only a quote starting a field as opening a quoted field.
    inch = 'P5,2026-01-05,2823-3,Potassium 5" tube,4.5,mmol/L'
    lines = [H, GOOD, "", 'P2,2026-01-02,2823-3,Potas"sium,4.2,mmol/L', GOOD, BAD_DATE, inch, TOO_MANY]
    labs_file(tmp_path, ("\n".join(lines) + "\n").encode())
    assert run(tmp_path, "--reject-threshold", "1") == 0
    assert quarantined(tmp_path) == [(6, "format"), (8, "too_many_columns")]
    counts = summary(tmp_path)["files"]["labs"]
    assert counts["rows_read"] == 6 and counts["rows_loaded"] == 4 and accounted(counts) == 6


def test_a_quoted_line_break_after_a_quote_inside_a_field_is_read_as_one_record(tmp_path):
    # Line 3's two quotes pair up by count, yet its second opens a field that line 4 closes.
    lines = [H, GOOD, 'P"3,2026-01-03,2823-3,"Potas\nsium",4.3,mmol/L', TOO_MANY, GOOD]
    labs_file(tmp_path, ("\n".join(lines) + "\n").encode())
    assert run(tmp_path, "--reject-threshold", "1") == 0
    assert quarantined(tmp_path) == [(5, "too_many_columns")]
    counts = summary(tmp_path)["files"]["labs"]
    assert counts["rows_read"] == 4 and counts["rows_loaded"] == 3


def test_a_quoted_line_break_opened_after_one_space_is_one_record(tmp_path):
    # The reader takes a quote after a delimiter and one space as opening a quoted field (', "Potas'):
    # the mending must too, or its copy holds a record more than the reader reads (exit 3).
    lines = [H, GOOD, 'P2,2026-01-02,2823-3, "Potas\nsium",4.2,mmol/L', GOOD, BAD_DATE]
    labs_file(tmp_path, ("\n".join(lines) + "\n").encode())
    assert run(tmp_path, "--reject-threshold", "1") == 0
    assert quarantined(tmp_path) == [(6, "format")]
    counts = summary(tmp_path)["files"]["labs"]
    assert counts["rows_read"] == 4 and counts["rows_loaded"] == 3


def test_a_quote_inside_a_field_on_the_line_closing_a_quoted_line_break_is_a_character(tmp_path):
    # Lines 3-4 are one record whose unit, after the quoted line break closed, is 'mmol"L': counted as
    # a quote it kept the record open, split it in two (line 4 read as a record of its own).
    lines = [H, GOOD, 'P4,2026-01-04,2823-3,"Potas\nsium",4.4,mmol"L', GOOD, GOOD, BAD_DATE]
    labs_file(tmp_path, ("\n".join(lines) + "\n").encode())
    assert run(tmp_path, "--reject-threshold", "1") == 0
    assert quarantined(tmp_path) == [(3, "known_unit"), (7, "format")]
    counts = summary(tmp_path)["files"]["labs"]
    assert counts["rows_read"] == 5 and counts["rows_loaded"] == 3 and accounted(counts) == 5


def test_a_quote_ending_an_unquoted_field_is_a_character_when_the_counts_pair(tmp_path):
    # Line 3's 'Tube 5"' ends a field; the next quote opens a field that line 4 closes, and line 4's
    # 'mmol/L 7"' ends one. Paired by count the file looked as if no quote held a line break (one
    # record a line): two records where the reader reads one, exit 3 and nothing loaded.
    lines = [H, GOOD, 'P5,2026-01-05,2823-3,Tube 5","Potas\nsium",mmol/L 7"', GOOD, BAD_DATE]
    labs_file(tmp_path, ("\n".join(lines) + "\n").encode())
    assert run(tmp_path, "--reject-threshold", "1") == 0
    assert quarantined(tmp_path) == [(6, "format")]
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        tube = con.execute("SELECT test_name FROM lab_results WHERE patient_id = 'P5'").fetchall()
    assert tube == [('Tube 5"',)]
    counts = summary(tmp_path)["files"]["labs"]
    assert counts["rows_read"] == 4 and counts["rows_loaded"] == 3


@pytest.mark.parametrize(
    "line",
    ['""P3,""2026-01-03,2823-3,Potassium,4.3,mmol/L,', 'P3,2026-01-03,2823-3,"Potassium"x,4.3,mmol/L'],
    ids=["empty-quotes-then-text", "text-after-closing-quote"],
)
def test_a_quote_closing_a_field_with_text_after_it_quarantines_that_record_only(tmp_path, line):
    # The reader rejects such a record and also makes a row of it (recovering), so a file otherwise
    # clean was read with a record too many: exit 3, nothing loaded.
    lines = [H, GOOD, line, GOOD, BAD_DATE]
    labs_file(tmp_path, ("\n".join(lines) + "\n").encode())
    assert run(tmp_path, "--reject-threshold", "1") == 0
    assert quarantined(tmp_path) == [(3, "unquoted_value"), (5, "format")]
    counts = summary(tmp_path)["files"]["labs"]
    assert counts["rows_read"] == 4 and counts["rows_loaded"] == 2 and accounted(counts) == 4


@pytest.mark.parametrize(
    ("first", "rest"), [("\n", "\r\n"), ("\r\n", "\n")], ids=["lf-then-crlf", "crlf-then-lf"]
)
def test_a_file_mixing_lf_and_crlf_line_ends_loads(tmp_path, first, rest):
    # A header written by one tool and rows appended by another: the reader stops at the first line
    # end of the other kind (exit 3, nothing loaded) unless the file is mended.
    labs_file(tmp_path, (H + first + rest.join([GOOD, GOOD, BAD_DATE]) + rest).encode())
    assert run(tmp_path, "--reject-threshold", "1") == 0
    assert quarantined(tmp_path) == [(4, "format")]
    counts = summary(tmp_path)["files"]["labs"]
    assert counts["rows_read"] == 3 and counts["rows_loaded"] == 2


# Physical lines: 1 blank, 2 header, 3 good, 4 bad date, 5-6 too many fields (consecutive reader
# rejects), 7 blank, 8 good, 9-10 a quoted field with a line break in it, 11 bad date.
DIRTY = [
    "",
    H,
    GOOD,
    BAD_DATE,
    TOO_MANY,
    TOO_MANY,
    "",
    GOOD,
    'P4,2026-01-04,2823-3,"Potas{nl}sium",4.4,mmol/L',
    BAD_DATE,
]
DIRTY_QUARANTINE = [(4, "format"), (5, "too_many_columns"), (6, "too_many_columns"), (11, "format")]


@pytest.mark.parametrize(
    ("newline", "ending"),
    [("\n", "\n"), ("\r\n", "\r\n"), ("\r", "\r"), ("\r\r\n", "\r\r\n"), ("\n", "\r"), ("\n", "")],
    ids=["lf", "crlf", "cr-only", "cr-cr-lf", "ends-in-bare-cr", "no-final-newline"],
)
def test_line_numbers_hold_after_blank_lines_and_quoted_newlines_whatever_the_line_ends(
    tmp_path, newline, ending
):
    text = newline.join(line.format(nl=newline) for line in DIRTY) + ending
    labs_file(tmp_path, text.encode())
    assert run(tmp_path, "--reject-threshold", "1") == 0
    assert quarantined(tmp_path) == DIRTY_QUARANTINE
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        loaded = con.execute("SELECT patient_id, test_name FROM lab_results ORDER BY ALL").fetchall()
    assert loaded == [("P1", "Potassium"), ("P1", "Potassium"), ("P4", "Potas\nsium")]
    counts = summary(tmp_path)["files"]["labs"]
    assert counts["rows_read"] == 7 == accounted(counts)


# A line of spaces or tabs only is blank, as an empty line is, wherever it is and whatever else the
# file holds: the file is otherwise clean here (nothing else makes it be mended).
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{H}\n{GOOD}\n   \t\n{TOO_MANY}\n{GOOD}\n", [(4, "too_many_columns")]),
        (f"{H}\r\n{GOOD}\r\n \r\n{TOO_MANY}\r\n", [(4, "too_many_columns")]),
        (f"{H}\n{GOOD}\n{TOO_MANY}\n  \n", [(3, "too_many_columns")]),
        (f"{H}\n{GOOD}\n{TOO_MANY}\n  ", [(3, "too_many_columns")]),
        (f"  \n{H}\n{GOOD}\n{TOO_MANY}\n", [(4, "too_many_columns")]),
    ],
    ids=["between-records", "crlf", "at-the-end", "at-the-end-no-newline", "before-the-header"],
)
def test_a_whitespace_only_line_is_a_blank_line(tmp_path, text, expected):
    labs_file(tmp_path, text.encode())
    assert run(tmp_path, "--reject-threshold", "1") == 0
    assert quarantined(tmp_path) == expected
    counts = summary(tmp_path)["files"]["labs"]
    assert counts["rows_loaded"] == text.count(GOOD) and counts["rows_read"] == accounted(counts)


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_a_rejected_records_original_text_is_its_line_alone(tmp_path, newline):
    labs_file(tmp_path, newline.join([H, GOOD, TOO_MANY, TOO_MANY.rsplit(",", 3)[0], GOOD, ""]).encode())
    assert run(tmp_path, "--reject-threshold", "1") == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        got = con.execute("SELECT line, original FROM quarantine ORDER BY line").fetchall()
    assert got == [(3, TOO_MANY), (4, TOO_MANY.rsplit(",", 3)[0])]


def test_a_rejected_rows_original_text_quotes_a_field_holding_a_line_break(tmp_path):
    record = 'P2,2026-02-30,2823-3,"Potas\nsium",4.2,mmol/L'  # lines 3-4: bad date, quoted newline
    labs_file(tmp_path, "\n".join([H, GOOD, record, GOOD, ""]).encode())
    assert run(tmp_path, "--reject-threshold", "1") == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        got = con.execute("SELECT line, rule, original FROM quarantine").fetchall()
    assert got == [(3, "format", record)]


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_a_byte_order_mark_on_a_blank_first_line_is_a_blank_line(tmp_path, newline):
    text = newline.join(["\ufeff", H, GOOD, TOO_MANY, ""])  # line 1: the BOM alone
    labs_file(tmp_path, text.encode())
    assert run(tmp_path, "--reject-threshold", "1") == 0
    assert quarantined(tmp_path) == [(4, "too_many_columns")]
    assert summary(tmp_path)["files"]["labs"]["rows_loaded"] == 1


def test_a_stray_carriage_return_quarantines_its_record(tmp_path):
    lines = [H, GOOD, "P3,2026-01-03,2823-3,Pot\rassium,4.3,mmol/L", GOOD, BAD_DATE]
    labs_file(tmp_path, ("\n".join(lines) + "\n").encode())
    assert run(tmp_path, "--reject-threshold", "1") == 0
    assert quarantined(tmp_path) == [(3, "stray_carriage_return"), (5, "format")]
    assert summary(tmp_path)["files"]["labs"]["rows_loaded"] == 2


def test_a_record_over_the_readers_maximum_line_size_is_quarantined_by_number(tmp_path):
    # DuckDB drops a line of 32 MiB or more without a reject; this one would vanish.
    huge = "P2,2026-01-02,2823-3," + "K" * (33 << 20) + ",4.1,mmol/L"
    labs_file(tmp_path, "\n".join([H, GOOD, huge, GOOD, BAD_DATE]).encode() + b"\n")
    assert run(tmp_path, "--reject-threshold", "1") == 0
    assert quarantined(tmp_path) == [(3, "record_too_long"), (5, "format")]
    counts = summary(tmp_path)["files"]["labs"]
    assert counts["rows_read"] == 4 == accounted(counts)


def test_a_record_the_reader_loses_fails_the_run_loudly(tmp_path, monkeypatch, capsys):
    """The run checks the reader against its own count of the file's records."""
    from pipelines import csv_scan, ingest

    labs_file(tmp_path, f"{H}\n{GOOD}\n".encode())
    assert run(tmp_path) == 0
    before = table_counts(tmp_path / "audit.duckdb")
    labs_file(tmp_path, f"{H}\n{GOOD}\n{GOOD}\n{GOOD}\n".encode())
    real = csv_scan.layout
    monkeypatch.setattr(
        ingest, "layout", lambda path, sep: csv_scan.Layout(True, real(path, sep).records + 1)
    )
    assert run(tmp_path) == 3
    err = capsys.readouterr().err
    assert "labs.csv: the file holds 4 records but 3 were read" in err and "Traceback" not in err
    assert table_counts(tmp_path / "audit.duckdb") == before


@pytest.mark.parametrize(
    ("column", "text"),
    [
        ("collected_at", "epoch"),  # DuckDB: 1970-01-01
        ("collected_at", "infinity"),  # DuckDB: 9999-12-31
        ("collected_at", "2026/01/05"),  # DuckDB: 2026-01-05; not ISO 8601
        ("collected_at", "2026-1-5"),
        ("value", "1_40"),  # DuckDB: 140
        ("value", "NaN"),
        ("value", "Infinity"),
        ("value", "inf"),
        ("value", "<1_0"),
    ],
)
def test_text_is_not_read_as_data(tmp_path, column, text):
    row = {"patient_id": "P2", "collected_at": "2026-01-05", "loinc_code": "2823-3", "test_name": "Potassium"}
    row |= {"value": "4.1", "unit": "mmol/L", column: text}
    labs_file(tmp_path, f"{H}\n{GOOD}\n{','.join(row.values())}\n".encode())
    assert run(tmp_path, "--reject-threshold", "1") == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        stored = con.execute(
            "SELECT collected_at::DATE::VARCHAR, value_original FROM lab_results WHERE patient_id = 'P2'"
        ).fetchall()
    if column == "collected_at":  # quarantined: no date was read from it
        assert stored == [] and quarantined(tmp_path) == [(3, "format")]
    elif any(c.isdigit() for c in text):  # digits that are no number: quarantined, as '4..1' is
        assert stored == [] and quarantined(tmp_path) == [(3, "numeric")]
    else:  # a result without a numeric value (as 'haemolysed' is), never infinity
        assert stored == [("2026-01-05", None)]


def test_a_binary_file_is_refused_naming_it(tmp_path, capsys):
    labs_file(tmp_path, f"{H}\n{GOOD}\n".encode() + bytes(range(256)) * 40 + SECRET.encode())
    assert run(tmp_path) == 3
    err = capsys.readouterr().err
    assert "labs.csv" in err and "nul_byte" not in err and "Traceback" not in err and SECRET not in err
    assert "binary data" in err


def test_a_header_with_a_misplaced_quote_refuses_the_file_naming_its_line(tmp_path, capsys):
    # Mended, the header was left out as a bad record and the first data record read as the header:
    # that record lost with exit 0, and the header quarantined as if it were data.
    labs_file(
        tmp_path, (H.replace("test_name", '"test_name"x') + f"\n{GOOD}\nP1,{SECRET},x,y,1,z\n").encode()
    )
    assert run(tmp_path) == 3
    err = capsys.readouterr().err
    assert "labs.csv: line 1, the header, cannot be read" in err
    assert "Traceback" not in err and SECRET not in err


def test_a_folder_where_a_file_should_be_is_named(tmp_path, capsys):
    export = write_export(tmp_path / "export")
    (export / "labs.csv").unlink()
    (export / "labs.csv").mkdir()
    assert run(tmp_path) == 3
    err = capsys.readouterr().err
    assert "labs.csv" in err and "Traceback" not in err


@pytest.mark.skipif(__import__("os").geteuid() == 0, reason="root reads a file of mode 000")
def test_an_unreadable_file_is_named(tmp_path, capsys):
    labs_file(tmp_path, f"{H}\n{GOOD}\n".encode())
    (tmp_path / "export" / "labs.csv").chmod(0)
    assert run(tmp_path) == 3
    err = capsys.readouterr().err
    assert "labs.csv: cannot be read" in err and "Traceback" not in err


def test_a_spreadsheets_windows_1252_file_names_the_cause_and_loads_with_the_setting(tmp_path, capsys):
    rows = [H + ",Bemerkung (ärztlich)"] + [
        f"P{i},2026-01-0{i},,Hämoglobin A1c,4{i},µmol/L,ß" for i in range(1, 6)
    ]
    labs_file(tmp_path, ("\r\n".join(rows) + "\r\n").encode("cp1252"))
    assert run(tmp_path, "--reject-threshold", "1") == 3  # under any threshold: the file is refused
    err = capsys.readouterr().err
    assert "labs.csv: 5 of 5 records are not valid UTF-8 (the first on line 2)" in err
    assert 'encoding = "cp1252"' in err and "CLINIC_AUDIT_ENCODING=cp1252" in err
    assert not (tmp_path / "audit.duckdb").exists()  # a failed first run leaves no database
    assert run(tmp_path, env={"CLINIC_AUDIT_ENCODING": "cp1252"}) == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        got = con.execute("SELECT DISTINCT test_name, unit_original FROM lab_results").fetchall()
    assert got == [("Hämoglobin A1c", "µmol/L")]


def test_a_file_opening_with_utf8s_byte_order_mark_is_utf8_under_the_cp1252_setting(tmp_path):
    # Excel's "CSV UTF-8" writes the mark: a clinic reading its older files as cp1252 then sends one
    # such file, and read as cp1252 'µmol/L' became 'Âµmol/L' (quarantined), 'Créatinine' mojibake
    rows = [H] + [f"P{i},2026-01-0{i},,Créatinine,9{i},µmol/L" for i in range(1, 4)]
    labs_file(tmp_path, b"\xef\xbb\xbf" + ("\r\n".join(rows) + "\r\n").encode("utf-8"))
    assert run(tmp_path, env={"CLINIC_AUDIT_ENCODING": "cp1252"}) == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        got = con.execute("SELECT DISTINCT test_name, unit_original FROM lab_results").fetchall()
        assert con.execute("SELECT count(*) FROM quarantine").fetchall() == [(0,)]
    assert got == [("Créatinine", "µmol/L")]
    # the same file the next night, unchanged: not read again (it reads the same under any setting)
    summary = tmp_path / "out" / "summary.json"
    assert run(tmp_path, "--as-of", "2026-11-21", env={"CLINIC_AUDIT_ENCODING": "cp1252"}) == 0
    assert json.loads(summary.read_text(encoding="utf-8"))["files"]["labs"]["skipped_unchanged"] is True


def test_an_unknown_encoding_setting_is_a_configuration_error(tmp_path, capsys):
    write_export(tmp_path / "export")
    assert run(tmp_path, env={"CLINIC_AUDIT_ENCODING": "klingon"}) == 2
    assert "'encoding'" in capsys.readouterr().err


def test_a_semicolon_separated_export_loads(tmp_path):
    rows = [
        H.replace(",", ";"),
        "P1;2026-01-02;2823-3;Potassium, serum;4.1;mmol/L",
        BAD_DATE.replace(",", ";"),
    ]
    labs_file(tmp_path, ("\r\n".join(rows) + "\r\n").encode())
    assert run(tmp_path, "--reject-threshold", "1") == 0
    assert quarantined(tmp_path) == [(3, "format")]
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        assert con.execute("SELECT test_name, value_original FROM lab_results").fetchall() == [
            ("Potassium, serum", 4.1)
        ]


def test_synthea_observations_with_crlf_blank_lines_and_an_unterminated_quote(tmp_path):
    export = write_synthea(tmp_path / "export")
    path = export / "observations.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    count = len(lines)  # the fixture's own bad value is on line 5
    broken = '2026-01-01T00:00:00Z,S01,,"unterminated,Potassium,4.0,mmol/L,numeric'
    lines[1:1] = [""]  # a blank line 2: every later line moves down one
    lines += [broken, "", lines[2]]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    got = quarantined(tmp_path, "observations.csv")
    assert got == [(6, "numeric"), (count + 2, "unterminated_quote")]
    counts = summary(tmp_path)["files"]["labs"]
    assert counts["rows_read"] == count + 1 == accounted(counts)  # the fixture's, the broken one, a copy


def test_omop_measurement_with_a_stray_carriage_return_and_cr_cr_lf_line_ends(tmp_path):
    export = write_cdm(tmp_path / "export")
    path = export / "MEASUREMENT.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.append(lines[1].replace(",", ",\r", 1))  # a stray CR in its first field, line len+1
    path.write_bytes(("\r\r\n".join(lines) + "\r\r\n").encode())
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    got = quarantined(tmp_path, "MEASUREMENT.csv")  # a joined source: rule failures have no line
    assert got == [(len(lines), "stray_carriage_return"), (None, "numeric")]  # and the fixture's own


def _truncated(data: bytes) -> bytes:
    return data[: len(data) * 2 // 3]


def _stream_damaged_at(share: float):
    """The deflate stream overwritten with 0xFF from `share` of the file on (a zlib.error, not EOF)."""

    def damage(data: bytes) -> bytes:
        at = max(int(len(data) * share), 12)
        return data[:at] + b"\xff" * 64 + data[at + 64 :]

    return damage


@pytest.mark.parametrize(
    "damage",
    [_truncated, _stream_damaged_at(0.0), _stream_damaged_at(0.7)],
    ids=["truncated", "damaged-first-block", "damaged-mid-file"],
)
def test_a_damaged_mimic_gzip_file_is_refused_naming_it(tmp_path, capsys, damage):
    export = write_mimic(tmp_path / "export")
    path = export / "hosp" / "labevents.csv.gz"
    extra = "".join(f"10000009,{SECRET}{i},50971,2180-05-01 08:00:00\n" for i in range(20000))
    text = gzip.decompress(path.read_bytes()).decode() + extra  # past the header reader's first block
    path.write_bytes(damage(gzip.compress(text.encode())))
    log = tmp_path / "audit.log"
    assert cli("--log-file", str(log), *run_args(tmp_path, export, "--as-of", "2180-06-01")) == 3
    err = capsys.readouterr().err
    assert "labevents.csv.gz: cannot be read (a truncated or damaged gzip file)" in err, err
    assert "Traceback" not in err
    assert SECRET not in err and SECRET not in log.read_text()
    db = tmp_path / "audit.duckdb"  # refused at the header: no database yet
    assert not db.exists() or table_counts(db)["labs"] == 0


def test_fhir_lines_that_are_no_resource_of_the_files_type_are_quarantined_with_their_line(tmp_path):
    resources = {name: list(items) for name, items in RESOURCES.items()}
    export = write_fhir(tmp_path / "export", resources, broken_line=False)
    path = export / "Observation.001.ndjson.gz"  # gzipped, as the bulk export writes it
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    condition = json.dumps(RESOURCES["Condition.ndjson.gz"][0])
    lines[1:1] = [
        "",  # line 2: blank, counted as an editor counts it
        '{"resourceType": "Observation", "id": "broken", ',  # 3: not JSON
        '["a", "list"]',  # 4: JSON, but no resource
        json.dumps({"id": "o9", "status": "final"}),  # 5: an object without resourceType
        condition,  # 6: a Condition in an Observation file
        f'"{SECRET}"',  # 7: a JSON string
    ]
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    log = tmp_path / "audit.log"
    code = cli(
        "--log-file", str(log), *run_args(tmp_path, export, "--reject-threshold", "1", "--format", "fhir")
    )
    assert code == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        got = con.execute(
            "SELECT line, rule, message FROM quarantine WHERE table_name = 'labs' ORDER BY line"
        ).fetchall()
        conditions = con.execute("SELECT count(*) FROM diagnoses").fetchall()[0][0]
    assert [(line, rule) for line, rule, _ in got] == [
        (3, "malformed_json"),
        (4, "not_a_resource"),
        (5, "not_a_resource"),
        (6, "other_resource_type"),
        (7, "not_a_resource"),
    ]
    assert all(message.endswith("(Observation.001.ndjson.gz)") for _, _, message in got)
    assert conditions == len(RESOURCES["Condition.ndjson.gz"])  # the stray Condition loads nowhere
    counts = summary(tmp_path)["files"]["labs"]
    assert counts["rows_rejected"] == 5 and accounted(counts) == counts["rows_read"]
    assert SECRET not in log.read_text()


def test_fhir_lines_of_spaces_and_tabs_are_blank_lines(tmp_path):
    export = write_fhir(tmp_path / "export", broken_line=False)
    path = export / "Observation.001.ndjson.gz"
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    lines[1:1] = [" \t ", "\t", "not json"]  # lines 2-3 blank (as an editor shows them), 4 not JSON
    path.write_bytes(gzip.compress(("\r\n".join(lines) + "\r\n\t\r\n").encode()))
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1", "--format", "fhir")) == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        got = con.execute("SELECT line, rule FROM quarantine WHERE table_name = 'labs'").fetchall()
    assert got == [(4, "malformed_json")]
    counts = summary(tmp_path)["files"]["labs"]
    assert counts["rows_rejected"] == 1 and accounted(counts) == counts["rows_read"]


@pytest.mark.parametrize(
    ("damage", "message"),
    [(lambda data: data[: len(data) // 2], "truncated"), (gzip.decompress, "not a gzip file")],
    ids=["truncated", "not-gzip"],
)
def test_a_damaged_fhir_gzip_file_is_refused_naming_it(tmp_path, capsys, damage, message):
    export = write_fhir(tmp_path / "export", broken_line=False)
    path = export / "Observation.001.ndjson.gz"
    path.write_bytes(damage(gzip.compress(gzip.decompress(path.read_bytes()) * 500)))
    assert cli(*run_args(tmp_path, export, "--format", "fhir")) == 3
    err = capsys.readouterr().err
    assert "Observation.001.ndjson.gz" in err and message in err and "Traceback" not in err


def test_a_reader_error_names_file_and_line_but_never_quotes_the_record(tmp_path, capsys):
    """DuckDB's own message would quote the line ("Original Line: ..."): a patient's data."""
    export = write_fhir(tmp_path / "export", broken_line=False)
    path = export / "MedicationStatement.ndjson"
    path.write_bytes(path.read_bytes() + f'{{"id": "{SECRET}"}}'.encode() + bytes(range(32)) + b"\n")
    log = tmp_path / "audit.log"
    assert cli("--log-file", str(log), *run_args(tmp_path, export, "--format", "fhir")) == 3
    err = capsys.readouterr().err
    assert "MedicationStatement.ndjson, line 2: not text the tool can read" in err
    assert SECRET not in err and SECRET not in log.read_text() and "Traceback" not in err


def test_mimic_labevents_with_an_unterminated_quote_and_cr_cr_lf_line_ends_on_a_second_night(tmp_path):
    """The second night also runs the volume guard, which counts the file's records first."""
    export = write_mimic(tmp_path / "export")
    args = run_args(tmp_path, export, "--as-of", "2180-06-01", "--reject-threshold", "1")
    assert cli(*args) == 0
    path = export / "hosp" / "labevents.csv.gz"
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    lines[2] = lines[2].replace(",", ',"', 1)  # line 3: a quote opened and never closed
    path.write_bytes(gzip.compress(("\r\r\n".join(lines) + "\r\r\n").encode()))
    assert cli(*args) == 0
    assert quarantined(tmp_path, "labevents.csv.gz") == [(3, "unterminated_quote")]
    counts = summary(tmp_path)["files"]["labs"]
    assert counts["rows_read"] == len(lines) - 1 and counts["rows_rejected"] == 1


def test_a_semicolon_separated_export_reads_decimal_commas(tmp_path):
    """A spreadsheet in a decimal-comma locale writes '4,1' and '<0,5' in a semicolon-separated file:
    those are numbers there. '1.234,5' (a thousands point) is still not a lab value."""
    rows = [
        H.replace(",", ";"),
        "P1;2026-01-02;2823-3;Potassium;4,1;mmol/L",
        "P1;2026-01-03;2823-3;Potassium;<2,5;mmol/L",
        "P1;2026-01-04;2823-3;Potassium;5,6 H;mmol/L",
        "P1;2026-01-05;2823-3;Potassium;1.234,5;mmol/L",
    ]
    labs_file(tmp_path, ("\r\n".join(rows) + "\r\n").encode())
    assert run(tmp_path, "--reject-threshold", "1") == 0
    assert quarantined(tmp_path) == [(5, "numeric")]
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        got = con.execute("SELECT value_original, value_comparator FROM lab_results ORDER BY collected_at")
        assert got.fetchall() == [(4.1, None), (2.5, "<"), (5.6, None)]


def test_a_semicolon_separated_export_reads_a_days_supply_with_a_decimal_comma(tmp_path):
    """The same spreadsheet writes a whole days supply as '28,0': 28 days there."""
    export = write_export(tmp_path / "export")
    rows = [
        "patient_id;drug_name;start_date;end_date;days_supply",
        "P1;furosemide 40 mg tablets;2026-11-01;;28,0",
        "P2;furosemide 40 mg tablets;2026-11-01;;28,5",
    ]
    (export / "prescriptions.csv").write_bytes(("\r\n".join(rows) + "\r\n").encode())
    assert run(tmp_path, "--reject-threshold", "1") == 0  # as of 2026-11-20
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        got = con.execute(
            "SELECT patient_id, days_supply, end_effective::VARCHAR FROM prescriptions"
        ).fetchall()
    assert got == [("P1", 28, "2026-11-29")]
    assert quarantined(tmp_path, "prescriptions.csv") == [(3, "positive_integer")]


def test_a_contract_column_twice_in_the_header_is_refused_naming_both(tmp_path, capsys):
    """'value' and 'VALUE': which one holds the results cannot be known; reading the first would
    be a guess. Exit 3 naming the file, the column and both fields; nothing loaded."""
    labs_file(tmp_path, (H + ",VALUE\nP1,2026-01-02,2823-3,Potassium,4.1,mmol/L,9.9\n").encode())
    assert run(tmp_path) == 3
    err = capsys.readouterr().err
    assert "labs.csv" in err and "'value' appears twice" in err and "fields 5 and 7" in err
    assert not (tmp_path / "audit.duckdb").exists() or table_counts(tmp_path / "audit.duckdb")["labs"] == 0


def test_mimic_labevents_are_counted_by_the_comma_the_reader_uses_whatever_the_header_holds(tmp_path):
    """The MIMIC reader always splits at commas. The scan used to take its delimiter from the header,
    so a labevents header padded with tabs (more tabs than its 15 commas) made it judge the quotes by
    tabs: a quote after a comma was a character, the quoted comment's line break split its record
    in two, and both halves were quarantined (8 records read of 7, 2 rejected, exit 0). Counted by the
    comma, every record loads, on the first night and on the second (the volume guard counts first)."""
    export = write_mimic(tmp_path / "export")
    path = export / "hosp" / "labevents.csv.gz"
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    lines[0] += "\t" * 16
    lines.append(
        "7,10000003,20000003,502,50912,,2180-05-04 11:00:00,2180-05-04 13:00:00,1.1,1.1,mg/dL,0.5,1.2,,"
        'STAT,"Repeat; verified.\tCalled to ward\n""RN"" at 14:00; read back"'
    )
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    args = run_args(tmp_path, export, "--as-of", "2180-06-01", "--reject-threshold", "1")
    for _night in range(2):
        assert cli(*args) == 0
        counts = summary(tmp_path)["files"]["labs"]
        assert counts["rows_read"] == len(lines) - 1 == counts["rows_loaded"] + counts["rows_duplicate"]
        assert quarantined(tmp_path, "labevents.csv.gz") == []


@pytest.mark.parametrize(
    "header",
    [H + ",note_" + "x" * (140 << 10), '{"a":"' + "x" * (300 << 10) + '"}'],
    ids=["a 140 KiB header field", "a 300 KiB line of no commas"],
)
def test_a_header_field_over_128_kib_is_bad_input_not_an_internal_error(tmp_path, capsys, header):
    """Python's csv module refuses a field over 128 KiB: the header's reader raised csv.Error, which
    ended the run as an internal error (exit 1). It is an unusable file: exit 3, naming it."""
    labs_file(tmp_path, (header + "\nP1,2026-01-02,2823-3,Potassium,4.1,mmol/L\n").encode())
    assert run(tmp_path) == 3
    err = capsys.readouterr().err
    assert "labs.csv" in err and "internal error" not in err


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_a_utf16_export_is_named_as_such_not_read_as_a_missing_column(tmp_path, capsys, codec):
    """A SQL Server or Excel 'Unicode' export is UTF-16, with or without its byte-order mark: read as
    bytes its header named no column, and the message said 'patient_id' was missing. Exit 3 saying
    what the file is and how to export it."""
    labs_file(tmp_path, (H + "\n" + GOOD + "\n").encode(codec))
    assert run(tmp_path) == 3
    err = capsys.readouterr().err
    assert "labs.csv" in err and "UTF-16 or UTF-32" in err and "UTF-8" in err


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be"])
def test_a_utf16_fhir_file_is_named_as_such_not_as_a_line_that_is_no_resource(tmp_path, capsys, codec):
    """A FHIR NDJSON file saved as UTF-16 was refused as 'line 1 is not a FHIR resource in JSON',
    which sends the user looking for a broken line. Exit 3 saying what the file is."""
    export = write_fhir(tmp_path / "export", broken_line=False)
    path = export / "Condition.ndjson.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()).decode().encode(codec)))
    assert cli(*run_args(tmp_path, export, "--format", "fhir")) == 3
    err = capsys.readouterr().err
    assert "Condition.ndjson.gz" in err and "UTF-16 or UTF-32" in err and "UTF-8" in err, err


def test_a_failed_first_run_leaves_no_database_and_a_later_one_leaves_it_as_it_was(tmp_path):
    """'A run that had not committed leaves the database unchanged': before a first run there was
    none, yet a failed one left a file with every table, empty. A failed later run keeps the file."""
    db = tmp_path / "audit.duckdb"
    labs_file(tmp_path, (H + "\n" + "\n".join([BAD_DATE] * 20) + "\n").encode())
    assert run(tmp_path) == 3
    assert not db.exists() and not db.with_name(db.name + ".wal").exists()
    labs_file(tmp_path, (H + "\n" + GOOD + "\n").encode())
    assert run(tmp_path) == 0
    counts = table_counts(db)
    labs_file(tmp_path, (H + "\n" + "\n".join([BAD_DATE] * 20) + "\n").encode())
    assert run(tmp_path) == 3
    assert db.exists() and table_counts(db) == counts


def test_a_stored_stopped_prescription_with_no_end_is_ended_on_migration(tmp_path):
    """Schema 12: a prescription marked stopped with neither end date nor days supply ends on its
    start. A database written before kept it open-ended, and the same row in the next export is a
    duplicate, not reloaded: the migration ends the stored row, or a long-stopped diuretic stayed
    under monitoring in every existing installation."""
    header = "patient_id,drug_name,rxnorm_code,atc_code,start_date,end_date,days_supply,stopped"
    prescriptions = f"{header}\nP1,Furosemide 40mg tablets,,,2018-01-01,,,yes\n"
    write_export(tmp_path / "export", prescriptions=prescriptions)
    assert run(tmp_path, "--scheduled") == 0
    db = tmp_path / "audit.duckdb"
    with duckdb.connect(str(db)) as con:  # as a version-11 database stored it
        con.execute("UPDATE prescriptions SET end_effective = NULL; UPDATE schema_version SET version = 11")
    args = run_args(tmp_path, tmp_path / "export", "--scheduled")
    args[args.index("--as-of") + 1] = "2026-11-21"
    assert cli(*args) == 0
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT end_effective::VARCHAR FROM prescriptions").fetchall() == [("2018-01-01",)]
        flags = con.execute(
            "SELECT count(*) FROM findings f JOIN runs r USING (run_id) "
            "WHERE r.as_of = DATE '2026-11-21' AND check_id = 'diuretic_electrolyte_monitoring'"
        ).fetchone()[0]
    assert flags == 0


@pytest.mark.parametrize("fmt", ["generic", "omop"])
def test_two_files_for_one_table_differing_in_case_are_refused(tmp_path, capsys, fmt):
    """labs.csv beside LABS.csv (an export written twice, by tools that case names differently):
    the folder listing's order chose one silently. Exit 3 naming both, nothing loaded."""
    if fmt == "generic":
        export = write_export(tmp_path / "export", labs="patient_id,collected_at,loinc_code,value,unit\n")
        (export / "LABS.csv").write_text("patient_id,collected_at,loinc_code,value,unit\n", encoding="utf-8")
        first, second = export / "LABS.csv", export / "labs.csv"
    else:
        export = write_cdm(tmp_path / "export")
        second = export / "measurement.csv"
        second.write_text((export / "MEASUREMENT.csv").read_text(encoding="utf-8"), encoding="utf-8")
        first = export / "MEASUREMENT.csv"
    assert cli(*run_args(tmp_path, export), "--format", fmt) == 3
    err = capsys.readouterr().err
    assert f"2 files could be this table's ({first}, {second})" in err and "Traceback" not in err
    assert not (tmp_path / "audit.duckdb").exists()
