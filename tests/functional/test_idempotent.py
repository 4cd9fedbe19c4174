"""Reruns add nothing twice; overlapping nightly exports add only their new rows."""

from __future__ import annotations

import hashlib
import json

import duckdb

from tests.helpers import cli, flagged, night, run_args, table, table_counts, write_export

HEADER = "patient_id,collected_at,loinc_code,test_name,value,unit\n"


def lab_rows(start: int, stop: int) -> str:
    return "".join(
        f"P{i % 7},2026-01-{1 + i % 28:02d}T08:{i % 60:02d}:00,2823-3,Potassium,4.{i % 10},mmol/L\n"
        for i in range(start, stop)
    )


def run(tmp_path, export: str) -> dict:
    code = cli(*run_args(tmp_path, tmp_path / export))
    assert code == 0
    return json.loads((tmp_path / "out" / "summary.json").read_text())


def test_same_export_twice_changes_nothing(tmp_path):
    write_export(tmp_path / "night1", labs=HEADER + lab_rows(0, 100) + "P1,2026-02-30,2823-3,K,4,mmol/L\n")
    first = run(tmp_path, "night1")
    counts = table_counts(tmp_path / "audit.duckdb")
    second = run(tmp_path, "night1")
    after = table_counts(tmp_path / "audit.duckdb")
    assert {k: v for k, v in after.items() if k != "runs"} == {k: v for k, v in counts.items() if k != "runs"}
    assert after["runs"] == counts["runs"] + 1
    assert first["files"]["labs"]["rows_loaded"] == 100
    assert second["files"]["labs"]["rows_loaded"] == 0
    assert second["files"]["labs"]["rows_read"] == first["files"]["labs"]["rows_read"] == 101
    assert second["files"]["labs"]["rows_rejected"] == 1


def test_rerun_of_an_edited_copy_is_still_deduplicated(tmp_path):
    # Same rows, different bytes (reordered): not skipped by checksum, but nothing is added.
    write_export(tmp_path / "a", labs=HEADER + lab_rows(0, 50))
    write_export(tmp_path / "b", labs=HEADER + "".join(reversed(lab_rows(0, 50).splitlines(True))))
    run(tmp_path, "a")
    second = run(tmp_path, "b")
    assert second["files"]["labs"]["skipped_unchanged"] is False
    assert (second["files"]["labs"]["rows_loaded"], second["files"]["labs"]["rows_duplicate"]) == (0, 50)


def test_overlapping_exports_add_only_new_rows(tmp_path):
    write_export(tmp_path / "night1", labs=HEADER + lab_rows(0, 100))
    write_export(tmp_path / "night2", labs=HEADER + lab_rows(60, 130))
    run(tmp_path, "night1")
    second = run(tmp_path, "night2")
    assert second["files"]["labs"]["rows_loaded"] == 30
    assert second["files"]["labs"]["rows_duplicate"] == 40
    assert table_counts(tmp_path / "audit.duckdb")["labs"] == 130


def test_run_files_record_each_files_size_and_sha256(tmp_path):
    # A file of a new size is staged while it is hashed; the hash recorded must still be the file's.
    labs = write_export(tmp_path / "night1", labs=HEADER + lab_rows(0, 40)) / "labs.csv"
    summary = run(tmp_path, "night1")
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        recorded = con.execute("SELECT sha256, bytes FROM run_files WHERE table_name = 'labs'").fetchall()
    expected = hashlib.sha256(labs.read_bytes()).hexdigest()
    assert recorded == [(expected, labs.stat().st_size)]
    assert summary["files"]["labs"]["sha256"] == expected


def test_the_latest_export_is_what_counts_for_a_death_and_a_prescriptions_end(tmp_path):
    """Night 1: P1 alive, P2 on furosemide with no end. Night 2: P1 recorded dead (in error), P2's
    furosemide given an end date. Night 3 re-sends night 1's rows unchanged: P1 alive again, P2's
    prescription open again. Each night the latest export's statement counts, though a row re-sent
    unchanged is never loaded twice; a corrected prescription supersedes, and is kept beside, the
    version before it."""

    alive = table("""
patient_id | birth_date | sex | death_date | deceased
P1         | 1950-01-01 | F   |            | false
P2         | 1950-01-01 | M   |            | false
""")
    dead = table("""
patient_id | birth_date | sex | death_date | deceased
P1         | 1950-01-01 | F   | 2026-11-03 | true
P2         | 1950-01-01 | M   |            | false
""")
    open_rx = table("""
patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date   | days_supply
P1         | furosemide 40 mg tablet | 4603        | C03CA01  | 2025-01-01 |            |
P2         | furosemide 40 mg tablet | 4603        | C03CA01  | 2025-01-01 |            |
""")
    ended_rx = table("""
patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date   | days_supply
P1         | furosemide 40 mg tablet | 4603        | C03CA01  | 2025-01-01 |            |
P2         | furosemide 40 mg tablet | 4603        | C03CA01  | 2025-01-01 | 2026-09-30 |
""")
    db = tmp_path / "audit.duckdb"

    def state() -> tuple[dict, int, int]:
        with duckdb.connect(str(db), read_only=True) as con:
            dead_ = dict(con.execute("SELECT patient_id, deceased FROM patient_state").fetchall())
            rx = con.execute("SELECT count(*) FROM prescriptions").fetchall()[0][0]
            current = con.execute("SELECT count(*) FROM current_prescriptions").fetchall()[0][0]
        return dead_, rx, current

    night(tmp_path, "2026-11-02", write_export(tmp_path / "e1", patients=alive, prescriptions=open_rx))
    assert flagged(db, "diuretic_electrolyte_monitoring") == {"P1", "P2"}
    night(tmp_path, "2026-11-04", write_export(tmp_path / "e2", patients=dead, prescriptions=ended_rx))
    assert state() == ({"P1": True, "P2": False}, 3, 2)
    # P1 dead, P2's diuretic stopped (ended 35 days before: past its refill gap)
    assert flagged(db, "diuretic_electrolyte_monitoring") == set()
    # an analyst's ad-hoc run on an older export (and one more version of P2's prescription) is no
    # statement of the latest facts: the nightly's stay as they were, the new version is not current
    older = [{**r, "end_date": "2026-10-15"} if r["patient_id"] == "P2" else r for r in open_rx]
    adhoc = [
        "run",
        "--ad-hoc",
        "--exports",
        str(write_export(tmp_path / "old", patients=alive, prescriptions=older)),
    ]
    assert cli(*adhoc, "--db", str(db), "--out", str(tmp_path / "adhoc"), "--as-of", "2026-11-04") == 0
    assert state() == ({"P1": True, "P2": False}, 4, 2)
    night(tmp_path, "2026-11-05", write_export(tmp_path / "e3", patients=alive, prescriptions=open_rx))
    assert state() == ({"P1": False, "P2": False}, 4, 2)
    assert flagged(db, "diuretic_electrolyte_monitoring") == {"P1", "P2"}
