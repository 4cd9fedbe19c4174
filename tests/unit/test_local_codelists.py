"""pipelines/codelists.py: a local codelist file is checked like the shipped ones before it is used."""

from __future__ import annotations

import csv

import pytest

from pipelines.codelists import code_ok, codelist_files, validate_local
from pipelines.db import CODELIST_DIR
from pipelines.settings import ConfigError, load_settings


def shipped_rows():
    for path in sorted(CODELIST_DIR.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                yield path.stem, row["system"], row["code"]


def test_every_shipped_code_passes_the_local_validators():
    # The rules a clinic's file meets are no stricter than the shipped lists'.
    bad = [(stem, system, code) for stem, system, code in shipped_rows() if not code_ok(system, code, stem)]
    assert bad == []


@pytest.mark.parametrize(
    ("system", "code", "ok"),
    [
        ("LOINC", "2823-3", True),
        ("LOINC", "2823-4", False),  # check digit
        ("SNOMED-CT", "55300003", True),
        ("SNOMED-CT", "55300004", False),  # Verhoeff
        ("ICD-10-CM", "R25.2", True),
        ("ICD-10-CM", "r252", True),  # a clinic's system writes it without the dot, in lower case
        ("ICD-10-CM", "R2.52", False),
        ("ICD-9-CM", "729.82", True),
        ("ICD-9-CM", "72", False),
        ("ATC", "c03ca01", True),
        ("ATC", "C03CA1", False),
        ("RxNorm", "4603", True),
        ("RxNorm", "RX4603", False),
        ("name", "Diurapid", True),  # compared in lower case
        ("name", "co-amilofruse", False),  # matched as words: written 'co amilofruse'
        ("name", "one two three four", False),  # the matcher builds phrases of up to three words
    ],
)
def test_code_formats(system, code, ok):
    assert code_ok(system, code, "diuretics") is ok


def test_a_lab_name_is_a_whole_test_name():
    assert code_ok("name", "serum kalium (venous)", "lab_tests")
    assert not code_ok("name", "serum  kalium", "lab_tests")


def test_blank_lines_are_skipped_and_a_bom_is_accepted(tmp_path):
    path = tmp_path / "statins.csv"
    path.write_text("\ufeffcode,system,description,ingredient\n\nlipex,name,brand,simvastatin\n\n", "utf-8")
    assert validate_local(path) == 1


def test_a_row_with_the_wrong_number_of_fields_names_its_line(tmp_path):
    path = tmp_path / "statins.csv"
    path.write_text("code,system,description,ingredient\nlipex,name,brand,simvastatin,extra\n", "utf-8")
    with pytest.raises(ConfigError, match=r"statins\.csv, line 2: 5 fields"):
        validate_local(path)


def test_local_files_come_after_the_shipped_ones_and_other_files_are_ignored(tmp_path):
    (tmp_path / "statins.csv").write_text("code,system,description,ingredient\nlipex,name,,\n", "utf-8")
    (tmp_path / "README.txt").write_text("notes for the clinic\n", "utf-8")
    files = codelist_files(tmp_path)
    assert [f.source for f in files][-1] == "local" and files[-1].codelist == "statins"
    assert sum(f.source == "local" for f in files) == 1
    assert codelist_files(None) == files[:-1]


def test_the_setting_comes_from_toml_env_or_flag():
    assert load_settings(None, {"CLINIC_AUDIT_LOCAL_CODELISTS": "/srv/lists"}, {}).local_codelists is not None
    assert load_settings(None, {}, {}).local_codelists is None
    assert str(load_settings(None, {}, {"local_codelists": "mine"}).local_codelists) == "mine"
