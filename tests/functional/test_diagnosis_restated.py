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

from tests.helpers import cli, flagged, night, query, table, write_export

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
    return query(
        db,
        "SELECT patient_id, code, resolved_at::VARCHAR, _superseded FROM diagnoses "
        "WHERE code = 'K7460' ORDER BY ALL",
    )


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


def test_a_resolved_condition_sent_again_reevaluates_no_months(tmp_path):
    """The monthly measures re-evaluate only months whose data changed: a resolved condition re-sent
    each night moves to that night's run (_restate), which says nothing new about any month. Night 3
    adds a cramp in October (that month is evaluated again); night 4 sends the same."""
    db = tmp_path / "audit.duckdb"
    later = RESOLVED + "    P2 | R25.2 | ICD-10-CM | 2026-10-15 |\n"
    header, *lines = later.strip().splitlines()
    reordered = "\n".join(
        [header, *reversed(lines)]
    )  # the same rows, another file (not skipped as unchanged)
    nights = (
        ("2026-11-02", OPEN),
        ("2026-11-03", RESOLVED),
        ("2026-11-04", later),
        ("2026-11-05", reordered),
    )
    for n, (as_of, diagnoses) in enumerate(nights):
        night(tmp_path, as_of, _export(tmp_path / f"n{n}", diagnoses))
    written = query(
        db,
        "SELECT r.seq, count(m.run_id) FROM runs r LEFT JOIN measures m USING (run_id) GROUP BY 1 ORDER BY 1",
    )
    assert [n > 0 for _, n in written] == [True, True, True, False]


def _upgraded_then_a_window_past_2024(tmp_path: Path, as_of: str) -> None:
    """Open the database as a version-15 binary left it (every diagnosis current), then run a night
    whose export (a rolling window) no longer sends 2024: P1's cirrhosis is resolved after it."""
    db = tmp_path / "audit.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE diagnoses SET _superseded = false")
        con.execute("UPDATE schema_version SET version = 15")
    window = "\n".join(line for line in RESOLVED.splitlines() if "2026-" in line or "patient_id" in line)
    night(tmp_path, as_of, _export(tmp_path / f"window-{as_of}", window))
    assert flagged(db, "cramps_cirrhosis") == {"P2"}
    assert [row[2:] for row in _versions(db) if row[0] == "P1"] == [("2025-01-01", False), (None, True)]


def test_a_database_from_before_keeps_the_latest_version_of_a_condition_stored_twice(tmp_path):
    """Schema 15 stored P1's cirrhosis open (night 1) and resolved (night 2), both current. After the
    upgrade the resolved one is, though the next export (a rolling window past 2024) never sends the
    condition again."""
    night(tmp_path, "2026-11-02", _export(tmp_path / "n1", OPEN))
    night(tmp_path, "2026-11-03", _export(tmp_path / "n2", RESOLVED))
    _upgraded_then_a_window_past_2024(tmp_path, "2026-11-04")


def test_a_database_from_before_keeps_the_nightly_version_over_an_ad_hoc_one(tmp_path):
    """Schema 15 stored P1's cirrhosis resolved (night 1), then open from an analyst's older export
    (an ad-hoc run), both current. After the upgrade the nightly's resolved version is."""
    db = tmp_path / "audit.duckdb"
    night(tmp_path, "2026-11-02", _export(tmp_path / "n1", RESOLVED))
    args = ["run", "--exports", str(_export(tmp_path / "older", OPEN)), "--out", str(tmp_path / "adhoc")]
    assert cli(*args, "--db", str(db), "--as-of", "2026-11-02") == 0
    _upgraded_then_a_window_past_2024(tmp_path, "2026-11-03")
