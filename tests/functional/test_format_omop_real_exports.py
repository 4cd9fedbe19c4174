# ruff: noqa: E501 - the fixture tables read best unwrapped, as in tests/spec
"""OMOP CDM v5.4 as real ETLs and database dumps write it, through the real CLI: facts whose standard
concept is 0 but whose source concept is known (a local lab or pharmacy code mapped only in
*_source_concept_id), conditions mapped to no concept at all, and PostgreSQL COPY's `\\N` nulls.

Concept ids and codes of LOINC, RxNorm and SNOMED below are the OHDSI vocabularies' own (Athena);
the RxNorm Extension and NDC concepts are made up in their vocabularies' shape.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import pandas as pd

from tests.functional.test_format_omop import CDM, MEASUREMENT_CENSORED, write_cdm
from tests.helpers import cli, flagged, run_args, table

# The fixture's concepts, and those the facts below reach only through their source concept.
CONCEPTS = (
    CDM["concept"]
    + """
        3023103    | Potassium [Moles/volume] in Serum or Plasma | Measurement | LOINC         | Lab Test           | S                | 2823-3
        956874     | furosemide                                  | Drug        | RxNorm        | Ingredient         | S                | 4603
        19112649   | furosemide 40 MG Oral Tablet                | Drug        | RxNorm        | Clinical Drug      | S                | 313988
        35100001   | furosemide 40 MG Oral Tablet [Lasix] Box of 30 | Drug     | RxNorm Extension | Marketed Product |                 | OMOP900001
        45000001   | Furosemide 40 MG Oral Tablet                | Drug        | NDC           | 11-digit NDC       |                  | 00054829725
"""
)
ANCESTORS = (
    CDM["concept_ancestor"]
    + """
        956874              | 19112649              | 1                        | 1
        956874              | 35100001              | 2                        | 2
"""
)


def _csv(text: str) -> str:
    """A text table (tests.helpers.table) as CSV text."""
    rows = table(text)
    return "\n".join([",".join(rows[0])] + [",".join(r.values()) for r in rows]) + "\n"


# Person 1: on furosemide known only by its source concept (a local pharmacy code RX-000123), with
# a potassium known only by its source concept (a local lab code LAB-0042) and a sodium: monitored,
# not flagged. Person 2: the same drug through an RxNorm Extension source concept, never tested:
# flagged. Person 3: hydrochlorothiazide by its standard concept, its NDC source concept beside it.
# Person 4: an NDC source concept only: named, but no RxNorm code. Person 5: no concept at all.
SOURCE_DRUGS = """
    drug_exposure_id | person_id | drug_concept_id | drug_exposure_start_date | drug_exposure_end_date | days_supply | drug_source_value | drug_source_concept_id
    1                | 1         | 0               | 2026-01-10               | 2027-01-10             | 365         | RX-000123         | 19112649
    2                | 2         | 0               | 2026-01-10               | 2027-01-10             | 365         | RX-000456         | 35100001
    3                | 3         | 2001            | 2026-01-10               | 2027-01-10             | 365         | 00172208380       | 45000001
    4                | 4         | 0               | 2026-01-10               | 2027-01-10             | 365         | 00054829725       | 45000001
    5                | 5         | 0               | 2026-01-10               | 2027-01-10             | 365         | Lasix 40mg        | 0
"""
SOURCE_LABS = """
    measurement_id | person_id | measurement_concept_id | measurement_date | value_as_number | unit_concept_id | measurement_source_value | measurement_source_concept_id | unit_source_value
    1              | 1         | 0                      | 2026-09-01       | 4.0             | 1003            | LAB-0042                 | 3023103                       | mmol/L
    2              | 1         | 0                      | 2026-09-01       | 139             | 1003            | 2951-2                   | 0                             | mmol/L
    3              | 3         | 1001                   | 2026-09-01       | 4.2             | 1003            | LAB-0042                 | 3023103                       | mmol/L
    4              | 3         | 1002                   | 2026-09-01       | 140             | 1003            | NA-SER                   | 0                             | mmol/L
    5              | 4         | 0                      | 2026-09-01       | 4.4             | 1003            | LAB-9999                 | 0                             | mmol/L
"""


def _source_cdm(folder: Path) -> Path:
    return write_cdm(
        folder,
        concept=_csv(CONCEPTS),
        concept_ancestor=_csv(ANCESTORS),
        drug_exposure=_csv(SOURCE_DRUGS),
        measurement=_csv(SOURCE_LABS),
    )


def test_source_concepts_code_drugs_and_labs_whose_standard_concept_is_0(tmp_path):
    export = _source_cdm(tmp_path / "export")
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        drugs = con.execute(
            "SELECT patient_id, drug_name, rxnorm_code FROM prescriptions ORDER BY 1"
        ).fetchall()
        labs = con.execute("SELECT patient_id, loinc_code, test_name FROM labs ORDER BY ALL").fetchall()
    assert drugs == [
        ("1", "furosemide 40 MG Oral Tablet", "4603"),  # the RxNorm source concept, its ingredient
        ("2", "furosemide 40 MG Oral Tablet [Lasix] Box of 30", "4603"),  # RxNorm Extension: the ingredient
        ("3", "hydrochlorothiazide 25 MG Oral Tablet", "5487"),  # the standard concept wins
        ("4", "Furosemide 40 MG Oral Tablet", None),  # an NDC concept names the drug, codes no RxNorm
        ("5", "Lasix 40mg", None),  # no concept: the source value
    ]
    assert labs == [
        ("1", "2823-3", "Potassium [Moles/volume] in Serum or Plasma"),  # the LOINC source concept
        ("1", "2951-2", "2951-2"),  # no concept: a LOINC-shaped source value, as before
        ("3", "2823-3", "Potassium [Moles/volume] in Serum or Plasma"),
        ("3", "2951-2", "Sodium [Moles/volume] in Serum or Plasma"),
        ("4", None, "LAB-9999"),
    ]


def test_source_concepts_reach_the_checks(tmp_path):
    export = _source_cdm(tmp_path / "export")
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    # 1 is monitored through its source-coded potassium, 3 through its standard-coded one; 2 (an
    # RxNorm Extension source concept) was never tested; 4 (named by its NDC concept) and 5 (by its
    # source value) are diuretics whose only result, a local code mapped to no concept, is no potassium
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"2", "4", "5"}


# Rows 9-12: conditions no codelist can match: unmapped local codes (concept 0 and source concept 0,
# as every real CDM has), a standard concept missing from the concept table, and a Read code source
# concept beside no standard one. Four of twelve rows: far past the default reject threshold were
# they rejected.
UNMAPPED_CONDITIONS = (
    CDM["condition_occurrence"]
    + """
        9                       | 1         | 0                    | 2026-10-02           |                    | LOCAL-ABC              | 0
        10                      | 2         | 0                    | 2026-10-02           |                    | LOCAL-DEF              |
        11                      | 2         | 4999999              | 2026-10-02           |                    | LOCAL-GHI              | 0
        12                      | 1         | 0                    | 2026-10-02           |                    | J612.                  | 3006
"""
)
READ_CONCEPT = """
        3006       | Alcoholic cirrhosis of liver                | Condition   | Read          | Read               |                  | J612.
"""


def test_conditions_in_no_audited_code_system_are_skipped_not_rejected(tmp_path):
    export = write_cdm(
        tmp_path / "export",
        condition_occurrence=_csv(UNMAPPED_CONDITIONS),
        concept=_csv(CDM["concept"] + READ_CONCEPT),
        measurement=_csv(SOURCE_LABS),  # no bad rows: the default reject threshold below
        drug_exposure=_csv(SOURCE_DRUGS),
    )
    assert cli(*run_args(tmp_path, export)) == 0
    dx = json.loads((tmp_path / "out" / "summary.json").read_text())["files"]["diagnoses"]
    assert (dx["rows_read"], dx["rows_loaded"], dx["rows_rejected"], dx["rows_skipped"]) == (12, 7, 0, 5)
    assert dx["skip_reasons"] == {
        "condition with no concept (concept_id 0, or not in concept)": 4,  # the fixture's XYZ too
        "condition concept in a vocabulary not audited (Read)": 1,
    }
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM quarantine WHERE table_name = 'diagnoses'").fetchall() == [
            (0,)
        ]
    assert flagged(tmp_path / "audit.duckdb", "cramps_cirrhosis") == {"3", "4"}


def _postgres_dump(folder: Path, tables: dict[str, str]) -> Path:
    """CSV texts as PostgreSQL's COPY ... TO (text format) writes tables: tab separated, NULL as `\\N`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in tables.items():
        rows = list(csv.reader(io.StringIO(text)))
        lines = ["\t".join(v or "\\N" for v in row) for row in rows]
        (folder / f"{name.upper()}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _stored(folder: Path) -> dict[str, list[tuple]]:
    """Every stored fact, quarantined row and finding of the folder's run (without its run id)."""
    queries = {
        "patients": "SELECT * EXCLUDE (_run_id) FROM patients",
        "labs": "SELECT * EXCLUDE (_run_id) FROM lab_results",
        "drugs": "SELECT * EXCLUDE (_run_id) FROM prescriptions",
        "diagnoses": "SELECT * EXCLUDE (_run_id) FROM diagnoses",
        "findings": "SELECT * EXCLUDE (run_id) FROM findings",
        "quarantine": "SELECT * EXCLUDE (run_id) FROM quarantine",
    }
    with duckdb.connect(str(folder / "audit.duckdb"), read_only=True) as con:
        return {name: con.execute(sql + " ORDER BY ALL").fetchall() for name, sql in queries.items()}


# The fixture's tables, its measurements with every CDM v5.4 column: results only in value_source_value
# ('>8' beside no value_as_number: a `\N` there must not hide it), and conditions with no end date (a
# `\N` date is no date).
DUMPED = {name: _csv(text) for name, text in CDM.items()} | {"measurement": MEASUREMENT_CENSORED}


def test_postgres_null_marker_reads_as_empty(tmp_path):
    plain = write_cdm(tmp_path / "plain" / "export", **DUMPED)
    dumped = _postgres_dump(tmp_path / "dumped" / "export", DUMPED)
    assert "\\N" in (dumped / "CONDITION_OCCURRENCE.csv").read_text()
    for export in (plain, dumped):
        assert cli(*run_args(export.parent, export, "--reject-threshold", "1")) == 0
    plain_run, dumped_run = _stored(tmp_path / "plain"), _stored(tmp_path / "dumped")
    assert dumped_run == plain_run
    assert len(plain_run["quarantine"]) == 1  # the drug ending before it starts, no more
    assert ("3", 8.0, ">") in [(r[0], r[4], r[6]) for r in plain_run["labs"]]  # from value_source_value


def _float_export(text: str) -> str:
    """CSV text as pandas writes a table it read: a whole-number column with an empty cell becomes
    float, so its ids are written '4171756.0' (as R and spreadsheets write them too)."""
    return pd.read_csv(io.StringIO(text), dtype={"measurement_datetime": str}).to_csv(index=False)


# The fixture with empty cells in whole-number columns, so that the float export writes them as floats:
# month and day of birth (person 3 has only a year), operator_concept_id (row 6's '<=' is written
# nowhere else), days_supply, condition_source_concept_id (person 4's ICD-10-CM concepts) and the
# death table's cause_concept_id.
FLOATED = DUMPED | {
    "drug_exposure": _csv(
        CDM["drug_exposure"] + "        4 | 4 | 2001 | 2026-02-01 | 2026-03-01 | | 310798\n"
    ),
    "condition_occurrence": _csv(
        CDM["condition_occurrence"] + "        9 | 2 | 3002 | 2026-10-01 | | 55300003 |\n"
    ),
}
DEATHS = "person_id,death_date,cause_concept_id\n1,2026-06-01,\n5,2026-10-25,0\n"


def test_whole_numbers_written_as_floats_read_as_the_integers(tmp_path):
    plain = write_cdm(tmp_path / "plain" / "export", **FLOATED)
    floated = write_cdm(tmp_path / "floated" / "export", **{k: _float_export(v) for k, v in FLOATED.items()})
    (plain / "DEATH.csv").write_text(DEATHS, encoding="utf-8")
    (floated / "DEATH.csv").write_text(_float_export(DEATHS), encoding="utf-8")
    for export in (plain, floated):
        assert cli(*run_args(export.parent, export, "--reject-threshold", "1")) == 0
    written = {p.stem: p.read_text() for p in floated.iterdir()}
    assert "4171754.0" in written["MEASUREMENT"] and "3003.0" in written["CONDITION_OCCURRENCE"]
    assert "365.0" in written["DRUG_EXPOSURE"] and "2.0,3.0" in written["PERSON"]
    assert _stored(tmp_path / "floated") == _stored(tmp_path / "plain")
    assert flagged(tmp_path / "floated" / "audit.duckdb", "cramps_cirrhosis") == {"3", "4"}


def test_sql_server_null_text_reads_as_empty(tmp_path):
    """SQL Server Management Studio's "Save Results As" CSV writes NULL as the text `NULL`: a NULL
    measurement_datetime must not reject the lab, a NULL days_supply must not be a bad number."""
    plain = write_cdm(tmp_path / "plain" / "export", **DUMPED)
    nulled = {
        name: "\n".join(",".join(v or "NULL" for v in row) for row in csv.reader(io.StringIO(text))) + "\n"
        for name, text in DUMPED.items()
    }
    ssms = write_cdm(tmp_path / "ssms" / "export", **nulled)
    assert "NULL" in (ssms / "MEASUREMENT.csv").read_text()
    for export in (plain, ssms):
        assert cli(*run_args(export.parent, export, "--reject-threshold", "1")) == 0
    assert _stored(tmp_path / "ssms") == _stored(tmp_path / "plain")
