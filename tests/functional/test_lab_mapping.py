"""Lab results are stored as exported and mapped at query time: codelist changes reach old results,
and a database written by schema version 1 (mapping frozen in a `labs` table) is migrated in place."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb

import pipelines.db
from tests.conftest import SAMPLE_EXPORT
from tests.helpers import cli, flagged, night, run_args, run_pipeline, table, table_counts, write_export

CHECK = "diuretic_electrolyte_monitoring"
AS_OF = date(2026, 11, 20)

PRESCRIPTIONS = table("""
patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date | days_supply
P1         | furosemide 40 mg tablet | 4603        | C03CA01  | 2025-01-01 |          |
""")

# "Kalium (serum)" is not in the shipped codelist: until it is, P1 has no potassium result.
LABS = table("""
patient_id | collected_at | loinc_code | test_name      | value | unit
P1         | 2026-10-01   |            | Kalium (serum) | 4.1   | mEq/L
P1         | 2026-10-01   | 2951-2     |                | 139   | mmol/L
""")

V1_LABS = """
CREATE TABLE labs (
    patient_id VARCHAR NOT NULL, collected_at TIMESTAMP NOT NULL, loinc_code VARCHAR,
    test_name VARCHAR, analyte VARCHAR, specimen VARCHAR, value DOUBLE, unit VARCHAR,
    value_original DOUBLE, unit_original VARCHAR, _run_id VARCHAR NOT NULL
)
"""


def rows(db, query: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(query).fetchall()


def test_a_codelist_change_remaps_results_loaded_by_earlier_runs(tmp_path, monkeypatch):
    codelists = tmp_path / "codelists"
    shutil.copytree(pipelines.db.CODELIST_DIR, codelists)
    monkeypatch.setattr(pipelines.db, "CODELIST_DIR", codelists)
    db = tmp_path / "audit.duckdb"

    run_pipeline(tmp_path, AS_OF, (CHECK,), prescriptions=PRESCRIPTIONS, labs=LABS)
    assert flagged(db, CHECK) == {"P1"}
    assert rows(db, "SELECT analyte, value FROM labs WHERE test_name IS NOT NULL") == [(None, 4.1)]

    with (codelists / "lab_tests.csv").open("a", encoding="utf-8") as handle:
        handle.write("kalium (serum),name,Potassium (German name),potassium,blood\n")
    outcome = run_pipeline(tmp_path, AS_OF, (CHECK,), prescriptions=PRESCRIPTIONS, labs=LABS)

    assert sum(f.rows_loaded for f in outcome.files) == 0  # same export: nothing loaded again
    assert rows(db, "SELECT analyte, value, unit FROM labs WHERE test_name IS NOT NULL") == [
        ("potassium", 4.1, "mmol/L")  # mEq/L of K+ = mmol/L, now in the canonical unit
    ]
    assert flagged(db, CHECK) == set()


def test_lab_concepts_holds_each_distinct_key_once_with_its_mapping(tmp_path):
    db = tmp_path / "audit.duckdb"
    run_pipeline(tmp_path, AS_OF, (CHECK,), prescriptions=PRESCRIPTIONS, labs=LABS + LABS[1:])
    concepts = rows(
        db,
        "SELECT loinc_code, test_name, unit_original, analyte, has_reference, factor "
        "FROM lab_concepts ORDER BY ALL",
    )
    assert concepts == [
        ("2951-2", None, "mmol/L", "sodium", True, 1.0),
        (None, "Kalium (serum)", "mEq/L", None, False, 1.0),
    ]


def test_a_version_1_database_is_migrated_keeping_every_result(tmp_path, capsys):
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == 0
    db = tmp_path / "audit.duckdb"
    # Version 1 knew no censored results ('<2.5'): the v1 file holds the other results.
    plain = "SELECT * EXCLUDE (value_comparator, result_id) FROM labs WHERE value_comparator IS NULL"
    before = rows(db, f"{plain} ORDER BY ALL")
    censored = rows(db, "SELECT count(*) FROM labs WHERE value_comparator IS NOT NULL")[0][0]
    counts = table_counts(db)
    assert len(before) > 100

    # Rewrite the file as version 1 wrote it: a labs table with the mapping stored in it, and
    # run_files without the size column.
    with duckdb.connect(str(db)) as con:
        con.execute(f"CREATE TEMP TABLE v1 AS {plain}")
        con.execute("DROP VIEW labs; DROP TABLE lab_results; DROP TABLE lab_concepts")
        con.execute("ALTER TABLE run_files DROP COLUMN bytes")
        con.execute(V1_LABS)
        con.execute("INSERT INTO labs SELECT * FROM v1; UPDATE schema_version SET version = 1")

    # The next night's export: the same files, plus one new lab result.
    export = tmp_path / "night2"
    shutil.copytree(SAMPLE_EXPORT, export)
    with (export / "labs.csv").open("a", encoding="utf-8") as handle:
        handle.write("P9999,2026-11-19,2823-3,Potassium,4.4,mmol/L\n")
    assert cli(*run_args(tmp_path, export)) == 0

    assert rows(db, "SELECT version FROM schema_version") == [(pipelines.db.SCHEMA_VERSION,)]
    assert rows(db, "SELECT table_type FROM information_schema.tables WHERE table_name = 'labs'") == [
        ("VIEW",)
    ]
    assert rows(db, f"{plain} AND patient_id <> 'P9999' ORDER BY ALL") == before
    assert rows(db, "SELECT analyte, value FROM labs WHERE patient_id = 'P9999'") == [("potassium", 4.4)]
    after = table_counts(db)
    assert after["labs"] == counts["labs"] + 1 and after["runs"] == counts["runs"] + 1
    latest = "SELECT run_id FROM runs ORDER BY seq DESC LIMIT 1"
    loaded = rows(
        db, f"SELECT rows_loaded, bytes FROM run_files WHERE table_name = 'labs' AND run_id = ({latest})"
    )
    # the new result, and the censored results the v1 file could not hold
    assert censored and loaded == [(1 + censored, (export / "labs.csv").stat().st_size)]


def test_a_valid_loinc_code_not_in_the_codelist_is_not_rescued_by_its_test_name(tmp_path):
    # 2829-0 is "Potassium [Moles/time] in 24 hour Urine": a real LOINC code (check digit 0) that
    # lab_tests.csv does not list. Named just "Potassium", it must not become a blood potassium,
    # while the same name with no code, or with a mistyped code (2823-4 fails its check digit), does.
    labs = table("""
    patient_id | collected_at | loinc_code | test_name | value | unit
    P1         | 2026-10-01   | 2829-0     | Potassium | 62    | mmol/d
    P1         | 2026-10-02   |            | Potassium | 4.1   | mmol/L
    P1         | 2026-10-03   | 2823-4     | Potassium | 4.3   | mmol/L
    """)
    db = tmp_path / "audit.duckdb"
    run_pipeline(tmp_path, AS_OF, (CHECK,), prescriptions=PRESCRIPTIONS, labs=labs)
    assert rows(
        db,
        "SELECT loinc_code, analyte, specimen, loinc_check_ok FROM lab_concepts "
        "ORDER BY loinc_code NULLS FIRST",
    ) == [
        (None, "potassium", "blood", None),
        ("2823-4", "potassium", "blood", False),
        ("2829-0", None, None, True),
    ]
    assert rows(db, "SELECT collected_at::DATE::VARCHAR, analyte FROM labs ORDER BY collected_at") == [
        ("2026-10-01", None),
        ("2026-10-02", "potassium"),
    ]  # the mistyped code's row is quarantined at ingest; its key is still mapped above


def test_units_as_uk_and_us_laboratories_spell_them_are_read(tmp_path):
    # Pathology systems and GP exports write the same unit many ways: "micromol/L" (the BNF's and
    # many NHS laboratories' spelling), "mmol/litre", "mmol per litre", "mL/min/1.73 sq.m",
    # "mL/min per 1.73m2", "mL/minute/1.73 m2" and "mL/min/1.73" (US laboratories' eGFR),
    # "mcmol/L" (US pharmacy style), UCUM's display names ("milligram per
    # deciliter", as FHIR's Quantity.unit carries them). Each is the canonical unit; an unknown
    # unit ("mg/L" for a creatinine) is still quarantined, never guessed.
    labs = table("""
    patient_id | collected_at | loinc_code | test_name              | value | unit
    P1         | 2026-10-01   | 2823-3     |                        | 4.1   | mmol/litre
    P1         | 2026-10-01   | 2951-2     |                        | 139   | mmol per litre
    P1         | 2026-10-01   |            | Serum creatinine level | 80    | micromol/L
    P1         | 2026-10-02   | 2160-0     |                        | 81    | mcmol/L
    P1         | 2026-10-01   | 62238-1    |                        | 72    | mL/min/1.73 sq.m
    P1         | 2026-10-02   | 62238-1    |                        | 70    | mL/min per 1.73m2
    P1         | 2026-10-05   | 62238-1    |                        | 38    | mL/minute/1.73 m2
    P1         | 2026-10-06   | 62238-1    |                        | 39    | mL/min/1.73
    P1         | 2026-10-01   | 1751-7     |                        | 39    | g/litre
    P1         | 2026-10-03   | 2160-0     |                        | 7     | mg/L
    P1         | 2026-10-04   | 2160-0     |                        | 1.2   | milligram per deciliter
    P1         | 2026-10-04   | 2823-3     |                        | 4.0   | millimole per liter
    """)
    db = tmp_path / "audit.duckdb"
    run_pipeline(tmp_path, AS_OF, (CHECK,), prescriptions=PRESCRIPTIONS, labs=labs)
    assert rows(db, "SELECT collected_at::DATE::VARCHAR, analyte, value, unit FROM labs ORDER BY ALL") == [
        ("2026-10-01", "albumin", 39.0, "g/L"),
        ("2026-10-01", "creatinine", 80.0, "umol/L"),
        ("2026-10-01", "egfr", 72.0, "mL/min/1.73m2"),
        ("2026-10-01", "potassium", 4.1, "mmol/L"),
        ("2026-10-01", "sodium", 139.0, "mmol/L"),
        ("2026-10-02", "creatinine", 81.0, "umol/L"),
        ("2026-10-02", "egfr", 70.0, "mL/min/1.73m2"),
        ("2026-10-04", "creatinine", 106.0, "umol/L"),
        ("2026-10-04", "potassium", 4.0, "mmol/L"),
        ("2026-10-05", "egfr", 38.0, "mL/min/1.73m2"),
        ("2026-10-06", "egfr", 39.0, "mL/min/1.73m2"),
    ]
    assert rows(db, "SELECT line, column_name, rule FROM quarantine") == [(11, "unit", "known_unit")]
    assert flagged(db, CHECK) == set()


def test_a_version_10_database_gains_result_ids_without_loading_a_result_twice(tmp_path):
    """Schema 11 names results (lab_results.result_id). A version-10 file's results have no id: the
    next night's export of the same results with ids loads none of them again, and names them, so
    the night after, a corrected value replaces the stored one."""
    header = "patient_id,collected_at,loinc_code,test_name,value,unit,result_id\n"
    rows_ = [
        "P1,2026-11-01T09:00:00,2823-3,Potassium,{k},mmol/L,{id}\n",
        "P2,2026-11-01,2951-2,Sodium,139,mmol/L,{id2}\n",
    ]

    def export(name: str, k: str, named: bool) -> Path:
        text = (
            header
            + rows_[0].format(k=k, id="R1" if named else "")
            + rows_[1].format(id2="R2" if named else "")
        )
        return write_export(tmp_path / name, labs=text)

    db = tmp_path / "audit.duckdb"
    night(tmp_path, "2026-11-02", export("n1", "2.9", named=False))
    with duckdb.connect(str(db)) as con:  # the file as version 10 wrote it
        con.execute("DROP VIEW labs; DROP VIEW current_lab_results")
        con.execute(
            "ALTER TABLE lab_results DROP COLUMN result_id; ALTER TABLE lab_results DROP COLUMN _superseded"
        )
        con.execute("UPDATE schema_version SET version = 10")
    night(tmp_path, "2026-11-03", export("n2", "2.9", named=True))
    assert rows(db, "SELECT version FROM schema_version") == [(pipelines.db.SCHEMA_VERSION,)]
    assert rows(db, "SELECT patient_id, result_id FROM lab_results ORDER BY 1") == [
        ("P1", "R1"),
        ("P2", "R2"),
    ]
    night(tmp_path, "2026-11-04", export("n3", "4.3", named=True))
    assert rows(db, "SELECT patient_id, value FROM labs ORDER BY 1") == [("P1", 4.3), ("P2", 139.0)]
    assert rows(db, "SELECT count(*) FROM lab_results") == [(3,)]  # every version kept
