"""A prescription the export names (prescription_id: an order or issue number, an OMOP
drug_exposure_id, a FHIR MedicationRequest) is one fact by patient and name, whatever a later
export says of its drug, codes or dates; one without a name is one fact by patient, drug, codes and
start (tests/functional/test_idempotent.py)."""

from __future__ import annotations

import json

import duckdb

from tests.helpers import cli, flagged, night, table, write_export

CKD = table("""
patient_id | code  | code_system | recorded_at
P1         | N18.4 | ICD-10-CM   | 2025-01-01
P2         | N18.4 | ICD-10-CM   | 2025-01-01
P3         | N18.4 | ICD-10-CM   | 2025-01-01
""")
# P1's ibuprofen, open-ended; P2's, its start as first keyed; P3's, sent without a name
FIRST = table("""
patient_id | prescription_id | drug_name                    | rxnorm_code | start_date | end_date
P1         | RX-1001         | ibuprofen 400 mg tablet      | 197805      | 2026-09-01 |
P2         | RX-2001         | ibuprofen 400 mg tablet      | 197805      | 2026-09-02 |
P3         |                 | ibuprofen 400 mg tablet      | 197805      | 2026-09-01 |
""")
# P1's recoded to its ingredient by the source's new drug dictionary, and ended; P2's start
# corrected to a date after the end it now has; P3's ended (found by its content: same drug, codes, start)
SECOND = table("""
patient_id | prescription_id | drug_name                    | rxnorm_code | start_date | end_date
P1         | RX-1001         | Ibuprofen 400 MG Oral Tablet | 5640        | 2026-09-01 | 2026-09-20
P2         | RX-2001         | ibuprofen 400 mg tablet      | 197805      | 2026-06-01 | 2026-07-01
P3         |                 | ibuprofen 400 mg tablet      | 197805      | 2026-09-01 | 2026-09-20
""")


def current(db) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT patient_id, prescription_id, rxnorm_code, start_date::VARCHAR, end_date::VARCHAR "
            "FROM current_prescriptions ORDER BY ALL"
        ).fetchall()


def stored(db) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT count(*) FROM prescriptions").fetchall()[0][0]


def test_a_named_prescription_recoded_or_redated_is_restated_not_doubled(tmp_path):
    """An NSAID beside CKD stage 4 is flagged while it runs. Night 2 recodes P1's ibuprofen and ends
    it, and moves P2's start: each is the prescription night 1 sent, so neither still runs (read as
    new prescriptions beside the old, both stayed 'on' an NSAID they stopped). An analyst's ad-hoc
    run on night 1's export states nothing about the latest facts; night 3 sending night 1's
    versions again does (the latest nightly statement counts)."""
    db = tmp_path / "audit.duckdb"
    night(tmp_path, "2026-11-02", write_export(tmp_path / "n1", diagnoses=CKD, prescriptions=FIRST))
    assert flagged(db, "nsaid_kidney_disease") == {"P1", "P2", "P3"}
    night(tmp_path, "2026-11-03", write_export(tmp_path / "n2", diagnoses=CKD, prescriptions=SECOND))
    assert current(db) == [
        ("P1", "RX-1001", "5640", "2026-09-01", "2026-09-20"),
        ("P2", "RX-2001", "197805", "2026-06-01", "2026-07-01"),
        ("P3", None, "197805", "2026-09-01", "2026-09-20"),
    ]
    assert stored(db) == 6  # every version kept
    assert flagged(db, "nsaid_kidney_disease") == set()
    # an analyst's older extract: P1's RX-1 open again, P3's without a name and open
    older = [{**FIRST[0], "days_supply": "90"}, {**FIRST[2], "prescription_id": "", "days_supply": "90"}]
    adhoc = ["run", "--ad-hoc", "--exports", str(write_export(tmp_path / "old", prescriptions=older))]
    assert cli(*adhoc, "--as-of", "2026-11-03", "--db", str(db), "--out", str(tmp_path / "adhoc")) == 0
    assert stored(db) == 8  # its versions are kept, and none is current
    assert [r[0] for r in current(db) if r[4] is None] == []
    night(tmp_path, "2026-11-04", write_export(tmp_path / "n3", diagnoses=CKD, prescriptions=FIRST))
    assert flagged(db, "nsaid_kidney_disease") == {"P1", "P2", "P3"}
    assert stored(db) == 8


def test_a_prescription_named_on_the_night_it_changed_is_one_prescription(tmp_path):
    """The first night with names may also change a prescription stored without one: P1's open
    ibuprofen is sent as RX-1, now ended, and ends; P2's unnamed ended then reopened course is sent
    as RX-2 with its first version's content, and the reopened version no longer runs."""
    db = tmp_path / "audit.duckdb"
    row = {"patient_id": "P1", "drug_name": "ibuprofen 400 mg tablet", "rxnorm_code": "197805",
           "start_date": "2026-09-01"}  # fmt: skip
    p2 = {**row, "patient_id": "P2", "end_date": "2026-09-20"}
    night(tmp_path, "2026-11-02", write_export(tmp_path / "n1", diagnoses=CKD, prescriptions=[row, p2]))
    reopened = {**p2, "end_date": ""}
    night(tmp_path, "2026-11-03", write_export(tmp_path / "n2", diagnoses=CKD, prescriptions=[row, reopened]))
    assert flagged(db, "nsaid_kidney_disease") == {"P1", "P2"}
    named = [{**row, "prescription_id": "RX-1", "end_date": "2026-09-20"}, {**p2, "prescription_id": "RX-2"}]
    night(tmp_path, "2026-11-04", write_export(tmp_path / "n3", diagnoses=CKD, prescriptions=named))
    assert current(db) == [
        ("P1", "RX-1", "197805", "2026-09-01", "2026-09-20"),
        ("P2", "RX-2", "197805", "2026-09-01", "2026-09-20"),
    ]
    assert flagged(db, "nsaid_kidney_disease") == set()


def test_a_sibling_prescription_is_not_taken_for_the_one_named(tmp_path):
    """Two ibuprofen courses of one patient started the same day (a 28-day and a 365-day supply):
    night 2 sends the 28-day one named and ended and the 365-day one still unnamed, unchanged; night
    3 sends only the ended one. The 365-day course is a prescription of its own and still runs."""
    db = tmp_path / "audit.duckdb"
    row = {"patient_id": "P1", "drug_name": "ibuprofen 400 mg tablet", "rxnorm_code": "197805",
           "start_date": "2026-10-20"}  # fmt: skip
    short, long = {**row, "days_supply": "28"}, {**row, "days_supply": "365"}
    night(tmp_path, "2026-11-02", write_export(tmp_path / "n1", diagnoses=CKD, prescriptions=[short, long]))
    ended = {**short, "prescription_id": "RX-1", "end_date": "2026-10-25"}
    night(tmp_path, "2026-11-03", write_export(tmp_path / "n2", diagnoses=CKD, prescriptions=[ended, long]))
    assert flagged(db, "nsaid_kidney_disease") == {"P1"}
    night(tmp_path, "2026-11-04", write_export(tmp_path / "n3", diagnoses=CKD, prescriptions=[ended]))
    with duckdb.connect(str(db), read_only=True) as con:
        got = con.execute(
            "SELECT prescription_id, days_supply, end_date::VARCHAR FROM current_prescriptions ORDER BY ALL"
        ).fetchall()
    assert got == [("RX-1", 28, "2026-10-25"), (None, 365, None)]
    assert flagged(db, "nsaid_kidney_disease") == {"P1"}


def test_prescriptions_stored_before_they_were_named_take_their_names(tmp_path):
    """A database loaded before the export sent prescription_id (or an export that left the column
    out): the same rows sent with their names add nothing and take the names, two identical rows
    one name each; a later version under a name replaces only the row that took it."""
    db = tmp_path / "audit.duckdb"
    row = {"patient_id": "P1", "drug_name": "ibuprofen 400 mg tablet", "rxnorm_code": "197805",
           "start_date": "2026-09-01"}  # fmt: skip
    night(tmp_path, "2026-11-02", write_export(tmp_path / "n1", diagnoses=CKD, prescriptions=[row, row]))
    named = [{**row, "prescription_id": "RX-1"}, {**row, "prescription_id": "RX-2"}]
    night(tmp_path, "2026-11-03", write_export(tmp_path / "n2", diagnoses=CKD, prescriptions=named))
    summary = json.loads((tmp_path / "out-2026-11-03" / "summary.json").read_text(encoding="utf-8"))
    assert summary["files"]["prescriptions"]["rows_loaded"] == 0
    assert [r[1] for r in current(db)] == ["RX-1", "RX-2"]
    ended = [named[0], {**named[1], "rxnorm_code": "5640", "end_date": "2026-09-20"}]
    night(tmp_path, "2026-11-04", write_export(tmp_path / "n3", diagnoses=CKD, prescriptions=ended))
    assert current(db) == [
        ("P1", "RX-1", "197805", "2026-09-01", None),
        ("P1", "RX-2", "5640", "2026-09-01", "2026-09-20"),
    ]
    assert stored(db) == 3


def test_two_prescriptions_alike_under_two_names_are_two(tmp_path):
    """Two issues of one drug on one day (a second supply) under two names are two prescriptions:
    both loaded, and ending one leaves the other running."""
    db = tmp_path / "audit.duckdb"
    row = {"patient_id": "P1", "drug_name": "ibuprofen 400 mg tablet", "start_date": "2026-09-01"}
    two = [{**row, "prescription_id": "RX-1"}, {**row, "prescription_id": "RX-2"}]
    night(tmp_path, "2026-11-01", write_export(tmp_path / "n0", diagnoses=CKD, prescriptions=two[:1]))
    night(tmp_path, "2026-11-02", write_export(tmp_path / "n1", diagnoses=CKD, prescriptions=two))
    summary = json.loads((tmp_path / "out-2026-11-02" / "summary.json").read_text(encoding="utf-8"))
    assert summary["files"]["prescriptions"]["rows_loaded"] == 1
    assert stored(db) == 2
    one_ended = [two[0], {**two[1], "end_date": "2026-10-10"}]
    night(tmp_path, "2026-11-03", write_export(tmp_path / "n2", diagnoses=CKD, prescriptions=one_ended))
    assert [(r[1], r[4]) for r in current(db)] == [("RX-1", None), ("RX-2", "2026-10-10")]
    assert flagged(db, "nsaid_kidney_disease") == {"P1"}
