"""A column most of a file's rows load without is the export's format, not a row's fault: a whole
patients file of birth dates written 19841209, or sex written as ISO 5218's 1 and 2, loads every
row without it (noted per row), and the age-based check then loses every patient. The run says so
in its warnings (console, run record, report, email): file, column and counts, never who."""

from __future__ import annotations

import json

import pytest

from tests.helpers import cli, run_args, write_export


def warnings_of(tmp) -> list[str]:
    return json.loads((tmp / "out" / "summary.json").read_text(encoding="utf-8"))["warnings"]


@pytest.mark.parametrize(("compact", "warned"), [(8, True), (5, True), (4, False), (2, False)])
def test_a_birth_date_column_mostly_unread_is_warned_of(tmp_path, compact, warned):
    rows = "".join(
        f"P{i},{'19500101' if i < compact else '1950-01-01'},{'F' if i % 2 else 'M'}\n" for i in range(8)
    )
    export = write_export(tmp_path / "export", patients="patient_id,birth_date,sex\n" + rows)
    assert cli(*run_args(tmp_path, export)) == 0
    said = [w for w in warnings_of(tmp_path) if w.startswith("patients.csv: birth_date")]
    expected = (
        f"patients.csv: birth_date could not be read in {compact} of the 8 rows loaded, which load "
        "without it (see the noted rows): check how the export writes it (a date: the date_order setting)."
    )
    assert said == ([expected] if warned else [])


def test_a_sex_column_written_as_numbers_is_warned_of_and_names_nobody(tmp_path):
    rows = "".join(f"SECRET{i},1950-01-01,{1 + i % 2}\n" for i in range(6))
    export = write_export(tmp_path / "export", patients="patient_id,birth_date,sex\n" + rows)
    assert cli(*run_args(tmp_path, export)) == 0
    said = [w for w in warnings_of(tmp_path) if "sex could not be read" in w]
    assert said == [
        "patients.csv: sex could not be read in 6 of the 6 rows loaded, which load without it (see the "
        "noted rows): check how the export writes it (a date: the date_order setting)."
    ]
    assert not any("SECRET" in w for w in warnings_of(tmp_path))
