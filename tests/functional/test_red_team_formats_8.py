# ruff: noqa: E501 - the fixture tables read best unwrapped, as in tests/spec
"""Red team, formats round 8: real-world export quirks the format profiles still read wrongly.

Each test fails on the code it was written against and states what the tool should do instead.
OMOP tables written by R (write.csv, readr::write_csv: NA for a missing value) or by a spreadsheet
or R's write.csv2 in a decimal-comma locale (semicolons, '4,1'); a generic export saved by Excel
(rows of empty cells after the data, a 12-hour clock beside an ISO date); FHIR supply durations and
course lengths written in the units R4's Duration allows.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb

from tests.functional.test_format_fhir import FUROSEMIDE, SCT, coded, medreq, patient, rows, run_small
from tests.functional.test_format_omop import CDM, write_cdm
from tests.helpers import cli, run_args, table, write_export


def _stored(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


# --- OMOP written by R: NA for every missing value ----------------------------------------------


def _r_csv(text: str, delimiter: str = ",") -> str:
    """A text table as R writes a data frame (write.csv, readr::write_csv, data.table::fwrite with
    na = 'NA'): a missing value is the text NA, unquoted, in every column type."""
    rows_ = table(text)
    lines = [delimiter.join(rows_[0])] + [delimiter.join(v if v else "NA" for v in r.values()) for r in rows_]
    return "\n".join(lines) + "\n"


R_PERSON = """
    person_id | gender_concept_id | year_of_birth | month_of_birth | day_of_birth | birth_datetime      | care_site_id | provider_id | gender_source_value
    1         | 8532              | 1950          | 2              | 3            |                     |              |             | F
    3         | 8507              | 1961          |                |              |                     |              |             | M
"""
R_MEASUREMENT = """
    measurement_id | person_id | measurement_concept_id | measurement_date | measurement_datetime | value_as_number | unit_concept_id | operator_concept_id | measurement_source_value | unit_source_value | value_source_value
    1              | 1         | 1001                   | 2026-09-01       |                      | 4.1             | 1003            |                     | 2823-3                   | mmol/L            | 4.1
"""
# Person 1: hydrochlorothiazide issued for 28 days, its stop_reason missing (NA), so not said to be
# stopped. Person 3: cirrhosis still present (condition_end_date NA) and a cramp last month.
R_DRUG_EXPOSURE = """
    drug_exposure_id | person_id | drug_concept_id | drug_exposure_start_date | drug_exposure_end_date | verbatim_end_date | days_supply | stop_reason | drug_source_value
    1                | 1         | 2001            | 2026-10-01               | 2026-10-28             |                   | 28          |             | 310798
"""
R_CONDITIONS = """
    condition_occurrence_id | person_id | condition_concept_id | condition_start_date | condition_end_date | condition_source_value | condition_source_concept_id
    1                       | 3         | 3001                 | 2024-01-10           |                    | 19943007               | 0
    2                       | 3         | 3002                 | 2026-10-01           |                    | 55300003               | 0
"""


def _r_cdm(folder: Path) -> Path:
    return write_cdm(
        folder,
        person=_r_csv(R_PERSON),
        measurement=_r_csv(R_MEASUREMENT),
        drug_exposure=_r_csv(R_DRUG_EXPOSURE),
        condition_occurrence=_r_csv(R_CONDITIONS),
        concept=_r_csv(CDM["concept"]),
        concept_ancestor=_r_csv(CDM["concept_ancestor"]),
    )


def test_omop_written_by_r_with_na_for_missing_values_loads(tmp_path, capsys):
    """R's write.csv and readr::write_csv write a missing value as NA: every condition still present
    (condition_end_date NA) was rejected as 'not a valid ISO 8601 date', so a CDM exported from R
    (the OHDSI tools' language) stopped at the reject threshold (exit 3, nothing loaded). NA in a
    date, number or concept id column is no value, as `\\N` and `NULL` already are."""
    export = _r_cdm(tmp_path / "export")
    code = cli(*run_args(tmp_path, export, "--format", "omop"))
    err = capsys.readouterr().err
    assert code == 0, err
    got = _stored(tmp_path / "audit.duckdb", "SELECT count(*) FROM quarantine")
    assert got == [(0,)]


def test_omop_na_stop_reason_is_no_stop_and_na_site_is_no_site(tmp_path):
    """With the threshold out of the way, NA is read as a value: every drug_exposure whose
    stop_reason is NA (none given) was marked stopped (so no refill gap follows any issue), and
    every person's care_site_id / provider_id NA put the whole CDM in one site 'NA' with one
    clinician 'NA' in the measures' breakdowns; a birth_datetime NA hid year/month/day_of_birth, so
    the person loaded with no birth date (no age for the age-based checks and CKD-EPI)."""
    export = _r_cdm(tmp_path / "export")
    assert cli(*run_args(tmp_path, export, "--format", "omop", "--reject-threshold", "1")) == 0
    db = tmp_path / "audit.duckdb"
    assert _stored(db, "SELECT patient_id, stopped FROM prescriptions") == [("1", None)]
    assert _stored(db, "SELECT DISTINCT site_id, clinician_id FROM patients") == [(None, None)]
    assert _stored(db, "SELECT patient_id, birth_date FROM patients ORDER BY 1") == [
        ("1", date(1950, 2, 3)),
        ("3", date(1961, 1, 1)),
    ]


# --- OMOP saved semicolon-separated with decimal commas -----------------------------------------


def test_omop_semicolon_file_reads_decimal_commas(tmp_path):
    """A CDM table saved by R's write.csv2 or a spreadsheet in a decimal-comma locale (most of the
    European OHDSI network) is semicolon-separated with '4,1': the profile reads the semicolons
    (delimiter_of) but not the decimal comma, so every decimal value_as_number was rejected as 'not
    a number' (the Eunomia sample saved so: 9107 of 10040 measurements, exit 3). Below the
    threshold the potassium is lost and a monitored diuretic user is flagged. The generic and
    Synthea profiles already read a semicolon file's decimal comma (macro decimal_comma)."""
    measurement = """
        measurement_id | person_id | measurement_concept_id | measurement_date | value_as_number | unit_concept_id | measurement_source_value | unit_source_value
        1              | 2         | 1001                   | 2026-09-01       | 4,1             | 1003            | 2823-3                   | mmol/L
        2              | 2         | 1002                   | 2026-09-01       | 139,0           | 1003            | 2951-2                   | mmol/L
    """
    rows_ = table(measurement)
    text = "\n".join([";".join(rows_[0])] + [";".join(r.values()) for r in rows_]) + "\n"
    export = write_cdm(tmp_path / "export", delimiter=";", measurement=text)
    assert cli(*run_args(tmp_path, export, "--format", "omop", "--reject-threshold", "1")) == 0
    db = tmp_path / "audit.duckdb"
    got = _stored(db, "SELECT loinc_code, value FROM labs ORDER BY 1")
    assert got == [("2823-3", 4.1), ("2951-2", 139.0)]
    assert _stored(db, "SELECT count(*) FROM quarantine WHERE table_name = 'labs'") == [(0,)]


# --- Generic CSV saved by Excel -----------------------------------------------------------------


PRESCRIPTIONS_HEADER = "patient_id,drug_name,rxnorm_code,atc_code,start_date,end_date,days_supply,stopped"


def test_excel_rows_of_empty_cells_after_the_data_are_blank_lines(tmp_path, capsys):
    """Excel saves every row of its used range, so a sheet whose cells below the data were once
    formatted or cleared ends in lines of delimiters only (',,,,,,,'). Each was quarantined three
    times over (patient_id, drug_name, start_date empty) and counted as a rejected row, so a few of
    them stopped the whole night (exit 3, nothing loaded). A record of empty fields holds no data:
    it is a blank line (skipped), as a line of spaces already is."""
    prescriptions = (
        PRESCRIPTIONS_HEADER
        + "\nP1,Furosemide 40mg tablets,,,2026-10-01,,28,\nP2,Ramipril 5mg capsules,,,2026-10-01,,28,\n"
        + ",,,,,,,\n" * 3
    )
    export = write_export(tmp_path / "export", prescriptions=prescriptions)
    code = cli(*run_args(tmp_path, export))
    err = capsys.readouterr().err
    assert code == 0, err
    db = tmp_path / "audit.duckdb"
    assert _stored(db, "SELECT count(*) FROM quarantine") == [(0,)]
    assert _stored(db, "SELECT count(*) FROM prescriptions") == [(2,)]


def test_an_iso_date_with_a_12_hour_clock_is_read_at_its_time_or_rejected(tmp_path):
    """A Windows 'English (Canada)' locale (short date yyyy-MM-dd, long time h:mm:ss tt), and Excel
    or .NET reports under it, write '2026-09-01 1:30:00 PM'. The text has the ISO date's shape, so it
    went to DuckDB's cast, which ignores the AM/PM: 1:30 PM was stored as 01:30 and 12:15 AM as
    12:15 (noon), silently reordering a day's results (the insulin check's falling runs read that
    order). Either the time it says, or a quarantined row: never another time."""
    labs = (
        "patient_id,collected_at,loinc_code,test_name,value,unit,result_id\n"
        "P1,2026-09-01 9:00:00 AM,2823-3,Potassium,6.6,mmol/L,R1\n"
        "P1,2026-09-01 1:30:00 PM,2823-3,Potassium,3.8,mmol/L,R2\n"
        "P1,2026-09-02 12:15:00 AM,2823-3,Potassium,4.0,mmol/L,R3\n"
    )
    export = write_export(tmp_path / "export", labs=labs)
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    db = tmp_path / "audit.duckdb"
    stored = dict(_stored(db, "SELECT result_id, collected_at FROM lab_results"))
    meant = {
        "R1": datetime(2026, 9, 1, 9, 0),
        "R2": datetime(2026, 9, 1, 13, 30),
        "R3": datetime(2026, 9, 2, 0, 15),
    }
    wrong = {r: (stored[r], meant[r]) for r in stored if stored[r] != meant[r]}
    assert wrong == {}, f"stored at another time than the file says (stored, meant): {wrong}"


# --- FHIR durations in the units R4's Duration allows -------------------------------------------


def test_fhir_supply_duration_in_months_or_capitalised_days_is_read(tmp_path):
    """dispenseRequest.expectedSupplyDuration is a Duration: any UCUM time unit (mo for a three-month
    supply, as repeat dispensing writes it), with a display unit that may be capitalised ('Days',
    'Day', without a code). Only d/day/days and wk/week/weeks were read, case-sensitively; any other
    gave no supply, so a completed three-month request lasted its start day and a 30-'Days' one too:
    a patient issued furosemide for three months on 1 October counted as off it the next day."""
    authored = "2026-10-01T09:00:00Z"
    resources = {
        "Patient.ndjson": [patient(f"p{i}", "1950-01-01", "female") for i in (1, 2, 3)],
        "MedicationRequest.ndjson": [
            medreq("m1", "p1", FUROSEMIDE, authored, status="completed",
                   dispenseRequest={"expectedSupplyDuration": {"value": 3, "unit": "months", "system": "http://unitsofmeasure.org", "code": "mo"}}),
            medreq("m2", "p2", FUROSEMIDE, authored, status="completed",
                   dispenseRequest={"expectedSupplyDuration": {"value": 30, "unit": "Days"}}),
            medreq("m3", "p3", FUROSEMIDE, authored, status="completed",
                   dispenseRequest={"expectedSupplyDuration": {"value": 30, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d"}}),
        ],
        "Condition.ndjson": [coded("c1", "p1", [(SCT, "19943007", "Cirrhosis of liver")])],
    }  # fmt: skip
    run_small(tmp_path, resources)
    got = {
        p: (s, e)
        for p, s, e in rows(tmp_path, "SELECT patient_id, days_supply, end_effective FROM prescriptions")
    }
    assert got["p3"] == (30, date(2026, 10, 31))  # the coded one, as read today
    assert got["p2"] == (30, date(2026, 10, 31))
    supply, end = got["p1"]
    assert supply is not None and 89 <= supply <= 92, got["p1"]
    assert end is not None and end >= date(2026, 12, 29), got["p1"]


def test_fhir_dosage_bounds_duration_ends_the_course(tmp_path):
    """Timing.repeat.boundsDuration is the course's length ('ibuprofen 400 mg three times a day for 5
    days'); boundsPeriod.end is read as the course's end, boundsDuration was not, so an active
    five-day course with no validityPeriod read as taken for ever (an NSAID course in CKD flagged
    every night from then on). It should end five days after its start."""
    ibuprofen = {
        "coding": [
            {
                "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                "code": "197806",
                "display": "ibuprofen 400 MG Oral Tablet",
            }
        ],
        "text": "ibuprofen 400 MG Oral Tablet",
    }
    dosage = [
        {
            "text": "400 mg three times a day for 5 days",
            "timing": {
                "repeat": {
                    "boundsDuration": {
                        "value": 5,
                        "unit": "days",
                        "system": "http://unitsofmeasure.org",
                        "code": "d",
                    },
                    "frequency": 3,
                    "period": 1,
                    "periodUnit": "d",
                }
            },
        }
    ]
    resources = {
        "Patient.ndjson": [patient("p1", "1950-01-01", "female")],
        "MedicationRequest.ndjson": [medreq("m1", "p1", ibuprofen, "2026-10-01T09:00:00Z", dosageInstruction=dosage)],
        "Condition.ndjson": [coded("c1", "p1", [(SCT, "19943007", "Cirrhosis of liver")])],
    }  # fmt: skip
    run_small(tmp_path, resources)
    ((end,),) = rows(tmp_path, "SELECT end_effective FROM prescriptions")
    assert end is not None and end <= date(2026, 10, 7), end


# --- OMOP with day-first dates (date_order = day-first) ----------------------------------------


def _dated_drug_exposure(day_first: bool) -> str:
    """Person 1: furosemide issued 1 March for 90 days (the ETL's derived end 29 May), stopped on
    15 March (verbatim_end_date: the end the source recorded)."""
    days = {"start": (2026, 3, 1), "end": (2026, 5, 29), "verbatim": (2026, 3, 15)}
    text = {
        k: (f"{d:02d}/{m:02d}/{y}" if day_first else f"{y}-{m:02d}-{d:02d}") for k, (y, m, d) in days.items()
    }
    return (
        "drug_exposure_id,person_id,drug_concept_id,drug_exposure_start_date,drug_exposure_end_date,"
        "verbatim_end_date,days_supply,drug_source_value\n"
        f"1,1,2001,{text['start']},{text['end']},{text['verbatim']},90,310798\n"
    )


def test_omop_day_first_dates_keep_the_profiles_date_rules(tmp_path):
    """An OMOP table saved with day-first dates loads once date_order = day-first is set (the run
    asks for it), but the profile's own date logic (a verbatim_end_date before the derived end is
    the stop; a zero-day renewal lasts as long as the course it renews; the earliest of several
    death rows) reads the dates with DuckDB's ISO cast, which gives NULL for '15/03/2026': every
    such rule silently stopped applying. The Eunomia sample saved so has its 35 renewals end on
    their start day. The same export must read the same whichever way its dates are written."""
    ends = {}
    for day_first in (False, True):
        folder = tmp_path / ("day_first" if day_first else "iso")
        export = write_cdm(folder / "export", drug_exposure=_dated_drug_exposure(day_first))
        config = folder / "config.toml"
        config.write_text(f'[run]\ndate_order = "{"day-first" if day_first else "iso"}"\n', encoding="utf-8")
        args = run_args(
            folder, export, "--format", "omop", "--reject-threshold", "1", "--config", str(config)
        )
        assert cli(*args) == 0
        ends[day_first] = _stored(folder / "audit.duckdb", "SELECT end_date, stopped FROM prescriptions")
    assert ends[False] == [(date(2026, 3, 15), None)]  # the verbatim stop, in ISO
    assert ends[True] == ends[False]


# --- OMOP renewals among drugs with no concept ---------------------------------------------------


def test_omop_an_unmapped_one_off_is_no_renewal_of_another_unmapped_drug(tmp_path):
    """The zero-day renewal rule looks for an earlier exposure of the same drug by drug_concept_id,
    and every drug no vocabulary maps has drug_concept_id 0 (local pharmacy codes: a share of every
    real CDM). So a one-off ibuprofen with no concept (ending on its start day, no supply) taken
    while a year's unmapped amlodipine ran was read as a renewal of the amlodipine and lasted 364
    days (noted 'renewal_length'): an NSAID course in CKD for a year from one tablet. Two drugs
    with concept 0 are the same drug only when their source is (drug_source_value, or
    drug_source_concept_id)."""
    drugs = (
        "drug_exposure_id,person_id,drug_concept_id,drug_exposure_start_date,drug_exposure_end_date,"
        "days_supply,drug_type_concept_id,drug_source_value\n"
        "1,1,0,2026-01-01,2026-12-31,365,32838,LOCAL-AMLO-5\n"
        "2,1,0,2026-06-01,2026-06-01,,32838,Ibuprofen 400 mg tablets\n"
    )
    export = write_cdm(tmp_path / "export", drug_exposure=drugs)
    assert cli(*run_args(tmp_path, export, "--format", "omop", "--reject-threshold", "1")) == 0
    got = _stored(
        tmp_path / "audit.duckdb",
        "SELECT drug_name, end_effective FROM prescriptions WHERE drug_name ILIKE 'ibuprofen%'",
    )
    assert got == [("Ibuprofen 400 mg tablets", date(2026, 6, 1))]


# --- A decimal comma inside a unit -------------------------------------------------------------


def test_egfr_unit_written_with_a_decimal_comma_is_the_egfr_unit(tmp_path):
    """Laboratories in decimal-comma locales write the eGFR unit with a comma ('ml/min/1,73m²',
    'ml/min/1,73 m2'), as their reports and exports print it beside '45'. The value's decimal comma
    is read in a semicolon file, the unit's was not: every such eGFR was quarantined as 'not a
    recognised unit for this test' (CKD by eGFR lost; past 5% of a file, the night stopped)."""
    labs = (
        "patient_id;collected_at;loinc_code;test_name;value;unit\n"
        "P1;2026-09-01;62238-1;eGFR CKD-EPI;45;ml/min/1,73m²\n"
        "P1;2026-09-02;62238-1;eGFR CKD-EPI;46;ml/min/1,73 m2\n"
    )
    export = write_export(tmp_path / "export", labs=labs, prescriptions="patient_id;drug_name;start_date\n",
                          diagnoses="patient_id;code;code_system;recorded_at\n")  # fmt: skip
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    db = tmp_path / "audit.duckdb"
    assert _stored(db, "SELECT count(*) FROM quarantine") == [(0,)]
    got = _stored(db, "SELECT value, unit FROM labs ORDER BY collected_at")
    assert got == [(45.0, "mL/min/1.73m2"), (46.0, "mL/min/1.73m2")]


# --- OMOP: a vocabulary change between nights ---------------------------------------------------


def test_omop_a_drug_recoded_by_a_new_vocabulary_is_restated_not_doubled(tmp_path):
    """An OMOP exposure is one prescription by what the source recorded (person, start, source drug),
    not by its concept nor by its drug_exposure_id (here renumbered by the rebuilt
    CDM, 1 then 17, as an ETL numbering its rows does). An OMOP drug's RxNorm code
    comes from the vocabulary (its ingredient through concept_ancestor, else its own concept), so a
    CDM refreshed with concept_ancestor (or a new vocabulary release, or an ETL that now maps a
    drug it left at concept 0) recodes every drug_exposure. Keyed by its content, the next night's
    row was a new fact and the stored one stayed current: here the second night also records the
    hydrochlorothiazide's stop (verbatim_end_date 1 June), and the first night's version, running to
    2027, kept the patient 'on' a diuretic they stopped. One exposure is one current prescription,
    as the second night states it."""
    drugs = {
        False: "1,1,2001,2026-03-01,2027-03-01,,365,310798\n",
        True: "17,1,2001,2026-03-01,2027-03-01,2026-06-01,365,310798\n",
    }
    header = (
        "drug_exposure_id,person_id,drug_concept_id,drug_exposure_start_date,drug_exposure_end_date,"
        "verbatim_end_date,days_supply,drug_source_value\n"
    )
    for second, as_of in ((False, "2026-11-20"), (True, "2026-11-21")):  # two scheduled nights
        ancestors = {} if second else {"concept_ancestor": "ancestor_concept_id,descendant_concept_id\n"}
        export = write_cdm(
            tmp_path / f"night{int(second) + 1}", drug_exposure=header + drugs[second], **ancestors
        )
        config = tmp_path / f"night-{as_of}.toml"
        config.write_text(f'[run]\nas_of = "{as_of}"\nreject_threshold = 1.0\n', encoding="utf-8")
        args = ["run", "--config", str(config), "--exports", str(export), "--format", "omop"]
        assert (
            cli(*args, "--out", str(tmp_path / f"out-{as_of}"), "--db", str(tmp_path / "audit.duckdb")) == 0
        )
    got = _stored(
        tmp_path / "audit.duckdb",
        "SELECT drug_name, end_effective FROM current_prescriptions WHERE patient_id = '1'",
    )
    assert got == [("hydrochlorothiazide 25 MG Oral Tablet", date(2026, 6, 1))]


# --- Generic CSV saved by SQL Server Management Studio -----------------------------------------


def test_generic_export_saved_by_ssms_reads_null_as_empty(tmp_path, capsys):
    """The generic export is what a clinic writes with its own query, and SQL Server Management
    Studio's 'Save Results As' CSV writes a NULL as the text NULL. The OMOP profile reads a field of
    exactly NULL (or \\N) as empty; the generic one quarantined it: every living patient (death_date
    NULL: 'not a valid ISO 8601 date'; deceased NULL: 'not a yes/no value'), every open-ended
    prescription (end_date NULL), every lab without a LOINC code and every unresolved diagnosis, so
    the night stopped at the reject threshold (exit 3) until the query was rewritten."""
    export = write_export(
        tmp_path / "export",
        patients="patient_id,birth_date,sex,death_date,deceased\nP1,1950-01-01,F,NULL,NULL\nP2,1948-01-01,M,NULL,NULL\n",
        labs=(
            "patient_id,collected_at,loinc_code,test_name,value,unit,result_id\n"
            "P2,2026-09-01 08:30:00.000,2823-3,Potassium,4.1,mmol/L,NULL\n"
            "P2,2026-09-01 08:30:00.000,NULL,Sodium,139,mmol/L,NULL\n"
        ),
        prescriptions=(
            "patient_id,drug_name,rxnorm_code,atc_code,start_date,end_date,days_supply,stopped\n"
            "P1,Furosemide 40mg tablets,NULL,C03CA01,2026-10-01,NULL,28,NULL\n"
            "P2,Furosemide 40mg tablets,NULL,C03CA01,2026-10-01,NULL,NULL,NULL\n"
        ),
        diagnoses="patient_id,code,code_system,recorded_at,resolved_at\nP1,K74.60,ICD-10-CM,2024-01-01,NULL\n",
    )
    code = cli(*run_args(tmp_path, export))
    err = capsys.readouterr().err
    assert code == 0, err
    db = tmp_path / "audit.duckdb"
    assert _stored(db, "SELECT count(*) FROM quarantine") == [(0,)]
    assert _stored(db, "SELECT patient_id, death_date, deceased FROM patients ORDER BY 1") == [
        ("P1", None, None),
        ("P2", None, None),
    ]


# --- FHIR: one resource stops the whole run --------------------------------------------------------


def test_fhir_an_absurd_supply_duration_is_that_rows_fault_not_the_files(tmp_path, capsys):
    """One MedicationRequest whose expectedSupplyDuration is absurd (a typed 99999999999 days)
    overflowed the hard INTEGER cast of the end's arithmetic, and the whole run stopped with
    'MedicationRequest.000.ndjson: the file cannot be read; nothing was loaded' (exit 3): a readable
    file called unreadable for one value. A supply out of range is that row's fault (5 000 000 days
    is already quarantined as 'days_supply is not a whole number from 1 to 3650')."""
    supply = {"expectedSupplyDuration": {"value": 99999999999, "unit": "days", "code": "d"}}
    resources = {
        "Patient.ndjson": [patient("p1", "1950-01-01", "female"), patient("p2", "1950-01-01", "male")],
        "MedicationRequest.ndjson": [
            medreq(
                "m1", "p1", FUROSEMIDE, "2026-10-01T09:00:00Z", status="completed", dispenseRequest=supply
            ),
            medreq("m2", "p2", FUROSEMIDE, "2026-10-01T09:00:00Z"),
        ],
        "Condition.ndjson": [coded("c1", "p1", [(SCT, "19943007", "Cirrhosis of liver")])],
    }
    run_small(tmp_path, resources)  # asserts exit 0
    assert rows(tmp_path, "SELECT patient_id FROM prescriptions") == [("p2",)]


def test_fhir_a_resource_longer_than_16_mib_is_that_lines_fault(tmp_path, capsys):
    """NDJSON sets no line length, and an Observation carrying a long waveform (valueSampledData: a
    Holter or EEG trace) or a Patient with a large photo can pass 16 MiB. The line reader's limit
    (max_line_size 16 MiB) made the whole file unreadable, reported as 'not text the tool can read
    record by record (binary data, or broken quotes or line ends); nothing was loaded' (exit 3), so
    one valid resource stopped every night's run. The CSV readers quarantine an over-long record and
    go on; the FHIR reader should read the line, or quarantine it, and load the rest."""
    trace = " ".join(["123"] * 4_500_000)  # ~18 MB of samples
    sampled = {
        "resourceType": "Observation", "id": "ecg1", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "procedure"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8601-7"}]},
        "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2026-09-01T08:00:00Z",
        "valueSampledData": {"origin": {"value": 0}, "period": 2, "dimensions": 1, "data": trace},
    }  # fmt: skip
    potassium = {
        "resourceType": "Observation", "id": "k1", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3"}]},
        "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2026-09-01T08:00:00Z",
        "valueQuantity": {"value": 4.1, "unit": "mmol/L"},
    }  # fmt: skip
    resources = {
        "Patient.ndjson": [patient("p1", "1950-01-01", "female")],
        "Observation.ndjson": [potassium, sampled],
        "MedicationRequest.ndjson": [medreq("m1", "p1", FUROSEMIDE)],
        "Condition.ndjson": [coded("c1", "p1", [(SCT, "19943007", "Cirrhosis of liver")])],
    }
    run_small(tmp_path, resources)  # asserts exit 0
    assert rows(tmp_path, "SELECT result_id, value FROM labs WHERE loinc_code = '2823-3'") == [("k1", 4.1)]
