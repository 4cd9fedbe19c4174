"""A diagnosis the source names (a generic export's diagnosis_id, a FHIR Condition's id, an OMOP
condition's source record) is one fact by patient and name, whatever its codes (schema 17).

A GP system's problem-list entry is corrected in place: coded K74.60 (cirrhosis) by mistake one day,
recoded K76.0 (fatty liver) the next. Told apart by their content, the two codes were two diagnoses
and the cirrhosis stayed current, so a cramp kept being flagged as a cramp with cirrhosis. An entry
coded in two systems at once is one diagnosis in two rows sharing its name.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.db import SCHEMA_VERSION
from tests.functional.test_diagnosis_restated import PATIENTS, _export
from tests.functional.test_format_omop import CDM, write_cdm
from tests.helpers import flagged, night, query, table, write_export

CRAMPS = """
    P1         | R25.2  | ICD-10-CM   | 2026-10-01  |            | C1
    P2         | R25.2  | ICD-10-CM   | 2026-10-02  |            | C2
"""
HEADER = "patient_id | code | code_system | recorded_at | resolved_at | diagnosis_id\n"
# P1's entry D1: cirrhosis in ICD-10-CM and SNOMED CT. P2's D2: cirrhosis (the control).
NIGHT_1 = (
    HEADER
    + """
    P1         | K74.60   | ICD-10-CM   | 2024-01-10  |            | D1
    P1         | 19943007 | SNOMED-CT   | 2024-01-10  |            | D1
    P2         | K74.60   | ICD-10-CM   | 2023-05-01  |            | D2
"""
    + CRAMPS
)
# D1 recoded: fatty liver, in ICD-10-CM only (its SNOMED row is gone too)
RECODED = (
    HEADER
    + """
    P1         | K76.0    | ICD-10-CM   | 2024-01-10  |            | D1
    P2         | K74.60   | ICD-10-CM   | 2023-05-01  |            | D2
"""
    + CRAMPS
)


def _p1_liver(db: Path) -> list[tuple]:
    return query(
        db,
        "SELECT code, diagnosis_id, _superseded FROM diagnoses "
        "WHERE patient_id = 'P1' AND code NOT LIKE 'R25%' ORDER BY ALL",
    )


def test_a_named_diagnosis_recoded_replaces_every_code_it_had(tmp_path):
    db = tmp_path / "audit.duckdb"
    night(tmp_path, "2026-11-02", _export(tmp_path / "n1", NIGHT_1))
    assert flagged(db, "cramps_cirrhosis") == {"P1", "P2"}
    night(tmp_path, "2026-11-03", _export(tmp_path / "n2", RECODED))
    assert flagged(db, "cramps_cirrhosis") == {"P2"}
    assert _p1_liver(db) == [("19943007", "D1", True), ("K7460", "D1", True), ("K760", "D1", False)]
    night(tmp_path, "2026-11-04", _export(tmp_path / "n3", NIGHT_1))  # recoded back: both rows current
    assert flagged(db, "cramps_cirrhosis") == {"P1", "P2"}
    assert _p1_liver(db) == [("19943007", "D1", False), ("K7460", "D1", False), ("K760", "D1", True)]
    assert query(db, "SELECT count(*) FROM diagnoses") == [(6,)]  # nothing stored twice


def test_two_named_diagnoses_alike_are_two_and_one_left_out_of_an_export_stays(tmp_path):
    """P1 has two entries of the same code and day, D1 resolved and D3 open: two diagnoses, the
    open one current, so the cramp is flagged. An incremental export re-sending only D1 says nothing
    of D3 (told apart by content, D1's statement would have superseded it)."""
    db = tmp_path / "audit.duckdb"
    both = NIGHT_1.replace("2024-01-10  |            | D1", "2024-01-10  | 2025-01-01 | D1") + (
        "    P1 | K74.60 | ICD-10-CM | 2024-01-10 | | D3\n"
    )
    night(tmp_path, "2026-11-02", _export(tmp_path / "n1", both))
    assert flagged(db, "cramps_cirrhosis") == {"P1", "P2"}
    only_d1 = "\n".join(line for line in both.splitlines() if "| D3" not in line)
    night(tmp_path, "2026-11-03", _export(tmp_path / "n2", only_d1))
    assert flagged(db, "cramps_cirrhosis") == {"P1", "P2"}
    assert query(db, "SELECT count(*) FROM diagnoses WHERE _superseded") == [(0,)]


def test_diagnoses_stored_before_names_take_them_from_the_next_export(tmp_path):
    """A database from schema 16 holds P1's cirrhosis without a name (the export had no
    diagnosis_id). The next export names it and resolves it: the stored open rows take the name
    and are superseded; the night after, the entry recoded replaces them all."""
    db = tmp_path / "audit.duckdb"
    unnamed = "\n".join(line.rsplit("|", 1)[0] for line in NIGHT_1.strip().splitlines())
    night(tmp_path, "2026-11-02", _export(tmp_path / "n1", unnamed))
    with duckdb.connect(str(db)) as con:  # as a version-16 binary left it
        con.execute("DROP VIEW current_diagnoses")
        con.execute("ALTER TABLE diagnoses DROP COLUMN diagnosis_id")
        con.execute("UPDATE schema_version SET version = 16")
    resolved = NIGHT_1.replace("2024-01-10  |            | D1", "2024-01-10  | 2025-01-01 | D1")
    night(tmp_path, "2026-11-03", _export(tmp_path / "n2", resolved))
    assert query(db, "SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
    assert flagged(db, "cramps_cirrhosis") == {"P2"}
    versions = (
        "SELECT code, resolved_at::VARCHAR, diagnosis_id, _superseded FROM diagnoses "
        "WHERE patient_id = 'P1' AND code NOT LIKE 'R25%' ORDER BY ALL"
    )
    assert query(db, versions) == [
        ("19943007", "2025-01-01", "D1", False),
        ("19943007", None, "D1", True),
        ("K7460", "2025-01-01", "D1", False),
        ("K7460", None, "D1", True),
    ]
    night(tmp_path, "2026-11-04", _export(tmp_path / "n3", RECODED))
    current = "SELECT code FROM current_diagnoses WHERE patient_id = 'P1' AND code NOT LIKE 'R25%'"
    assert query(db, current) == [("K760",)]


@pytest.mark.parametrize("unrelated_reject", [False, True])
def test_a_named_diagnosis_sent_with_a_row_fewer_keeps_only_the_rows_sent(tmp_path, unrelated_reject):
    """D1 is two rows (ICD-10-CM and SNOMED CT cirrhosis); the next export sends its fatty-liver row
    only, recoded by dropping the other: nothing is added, but the ICD-10-CM row is no longer
    stated (it is superseded, and the cramp is no cramp with cirrhosis). So too when the file
    rejects another diagnosis's row that night (a feed with a recurring bad row)."""
    db = tmp_path / "audit.duckdb"
    both = NIGHT_1.replace("19943007 | SNOMED-CT", "197321007 | SNOMED-CT")  # fatty liver beside
    night(tmp_path, "2026-11-02", _export(tmp_path / "n1", both))
    assert flagged(db, "cramps_cirrhosis") == {"P1", "P2"}
    fewer = "\n".join(line for line in both.splitlines() if "K74.60   | ICD-10-CM   | 2024-01-10" not in line)
    if unrelated_reject:
        fewer += "\n    P2 | R25.2 | ICD-10-CM | 2026-10-05 | 2026-02-30 | C9\n"
    night(tmp_path, "2026-11-03", _export(tmp_path / "n2", fewer), "reject_threshold = 0.5\n")
    assert query(db, "SELECT count(*) FROM quarantine") == [(int(unrelated_reject),)]
    assert flagged(db, "cramps_cirrhosis") == {"P2"}
    assert _p1_liver(db) == [("197321007", "D1", False), ("K7460", "D1", True)]


def _csv(rows: list[dict[str, str]]) -> str:
    return "\n".join([",".join(rows[0])] + [",".join(row.values()) for row in rows]) + "\n"


def _omop(folder: Path, liver_concept: str, first_id: int) -> Path:
    """The OMOP fixture CDM (tests/functional/test_format_omop.py) less its rejected rows, person
    3's liver condition recorded in the source as the local code LIVER-01, mapped to
    `liver_concept`, with every condition_occurrence_id from `first_id` (an ETL numbering its rows
    at each build)."""
    fatty_liver = "3006 | Steatosis of liver | Condition | SNOMED | Clinical Finding | S | 197321007"
    conditions = table(CDM["condition_occurrence"])
    conditions[0] |= {"condition_concept_id": liver_concept, "condition_source_value": "LIVER-01"}
    for n, row in enumerate(conditions):
        row["condition_occurrence_id"] = str(first_id + n)
    return write_cdm(
        folder,
        concept=_csv(table(CDM["concept"] + fatty_liver)),
        condition_occurrence=_csv(conditions),
        measurement=_csv(table(CDM["measurement"])[:2]),  # not the unreadable value
        drug_exposure=_csv(table(CDM["drug_exposure"])[:2]),  # nor the end before its start
    )


def test_an_omop_condition_remapped_by_the_etl_replaces_its_stored_code(tmp_path):
    """An OMOP condition is one by its start and its code as the source wrote it: the ETL's mapping
    of the local code LIVER-01 corrected from cirrhosis (3001) to fatty liver (3006) at a rebuild
    that also renumbers every occurrence replaces the cirrhosis, and a rebuild changing nothing
    stores nothing again."""
    db = tmp_path / "audit.duckdb"
    night(tmp_path, "2026-11-02", _omop(tmp_path / "n1", "3001", 1))
    assert "3" in flagged(db, "cramps_cirrhosis")
    night(tmp_path, "2026-11-03", _omop(tmp_path / "n2", "3001", 101))
    assert query(db, "SELECT count(*) FROM diagnoses") == [(7,)]  # the renumbered rebuild: nothing new
    night(tmp_path, "2026-11-04", _omop(tmp_path / "n3", "3006", 201))
    assert "3" not in flagged(db, "cramps_cirrhosis")
    person_3 = "SELECT code, diagnosis_id, _superseded FROM diagnoses WHERE patient_id = '3' ORDER BY ALL"
    assert query(db, person_3) == [
        ("197321007", "source | 2024-01-10 | LIVER-01", False),
        ("19943007", "source | 2024-01-10 | LIVER-01", True),
        ("55300003", "source | 2026-10-01 | 55300003", False),
    ]


@pytest.mark.parametrize(
    "broken",
    [
        "P1,K74.60,ICD-10-CM,2024-01-10,2025-02-30,D1",  # rejected by the rules: an impossible date
        "P1,K74.60,ICD-10-CM,2024-01-10,,D1,extra",  # by the reader: a field too many
        ",K74.60,ICD-10-CM,2024-01-10,,D1",  # no patient: whose row it was is not known
    ],
)
def test_a_row_of_a_named_diagnosis_rejected_is_not_a_row_dropped(tmp_path, broken):
    """D1's cirrhosis row comes back one night rejected: D1's stored rows stay as they were (a
    rejected row says nothing of the diagnosis, and on a night rejecting a row none is read as left
    out). The fatty-liver row sent beside it is current as before."""
    db = tmp_path / "audit.duckdb"
    night(tmp_path, "2026-11-02", _export(tmp_path / "n1", NIGHT_1))
    rows = [",".join(r.values()) for r in table(NIGHT_1)]
    csv = "\n".join(
        [HEADER.replace(" | ", ",").strip(), *(broken if "K74.60,ICD-10-CM,2024" in r else r for r in rows)]
    )
    assert broken in csv
    export = write_export(tmp_path / "n2", patients=PATIENTS, diagnoses=csv + "\n")
    # the one bad row of five is over the default reject threshold
    night(tmp_path, "2026-11-03", export, "reject_threshold = 0.5\n")
    assert query(db, "SELECT count(*) FROM quarantine WHERE table_name = 'diagnoses'") == [(1,)]
    assert flagged(db, "cramps_cirrhosis") == {"P1", "P2"}
    assert _p1_liver(db) == [("19943007", "D1", False), ("K7460", "D1", False)]


def test_an_omop_rebuild_with_no_vocabulary_withdraws_nothing(tmp_path):
    """A rebuild exported without its concept table leaves every condition unmapped (skipped, no
    concept): that says nothing of the patients, and every stored diagnosis stays (a FHIR
    Condition recoded in a local code is skipped alike)."""
    db = tmp_path / "audit.duckdb"
    night(tmp_path, "2026-11-02", _omop(tmp_path / "n1", "3001", 1))
    flags = flagged(db, "cramps_cirrhosis")
    assert "3" in flags
    no_vocabulary = _omop(tmp_path / "n2", "3001", 101)
    concept = no_vocabulary / "CONCEPT.csv"
    concept.write_text(concept.read_text().splitlines()[0] + "\n")
    night(tmp_path, "2026-11-03", no_vocabulary)
    assert flagged(db, "cramps_cirrhosis") == flags
    assert query(db, "SELECT count(*) FROM diagnoses WHERE _superseded") == [(0,)]
