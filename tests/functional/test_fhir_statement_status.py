"""An undated FHIR MedicationStatement whose status is 'active' ("The medication is
still being taken", FHIR R4 medication-statement-status) is the export saying the drug is still
taken, as an active MedicationRequest is; course_end must not give it a 90-day course."""

from __future__ import annotations

from tests.functional.test_format_fhir import (
    IBUPROFEN,
    NUMB_LEG,
    coded,
    medreq,
    obs,
    patient,
    run_small,
)  # fmt: skip
from tests.helpers import flagged

CKD4 = ("http://hl7.org/fhir/sid/icd-10-cm", "N18.4", "Chronic kidney disease, stage 4")
HYDROXOCOBALAMIN = {"text": "Hydroxocobalamin 1mg/1ml solution for injection ampoules"}


def statement(sid, pid, medication, start, status="active"):
    return {
        "resourceType": "MedicationStatement", "id": sid, "status": status,
        "medicationCodeableConcept": medication, "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": start,
    }  # fmt: skip


def test_an_active_medication_statement_without_an_end_is_still_taken(tmp_path):
    # NSAID, CKD stage 4, as of 2026-11-20, ibuprofen since March 2025 with no end:
    # p1 an active request (flagged today), p2 an active statement (the same fact: must be flagged),
    # p3 a completed statement (over: not flagged).
    # B12: numbness coded 2026-08-01, an HbA1c in the year, no B12 result, hydroxocobalamin since
    # 2024-01-10 with no end: p4 an active request, p5 an active statement: the known, treated
    # deficiency stands for the B12 result in both (not flagged).
    resources = {
        "Patient.ndjson": [patient(p, "1950-01-01", "female") for p in ("p1", "p2", "p3", "p4", "p5")],
        "MedicationRequest.ndjson": [
            medreq("m1", "p1", IBUPROFEN, "2025-03-01T09:00:00Z"),
            medreq("m4", "p4", HYDROXOCOBALAMIN, "2024-01-10T09:00:00Z"),
        ],
        "MedicationStatement.ndjson": [
            statement("s2", "p2", IBUPROFEN, "2025-03-01"),
            statement("s3", "p3", IBUPROFEN, "2025-03-01", status="completed"),
            statement("s5", "p5", HYDROXOCOBALAMIN, "2024-01-10"),
        ],
        "Condition.ndjson": [coded(f"c{p}", p, [CKD4], onset="2025-01-01") for p in ("p1", "p2", "p3")]
        + [coded(f"n{p}", p, [NUMB_LEG], onset="2026-08-01") for p in ("p4", "p5")],
        "Observation.ndjson": [
            obs(f"a{p}", p, "4548-4", 5.6, "%", "2026-09-01T09:00:00Z") for p in ("p4", "p5")
        ],
    }
    run_small(tmp_path, resources)
    db = tmp_path / "audit.duckdb"
    assert flagged(db, "nsaid_kidney_disease") == {"p1", "p2"}
    assert flagged(db, "numbness_neuropathy_workup") & {"p4", "p5"} == set()
