"""Dates as UK and US systems write them (31/05/2026, 05/31/2026 2:05 PM): the `date_order` setting
reads them, and without it the run stops naming the setting rather than quarantining a file's dates
one by one (or, for a birth date, loading the patient without it)."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import ROOT
from tests.helpers import cli, run_args, write_export

SAMPLE = ROOT / "sample_data" / "clinic_export"
ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?$")
FAST = {"CLINIC_AUDIT_MEASURES_MONTHS": "0"}  # the findings are what is compared


def day_first(y: str, mo: str, d: str, time: tuple[str | None, ...]) -> str:
    hh, mm, ss = time
    return f"{d}/{mo}/{y}" + (f" {hh}:{mm}" + (f":{ss}" if ss else "") if hh else "")


def month_first(y: str, mo: str, d: str, time: tuple[str | None, ...]) -> str:
    """US style: 5/31/2026 2:05 PM (no leading zeros, a 12-hour clock)."""
    hh, mm, ss = time
    if not hh:
        return f"{int(mo)}/{int(d)}/{y}"
    hour = int(hh) % 12 or 12
    return (
        f"{int(mo)}/{int(d)}/{y} {hour}:{mm}" + (f":{ss}" if ss else "") + (" PM" if int(hh) >= 12 else " AM")
    )


def rewritten(folder: Path, style) -> Path:
    """The sample clinic with every ISO date rewritten in `style`."""
    folder.mkdir()
    for source in SAMPLE.glob("*.csv"):
        with source.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        with (folder / source.name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(rows[0])
            for row in rows[1:]:
                writer.writerow(
                    [style(*m.groups()[:3], m.groups()[3:]) if (m := ISO.match(v)) else v for v in row]
                )
    return folder


@pytest.fixture(scope="module")
def iso_findings(tmp_path_factory) -> str:
    tmp = tmp_path_factory.mktemp("iso")
    assert cli(*run_args(tmp, SAMPLE), env=FAST) == 0
    return (tmp / "out" / "findings.csv").read_text(encoding="utf-8")


@pytest.mark.parametrize(("order", "style"), [("day-first", day_first), ("month-first", month_first)])
def test_an_export_in_a_date_order_audits_as_its_iso_original(tmp_path, iso_findings, order, style):
    export = rewritten(tmp_path / "export", style)
    assert "/2026" in (export / "labs.csv").read_text(encoding="utf-8")
    assert cli(*run_args(tmp_path, export), env=FAST | {"CLINIC_AUDIT_DATE_ORDER": order}) == 0
    assert (tmp_path / "out" / "findings.csv").read_text(encoding="utf-8") == iso_findings
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM patients WHERE birth_date IS NULL").fetchall() == [(0,)]


@pytest.mark.parametrize(("style", "order"), [(day_first, "day-first"), (month_first, "month-first")])
def test_without_the_setting_the_run_stops_and_names_it(tmp_path, capsys, style, order):
    export = rewritten(tmp_path / "export", style)
    assert cli(*run_args(tmp_path, export)) == 3
    err = capsys.readouterr().err
    # the birth dates would have been noted and cleared (a soft rule): the patients file stops first
    assert "patients.csv: 349 of 349 records hold a date written as numbers" in err
    assert "(the first on line 2, column birth_date)" in err
    assert f'set date_order = "{order}"' in err and f"CLINIC_AUDIT_DATE_ORDER={order}" in err
    assert "Traceback" not in err and "P0001" not in err
    assert not (tmp_path / "audit.duckdb").exists()  # a failed first run leaves no database


LABS = "patient_id,collected_at,loinc_code,test_name,value,unit\n"


def lab_rows(dates: list[str]) -> str:
    return LABS + "".join(
        f"P{i % 50:03d},{d},2823-3,Potassium,4.{i % 10},mmol/L\n" for i, d in enumerate(dates)
    )


def test_a_few_such_dates_are_quarantined_and_read_once_the_setting_says_how(tmp_path):
    # two of 302 results from another system write the date day-first: under the encoding hint's bar
    # (3 records and 1%), so quarantined; with date_order set, the unchanged file is read again (its
    # rows were judged under another setting) and the two load, nothing twice; then it is unchanged
    dates = [f"2026-0{1 + i % 9}-1{i % 10}" for i in range(300)] + ["14/10/2026", "15/10/2026 08:30"]
    export = write_export(tmp_path / "export", labs=lab_rows(dates))

    def night(env: dict[str, str]) -> tuple[int, bool, int]:
        assert cli(*run_args(tmp_path, export), env=FAST | env) == 0
        with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
            loaded = con.execute("SELECT count(*) FROM labs").fetchall()[0][0]
            skipped = con.execute(
                "SELECT skipped_unchanged FROM run_files JOIN runs USING (run_id) "
                "WHERE table_name = 'labs' ORDER BY seq DESC LIMIT 1"
            ).fetchall()[0][0]
            late = con.execute("SELECT count(*) FROM labs WHERE collected_at >= '2026-10-14'").fetchall()[0][
                0
            ]
        return loaded, skipped, late

    assert night({}) == (300, False, 0)
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT line, column_name, rule, message FROM quarantine ORDER BY line").fetchall()
    assert rows == [
        (302, "collected_at", "format", "collected_at is not a valid ISO 8601 date or datetime"),
        (303, "collected_at", "format", "collected_at is not a valid ISO 8601 date or datetime"),
    ]
    assert night({"CLINIC_AUDIT_DATE_ORDER": "day-first"}) == (302, False, 2)
    assert night({"CLINIC_AUDIT_DATE_ORDER": "DMY"}) == (302, True, 2)  # the locale's short name


def test_a_two_digit_year_is_quarantined_under_every_order(tmp_path):
    export = write_export(tmp_path / "export", labs=lab_rows(["2026-01-05", "31/05/26"]))
    assert (
        cli(
            *run_args(tmp_path, export, "--reject-threshold", "1"),
            env={"CLINIC_AUDIT_DATE_ORDER": "day-first"},
        )
        == 0
    )
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT line, message FROM quarantine").fetchall()
    assert rows == [
        (
            3,
            "collected_at is not a valid date or datetime "
            "(ISO 8601, or day/month/year as date_order = day-first reads)",
        )
    ]


def test_an_unknown_date_order_is_a_configuration_error(tmp_path, capsys):
    export = write_export(tmp_path / "export", labs=lab_rows(["2026-01-05"]))
    assert cli(*run_args(tmp_path, export), env={"CLINIC_AUDIT_DATE_ORDER": "british"}) == 2
    err = capsys.readouterr().err
    assert "setting 'date_order'" in err and "iso, day-first, month-first" in err


def test_a_file_in_the_other_order_stops_rather_than_loading_its_ambiguous_dates_swapped(tmp_path, capsys):
    # the patients file writes its dates day-first (the rest ISO), the setting says month-first: its
    # birth dates past the 12th could not be read (noted, cleared) and the others, 05/03/1980, would
    # load as 3 May; the run stops naming day-first, where it loaded them silently
    export = tmp_path / "export"
    shutil.copytree(SAMPLE, export)
    patients = rewritten(tmp_path / "day_first", day_first) / "patients.csv"
    (export / "patients.csv").write_bytes(patients.read_bytes())
    assert cli(*run_args(tmp_path, export), env=FAST | {"CLINIC_AUDIT_DATE_ORDER": "month-first"}) == 3
    err = capsys.readouterr().err
    assert "patients.csv: " in err and "records hold a date only day-first order reads" in err
    assert "while date_order is month-first (the first on line " in err and "column birth_date" in err
    assert 'set date_order = "day-first"' in err and "CLINIC_AUDIT_DATE_ORDER=day-first" in err
    assert not (tmp_path / "audit.duckdb").exists()  # a failed first run leaves no database


def test_a_date_in_another_columns_text_does_not_name_the_setting(tmp_path):
    # four of 100 results have a date no setting reads (year first with slashes) and a date in the
    # test's name: quarantined (4% is under the reject threshold), not a date_order stop, which
    # judged the whole row's text and would have named a setting that reads none of them
    dates = [f"2026-01-{1 + i % 28:02d}" for i in range(96)] + ["2026/01/05"] * 4
    rows = lab_rows(dates).splitlines(keepends=True)
    rows[-4:] = [row.replace("Potassium", "Potassium repeat of 12/03/2026") for row in rows[-4:]]
    export = write_export(tmp_path / "export", labs="".join(rows))
    assert cli(*run_args(tmp_path, export), env=FAST) == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*), min(line) FROM quarantine").fetchall() == [(4, 98)]


def test_an_unchanged_file_loaded_before_the_settings_existed_is_not_read_again(tmp_path):
    # a database whose runs predate the encoding and date_order settings (runs.settings without
    # them) read every file as UTF-8 and ISO: the defaults, so an unchanged file stays skipped
    export = write_export(tmp_path / "export", labs=lab_rows(["2026-01-05", "2026-02-05"]))
    assert cli(*run_args(tmp_path, export), env=FAST) == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb")) as con:
        older = 'json_merge_patch(settings, \'{"encoding": null, "date_order": null}\')'
        con.execute(f"UPDATE runs SET settings = {older}")
        assert con.execute("SELECT settings->>'encoding', settings->>'date_order' FROM runs").fetchall() == [
            (None, None)
        ]
    assert cli(*run_args(tmp_path, export), env=FAST) == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        assert con.execute(
            "SELECT skipped_unchanged FROM run_files JOIN runs USING (run_id) "
            "WHERE table_name = 'labs' ORDER BY seq"
        ).fetchall() == [(False,), (True,)]
