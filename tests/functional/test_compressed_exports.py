"""Generic and Synthea exports whose files come gzip-compressed (`labs.csv.gz`), as nightly exports
often travel, are read as they are, like OMOP's and MIMIC-IV's.

Before, a generic export's `patients.csv.gz` beside plain event files was passed over without a word
but "the export has no patients file": a patient who had died was audited and called. A folder of
only .gz files was no known format, and a Synthea export gzipped whole could not be read.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from pipelines.guards import count_rows
from tests.conftest import ROOT
from tests.helpers import cli, flagged, query, run_args, write_export

SAMPLE = ROOT / "sample_data" / "clinic_export"
SYNTHEA = ROOT / "tests" / "fixtures" / "real" / "synthea"
DIURETIC = "diuretic_electrolyte_monitoring"


def gzip_files(folder: Path, *names: str) -> None:
    """Compress the named files (every one when none is named) in place, as `gzip` leaves them."""
    for path in [folder / n for n in names] or sorted(folder.iterdir()):
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()


def outcome(tmp: Path) -> tuple[list[tuple], list[tuple]]:
    """The run's findings and quarantine, with each file's name as the plain file's."""
    db = tmp / "audit.duckdb"
    found = query(db, "SELECT check_id, patient_id, priority FROM findings ORDER BY ALL")
    held = query(
        db,
        "SELECT table_name, replace(file, '.gz', ''), line, column_name, rule, original "
        "FROM quarantine ORDER BY ALL",
    )
    return found, held


def test_the_sample_clinic_gzipped_reads_as_it_does_plain(tmp_path):
    plain, packed = tmp_path / "plain", tmp_path / "packed"
    shutil.copytree(SAMPLE, plain / "export")
    shutil.copytree(SAMPLE, packed / "export")
    gzip_files(packed / "export")
    assert cli(*run_args(plain, plain / "export")) == 0
    assert cli(*run_args(packed, packed / "export")) == 0
    found, held = outcome(packed)
    assert (found, held) == outcome(plain)
    assert len(found) > 50 and len(held) >= 10  # the sample's planted flags and bad rows, lines kept
    files = query(packed / "audit.duckdb", "SELECT DISTINCT file FROM run_files ORDER BY 1")
    assert files == [("diagnoses.csv.gz",), ("labs.csv.gz",), ("patients.csv.gz",), ("prescriptions.csv.gz",)]


PATIENTS = "patient_id,birth_date,sex,death_date\nG1,1950-01-01,F,2026-10-01\nG2,1950-01-01,M,\n"
PRESCRIPTIONS = "patient_id,drug_name,rxnorm_code,atc_code,start_date,end_date,days_supply\n" + "".join(
    f"{p},furosemide 40 mg tablet,4603,C03CA01,2026-01-01,,\n" for p in ("G1", "G2")
)


def test_a_gzipped_patients_file_beside_plain_ones_is_read_and_the_dead_are_left_out(tmp_path, capsys):
    export = write_export(tmp_path / "export", patients=PATIENTS, prescriptions=PRESCRIPTIONS)
    gzip_files(export, "patients.csv")
    assert cli(*run_args(tmp_path, export)) == 0
    assert flagged(tmp_path / "audit.duckdb", DIURETIC) == {"G2"}  # G1 died on 2026-10-01
    assert "no patients file" not in capsys.readouterr().err


def test_reader_rejected_lines_in_a_gzipped_file_keep_their_line_numbers(tmp_path):
    # lines 3 to 5 have too many fields (the reader rejects them), line 7 fails a rule
    rows = ["G2,furosemide 40 mg tablet,4603,C03CA01,2026-01-01,,"] * 6
    rows[1:4] = ["G2,furosemide,4603,C03CA01,2026-01-01,,,extra"] * 3
    rows[5] = "G2,furosemide 40 mg tablet,4603,C03CA01,2026-02-30,,"
    text = PRESCRIPTIONS.splitlines()[0] + "\n" + "\n".join(rows) + "\n"
    export = write_export(tmp_path / "export", patients=PATIENTS, prescriptions=text)
    gzip_files(export)
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    lines = query(tmp_path / "audit.duckdb", "SELECT line FROM quarantine ORDER BY line")
    assert lines == [(3,), (4,), (5,), (7,)]


def test_a_table_sent_both_plain_and_gzipped_is_refused_naming_both(tmp_path, capsys):
    export = write_export(tmp_path / "export", patients=PATIENTS, prescriptions=PRESCRIPTIONS)
    labs = export / "labs.csv"
    labs.with_name("labs.csv.gz").write_bytes(gzip.compress(labs.read_bytes()))  # `gzip -k`
    assert cli(*run_args(tmp_path, export)) == 3
    err = capsys.readouterr().err
    assert "labs.csv, " in err and "labs.csv.gz" in err and "keep one" in err, err


def test_a_truncated_gzipped_file_stops_the_run_naming_it(tmp_path, capsys):
    rows = "".join(f"G2,2026-0{1 + i % 9}-01,2823-3,Potassium,4.{i % 10},mmol/L\n" for i in range(30000))
    export = write_export(
        tmp_path / "export",
        patients=PATIENTS,
        prescriptions=PRESCRIPTIONS,
        labs="patient_id,collected_at,loinc_code,test_name,value,unit\n" + rows,
    )
    gzip_files(export)
    labs = export / "labs.csv.gz"
    labs.write_bytes(labs.read_bytes()[: labs.stat().st_size * 2 // 3])
    assert cli(*run_args(tmp_path, export)) == 3
    err = capsys.readouterr().err
    assert "labs.csv.gz" in err and "gzip" in err and "Traceback" not in err, err
    db = tmp_path / "audit.duckdb"  # refused before anything was loaded
    assert not db.exists() or query(db, "SELECT count(*) FROM labs") == [(0,)]


def test_only_gzipped_files_are_detected_as_a_generic_export(tmp_path):
    from pipelines.formats import format_read

    export = write_export(tmp_path / "export", patients=PATIENTS, prescriptions=PRESCRIPTIONS)
    gzip_files(export)
    assert format_read(export, "auto") == "generic"


def test_a_synthea_export_gzipped_reads_as_it_does_plain(tmp_path):
    plain, packed = tmp_path / "plain", tmp_path / "packed"
    shutil.copytree(SYNTHEA, plain / "export", ignore=shutil.ignore_patterns("README.md"))
    shutil.copytree(SYNTHEA, packed / "export", ignore=shutil.ignore_patterns("README.md"))
    gzip_files(packed / "export")
    assert cli(*run_args(plain, plain / "export", "--reject-threshold", "1")) == 0
    assert cli(*run_args(packed, packed / "export", "--reject-threshold", "1")) == 0
    assert outcome(packed) == outcome(plain)
    counts = "SELECT count(*), count(death_date), count(site_id) FROM patients"
    patients = query(packed / "audit.duckdb", counts)
    assert patients == query(plain / "audit.duckdb", counts)
    assert patients[0][0] > 0 and patients[0][2] > 0  # encounters.csv.gz gave the sites


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_the_volume_guard_counts_a_gzipped_files_rows_in_its_text(tmp_path, ending):
    text = ending.join(["a,b", *(f"{i},x" for i in range(5000))]) + ending
    plain, packed = tmp_path / "t.csv", tmp_path / "t.csv.gz"
    plain.write_text(text, newline="")
    packed.write_bytes(gzip.compress(text.encode()))
    assert count_rows(packed) == count_rows(plain) == 5000


def test_a_csv_gzip_compressed_under_a_plain_name_is_refused_saying_so(tmp_path, capsys):
    export = write_export(tmp_path / "export", patients=PATIENTS, prescriptions=PRESCRIPTIONS)
    labs = export / "labs.csv"
    labs.write_bytes(gzip.compress(labs.read_bytes()))
    assert cli(*run_args(tmp_path, export)) == 3
    err = capsys.readouterr().err
    assert "labs.csv: the file is gzip-compressed but its name does not end in .gz" in err, err
    assert "rename it labs.csv.gz" in err


def test_a_bad_row_is_recorded_once_when_its_file_comes_compressed_one_night_and_plain_the_next(tmp_path):
    bad = PRESCRIPTIONS + "G2,furosemide 40 mg tablet,4603,C03CA01,2026-02-30,,\n"
    export = write_export(tmp_path / "export", patients=PATIENTS, prescriptions=bad)
    gzip_files(export, "prescriptions.csv")
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    (export / "prescriptions.csv.gz").unlink()
    (export / "prescriptions.csv").write_text(bad, encoding="utf-8")
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    held = query(tmp_path / "audit.duckdb", "SELECT file, line, rule FROM quarantine")
    assert held == [("prescriptions.csv.gz", 4, "format")]


def test_a_mimic_file_gzip_compressed_under_a_plain_name_is_refused_saying_so(tmp_path, capsys):
    from tests.functional.test_format_mimic import write_mimic

    export = write_mimic(tmp_path / "export")
    packed = export / "hosp" / "labevents.csv.gz"
    packed.rename(packed.with_name("labevents.csv"))  # the compressed bytes under a plain name
    assert cli(*run_args(tmp_path, export, "--as-of", "2180-06-01")) == 3
    err = capsys.readouterr().err
    assert "labevents.csv: the file is gzip-compressed but its name does not end in .gz" in err, err
