"""Logs: stderr always, JSON lines with --log-file, and never a patient identifier or value."""

from __future__ import annotations

import csv
import json
import re

from tests.conftest import SAMPLE_EXPORT
from tests.helpers import cli, run_args


def sample_column(file: str, column: str) -> set[str]:
    with (SAMPLE_EXPORT / file).open(encoding="utf-8-sig", newline="") as handle:
        return {row[column] for row in csv.DictReader(handle) if row[column]}


def test_json_log_file_has_the_fields_and_the_run_id(tmp_path, capsys):
    log = tmp_path / "audit.log.jsonl"
    assert cli("--log-file", str(log), *run_args(tmp_path, SAMPLE_EXPORT)) == 0
    records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert records and all(set(r) == {"time", "level", "logger", "message", "run_id"} for r in records)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert {r["run_id"] for r in records} == {summary["run_id"]}
    assert any("labs.csv: read=" in r["message"] for r in records)
    assert "labs.csv: read=" in capsys.readouterr().err  # stderr too


def test_logs_never_carry_patient_identifiers_or_values(tmp_path, capsys):
    log = tmp_path / "audit.log.jsonl"
    assert cli("-v", "--log-file", str(log), *run_args(tmp_path, SAMPLE_EXPORT)) == 0
    text = log.read_text(encoding="utf-8") + capsys.readouterr().err
    assert text.strip()
    for patient_id in sample_column("patients.csv", "patient_id"):
        assert not re.search(rf"\b{re.escape(patient_id)}\b", text), patient_id
    for birth_date in sample_column("patients.csv", "birth_date"):
        assert birth_date not in text
    for drug in sample_column("prescriptions.csv", "drug_name"):
        assert drug not in text
    # lab values: alone they are short numbers that also occur in counts and timings, so look for
    # each result as it would be written (value with its unit, the raw row) and for its date
    with (SAMPLE_EXPORT / "labs.csv").open(encoding="utf-8-sig", newline="") as handle:
        raw_rows = handle.read().splitlines()[1:]
    for line in raw_rows:
        row = next(csv.reader([line]))
        assert line not in text
        value, unit = row[4], row[5]
        if not value:
            continue
        assert (
            f"{value} {unit}" not in text and f"{value}{unit}" not in text and f"{value},{unit}" not in text
        )
    for collected in sample_column("labs.csv", "collected_at") - {"2026-11-20"}:
        assert collected[:10] == "2026-11-20" or collected not in text, collected
