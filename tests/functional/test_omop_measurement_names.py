"""An OMOP measurement is one result by what the source recorded, not by its measurement_id.

A CDM is usually rebuilt from its sources at each refresh, and an ETL that numbers its rows (as
ETL-Synthea and most SQL ETLs do, `row_number()` over the staged rows) gives every measurement a new
measurement_id each time; the id of one result may then name another. Named by that id, each
refresh stored every result again. Named by its person, time and source test, a refresh adds
nothing, and a result the source corrected replaces the one stored.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.db import SCHEMA_VERSION
from tests.functional.test_format_omop import CDM, write_cdm
from tests.helpers import night, query, table, write_export

HEADER = (
    "measurement_id,person_id,measurement_concept_id,measurement_date,measurement_datetime,"
    "value_as_number,unit_concept_id,measurement_source_value,measurement_source_concept_id,unit_source_value"
)
# Person 2: potassium at 08:30 and sodium (standard concept 0, LOINC from the source value) the
# same day; person 3: two potassium draws on one day in a CDM recording dates only (no datetime)
# and a potassium named by its source concept only.
ROWS = {
    "k2": "2,1001,2026-09-01,2026-09-01 08:30:00,{k2},1003,2823-3,0,mmol/L",
    "na2": "2,0,2026-09-01,,139,0,2951-2,0,mmol/L",
    "k3a": "3,1001,2026-09-02,,{k3a},1003,K,0,mmol/L",
    "k3b": "3,1001,2026-09-02,,3.6,1003,K,0,mmol/L",
    "k3c": "3,1001,2026-09-05,,4.4,1003,,1001,mmol/L",
}
FIRST = {"k2": "4.1", "k3a": "3.9"}


def _export(folder: Path, ids: dict[str, int], values: dict[str, str]) -> Path:
    lines = [HEADER] + [f"{ids[key]}," + row.format(**values) for key, row in ROWS.items()]
    drugs = table(CDM["drug_exposure"])[:2]  # not the fixture's end-before-start row
    drug_exposure = "\n".join([",".join(drugs[0])] + [",".join(row.values()) for row in drugs]) + "\n"
    return write_cdm(folder, measurement="\n".join(lines) + "\n", drug_exposure=drug_exposure)


def _stored(db: Path) -> list[tuple]:
    return query(
        db,
        "SELECT patient_id, collected_at::VARCHAR, value_original, coalesce(_superseded, false) "
        "FROM lab_results ORDER BY ALL",
    )


def _current(db: Path) -> list[tuple]:
    return [row[:3] for row in _stored(db) if not row[3]]


IDS = {"k2": 1, "na2": 2, "k3a": 3, "k3b": 4, "k3c": 5}
RENUMBERED = {"k2": 4, "na2": 3, "k3a": 5, "k3b": 1, "k3c": 2}  # each id now another result's


def test_a_rebuilt_cdm_renumbering_its_measurements_stores_nothing_twice(tmp_path):
    db = tmp_path / "audit.duckdb"
    night(tmp_path, "2026-11-02", _export(tmp_path / "n1", IDS, FIRST))
    first = _stored(db)
    assert len(first) == 5 and not any(row[3] for row in first)
    night(tmp_path, "2026-11-03", _export(tmp_path / "n2", RENUMBERED, FIRST))
    assert _stored(db) == first
    names = query(db, "SELECT DISTINCT result_id FROM lab_results ORDER BY 1")
    # format auto (the nights name none): the run record says which format was read
    assert query(db, "SELECT DISTINCT export_format FROM runs") == [("omop",)]
    assert names == [
        ("source | 2026-09-01 00:00:00 | 2951-2",),
        ("source | 2026-09-01 08:30:00 | 2823-3",),
        ("source | 2026-09-02 00:00:00 | K",),
        ("source | 2026-09-05 00:00:00 | source concept 1001",),
    ]


def test_a_corrected_result_under_a_new_id_replaces_the_one_stored(tmp_path):
    """Person 2's potassium corrected 4.1 -> 2.9 at the rebuild, and one of person 3's two same-day
    draws 3.9 -> 3.1: each replaces its version; the other draw of that day stays current."""
    db = tmp_path / "audit.duckdb"
    night(tmp_path, "2026-11-02", _export(tmp_path / "n1", IDS, FIRST))
    night(tmp_path, "2026-11-03", _export(tmp_path / "n2", RENUMBERED, {"k2": "2.9", "k3a": "3.1"}))
    assert _current(db) == [
        ("2", "2026-09-01 00:00:00", 139.0),
        ("2", "2026-09-01 08:30:00", 2.9),
        ("3", "2026-09-02 00:00:00", 3.1),
        ("3", "2026-09-02 00:00:00", 3.6),
        ("3", "2026-09-05 00:00:00", 4.4),
    ]
    assert sorted(row[2] for row in _stored(db) if row[3]) == [3.9, 4.1]  # kept, not read


def test_two_draws_of_one_test_on_one_day_are_both_current(tmp_path):
    """Date-only CDM: person 3's two potassium draws on 2 September share a source record's name;
    both are sent, so both are results, night after night."""
    db = tmp_path / "audit.duckdb"
    for n, as_of in enumerate(("2026-11-02", "2026-11-03", "2026-11-04")):
        night(tmp_path, as_of, _export(tmp_path / f"n{n}", IDS if n % 2 == 0 else RENUMBERED, FIRST))
        potassium = [row for row in _current(db) if row[:2] == ("3", "2026-09-02 00:00:00")]
        assert sorted(row[2] for row in potassium) == [3.6, 3.9]
    assert len(_stored(db)) == 5


def _as_schema_14_left_it(db: Path, pruned: bool) -> None:
    """The database as a version-14 binary left it after two nights of format auto: each result named
    by its measurement_id, and stored a second time by the second night, whose rebuilt CDM had
    renumbered them; with `pruned`, `prune` has since removed the first night's files (run_files)."""
    with duckdb.connect(str(db)) as con:
        first, second = (row[0] for row in con.execute("SELECT run_id FROM runs ORDER BY seq").fetchall())
        con.execute("UPDATE runs SET export_format = 'auto'")
        con.execute(
            "UPDATE lab_results SET result_id = CAST(rowid + 1 AS VARCHAR), _run_id = $r", {"r": first}
        )
        con.execute(
            "INSERT INTO lab_results "
            "SELECT * REPLACE (CAST(rowid + 11 AS VARCHAR) AS result_id, $r AS _run_id) FROM lab_results",
            {"r": second},
        )
        if pruned:
            con.execute("DELETE FROM run_files WHERE run_id = $r", {"r": first})
        else:  # a result another format named (a FHIR Observation's id) keeps its name
            con.execute(
                "INSERT INTO runs (run_id, seq, started_at, status, as_of, exports, export_format, "
                "tool_version, settings, kind) VALUES ('fhir-run', 0, TIMESTAMP '2026-11-01 01:00:00', "
                "'succeeded', DATE '2026-11-01', 'x', 'fhir', '0', '{}', 'ad hoc')"
            )
            con.execute(
                "INSERT INTO lab_results (patient_id, collected_at, loinc_code, value_original, result_id, "
                "_run_id) VALUES ('9', TIMESTAMP '2026-08-01 09:00:00', '2823-3', 4.0, 'Observation/1', "
                "'fhir-run')"
            )
        con.execute("UPDATE schema_version SET version = 14")


@pytest.mark.parametrize("pruned", [False, True])
def test_a_database_from_before_names_its_results_and_keeps_one_of_each(tmp_path, pruned):
    """After the upgrade each result is current once (the copies a renumbering stored under schema 14
    are superseded), and the next export, renumbered again, names the stored results by source
    and stores none of them again; a run `prune` left without its files counts as OMOP when every
    run whose files are known read OMOP."""
    db = tmp_path / "audit.duckdb"
    night(tmp_path, "2026-11-02", _export(tmp_path / "n1", IDS, FIRST))
    night(tmp_path, "2026-11-03", _export(tmp_path / "n2", RENUMBERED, FIRST))
    _as_schema_14_left_it(db, pruned)
    night(tmp_path, "2026-11-04", _export(tmp_path / "n3", IDS, FIRST))
    current = query(db, "SELECT patient_id, value_original, result_id FROM current_lab_results ORDER BY ALL")
    counts = query(db, "SELECT count(*), count(*) FILTER (_superseded) FROM lab_results")
    version = query(db, "SELECT version FROM schema_version")
    assert version == [(SCHEMA_VERSION,)]
    assert current == [
        ("2", 4.1, "source | 2026-09-01 08:30:00 | 2823-3"),
        ("2", 139.0, "source | 2026-09-01 00:00:00 | 2951-2"),
        ("3", 3.6, "source | 2026-09-02 00:00:00 | K"),
        ("3", 3.9, "source | 2026-09-02 00:00:00 | K"),
        ("3", 4.4, "source | 2026-09-05 00:00:00 | source concept 1001"),
    ] + ([] if pruned else [("9", 4.0, "Observation/1")])
    assert counts == [(10 if pruned else 11, 5)]  # the five copies kept, not read


def test_a_new_named_result_does_not_replace_an_unnamed_one_of_the_same_day(tmp_path):
    """Generic export: a point-of-care potassium sent without a result_id, then the laboratory's
    potassium of the same day with one (another draw, not a correction): both are results."""
    db = tmp_path / "audit.duckdb"
    header = "patient_id,collected_at,loinc_code,value,unit,result_id\n"
    nights = {
        "2026-11-02": "P1,2026-09-01,2823-3,4.0,mmol/L,\n",
        "2026-11-03": "P1,2026-09-01,2823-3,5.2,mmol/L,L2\n",
    }
    for as_of, row in nights.items():
        night(tmp_path, as_of, write_export(tmp_path / as_of, labs=header + row))
    current = query(db, "SELECT value_original, result_id FROM current_lab_results ORDER BY 1")
    assert current == [(4.0, None), (5.2, "L2")]
