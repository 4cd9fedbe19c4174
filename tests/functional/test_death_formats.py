# ruff: noqa: E501 - the fixture files read best unwrapped, one record a line
"""Death through every format profile, end to end through the CLI, on rows shaped like each format's
own: the generic patients.csv `death_date`/`deceased`, Synthea `DEATHDATE`, OMOP CDM `death` (and a
person with two death rows), MIMIC-IV `patients.dod` (date-shifted), FHIR `Patient.deceasedDateTime`
and `deceasedBoolean`. In each, a patient who died on or before the as-of date is left out of every
check (and counted as left out), one dying after it is still audited.

The fixtures reuse each format test's writer and clinical rows (tests/functional/test_format_*.py),
replacing only the patients (and, for Synthea, the medications).
"""

from __future__ import annotations

import json
from datetime import date

import duckdb

from tests.functional import test_format_fhir as fhir
from tests.functional import test_format_mimic as mimic
from tests.functional import test_format_omop as omop
from tests.functional import test_format_synthea as synthea
from tests.helpers import cli, flagged, query, run_args, write_export

DIURETIC = "diuretic_electrolyte_monitoring"
CIRRHOSIS = "cramps_cirrhosis"


def left_out(tmp) -> dict[str, int]:
    """summary.json's deceased_excluded per check."""
    summary = json.loads((tmp / "out" / "summary.json").read_text(encoding="utf-8"))
    return {check: c["deceased_excluded"] for check, c in summary["checks"].items()}


def deaths(tmp) -> list[tuple]:
    with duckdb.connect(str(tmp / "audit.duckdb"), read_only=True) as con:
        return con.execute(
            "SELECT patient_id, death_date::VARCHAR, deceased FROM patients ORDER BY patient_id"
        ).fetchall()


def test_generic(tmp_path):
    export = write_export(
        tmp_path / "export",
        patients="patient_id,birth_date,sex,death_date,deceased\n"
        "G1,1950-01-01,F,2026-11-20,\nG2,1950-01-01,M,2026-11-21,true\nG3,1950-01-01,F,,Yes\n"
        "G4,1950-01-01,M,,\n",
        prescriptions="patient_id,drug_name,rxnorm_code,atc_code,start_date,end_date,days_supply\n"
        + "".join(f"G{i},furosemide 40 mg tablet,4603,C03CA01,2026-01-01,,\n" for i in range(1, 5)),
    )
    assert cli(*run_args(tmp_path, export)) == 0
    assert flagged(tmp_path / "audit.duckdb", DIURETIC) == {"G2", "G4"}
    assert left_out(tmp_path)[DIURETIC] == 2
    assert deaths(tmp_path) == [
        ("G1", "2026-11-20", True),
        ("G2", "2026-11-21", True),
        ("G3", None, True),
        ("G4", None, None),
    ]


SYNTHEA_PATIENTS = """\
Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,MIDDLE,LAST,SUFFIX,MAIDEN,MARITAL,RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,FIPS,ZIP,LAT,LON,HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE,INCOME
S01,1950-02-03,2026-10-05,999-10-1001,S99910011,X1001X,Mrs.,Ann,,Alpha,,,M,white,nonhispanic,F,Boston  Massachusetts  US,1 Main St,Boston,Massachusetts,Suffolk County,25025,02101,42.35,-71.06,10000.0,2000.0,50000
S02,1948-07-21,,999-10-1002,S99910012,X1002X,Mr.,Bob,,Beta,,,M,white,nonhispanic,M,Boston  Massachusetts  US,2 Main St,Boston,Massachusetts,Suffolk County,25025,02101,42.35,-71.06,10000.0,2000.0,50000
S03,1961-11-30,2026-11-21,999-10-1003,S99910013,X1003X,Mr.,Cy,,Gamma,,,S,white,nonhispanic,M,Boston  Massachusetts  US,3 Main St,Boston,Massachusetts,Suffolk County,25025,02101,42.35,-71.06,10000.0,2000.0,50000
S04,1959-05-05,,999-10-1004,S99910014,X1004X,Ms.,Di,,Delta,,,S,white,nonhispanic,F,Boston  Massachusetts  US,4 Main St,Boston,Massachusetts,Suffolk County,25025,02101,42.35,-71.06,10000.0,2000.0,50000
"""
SYNTHEA_MEDICATIONS = """\
START,STOP,PATIENT,PAYER,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,PAYER_COVERAGE,DISPENSES,TOTALCOST,REASONCODE,REASONDESCRIPTION
2026-03-01T09:00:00Z,,S01,P,E3,310798,Hydrochlorothiazide 25 MG Oral Tablet,1.5,0,12,18,59621000,Essential hypertension (disorder)
2026-03-01T09:00:00Z,,S03,P,E10,310798,Hydrochlorothiazide 25 MG Oral Tablet,1.5,0,12,18,59621000,Essential hypertension (disorder)
2026-03-01T09:00:00Z,,S04,P,E11,310798,Hydrochlorothiazide 25 MG Oral Tablet,1.5,0,12,18,59621000,Essential hypertension (disorder)
"""


def test_synthea_deathdate(tmp_path):
    # S01 died 2026-10-05 on open-ended hydrochlorothiazide: left out. S03 dies the day after as-of
    # (and S03's only potassium is rejected): flagged, as is S04.
    export = synthea.write_synthea(
        tmp_path / "export", patients=SYNTHEA_PATIENTS, medications=SYNTHEA_MEDICATIONS
    )
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    assert flagged(tmp_path / "audit.duckdb", DIURETIC) == {"S03", "S04"}
    assert flagged(tmp_path / "audit.duckdb", CIRRHOSIS) == {"S03"}
    assert left_out(tmp_path)[DIURETIC] == 1
    assert [d[:2] for d in deaths(tmp_path)] == [
        ("S01", "2026-10-05"),
        ("S02", None),
        ("S03", "2026-11-21"),
        ("S04", None),
    ]


OMOP_DEATH = """\
person_id,death_date,death_datetime,death_type_concept_id,cause_concept_id,cause_source_value,cause_source_concept_id
1,2026-10-03,2026-10-03 00:00:00,32817,0,,0
1,2026-10-01,2026-10-01 00:00:00,32815,0,,0
3,2026-11-21,2026-11-21 00:00:00,32817,0,,0
4,2026-11-20,,32817,4306655,,0
"""


def test_omop_death_table(tmp_path):
    # Person 1 (hydrochlorothiazide, untested) has two death rows: the earliest counts, once. Person 4
    # (cirrhosis and cramp) died on the as-of date: left out. Person 3 dies the day after: flagged.
    export = omop.write_cdm(tmp_path / "export")
    (export / "DEATH.csv").write_text(OMOP_DEATH, encoding="utf-8")
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    assert flagged(tmp_path / "audit.duckdb", DIURETIC) == set()
    assert flagged(tmp_path / "audit.duckdb", CIRRHOSIS) == {"3"}
    assert (left_out(tmp_path)[DIURETIC], left_out(tmp_path)[CIRRHOSIS]) == (1, 1)
    assert deaths(tmp_path) == [
        ("1", "2026-10-01", True),
        ("2", None, None),
        ("3", "2026-11-21", True),
        ("4", "2026-11-20", True),
        ("5", None, None),
    ]


def test_omop_death_table_in_a_database_file(tmp_path):
    export = omop.write_cdm_database(tmp_path / "export")
    (tmp_path / "DEATH.csv").write_text(OMOP_DEATH, encoding="utf-8")
    with duckdb.connect(str(export / "cdm.duckdb")) as con:  # typed, as Eunomia ships it
        con.execute("CREATE TABLE death AS FROM read_csv($p)", {"p": str(tmp_path / "DEATH.csv")})
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    assert flagged(tmp_path / "audit.duckdb", CIRRHOSIS) == {"3"}
    assert [d[:2] for d in deaths(tmp_path)][:1] == [("1", "2026-10-01")]


def test_omop_without_death_table_loads_nobody_dead(tmp_path):
    export = omop.write_cdm(tmp_path / "export")
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    assert all(death is None for _, death, _ in deaths(tmp_path))
    assert set(left_out(tmp_path).values()) == {0}


def test_mimic_dod(tmp_path):
    # 10000001 (furosemide, no electrolytes; cirrhosis and cramps) died 2180-05-20, before the as-of
    # date 2180-06-01; 10000004 (cirrhosis and cramps) on it; 10000002 (furosemide) dies after it.
    files = dict(mimic.FILES)
    files["patients"] = """subject_id,gender,anchor_age,anchor_year,anchor_year_group,dod
10000001,M,61,2180,2011 - 2013,2180-05-20
10000002,F,70,2179,2014 - 2016,2180-06-02
10000003,M,55,2180,2017 - 2019,
10000004,F,48,2178,2008 - 2010,2180-06-01
"""
    export = mimic.write_mimic(tmp_path / "export", files)
    assert mimic.run(tmp_path, export) == 0
    assert flagged(tmp_path / "audit.duckdb", DIURETIC) == {"10000002"}
    assert flagged(tmp_path / "audit.duckdb", CIRRHOSIS) == set()
    assert (left_out(tmp_path)[DIURETIC], left_out(tmp_path)[CIRRHOSIS]) == (1, 2)
    assert [d[:2] for d in deaths(tmp_path)] == [
        ("10000001", "2180-05-20"),
        ("10000002", "2180-06-02"),
        ("10000003", None),
        ("10000004", "2180-06-01"),
    ]


def test_mimic_without_dod_column_loads(tmp_path):
    files = dict(mimic.FILES)
    files["patients"] = (
        "subject_id,gender,anchor_age,anchor_year,anchor_year_group\n10000001,M,61,2180,2011 - 2013\n"
    )
    export = mimic.write_mimic(tmp_path / "export", files)
    assert mimic.run(tmp_path, export) == 0
    assert deaths(tmp_path) == [("10000001", None, None)]


def test_fhir_deceased(tmp_path):
    # p1 (furosemide, no labs; cirrhosis and cramp) died before as-of, its time in another zone; p2
    # (furosemide, urine tests only) is deceasedBoolean true: dead, date unknown; p4 (cirrhosis and
    # cramp) has a partial deceasedDateTime (a month): read as its last day, 2026-03-31, so dead by
    # the as-of date; p6 died in a year still to begin (next year: after the export date, the row is
    # quarantined and p6 left out, as one whose death cannot be known; read as today, p6 was alive on
    # every earlier as-of date, and flagged); p3 is deceasedBoolean false; p7's birthDate is a year.
    resources = dict(fhir.RESOURCES)
    resources["1.Patient.ndjson.gz"] = [
        fhir.patient("p1", "1951-03-01", "male") | {"deceasedDateTime": "2026-09-15T23:30:00-05:00"},
        fhir.patient("p2", "1952-03-02", "female") | {"deceasedBoolean": True},
        fhir.patient("p3", "1953-03-03", "male") | {"deceasedBoolean": False},
        fhir.patient("p4", "1954-03-04", "female") | {"deceasedDateTime": "2026-03"},
        fhir.patient("p5", "1955-03-05", "male"),
        fhir.patient("p6", "1956-03-06", "female") | {"deceasedDateTime": str(date.today().year + 1)},
        fhir.patient("p7", "1957", "male"),
    ]
    first = fhir.RESOURCES["MedicationRequest.ndjson.gz"][0]
    resources["MedicationRequest.ndjson.gz"] = [
        *fhir.RESOURCES["MedicationRequest.ndjson.gz"],
        dict(first, id="mp6", subject={"reference": "Patient/p6"}),
    ]
    export = fhir.write_fhir(tmp_path / "export", resources)
    assert fhir.run(tmp_path, export) == 0
    assert flagged(tmp_path / "audit.duckdb", DIURETIC) == set()
    assert flagged(tmp_path / "audit.duckdb", CIRRHOSIS) == set()
    assert (left_out(tmp_path)[DIURETIC], left_out(tmp_path)[CIRRHOSIS]) == (2, 2)
    assert deaths(tmp_path) == [
        ("p1", "2026-09-15", True),  # the local date as written, not converted to UTC
        ("p2", None, True),
        ("p3", None, False),
        ("p4", "2026-03-31", True),
        ("p5", None, None),
        ("p7", None, None),
    ]
    assert query(tmp_path / "audit.duckdb", "SELECT patient_id FROM unreadable_patients") == [("p6",)]
