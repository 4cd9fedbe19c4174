"""A diagnosis's latest statement counts: a condition exported open one night and with the date it
resolved the next is resolved (schema 16, current_diagnoses).

Every source format sends a condition before its end is known and again once it is: an OMOP
condition_end_date, a Synthea STOP, a FHIR abatement filled in later, a GP system's resolved date.
Stored as two facts, the open version kept the condition active for ever, and every check reading
an unresolved condition (cirrhosis with cramps, kidney disease with an NSAID) kept flagging.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.helpers import cli, flagged, night, table, write_export

PATIENTS = table("""
    patient_id | birth_date | sex
    P1         | 1950-02-03 | F
    P2         | 1948-07-21 | M
""")
# P1: cirrhosis since 2024 and a cramp last month (cramps_cirrhosis flags while the cirrhosis is
# open); P2: cirrhosis and a cramp too, never resolved (the control).
OPEN = """
    patient_id | code   | code_system | recorded_at | resolved_at
    P1         | K74.60 | ICD-10-CM   | 2024-01-10  |
    P1         | R25.2  | ICD-10-CM   | 2026-10-01  |
    P2         | K74.60 | ICD-10-CM   | 2023-05-01  |
    P2         | R25.2  | ICD-10-CM   | 2026-10-02  |
"""
RESOLVED = OPEN.replace("2024-01-10  |", "2024-01-10  | 2025-01-01")


def _export(folder: Path, diagnoses: str) -> Path:
    return write_export(folder, patients=PATIENTS, diagnoses=table(diagnoses))


def _versions(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT patient_id, code, resolved_at::VARCHAR, _superseded FROM diagnoses "
            "WHERE code = 'K7460' ORDER BY ALL"
        ).fetchall()


def test_a_condition_resolved_in_a_later_export_is_resolved(tmp_path):
    db = tmp_path / "audit.duckdb"
    night(tmp_path, "2026-11-02", _export(tmp_path / "n1", OPEN))
    assert flagged(db, "cramps_cirrhosis") == {"P1", "P2"}
    night(tmp_path, "2026-11-03", _export(tmp_path / "n2", RESOLVED))
    assert flagged(db, "cramps_cirrhosis") == {"P2"}
    assert _versions(db) == [
        ("P1", "K7460", "2025-01-01", False),
        ("P1", "K7460", None, True),  # the open version: kept, not read
        ("P2", "K7460", None, False),
    ]
    night(tmp_path, "2026-11-04", _export(tmp_path / "n3", RESOLVED))  # the same again: nothing new
    assert len(_versions(db)) == 3 and flagged(db, "cramps_cirrhosis") == {"P2"}


def test_a_resolution_taken_back_by_the_source_reopens_the_condition(tmp_path):
    """Resolved in error, then sent open again: the latest statement is open."""
    db = tmp_path / "audit.duckdb"
    nights = (("2026-11-02", OPEN), ("2026-11-03", RESOLVED), ("2026-11-04", OPEN))
    for n, (as_of, diagnoses) in enumerate(nights):
        night(tmp_path, as_of, _export(tmp_path / f"n{n}", diagnoses))
    assert flagged(db, "cramps_cirrhosis") == {"P1", "P2"}
    assert [row[2:] for row in _versions(db) if row[0] == "P1"] == [("2025-01-01", True), (None, False)]


def test_an_ad_hoc_run_of_an_older_export_does_not_reopen_a_resolved_condition(tmp_path):
    """An analyst re-running last month's export (ad hoc) never rolls the nightly back."""
    db = tmp_path / "audit.duckdb"
    night(tmp_path, "2026-11-02", _export(tmp_path / "n1", RESOLVED))
    older = _export(tmp_path / "older", OPEN)
    args = ["run", "--exports", str(older), "--out", str(tmp_path / "adhoc"), "--db", str(db)]
    assert cli(*args, "--as-of", "2026-11-02") == 0
    night(tmp_path, "2026-11-03", _export(tmp_path / "n2", RESOLVED))
    assert flagged(db, "cramps_cirrhosis") == {"P2"}
