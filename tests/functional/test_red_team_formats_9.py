"""Red team, formats round 9: Synthea CSV and MIMIC-IV exports shaped as the real files are, read
into results a clinician would not agree with.

Each test fails on the code it was written against and states what the tool should do instead.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.functional.test_format_fhir import IBUPROFEN, coded, medreq, patient, run_small
from tests.functional.test_format_synthea import write_synthea
from tests.helpers import cli, flagged, run_args


def _stored(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


# --- Synthea: an empty STOP is a medication still taken ------------------------------------------

SYNTHEA_CKD_PATIENTS = (
    "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,MIDDLE,LAST,SUFFIX,MAIDEN,MARITAL,RACE,"
    "ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,FIPS,ZIP,LAT,LON,HEALTHCARE_EXPENSES,"
    "HEALTHCARE_COVERAGE,INCOME\n"
    "N01,1950-02-03,,999-10-4053,,,Mrs.,Zoë123,,Müller45,,,M,white,nonhispanic,F,Malmö  Skåne  SE,"
    "1 Main Street,Huddinge,Stockholm,Huddinge,,141 34,59.2,17.9,0.00,7013.90,14430\n"
    "N02,1948-07-21,,999-39-9104,,,Mr.,José88,,Åström7,,,M,white,nonhispanic,M,Södertälje  Stockholm  SE,"
    "2 Main Street,Huddinge,Stockholm,Huddinge,,141 09,59.2,18.0,0.00,67343.96,43329\n"
)
SYNTHEA_CKD_MEDICATIONS = (
    "START,STOP,PATIENT,PAYER,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,PAYER_COVERAGE,DISPENSES,TOTALCOST,"
    "REASONCODE,REASONDESCRIPTION\n"
    "2025-03-01T09:00:00Z,,N01,P,E1,849574,Naproxen sodium 220 MG Oral Tablet,1.50,0.00,20,30.00,"
    "239873007,Osteoarthritis of knee (disorder)\n"
    "2025-03-01T09:00:00Z,2025-03-15T09:00:00Z,N02,P,E2,849574,Naproxen sodium 220 MG Oral Tablet,1.50,"
    "0.00,1,1.50,,\n"
)
SYNTHEA_CKD_CONDITIONS = (
    "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION\n"
    "2024-03-01,,N01,E0,SNOMED-CT,431857002,Chronic kidney disease stage 4 (disorder)\n"
    "2024-03-01,,N02,E0,SNOMED-CT,431857002,Chronic kidney disease stage 4 (disorder)\n"
)


def _run_synthea_ckd(tmp_path: Path, medications: str) -> Path:
    """Run the two CKD stage 4 patients with these medications; the database."""
    export = write_synthea(
        tmp_path / "export",
        patients=SYNTHEA_CKD_PATIENTS,
        medications=medications,
        conditions=SYNTHEA_CKD_CONDITIONS,
    )
    assert cli(*run_args(tmp_path, export, "--format", "synthea", "--reject-threshold", "1")) == 0
    return tmp_path / "audit.duckdb"


def test_synthea_open_nsaid_in_ckd_stage_4_is_flagged(tmp_path):
    """Synthea leaves STOP empty only for a medication still active when its simulation ends (a
    chronic osteoarthritis NSAID); the README's Synthea section says such a medication is ongoing.
    N01 has CKD stage 4 and has taken naproxen since March 2025 with no STOP: as of November 2026
    she is still on it, the hazard the check exists for. The check read every NSAID with neither an
    end date nor a days supply as a 90-day course (open_course_days), so hers ended in May 2025 and
    she was not even in the population. N02's naproxen has a STOP: a two-week course, long over."""
    db = _run_synthea_ckd(tmp_path, SYNTHEA_CKD_MEDICATIONS)
    assert flagged(db, "nsaid_kidney_disease") == {"N01"}
    # the open row is said not stopped; the one with a STOP is a stop
    assert _stored(db, "SELECT patient_id, stopped FROM prescriptions ORDER BY 1") == [
        ("N01", False),
        ("N02", True),
    ]


def test_synthea_a_medication_with_a_stop_is_not_taken_after_it(tmp_path):
    """A Synthea STOP is the day the simulated patient stopped the drug (a course's end, or the
    medication ended with its care plan). Read as an end with no stop said, a refill gap followed it:
    N02's naproxen, stopped on 15 November after six weeks, was 'on naproxen' with CKD stage 4 on
    the 20th, and a thiazide stopped on 10 November kept N01 in the diuretic check with no labs.
    Synthea dispenses no days, so no supply is left over to be taken late: no gap."""
    medications = SYNTHEA_CKD_MEDICATIONS.splitlines(keepends=True)[0] + (
        "2026-10-01T09:00:00Z,2026-11-15T09:00:00Z,N02,P,E2,849574,Naproxen sodium 220 MG Oral Tablet,"
        "1.50,0.00,2,3.00,,\n"
        "2026-01-01T09:00:00Z,2026-11-10T09:00:00Z,N01,P,E1,310798,Hydrochlorothiazide 25 MG Oral Tablet,"
        "1.50,0.00,10,15.00,59621000,Essential hypertension (disorder)\n"
    )
    db = _run_synthea_ckd(tmp_path, medications)
    assert flagged(db, "nsaid_kidney_disease") == set()
    assert flagged(db, "diuretic_electrolyte_monitoring") == set()


def test_fhir_active_request_without_an_end_is_still_taken_as_synthea_writes_it(tmp_path):
    """The same statement in FHIR: Synthea's FHIR exporter (and an EHR's medication list) keeps a
    chronic medication's MedicationRequest active, with authoredOn and no end or supply. An active
    ibuprofen request authored in March 2025 for a patient with CKD stage 4 is still taken in
    November 2026; a completed one of the same date lasted its day (the FHIR profile's rule)."""
    ckd = ("http://hl7.org/fhir/sid/icd-10-cm", "N18.4", "Chronic kidney disease, stage 4")
    authored = "2025-03-01T09:00:00Z"
    resources = {
        "Patient.ndjson": [patient(p, "1950-01-01", "female") for p in ("p1", "p2")],
        "MedicationRequest.ndjson": [
            medreq("m1", "p1", IBUPROFEN, authored),
            medreq("m2", "p2", IBUPROFEN, authored, status="completed"),
        ],
        "Condition.ndjson": [coded(f"c{p}", p, [ckd], onset="2025-01-01") for p in ("p1", "p2")],
    }
    run_small(tmp_path, resources)
    assert flagged(tmp_path / "audit.duckdb", "nsaid_kidney_disease") == {"p1"}
