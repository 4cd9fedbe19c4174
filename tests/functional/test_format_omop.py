# ruff: noqa: E501 - the fixture tables read best unwrapped, as in tests/spec
"""OMOP CDM v5.4 CSV through the real CLI: every check runs on a small synthetic CDM built from the
OHDSI CDM v5.4 specification (standard concepts, and the source-value fallbacks), bad values are
quarantined, a missing column names file and column; and the real Eunomia Synthea27Nj sample loads.

Concept ids in the fixture are made up; the codes and names are the vocabularies' own.
"""

from __future__ import annotations

import gzip
import json
import zipfile
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from checks.evaluate import all_checks
from tests.conftest import shared_file
from tests.helpers import cli, flagged, night, run_args, table

CDM = {
    "person": """
        person_id | gender_concept_id | year_of_birth | month_of_birth | day_of_birth | birth_datetime      | gender_source_value
        1         | 8532              | 1950          | 2              | 3            | 1950-02-03 00:00:00 | F
        2         | 8507              | 1948          | 7              | 21           |                     | M
        3         | 8507              | 1961          |                |              |                     | M
        4         | 8532              | 1959          | 5              | 5            |                     | F
        5         | 8532              | 1957          | 1              | 9            |                     | F
    """,
    "concept": """
        concept_id | concept_name                                | domain_id   | vocabulary_id | concept_class_id   | standard_concept | concept_code
        1001       | Potassium [Moles/volume] in Serum or Plasma | Measurement | LOINC         | Lab Test           | S                | 2823-3
        1002       | Sodium [Moles/volume] in Serum or Plasma    | Measurement | LOINC         | Lab Test           | S                | 2951-2
        1003       | millimole per liter                         | Unit        | UCUM          | Unit               | S                | mmol/L
        2001       | hydrochlorothiazide 25 MG Oral Tablet       | Drug        | RxNorm        | Clinical Drug      | S                | 310798
        2002       | hydrochlorothiazide                         | Drug        | RxNorm        | Ingredient         | S                | 5487
        2003       | simvastatin 10 MG Oral Tablet               | Drug        | RxNorm        | Clinical Drug      | S                | 314231
        3001       | Cirrhosis of liver                          | Condition   | SNOMED        | Clinical Finding   | S                | 19943007
        3002       | Cramp                                       | Condition   | SNOMED        | Clinical Finding   | S                | 55300003
        3003       | Unspecified cirrhosis of liver              | Condition   | ICD10CM       | 5-char billing code |                 | K74.60
        3004       | Cramp and spasm                             | Condition   | ICD10CM       | 4-char billing code |                 | R25.2
        3005       | Type 2 diabetes mellitus with neurological complications | Condition | ICD10 | ICD10 code |               | E11.4
    """,
    "concept_ancestor": """
        ancestor_concept_id | descendant_concept_id | min_levels_of_separation | max_levels_of_separation
        2001                | 2001                  | 0                        | 0
        2002                | 2001                  | 1                        | 1
    """,
    # Person 2's sodium has no standard concept: its LOINC code comes from measurement_source_value.
    "measurement": """
        measurement_id | person_id | measurement_concept_id | measurement_date | measurement_datetime | value_as_number | unit_concept_id | measurement_source_value | unit_source_value
        1              | 2         | 1001                   | 2026-09-01       | 2026-09-01 08:30:00  | 4.1             | 1003            | 2823-3                   | mmol/L
        2              | 2         | 0                      | 2026-09-01       |                      | 139             | 0               | 2951-2                   | mmol/L
        3              | 3         | 1001                   | 2026-09-02       |                      | 4..1            | 1003            | 2823-3                   | mmol/L
    """,
    # Person 1 on hydrochlorothiazide, never tested: flagged. Person 2's furosemide has no concept
    # (drug_concept_id 0): its name comes from drug_source_value; tested, so not flagged.
    "drug_exposure": """
        drug_exposure_id | person_id | drug_concept_id | drug_exposure_start_date | drug_exposure_end_date | days_supply | drug_source_value
        1                | 1         | 2001            | 2026-03-01               | 2027-03-01             | 365         | 310798
        2                | 2         | 0               | 2026-01-10               | 2027-01-10             | 0           | furosemide 40 MG Oral Tablet
        3                | 5         | 2003            | 2026-05-01               | 2026-04-01             | 30          | 314231
    """,
    # Person 3: SNOMED cirrhosis and cramp: flagged. Person 4: the same through ICD-10-CM source
    # concepts (no standard concept): flagged; and WHO ICD-10 E11.4 (diabetic neuropathy) through an
    # ICD10 source concept. Person 5: cirrhosis resolved before the cramp.
    "condition_occurrence": """
        condition_occurrence_id | person_id | condition_concept_id | condition_start_date | condition_end_date | condition_source_value | condition_source_concept_id
        1                       | 3         | 3001                 | 2024-01-10           |                    | 19943007               | 0
        2                       | 3         | 3002                 | 2026-10-01           | 2026-10-20         | 55300003               | 0
        3                       | 4         | 0                    | 2023-06-01           |                    | K74.60                 | 3003
        4                       | 4         | 0                    | 2026-11-01           |                    | R25.2                  | 3004
        5                       | 5         | 3001                 | 2020-01-10           | 2025-01-01         | 19943007               | 0
        6                       | 5         | 3002                 | 2026-10-01           |                    | 55300003               | 0
        7                       | 5         | 0                    | 2026-10-02           |                    | XYZ                    | 0
        8                       | 4         | 0                    | 2026-10-03           |                    | E11.4                  | 3005
    """,
}


def write_cdm(folder: Path, upper: bool = True, delimiter: str = ",", **override: str) -> Path:
    """The fixture CDM as one file per table; override replaces a table's file text."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in CDM.items():
        path = folder / f"{name.upper() if upper else name}.csv"
        if name in override:
            path.write_text(override[name], encoding="utf-8")
            continue
        rows = table(text)
        lines = [delimiter.join(rows[0])] + [delimiter.join(r.values()) for r in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("upper", "delimiter", "extra"), [(True, ",", ("--format", "omop")), (False, "\t", ())]
)
def test_every_check_runs_and_planted_patients_are_flagged(tmp_path, upper, delimiter, extra):
    export = write_cdm(tmp_path / "export", upper, delimiter)
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1", *extra)) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert set(summary["checks"]) == {c.id for c in all_checks()}
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"1"}
    assert flagged(tmp_path / "audit.duckdb", "cramps_cirrhosis") == {"3", "4"}
    assert "4" in flagged(tmp_path / "audit.duckdb", "numbness_neuropathy_workup")


def test_codes_come_from_standard_concepts_and_source_values(tmp_path):
    export = write_cdm(tmp_path / "export")
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        drugs = con.execute(
            "SELECT patient_id, drug_name, rxnorm_code FROM prescriptions ORDER BY 1"
        ).fetchall()
        labs = con.execute("SELECT patient_id, loinc_code, unit FROM labs ORDER BY ALL").fetchall()
        dx = con.execute("SELECT DISTINCT code, code_system FROM diagnoses ORDER BY ALL").fetchall()
        sexes = con.execute("SELECT patient_id, birth_date, sex FROM patients ORDER BY 1").fetchall()
    assert drugs == [
        ("1", "hydrochlorothiazide 25 MG Oral Tablet", "5487"),  # the ingredient, via concept_ancestor
        ("2", "furosemide 40 MG Oral Tablet", None),
    ]
    assert labs == [("2", "2823-3", "mmol/L"), ("2", "2951-2", "mmol/L")]
    assert dx == [
        ("19943007", "SNOMED-CT"),
        ("55300003", "SNOMED-CT"),
        ("E114", "ICD-10"),
        ("K7460", "ICD-10-CM"),
        ("R252", "ICD-10-CM"),
    ]
    assert [(p, str(b), s) for p, b, s in sexes][:3] == [
        ("1", "1950-02-03", "F"),
        ("2", "1948-07-21", "M"),
        ("3", "1961-01-01", "M"),  # year only: 1 January
    ]


def test_bad_values_are_quarantined(tmp_path):
    export = write_cdm(tmp_path / "export")
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        got = set(con.execute("SELECT file, line, column_name, rule FROM quarantine").fetchall())
    assert got == {
        ("MEASUREMENT.csv", None, "value", "numeric"),
        ("DRUG_EXPOSURE.csv", None, "end_date", "after_start"),
    }  # the condition with no concept (XYZ) is skipped, not quarantined


def test_missing_column_names_file_and_column(tmp_path, capsys):
    export = write_cdm(
        tmp_path / "export", measurement="measurement_id,person_id,measurement_date\n1,2,2026-09-01\n"
    )
    assert cli(*run_args(tmp_path, export)) == 3
    err = capsys.readouterr().err
    assert "MEASUREMENT.csv" in err and "'measurement_concept_id'" in err and "Traceback" not in err


def test_missing_concept_table_is_named(tmp_path, capsys):
    export = write_cdm(tmp_path / "export")
    (export / "CONCEPT.csv").unlink()
    assert cli(*run_args(tmp_path, export)) == 3
    assert "concept.csv: required file is missing" in capsys.readouterr().err


def write_cdm_database(folder: Path) -> Path:
    """The fixture CDM as typed tables in one DuckDB database file (as OHDSI Eunomia ships it)."""
    csvs = write_cdm(folder / "csv")
    folder.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(folder / "cdm.duckdb")) as con:
        for name in CDM:
            con.execute(f"CREATE TABLE {name} AS FROM read_csv($p)", {"p": str(csvs / f"{name.upper()}.csv")})
    for path in csvs.iterdir():
        path.unlink()
    csvs.rmdir()
    return folder


def test_duckdb_database_is_read_in_place(tmp_path):
    export = write_cdm_database(tmp_path / "export")
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert set(summary["checks"]) == {c.id for c in all_checks()}
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"1"}
    assert flagged(tmp_path / "audit.duckdb", "cramps_cirrhosis") == {"3", "4"}
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        got = set(con.execute("SELECT file, column_name, rule FROM quarantine").fetchall())
        hctz = con.execute("SELECT rxnorm_code FROM prescriptions WHERE patient_id = '1'").fetchall()
    assert got == {
        ("cdm.duckdb:measurement", "value", "numeric"),
        ("cdm.duckdb:drug_exposure", "end_date", "after_start"),
    }  # the condition with no concept is skipped
    assert hctz == [("5487",)]


def test_database_missing_table_is_named(tmp_path, capsys):
    export = write_cdm_database(tmp_path / "export")
    with duckdb.connect(str(export / "cdm.duckdb")) as con:
        con.execute("DROP TABLE concept")
    assert cli(*run_args(tmp_path, export, "--format", "omop")) == 3
    assert "cdm.duckdb: required table 'concept' is missing" in capsys.readouterr().err


def test_real_eunomia_sample_loads(tmp_path):
    eunomia = shared_file("data", "omop_eunomia_synthea27nj", "Synthea27Nj_5.4.zip")
    export = tmp_path / "eunomia"
    wanted = {
        "PERSON",
        "MEASUREMENT",
        "DRUG_EXPOSURE",
        "CONDITION_OCCURRENCE",
        "CONCEPT",
        "CONCEPT_ANCESTOR",
        "DEATH",
    }
    with zipfile.ZipFile(eunomia) as archive:
        archive.extractall(export, [n for n in archive.namelist() if n.removesuffix(".csv") in wanted])
    args = run_args(tmp_path, export)
    args[args.index("--as-of") + 1] = "2020-01-01"  # the sample's data ends in 2022
    assert cli(*args) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    files = summary["files"]
    assert (
        sum(f["rows_rejected"] for f in files.values()) / sum(f["rows_read"] for f in files.values()) < 0.01
    )
    assert set(summary["checks"]) == {c.id for c in all_checks()}
    # Persons 8, 13 and 22 take hydrochlorothiazide through 2020-01-01: the diuretic population.
    assert summary["checks"]["diuretic_electrolyte_monitoring"]["denominator"] == 3
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        on_hctz = con.execute(
            "SELECT DISTINCT patient_id FROM prescriptions WHERE drug_name ILIKE 'hydrochlorothiazide%' "
            "AND start_date <= DATE '2020-01-01' AND end_effective >= DATE '2020-01-01' ORDER BY 1"
        ).fetchall()
        # ... and still, in the refill gap at least, on the sample's last day 2022-10-10: each one's
        # last renewal ends on its start day in the CDM (a Synthea medication with no stop)
        still = con.execute(
            "SELECT DISTINCT patient_id FROM prescriptions WHERE drug_name ILIKE 'hydrochlorothiazide%' "
            "AND end_effective >= DATE '2022-09-10' ORDER BY 1"
        ).fetchall()
    assert on_hctz == [("13",), ("22",), ("8",)]
    assert still == on_hctz
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        dead = con.execute(
            "SELECT patient_id, death_date::VARCHAR FROM patient_state WHERE deceased ORDER BY 2"
        ).fetchall()
        renewed = con.execute(
            "SELECT DISTINCT patient_id, days_supply FROM prescriptions WHERE patient_id IN ('7', '20') "
            "AND drug_name ILIKE 'simvastatin%' AND end_date IS NULL ORDER BY 1"
        ).fetchall()
    # DEATH.csv records persons 7, 11 and 23: known dead, with their dates, and nobody else.
    assert dead == [("23", "2001-07-13"), ("11", "2009-09-14"), ("7", "2019-05-28")]
    # Persons 7 and 20: a simvastatin record of the whole 22-25 years ends on the day of the last
    # yearly renewal, which the zero-day row after it renews (365 days), not the long record
    assert renewed == [("20", 365), ("7", 365)]
    assert files["prescriptions"]["rows_rejected"] == 0


def test_structural_faults_are_quarantined_with_their_line(tmp_path):
    export = write_cdm(tmp_path / "export")
    with (export / "MEASUREMENT.csv").open("a", encoding="utf-8") as handle:
        handle.write("9,2\n")  # line 5: a truncated record
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        got = con.execute("SELECT line, rule FROM quarantine WHERE line IS NOT NULL").fetchall()
    assert got == [(5, "missing_columns")]
    assert flagged(tmp_path / "audit.duckdb", "cramps_cirrhosis") == {"3", "4"}


@pytest.mark.parametrize(
    ("name", "line", "fault"),
    [
        ("concept", "9999,short", "too few fields"),
        # a free-text cause written unquoted by a hand-made export: the death was lost, and the
        # dead patient stayed in every population
        ("death", "2,2026-10-01,2026-10-01 00:00:00,32817,0,Heart failure, unspecified,0", "too many fields"),
        ("concept", '9998,"sodium chloride,Drug,RxNorm,Ingredient,S,9863', "quote"),
    ],
    ids=["a short concept", "a death with an unquoted comma", "an unterminated quote in a concept"],
)
def test_a_lookup_line_that_cannot_be_read_stops_the_run_naming_it(tmp_path, capsys, name, line, fault):
    """A lookup's (concept, concept_ancestor, death) unreadable line was skipped without a word:
    a lost death kept a dead patient audited, and an unterminated quote lost every concept after
    it. Exit 3 naming the file and line; nothing loaded (the database is not created)."""
    export = write_cdm(tmp_path / "export")
    if name == "death":
        header = (
            "person_id,death_date,death_datetime,death_type_concept_id,cause_concept_id,cause_source_value,"
        )
        (export / "DEATH.csv").write_text(header + "cause_source_concept_id\n" + line + "\n")
    if name == "concept":
        text = (export / "CONCEPT.csv").read_text().splitlines()
        text.insert(2, line)  # line 3: concepts after it are lost with an unterminated quote
        (export / "CONCEPT.csv").write_text("\n".join(text) + "\n")
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 3
    err = capsys.readouterr().err
    assert f"{name.upper()}.csv: line {2 if name == 'death' else 3} cannot be read" in err and fault in err, (
        err
    )
    assert not (tmp_path / "audit.duckdb").exists()


def test_a_tab_separated_vocabulary_quotes_nothing(tmp_path):
    """Athena's CONCEPT.csv is tab-separated and quotes nothing, and a concept name may start with a
    quote (OHDSI Vocabulary-v5.0 #1239: '"edoxaban'): read as a quoted field it ran to the end of
    the file and every concept after it was lost, so no condition was mapped (exit 0). OHDSI's own
    loaders read these files with no quote character."""
    export = write_cdm(tmp_path / "export", delimiter="\t")
    text = (export / "CONCEPT.csv").read_text().splitlines()
    text.insert(1, '1123892\tPayer status "Deceased"\tObservation\tPHDSC\tPayer\tS\t9')
    text.insert(2, '1123891\t"edoxaban\tDrug\tATC\tATC 5th\tC\tB01AF03')
    (export / "CONCEPT.csv").write_text("\n".join(text) + "\n")
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        drugs = con.execute("SELECT drug_name, rxnorm_code FROM prescriptions ORDER BY ALL").fetchall()
        codes = con.execute("SELECT count(*) FROM diagnoses").fetchone()[0]
    assert ("hydrochlorothiazide 25 MG Oral Tablet", "5487") in drugs  # the concept's, not the source's
    assert codes == 7  # every condition but person 5's unmapped XYZ
    assert flagged(tmp_path / "audit.duckdb", "cramps_cirrhosis") == {"3", "4"}


# CDM v5.4 measurement with every column: a censored result is operator_concept_id + value_as_number
# (or the same number written with a comparator in value_source_value); without value_as_number the
# verbatim value_source_value is read when it is a number or a censored number, else no value.
MEASUREMENT_CENSORED = """measurement_id,person_id,measurement_concept_id,measurement_date,measurement_datetime,measurement_time,measurement_type_concept_id,operator_concept_id,value_as_number,value_as_concept_id,unit_concept_id,range_low,range_high,provider_id,visit_occurrence_id,visit_detail_id,measurement_source_value,measurement_source_concept_id,unit_source_value,unit_source_concept_id,value_source_value,measurement_event_id,meas_event_field_concept_id
1,2,1001,2026-09-01,2026-09-01 08:30:00,,32856,4171756,2.5,0,1003,3.5,5.1,,,,2823-3,0,mmol/L,0,<2.5,,
2,2,1001,2026-09-02,,,32856,0,3.0,0,1003,,,,,,2823-3,0,mmol/L,0,< 3.0,,
3,3,1001,2026-09-02,,,32856,4172703,4.2,0,1003,,,,,,2823-3,0,mmol/L,0,4.2,,
4,3,1001,2026-09-03,,,32856,,,0,1003,,,,,,2823-3,0,mmol/L,0,>8,,
5,4,1001,2026-09-03,,,32856,,,0,1003,,,,,,2823-3,0,mmol/L,0,Hemolyzed,,
6,4,1001,2026-09-04,,,32856,4171754,3.4,0,1003,,,,,,2823-3,0,mmol/L,0,,,
7,5,1001,2026-09-04,,,32856,4171755,3.9,0,1003,,,,,,2823-3,0,mmol/L,0,,,
"""


def test_censored_results_keep_their_comparator(tmp_path):
    export = write_cdm(tmp_path / "export", measurement=MEASUREMENT_CENSORED)
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        stored = con.execute(
            "SELECT patient_id, collected_at::DATE::VARCHAR, value_original, value_comparator "
            "FROM lab_results ORDER BY ALL"
        ).fetchall()
        rejected = con.execute("SELECT count(*) FROM quarantine WHERE table_name = 'labs'").fetchall()[0][0]
    assert stored == [
        ("2", "2026-09-01", 2.5, "<"),  # operator_concept_id 4171756
        ("2", "2026-09-02", 3.0, "<"),  # operator 0, the comparator from value_source_value
        ("3", "2026-09-02", 4.2, None),  # 4172703 is '='
        ("3", "2026-09-03", 8.0, ">"),  # no value_as_number: value_source_value
        ("4", "2026-09-03", None, None),  # text: a result without a numeric value
        ("4", "2026-09-04", 3.4, "<="),
        ("5", "2026-09-04", 3.9, ">="),
    ]
    assert rejected == 0


def _cdm_counts(tmp_path: Path, name: str, **override: str) -> tuple[dict, dict]:
    """Run the fixture CDM (with overrides) in its own folder; (summary files, stored row counts)."""
    folder = tmp_path / name
    export = write_cdm(folder / "export", **override)
    assert cli(*run_args(folder, export, "--reject-threshold", "1")) == 0
    summary = json.loads((folder / "out" / "summary.json").read_text())
    with duckdb.connect(str(folder / "audit.duckdb"), read_only=True) as con:
        stored = {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in ("patients", "lab_results", "prescriptions", "diagnoses")
        }
    return summary, stored


def test_duplicated_concept_ids_do_not_multiply_facts(tmp_path):
    rows = table(CDM["concept"])
    # A concept repeated as a vocabulary load gone wrong writes it: the same id twice, once renamed.
    repeated = [r for r in rows if r["concept_id"] in {"1001", "2001", "3001"}]
    renamed = [dict(r, concept_name=r["concept_name"] + " (copy)") for r in repeated]
    lines = [",".join(rows[0])] + [",".join(r.values()) for r in [*rows, *repeated, *renamed]]
    plain, plain_stored = _cdm_counts(tmp_path, "plain")
    doubled, doubled_stored = _cdm_counts(tmp_path, "doubled", concept="\n".join(lines) + "\n")
    assert doubled_stored == plain_stored
    for table_name, counts in plain["files"].items():
        for key in ("rows_read", "rows_loaded", "rows_rejected", "rows_skipped", "rows_noted"):
            assert doubled["files"][table_name][key] == counts[key], (table_name, key)
    assert "CONCEPT.csv has 3 duplicated concept_id values; one row of each was used." in doubled["warnings"]
    assert not any("duplicated" in w for w in plain["warnings"])
    assert flagged(tmp_path / "doubled" / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"1"}


def test_days_supply_out_of_range_beside_a_valid_end_date_is_noted_not_fatal(tmp_path):
    drugs = """drug_exposure_id,person_id,drug_concept_id,drug_exposure_start_date,drug_exposure_end_date,days_supply,drug_source_value
1,1,2001,2026-03-01,2027-03-01,36500,310798
2,2,0,2026-01-10,,-3,furosemide 40 MG Oral Tablet
3,3,2003,2026-05-01,,30,314231
"""
    summary, _ = _cdm_counts(tmp_path, "noted", drug_exposure=drugs)
    rx = summary["files"]["prescriptions"]
    assert (rx["rows_read"], rx["rows_loaded"], rx["rows_rejected"], rx["rows_noted"]) == (3, 2, 1, 1)
    assert rx["top_notes"][0]["column"] == "days_supply"
    assert rx["top_rejection_reasons"][0]["column"] == "days_supply"  # no end date: the supply is the end
    with duckdb.connect(str(tmp_path / "noted" / "audit.duckdb"), read_only=True) as con:
        got = con.execute(
            "SELECT patient_id, days_supply, end_date::VARCHAR, end_effective::VARCHAR FROM prescriptions ORDER BY 1"
        ).fetchall()
        notes = con.execute("SELECT file, column_name, rule FROM row_notes").fetchall()
    assert got == [("1", None, "2027-03-01", "2027-03-01"), ("3", 30, None, "2026-05-31")]
    assert notes == [("DRUG_EXPOSURE.csv", "days_supply", "positive_integer")]
    assert flagged(tmp_path / "noted" / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"1"}


def test_egfr_in_the_ucum_units_of_omop_unit_concepts_loads(tmp_path):
    """OMOP's unit concepts for eGFR carry UCUM codes no laboratory prints ('mL/min/1.73.m2',
    concept 9117; 'mL/min/(173.10*-2.m2)', 720870; the older 'mL/min/{1.73}m', 9062, still in the
    Eunomia vocabulary): all are mL/min/1.73m2, not unknown units. A
    unit concept code the unit map lacks gives way to a unit_source_value it knows."""
    concept = CDM["concept"] + (
        "1004 | Glomerular filtration rate/1.73 sq M.predicted | Measurement | LOINC | Lab Test | S | 98979-8\n"
        "9117 | milliliter per minute per 1.73 square meter | Unit | UCUM | Unit | S | mL/min/1.73.m2\n"
        "720870 | milliliter per minute per 1.73 square meter | Unit | UCUM | Unit | S | mL/min/(173.10*-2.m2)\n"
        "9999 | a unit concept mapped to an unusual code | Unit | UCUM | Unit | S | mL/min/{BSA}\n"
        "9062 | Milliliter per minute per 1.73 meter | Unit | UCUM | Unit | | mL/min/{1.73}m\n"
    )
    measurement = CDM["measurement"] + (
        "4 | 1 | 1004 | 2026-09-01 | | 25 | 9117 | 98979-8 | mL/min/1.73.m2\n"
        "5 | 2 | 1004 | 2026-09-01 | | 30 | 720870 | 98979-8 | mL/min/{1.73_m2}\n"
        # a unit concept whose code the unit map lacks, beside a source value it knows
        "6 | 3 | 1004 | 2026-09-01 | | 35 | 9999 | 98979-8 | mL/min/1.73m2\n"
        "7 | 4 | 1004 | 2026-09-01 | | 45 | 9062 | 98979-8 |\n"
    )
    rows = {name: table(text) for name, text in {"concept": concept, "measurement": measurement}.items()}
    files = {
        name: "\n".join([",".join(r[0])] + [",".join(x.values()) for x in r]) + "\n"
        for name, r in rows.items()
    }
    export = write_cdm(tmp_path / "export", **files)
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        got = con.execute(
            "SELECT patient_id, value, unit FROM labs WHERE analyte = 'egfr' ORDER BY 1"
        ).fetchall()
        rejected = con.execute("SELECT count(*) FROM quarantine WHERE rule = 'known_unit'").fetchall()[0][0]
    assert got == [
        ("1", 25.0, "mL/min/1.73m2"),
        ("2", 30.0, "mL/min/1.73m2"),
        ("3", 35.0, "mL/min/1.73m2"),
        ("4", 45.0, "mL/min/1.73m2"),
    ]
    assert rejected == 0


def test_exposure_with_neither_end_date_nor_days_supply_lasts_one_day(tmp_path):
    """CDM v5.2 and older let drug_exposure_end_date be empty (and ETLs still leave it so): with no
    days_supply either (or the CDM's unknown, 0), OHDSI's drug era builder counts one day, not an
    exposure running for ever. Person 1's one hydrochlorothiazide dispensing in 2015 does not make
    them a diuretic patient in 2026; person 4's current one, with a days_supply, still does."""
    drugs = """drug_exposure_id,person_id,drug_concept_id,drug_exposure_start_date,drug_exposure_end_date,days_supply,drug_source_value
1,1,2001,2015-03-01,,,310798
2,2,2001,2015-03-01,,0,310798
3,4,2001,2026-03-01,,365,310798
"""
    summary, _ = _cdm_counts(tmp_path, "open", drug_exposure=drugs)
    assert summary["files"]["prescriptions"]["rows_loaded"] == 3
    assert _one_day_ends(tmp_path / "open" / "audit.duckdb")
    assert flagged(tmp_path / "open" / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"4"}


def _one_day_ends(db):
    """Persons 1 and 2 (no end, no days supply) end on their start day; person 4 runs 365 days."""
    with duckdb.connect(str(db), read_only=True) as con:
        got = con.execute(
            "SELECT patient_id, start_date::VARCHAR, end_effective::VARCHAR FROM prescriptions ORDER BY 1"
        ).fetchall()
    return got == [
        ("1", "2015-03-01", "2015-03-01"),
        ("2", "2015-03-01", "2015-03-01"),
        ("4", "2026-03-01", "2027-03-01"),
    ]


def test_gzip_compressed_tables_are_detected_and_read(tmp_path):
    """A CDM shipped compressed (`MEASUREMENT.csv.gz`, ...) is recognised without --format and reads
    as the plain files do."""
    export = write_cdm(tmp_path / "export")
    for path in list(export.iterdir()):
        (export / f"{path.name}.gz").write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"1"}
    assert flagged(tmp_path / "audit.duckdb", "cramps_cirrhosis") == {"3", "4"}
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        got = set(con.execute("SELECT file, column_name, rule FROM quarantine").fetchall())
    assert got == {
        ("MEASUREMENT.csv.gz", "value", "numeric"),
        ("DRUG_EXPOSURE.csv.gz", "end_date", "after_start"),
    }


def test_an_end_date_and_days_supply_held_as_empty_text_last_one_day(tmp_path):
    """A CDM staged as text (an ETL that loads its CSVs into VARCHAR columns as they are) holds a
    missing end date and days_supply as '' (or spaces), not NULL: still neither, so the exposure
    lasts its start day, as a NULL one does, not for ever. Person 4's, with a days_supply, runs on."""
    export = write_cdm_database(tmp_path / "export")
    with duckdb.connect(str(export / "cdm.duckdb")) as con:
        con.execute(
            "CREATE OR REPLACE TABLE drug_exposure (drug_exposure_id VARCHAR, person_id VARCHAR, "
            "drug_concept_id VARCHAR, drug_exposure_start_date VARCHAR, drug_exposure_end_date VARCHAR, "
            "days_supply VARCHAR, drug_source_value VARCHAR)"
        )
        con.execute(
            "INSERT INTO drug_exposure VALUES ('1', '1', '2001', '2015-03-01', '', '', '310798'), "
            "('2', '2', '2001', '2015-03-01', ' ', ' ', '310798'), "
            "('3', '4', '2001', '2026-03-01', '', '365', '310798')"
        )
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    assert _one_day_ends(tmp_path / "audit.duckdb")
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"4"}


def test_a_renewal_ending_on_its_start_day_lasts_as_long_as_the_course_it_renews(tmp_path):
    """Synthea-derived CDMs (the Eunomia sample) write a medication still taken, the last of a
    chain of yearly renewals, as an exposure ending on its start day with days_supply 0 and no
    verbatim end. Read as an end, a long-term user stops on the day of their last renewal; it is
    read as lasting as long as the course it renews, and noted. As of 2026-11-20."""
    drugs = """drug_exposure_id,person_id,drug_concept_id,drug_exposure_start_date,drug_exposure_end_date,verbatim_end_date,days_supply,drug_type_concept_id,drug_source_value
1,1,2001,2024-11-04,2025-11-10,,371,32869,310798
2,1,2001,2025-11-10,2025-11-10,,0,32869,310798
3,2,2001,2015-03-01,2015-03-01,,0,32869,310798
4,3,2001,2024-11-04,2025-11-10,,371,32869,310798
5,3,2001,2025-11-10,2025-11-10,2025-11-10,0,32869,310798
6,4,2001,2024-11-04,2025-11-10,,371,32869,310798
7,4,2001,2025-11-10,2025-11-10,,0,38000180,310798
8,5,2001,2024-06-01,2025-06-01,,365,32869,310798
9,5,2001,2025-11-10,2025-11-10,,0,32869,310798
10,6,2001,2010-11-10,2025-11-10,,0,32869,310798
11,6,2001,2024-11-10,2025-11-10,,365,32869,310798
12,6,2001,2025-11-10,2025-11-10,,0,32869,310798
"""
    summary, _ = _cdm_counts(tmp_path, "renewed", drug_exposure=drugs)
    rx = summary["files"]["prescriptions"]
    assert (rx["rows_read"], rx["rows_loaded"], rx["rows_rejected"], rx["rows_noted"]) == (12, 12, 0, 2)
    with duckdb.connect(str(tmp_path / "renewed" / "audit.duckdb"), read_only=True) as con:
        got = con.execute(
            "SELECT patient_id, days_supply, end_date::VARCHAR, end_effective::VARCHAR FROM prescriptions "
            "WHERE start_date = DATE '2025-11-10' OR patient_id = '2' ORDER BY 1"
        ).fetchall()
        notes = con.execute("SELECT file, column_name, rule FROM row_notes").fetchall()
    assert got == [
        ("1", 371, None, "2026-11-16"),  # renews the 371-day course that ended that day
        ("2", None, "2015-03-01", "2015-03-01"),  # one-off: its day
        ("3", None, "2025-11-10", "2025-11-10"),  # a verbatim end: the source recorded a stop
        ("4", None, "2025-11-10", "2025-11-10"),  # an inpatient administration ends on its day
        ("5", None, "2025-11-10", "2025-11-10"),  # the last course ended months before: no renewal
        # two courses ended that day (Eunomia persons 7 and 20: a 25-year record beside the yearly
        # renewals): the one started last is the course renewed, not the 15-year record
        ("6", 365, None, "2026-11-10"),
    ]
    assert notes == [("DRUG_EXPOSURE.csv", "days_supply", "renewal_length")] * 2
    assert flagged(tmp_path / "renewed" / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"1", "6"}


def test_a_verbatim_end_before_the_derived_one_and_a_stop_reason_are_stops(tmp_path):
    """verbatim_end_date is the end the source recorded; an ETL that derived drug_exposure_end_date
    from the supply instead (THEMIS asks for the verbatim one) leaves it earlier: the drug was stopped
    then, and is not taken on 2026-11-20. One at or after the derived end changes nothing. A
    stop_reason says the course ended in a stop: no refill gap follows its end."""
    drugs = """drug_exposure_id,person_id,drug_concept_id,drug_exposure_start_date,drug_exposure_end_date,verbatim_end_date,days_supply,drug_type_concept_id,drug_source_value,stop_reason
1,1,2001,2026-10-01,2026-12-29,2026-10-20,90,32869,310798,Adverse reaction
2,2,2001,2026-10-01,2026-12-29,2026-12-29,90,32869,310798,
3,3,2001,2026-11-01,,,30,32869,310798,Regimen completed
4,4,2001,2026-10-01,2026-11-09,,40,32869,310798,
5,5,2001,2026-10-01,2026-11-09,,40,32869,310798,Regimen completed
6,1,2001,2024-11-04,2025-11-10,2025-02-01,371,32869,310798,Adverse reaction
7,1,2001,2025-11-10,2025-11-10,,0,32869,310798,
8,2,2001,2025-03-01,2025-03-30,2025-03-01,30,32869,310798,
9,3,2001,2025-03-01,,2025-06-01,30,32869,310798,
"""
    summary, _ = _cdm_counts(tmp_path, "verbatim", drug_exposure=drugs)
    assert summary["files"]["prescriptions"]["rows_loaded"] == 9
    with duckdb.connect(str(tmp_path / "verbatim" / "audit.duckdb"), read_only=True) as con:
        got = con.execute(
            "SELECT patient_id, end_date::VARCHAR, end_effective::VARCHAR, stopped FROM prescriptions "
            "ORDER BY patient_id, start_date"
        ).fetchall()
    assert got == [
        ("1", "2025-02-01", "2025-02-01", True),  # stopped early: the zero-day row after it renews
        ("1", "2025-11-10", "2025-11-10", None),  # nothing (no course ran up to its day)
        ("1", "2026-10-20", "2026-10-20", True),  # the verbatim end: a stop
        ("2", "2025-03-30", "2025-03-30", None),  # a verbatim end on the start day says nothing
        ("2", "2026-12-29", "2026-12-29", None),
        ("3", None, "2025-03-31", None),  # a verbatim end after the supply's last day: the supply's
        ("3", None, "2026-12-01", True),
        ("4", "2026-11-09", "2026-11-09", None),  # ends with its supply: the refill gap follows
        ("5", "2026-11-09", "2026-11-09", True),  # stopped: none does
    ]
    # persons 1, 3, 4 and 5 have no usable result (person 2 was tested before the start)
    flags = flagged(tmp_path / "verbatim" / "audit.duckdb", "diuretic_electrolyte_monitoring")
    assert flags == {"3", "4"}


def test_a_measurement_sent_again_with_a_corrected_value_replaces_the_one_before(tmp_path):
    """measurement_id names one result: the next night's row of the same id (written '1.0', as pandas
    writes an id column with an empty cell) with a corrected value replaces it; a row whose id the
    next night does not send stays."""
    header = CDM["measurement"].strip().splitlines()[0]

    def measurement(potassium: str, first_id: str) -> str:
        return f"""
        {header}
        {first_id} | 2 | 1001 | 2026-09-01 | 2026-09-01 08:30:00 | {potassium} | 1003 | 2823-3 | mmol/L
        2          | 2 | 0    | 2026-09-01 |                     | 139         | 0    | 2951-2 | mmol/L
        """

    def export(name: str, potassium: str, first_id: str, sodium: bool = True) -> Path:
        def csv(rows: list[dict[str, str]]) -> str:
            return "\n".join([",".join(rows[0])] + [",".join(r.values()) for r in rows]) + "\n"

        labs = table(measurement(potassium, first_id))[: None if sodium else 1]
        drugs = table(CDM["drug_exposure"])[:2]  # not the fixture's end-before-start row
        return write_cdm(tmp_path / name, measurement=csv(labs), drug_exposure=csv(drugs))

    db = tmp_path / "audit.duckdb"

    def current() -> list[tuple]:
        with duckdb.connect(str(db), read_only=True) as con:
            return con.execute("SELECT analyte, value FROM labs WHERE patient_id = '2' ORDER BY 1").fetchall()

    night(tmp_path, "2026-11-02", export("n1", "4.1", "1"))
    assert current() == [("potassium", 4.1), ("sodium", 139.0)]
    night(tmp_path, "2026-11-03", export("n2", "2.9", "1.0", sodium=False))
    assert current() == [("potassium", 2.9), ("sodium", 139.0)]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*), count(*) FILTER (_superseded) FROM lab_results").fetchall() == [
            (3, 1)
        ]


def test_na_is_empty_where_it_is_no_value_and_sodium_where_it_is_a_lab_code(tmp_path):
    """R writes a missing value as NA: no value in a date, number, concept id or unit, but a
    measurement_source_value NA is sodium's symbol (a lab coded only locally), kept as written."""
    measurement = (
        "measurement_id,person_id,measurement_concept_id,measurement_date,measurement_datetime,"
        "value_as_number,unit_concept_id,operator_concept_id,measurement_source_value,unit_source_value\n"
        "1,2,0,2026-09-01,NA,139,NA,NA,NA,mmol/L\n"
        "2,2,1001,2026-09-01,NA,NA,1003,NA,2823-3,NA\n"
    )
    export = write_cdm(tmp_path / "export", measurement=measurement)
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        labs = con.execute("SELECT analyte, collected_at, value, unit FROM labs ORDER BY 1").fetchall()
        rejected = con.execute("SELECT count(*) FROM quarantine WHERE table_name = 'labs'").fetchall()
    assert labs == [
        ("potassium", datetime(2026, 9, 1), None, "mmol/L"),
        ("sodium", datetime(2026, 9, 1), 139.0, "mmol/L"),
    ]
    assert rejected == [(0,)]
