"""Evidence picked on equal timestamps does not depend on row order (#21 item 5).

The sample clinic's results are dated to the day, so many share a timestamp already; every result
here also gets a twin on the same timestamp with another value. The same rows, written in file
order and reversed, must give identical findings, evidence included: every `arg_max` over results
(latest_key) and every other pick breaks its ties on the values, never on the order DuckDB read
the rows in.
"""

from __future__ import annotations

import csv
import io

from tests.conftest import SAMPLE_EXPORT
from tests.helpers import cli, findings, run_args, write_export


def _twinned_labs() -> list[str]:
    """labs.csv's lines, each numeric result followed by a twin on the same timestamp, 10% lower."""
    rows = list(csv.reader(io.StringIO((SAMPLE_EXPORT / "labs.csv").read_text(encoding="utf-8"))))
    header, body = rows[0], rows[1:]
    value = header.index("value")
    out = []
    for row in body:
        out.append(row)
        try:
            twin = float(row[value]) * 0.9
        except ValueError:
            continue  # a text or censored result: left single
        out.append([*row[:value], f"{twin:.2f}", *row[value + 1 :]])
    return [_line(header), *(_line(r) for r in out)]


def _line(row: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(row)
    return buffer.getvalue()


def _export(folder, reverse: bool):
    folder.mkdir()
    files = {"labs.csv": _twinned_labs()}
    for name in ("prescriptions.csv", "diagnoses.csv", "patients.csv"):
        files[name] = (SAMPLE_EXPORT / name).read_text(encoding="utf-8").splitlines(keepends=True)
    for name, lines in files.items():
        header, body = lines[0], lines[1:]
        (folder / name).write_text(header + "".join(reversed(body) if reverse else body), encoding="utf-8")
    return folder


def _run(tmp, reverse: bool) -> list[tuple]:
    export = _export(tmp / "export", reverse)
    assert cli(*run_args(tmp, export)) == 0
    return sorted(
        (f["check_id"], f["patient_id"], f["priority"], f["reason"], f["evidence"])
        for f in findings(tmp / "audit.duckdb")
    )


def test_findings_and_evidence_do_not_depend_on_the_order_of_tied_rows(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    in_order, reversed_order = _run(tmp_path / "a", False), _run(tmp_path / "b", True)
    assert len(in_order) > 50  # the sample flags patients in every check
    assert in_order == reversed_order


def test_low_results_of_one_day_read_in_time_order_whatever_the_file_order(tmp_path):
    """A censored and a plain result of the same value on the same day ('<3.0' at 08:00, '3.0' at
    10:00) were listed in file order: the same results gave two texts. Time order, then the value."""
    labs = [
        ("08:00", "2823-3", "Potassium", "<3.0"),
        ("10:00", "2823-3", "Potassium", "3.0"),
        ("10:00", "2601-3", "Magnesium", "0.5"),
        ("11:00", "2601-3", "Magnesium", "<0.5"),
    ]
    rows = []
    for pid, order in (("P1", labs), ("P2", list(reversed(labs)))):
        rows += [
            {"patient_id": pid, "collected_at": f"2026-10-01 {at}", "loinc_code": code, "test_name": name,
             "value": value, "unit": "mmol/L"}
            for at, code, name, value in order
        ]  # fmt: skip
    export = write_export(
        tmp_path / "export",
        labs=rows,
        diagnoses=[
            {"patient_id": p, "code": "R25.2", "code_system": "ICD-10-CM", "recorded_at": "2026-10-01"}
            for p in ("P1", "P2")
        ],
        patients=[{"patient_id": p, "birth_date": "1950-01-01", "sex": "F"} for p in ("P1", "P2")],
    )
    assert cli(*run_args(tmp_path, export)) == 0
    reasons = {
        f["patient_id"]: f["reason"]
        for f in findings(tmp_path / "audit.duckdb")
        if f["check_id"] == "cramps_electrolyte_check"
    }
    assert set(reasons) == {"P1", "P2"} and reasons["P1"] == reasons["P2"]
    assert reasons["P1"].index("<3.0") < reasons["P1"].index("3.0 ", reasons["P1"].index("<3.0") + 4)
