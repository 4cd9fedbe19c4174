"""Bad input through the real CLI: a clear message naming file, line and column, or a quarantined row;
never a traceback, and never a half-changed database."""

from __future__ import annotations

import json

import duckdb
import pytest

from tests.helpers import cli, run_args, table_counts, write_export

LABS_HEADER = "patient_id,collected_at,loinc_code,test_name,value,unit\n"
GOOD_LAB = "P1,2026-01-02,2823-3,Potassium,4.1,mmol/L\n"
RX_HEADER = "patient_id,drug_name,rxnorm_code,atc_code,start_date,end_date,days_supply\n"
DX_HEADER = "patient_id,code,code_system,recorded_at,resolved_at\n"


def run(tmp_path, *extra: str) -> int:
    return cli(*run_args(tmp_path, tmp_path / "export", *extra))


def quarantine(tmp_path) -> list[tuple]:
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        return con.execute("SELECT file, line, column_name, rule FROM quarantine ORDER BY line").fetchall()


def test_missing_column_names_file_and_column(tmp_path, capsys):
    write_export(
        tmp_path / "export", labs="patient_id,collected_at,loinc_code,unit\nP1,2026-01-02,2823-3,x\n"
    )
    assert run(tmp_path) == 3
    err = capsys.readouterr().err
    assert "labs.csv" in err and "'value'" in err and "Traceback" not in err
    assert not (tmp_path / "audit.duckdb").exists()


def test_labs_need_loinc_or_test_name_column(tmp_path, capsys):
    write_export(tmp_path / "export", labs="patient_id,collected_at,value,unit\nP1,2026-01-02,4,x\n")
    assert run(tmp_path) == 3
    assert "loinc_code, test_name" in capsys.readouterr().err


def test_missing_file_is_named(tmp_path, capsys):
    write_export(tmp_path / "export")
    (tmp_path / "export" / "diagnoses.csv").unlink()
    assert run(tmp_path) == 3
    assert "diagnoses.csv: required file is missing" in capsys.readouterr().err


def test_missing_export_folder(tmp_path, capsys):
    assert run(tmp_path) == 3
    assert "export folder not found" in capsys.readouterr().err


def test_empty_file_is_an_error(tmp_path, capsys):
    write_export(tmp_path / "export", labs="")
    assert run(tmp_path) == 3
    assert "labs.csv: file is empty" in capsys.readouterr().err


def test_header_only_files_load_nothing(tmp_path):
    write_export(tmp_path / "export", labs=LABS_HEADER)
    assert run(tmp_path) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["files"]["labs"]["rows_read"] == 0
    assert summary["status"] == "succeeded"


def test_bom_and_header_case_and_order_and_extra_columns(tmp_path):
    text = (
        "\ufeffUNIT,Value,Extra,Test_Name,LOINC_CODE,Collected_At,PATIENT_ID\n"
        "mmol/L,4.1,zz,Potassium,2823-3,2026-01-02,P1\n"
    )
    write_export(tmp_path / "export", labs=text)
    assert run(tmp_path) == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        assert con.execute("SELECT patient_id, analyte, value FROM labs").fetchall() == [
            ("P1", "potassium", 4.1)
        ]


def test_latin1_bytes_quarantine_the_row(tmp_path):
    export = write_export(tmp_path / "export")
    (export / "labs.csv").write_bytes(
        (LABS_HEADER + GOOD_LAB * 30).encode() + "P2,2026-01-03,,Kalium é,4.0,mmol/L\n".encode("latin-1")
    )
    assert run(tmp_path) == 0
    assert quarantine(tmp_path) == [("labs.csv", 32, "test_name", "invalid_encoding")]


def test_truncated_last_line_is_quarantined(tmp_path):
    write_export(tmp_path / "export", labs=LABS_HEADER + GOOD_LAB * 30 + "P9,2026-01-0")
    assert run(tmp_path) == 0
    (row,) = quarantine(tmp_path)
    assert row[1] == 32 and row[3] == "missing_columns"


@pytest.mark.parametrize(
    ("file", "header", "bad", "column", "rule"),
    [
        ("labs", LABS_HEADER, "P2,2026-01-02,2823-3,Potassium,4..1,mmol/L\n", "value", "numeric"),
        ("labs", LABS_HEADER, "P2,2026-02-30,2823-3,Potassium,4,mmol/L\n", "collected_at", "format"),
        ("labs", LABS_HEADER, "P2,2031-02-01,2823-3,Potassium,4,mmol/L\n", "collected_at", "date_range"),
        (
            "prescriptions",
            RX_HEADER,
            "P2,furosemide,4603,C03CA01,2026-01-01,,-5\n",
            "days_supply",
            "positive_integer",
        ),
    ],
)
def test_bad_values_are_quarantined_with_line_and_column(tmp_path, capsys, file, header, bad, column, rule):
    good = {"labs": GOOD_LAB, "prescriptions": "P1,furosemide,4603,C03CA01,2026-01-01,,30\n"}[file]
    write_export(tmp_path / "export", **{file: header + good * 40 + bad})
    assert run(tmp_path) == 0
    assert quarantine(tmp_path) == [(f"{file}.csv", 42, column, rule)]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["files"][file]["rows_rejected"] == 1
    assert summary["files"][file]["rows_loaded"] == 40  # identical rows within one export are kept as given
    assert summary["files"][file]["top_rejection_reasons"][0]["example_line"] == 42
    assert "Traceback" not in capsys.readouterr().err


def test_threshold_exceeded_stops_and_leaves_database_unchanged(tmp_path, capsys):
    write_export(tmp_path / "export", labs=LABS_HEADER + GOOD_LAB)
    assert run(tmp_path) == 0
    before = table_counts(tmp_path / "audit.duckdb")
    bad = "".join(f"P{i},2026-02-30,2823-3,Potassium,4,mmol/L\n" for i in range(3))
    good = "".join(f"P{i},2026-01-03,2823-3,Potassium,4.{i},mmol/L\n" for i in range(20))
    write_export(tmp_path / "export", labs=LABS_HEADER + good + bad)
    assert run(tmp_path) == 3
    err = capsys.readouterr().err
    assert "labs.csv: 3 of 23 rows rejected" in err and "threshold 5%" in err
    assert table_counts(tmp_path / "audit.duckdb") == before
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "failed" and "threshold" in summary["message"]
    # A looser threshold from the command line lets the same export through.
    assert run(tmp_path, "--reject-threshold", "0.2") == 0
    assert table_counts(tmp_path / "audit.duckdb")["labs"] == before["labs"] + 20
