"""Reruns add nothing twice; overlapping nightly exports add only their new rows."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

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


def test_a_rolling_export_records_a_bad_row_once_wherever_its_line_moves(tmp_path):
    """A rolling-window export drops its oldest rows each night, so a bad row is on another line:
    keyed by its line, it was quarantined again every night. Two identical bad lines in one file
    are still two records, and a bad row first seen tonight is recorded."""
    bad = "P1,2026-02-30,2823-3,K,4,mmol/L\n"
    write_export(tmp_path / "night1", labs=HEADER + lab_rows(0, 50) + bad + lab_rows(50, 60) + bad)
    write_export(tmp_path / "night2", labs=HEADER + lab_rows(10, 50) + bad + lab_rows(50, 70) + bad)
    write_export(
        tmp_path / "night3",
        labs=HEADER + lab_rows(20, 50) + bad + lab_rows(50, 70) + "P2,2026-13-01,2823-3,K,4,mmol/L\n",
    )
    run(tmp_path, "night1")
    second = run(tmp_path, "night2")
    assert second["files"]["labs"]["rows_rejected"] == 2  # still counted, and reported, each night
    run(tmp_path, "night3")
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        lines = con.execute("SELECT line FROM quarantine WHERE file = 'labs.csv' ORDER BY line").fetchall()
    assert lines == [(52,), (53,), (63,)]  # night 1's two at their first lines, and night 3's new one (53)


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


def test_a_prescription_re_sent_with_its_name_in_another_case_is_the_same_prescription(tmp_path):
    """A system upgrade may re-send every drug name in capitals: night 2's 'IBUPROFEN 400MG TABLETS'
    started the same day, now with an end, is the same prescription as night 1's open-ended
    'Ibuprofen 400mg tablets', and its end counts. Read as two, the open one was taken for ever (an
    NSAID beside CKD stage 4 flagged every night after it was ended)."""
    ckd = table("""
patient_id | code  | code_system | recorded_at
P1         | N18.4 | ICD-10-CM   | 2025-01-01
""")
    first = table("""
patient_id | drug_name               | start_date | end_date
P1         | Ibuprofen 400mg tablets | 2026-09-01 |
""")
    ended = table("""
patient_id | drug_name               | start_date | end_date
P1         | IBUPROFEN 400MG TABLETS | 2026-09-01 | 2026-10-10
""")
    db = tmp_path / "audit.duckdb"
    night(tmp_path, "2026-11-02", write_export(tmp_path / "e1", diagnoses=ckd, prescriptions=first))
    assert flagged(db, "nsaid_kidney_disease") == {"P1"}
    night(tmp_path, "2026-11-21", write_export(tmp_path / "e2", diagnoses=ckd, prescriptions=ended))
    with duckdb.connect(str(db), read_only=True) as con:
        current = con.execute("SELECT drug_name, end_date::VARCHAR FROM current_prescriptions").fetchall()
    assert current == [("IBUPROFEN 400MG TABLETS", "2026-10-10")]
    assert flagged(db, "nsaid_kidney_disease") == set()


def test_a_corrected_lab_result_replaces_the_one_before(tmp_path):
    """A result the export names (result_id, as a laboratory's accession and test) is one fact: the
    next night's corrected eGFR replaces the 38 that made an NSAID user's flag, an analyst's ad-hoc
    run on an older export does not bring the 38 back, and a night that sends the 38 again does (the
    latest nightly statement counts). A result without a result_id is a fact of its own, kept when a
    later export no longer sends it; a stored row sent again with its id is not loaded twice."""
    nsaids = table("""
patient_id | drug_name               | start_date | days_supply
P1         | ibuprofen 400 mg tablet | 2026-10-20 | 28
P2         | ibuprofen 400 mg tablet | 2026-10-20 | 28
P3         | ibuprofen 400 mg tablet | 2026-10-20 | 28
""")

    def labs(p1_egfr: str, p2: bool = True, p3_id: str = "") -> list[dict[str, str]]:
        rows = [
            {"patient_id": "P1", "collected_at": "2026-10-30T09:00:00", "loinc_code": "62238-1",
             "test_name": "eGFR", "value": p1_egfr, "unit": "mL/min/1.73m2", "result_id": "ACC-1001/62238-1"},
            {"patient_id": "P3", "collected_at": "2026-10-30T09:00:00", "loinc_code": "62238-1",
             "test_name": "eGFR", "value": "41", "unit": "mL/min/1.73m2", "result_id": p3_id},
        ]  # fmt: skip
        if p2:  # no result_id: a fact of its own
            rows.append({**rows[0], "patient_id": "P2", "value": "38", "result_id": ""})
        return rows

    db = tmp_path / "audit.duckdb"

    def p1_egfr() -> tuple[list[float], int]:
        with duckdb.connect(str(db), read_only=True) as con:
            current = con.execute("SELECT value FROM labs WHERE patient_id = 'P1' ORDER BY value").fetchall()
            stored = con.execute("SELECT count(*) FROM lab_results WHERE patient_id = 'P1'").fetchall()[0][0]
        return [v for (v,) in current], stored

    first = write_export(tmp_path / "e1", prescriptions=nsaids, labs=labs("38"))
    night(tmp_path, "2026-11-02", first)
    assert flagged(db, "nsaid_kidney_disease") == {"P1", "P2", "P3"}
    assert p1_egfr() == ([38.0], 1)
    # night 2: P1's eGFR corrected (same id, 78); P2's row no longer sent; P3's row sent with an id
    night(
        tmp_path,
        "2026-11-03",
        write_export(tmp_path / "e2", prescriptions=nsaids, labs=labs("78", False, "A9")),
    )
    assert p1_egfr() == ([78.0], 2)
    assert flagged(db, "nsaid_kidney_disease") == {"P2", "P3"}
    summary = json.loads((tmp_path / "out-2026-11-03" / "summary.json").read_text())
    assert (summary["files"]["labs"]["rows_loaded"], summary["files"]["labs"]["rows_duplicate"]) == (1, 1)
    with duckdb.connect(str(db), read_only=True) as con:  # P3's stored row takes the id it was sent with
        assert con.execute("SELECT result_id FROM lab_results WHERE patient_id = 'P3'").fetchall() == [
            ("A9",)
        ]
    # an ad-hoc run on the older export states nothing about the latest facts
    adhoc = ["run", "--ad-hoc", "--exports", str(first), "--as-of", "2026-11-03"]
    assert cli(*adhoc, "--db", str(db), "--out", str(tmp_path / "adhoc")) == 0
    assert p1_egfr() == ([78.0], 2)
    # night 3 sends the 38 again: the latest nightly statement counts
    night(tmp_path, "2026-11-04", write_export(tmp_path / "e3", prescriptions=nsaids, labs=labs("38")))
    assert p1_egfr() == ([38.0], 2)
    assert flagged(db, "nsaid_kidney_disease") == {"P1", "P2", "P3"}
    # night 4: P3's result, stored before it had an id, is corrected under that id
    corrected = [{**r, "value": "72"} if r["patient_id"] == "P3" else r for r in labs("38", True, "A9")]
    night(tmp_path, "2026-11-05", write_export(tmp_path / "e4", prescriptions=nsaids, labs=corrected))
    assert flagged(db, "nsaid_kidney_disease") == {"P1", "P2"}


def test_a_result_is_found_by_its_id_whatever_its_date_and_not_by_its_content(tmp_path):
    """A correction may move the collection time out of the next export's date range: the version
    before is still replaced, and an ad-hoc run's version with another time is still no current one.
    Two results of one patient, time, test and value under two ids are two results: correcting one
    to the other's value replaces it, and a version of one never restates the other."""
    header = "patient_id,collected_at,loinc_code,test_name,value,unit,result_id\n"

    def export(name: str, *rows: str) -> Path:
        return write_export(tmp_path / name, labs=header + "".join(f"{r},mmol/L,{i}\n" for r, i in rows))

    db = tmp_path / "audit.duckdb"

    def current() -> list[tuple]:
        with duckdb.connect(str(db), read_only=True) as con:
            return con.execute(
                "SELECT patient_id, collected_at::VARCHAR, value, result_id FROM labs ORDER BY ALL"
            ).fetchall()

    k = "2823-3,Potassium"
    night(tmp_path, "2026-11-02", export("n1", (f"P1,2026-10-30T09:00:00,{k},6.2", "R1")))
    # night 2: only 2026-10-31 in the export; R1 moved to it
    night(tmp_path, "2026-11-03", export("n2", (f"P1,2026-10-31T09:00:00,{k},4.1", "R1")))
    assert current() == [("P1", "2026-10-31 09:00:00", 4.1, "R1")]
    adhoc = ["run", "--ad-hoc", "--exports", str(export("old", (f"P1,2026-10-29T09:00:00,{k},3.0", "R1")))]
    assert cli(*adhoc, "--as-of", "2026-11-03", "--db", str(db), "--out", str(tmp_path / "adhoc")) == 0
    assert current() == [("P1", "2026-10-31 09:00:00", 4.1, "R1")]

    # P2: two results of one content under R2 and R3; R2 corrected to R3's value, R3 corrected too
    same = f"P2,2026-10-30T10:00:00,{k}"
    night(tmp_path, "2026-11-04", export("n3", (f"{same},4.1", "R2"), (f"{same},4.1", "R3")))
    night(tmp_path, "2026-11-05", export("n4", (f"{same},4.1", "R2"), (f"{same},5.0", "R3")))
    assert [r for r in current() if r[0] == "P2"] == [
        ("P2", "2026-10-30 10:00:00", 4.1, "R2"),
        ("P2", "2026-10-30 10:00:00", 5.0, "R3"),
    ]
    night(tmp_path, "2026-11-06", export("n5", (f"{same},5.0", "R2"), (f"{same},5.0", "R3")))
    assert [r for r in current() if r[0] == "P2"] == [
        ("P2", "2026-10-30 10:00:00", 5.0, "R2"),
        ("P2", "2026-10-30 10:00:00", 5.0, "R3"),
    ]


def test_two_identical_results_stored_without_ids_take_one_id_each(tmp_path):
    """Two identical rows stored before the export named them (a test sent twice), then sent as R1
    and R2: each takes one name, nothing loads twice, and R2's later correction replaces only R2."""
    header = "patient_id,collected_at,loinc_code,test_name,value,unit,result_id\n"
    row = "P1,2026-10-30T09:00:00,2823-3,Potassium,{v},mmol/L,{i}\n"
    db = tmp_path / "audit.duckdb"
    night(tmp_path, "2026-11-02", write_export(tmp_path / "n1", labs=header + row.format(v=4.1, i="") * 2))
    named = header + row.format(v=4.1, i="R1") + row.format(v=4.1, i="R2")
    night(tmp_path, "2026-11-03", write_export(tmp_path / "n2", labs=named))
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT result_id FROM lab_results ORDER BY 1").fetchall() == [("R1",), ("R2",)]
    corrected = header + row.format(v=4.1, i="R1") + row.format(v=5.2, i="R2")
    night(tmp_path, "2026-11-04", write_export(tmp_path / "n3", labs=corrected))
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT value, result_id FROM labs ORDER BY 2").fetchall() == [
            (4.1, "R1"),
            (5.2, "R2"),
        ]


def test_a_result_sent_once_without_its_id_is_one_result_when_named_again(tmp_path):
    """Night 2 sends R1's correction without its id (the export left the column empty); night 3
    sends it with the id: the row it names is R1's current version, the 6.2 before it is not.
    And one unnamed stored row sent as R1 and R2: R1 names it, R2 is a result of its own."""
    header = "patient_id,collected_at,loinc_code,test_name,value,unit,result_id\n"
    row = "{p},2026-10-30T09:00:00,2823-3,Potassium,{v},mmol/L,{i}\n"
    db = tmp_path / "audit.duckdb"

    def send(as_of: str, *rows: tuple[str, float, str]) -> dict:
        labs = header + "".join(row.format(p=p, v=v, i=i) for p, v, i in rows)
        night(tmp_path, as_of, write_export(tmp_path / as_of, labs=labs))
        return json.loads((tmp_path / f"out-{as_of}" / "summary.json").read_text())["files"]["labs"]

    def current(patient: str) -> list[tuple]:
        with duckdb.connect(str(db), read_only=True) as con:
            sql = "SELECT value, result_id FROM labs WHERE patient_id = $p ORDER BY 2"
            return con.execute(sql, {"p": patient}).fetchall()

    send("2026-11-02", ("P1", 6.2, "R1"), ("P2", 4.1, ""))
    send("2026-11-03", ("P1", 4.1, ""), ("P2", 4.1, "R1"), ("P2", 4.1, "R2"))
    assert current("P2") == [(4.1, "R1"), (4.1, "R2")]
    for as_of in ("2026-11-04", "2026-11-05"):
        files = send(as_of, ("P1", 4.1, "R1"), ("P2", 4.1, "R1"), ("P2", 4.1, "R2"))
        assert current("P1") == [(4.1, "R1")]
        assert files["rows_loaded"] == 0
