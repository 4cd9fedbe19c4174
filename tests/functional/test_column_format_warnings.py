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
        f"patients.csv: birth_date could not be read in {compact} of its 8 rows, which load without it "
        "(see the noted rows): check how the export writes it (a date: the date_order setting)."
    )
    assert said == ([expected] if warned else [])


def test_a_sex_column_written_as_numbers_is_warned_of_and_names_nobody(tmp_path):
    rows = "".join(f"SECRET{i},1950-01-01,{1 + i % 2}\n" for i in range(6))
    export = write_export(tmp_path / "export", patients="patient_id,birth_date,sex\n" + rows)
    assert cli(*run_args(tmp_path, export)) == 0
    said = [w for w in warnings_of(tmp_path) if "sex could not be read" in w]
    assert said == [
        "patients.csv: sex could not be read in 6 of its 6 rows, which load without it (see the noted "
        "rows): check how the export writes it (a date: the date_order setting)."
    ]
    assert not any("SECRET" in w for w in warnings_of(tmp_path))


def test_the_next_night_resending_the_rows_says_it_again_judged_on_every_row(tmp_path):
    """A nightly export re-sends its rows: the second night loads only the new patients, and the share
    is judged on every row the file holds that loads (stored before or not), not on tonight's new
    ones: 6 unreadable sexes of 9 rows is a column written so (said again), where 'of the 3 rows
    loaded' was nonsense; 2 of 9 is not (no warning)."""
    first = "".join(f"P{i},1950-01-01,{1 + i % 2}\n" for i in range(6))
    export = write_export(tmp_path / "e1", patients="patient_id,birth_date,sex\n" + first)
    assert cli(*run_args(tmp_path, export)) == 0
    second = first + "".join(f"N{i},1950-01-01,F\n" for i in range(3))
    export = write_export(tmp_path / "e2", patients="patient_id,birth_date,sex\n" + second)
    args = run_args(tmp_path, export)
    args[args.index("--as-of") + 1] = "2026-11-21"
    assert cli(*args) == 0
    assert [w for w in warnings_of(tmp_path) if "sex could not be read" in w] == [
        "patients.csv: sex could not be read in 6 of its 9 rows, which load without it (see the noted "
        "rows): check how the export writes it (a date: the date_order setting)."
    ]
    few = "".join(f"P{i},1950-01-01,{'1' if i < 2 else 'F'}\n" for i in range(9))
    export = write_export(tmp_path / "e3", patients="patient_id,birth_date,sex\n" + few)
    args[args.index("--as-of") + 1] = "2026-11-22"
    args[args.index("--exports") + 1] = str(export)
    assert cli(*args) == 0
    assert [w for w in warnings_of(tmp_path) if "could not be read" in w] == []


def test_the_same_file_sent_again_unchanged_is_warned_of_again(tmp_path):
    """A byte-identical file is not read again (its counts are the night's that read it): its column
    warning is said again from the notes kept, as every night the export still writes it so."""
    rows = "".join(f"P{i},1950-01-01,{1 + i % 2}\n" for i in range(6))
    export = write_export(tmp_path / "export", patients="patient_id,birth_date,sex\n" + rows)
    said = []
    for as_of in ("2026-11-20", "2026-11-21"):
        args = run_args(tmp_path, export)
        args[args.index("--as-of") + 1] = as_of
        assert cli(*args) == 0
        summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
        said.append([w for w in summary["warnings"] if "sex could not be read in 6 of its 6 rows" in w])
    assert summary["files"]["patients"]["skipped_unchanged"] is True
    assert [len(s) for s in said] == [1, 1]
