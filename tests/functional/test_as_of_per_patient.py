"""`--as-of per-patient`: date-shifted research data audited with each patient as of their own last
record. MIMIC-IV shifts every patient's dates separately (into 2100-2300), so one calendar as-of date
falls inside almost nobody's record; here three patients' records lie decades apart."""

from __future__ import annotations

import json

import duckdb

from tests.functional.test_format_mimic import write_mimic
from tests.helpers import cli, flagged, table, write_export

DEM = "diuretic_electrolyte_monitoring"

FILES = {
    "patients": """subject_id,gender,anchor_age,anchor_year,anchor_year_group,dod
10000011,M,61,2130,2011 - 2013,
10000012,F,70,2155,2014 - 2016,
10000013,M,55,2180,2017 - 2019,
10000014,F,80,2140,2017 - 2019,2140-02-09
10000015,F,40,2120,2008 - 2010,
10000016,M,77,2160,2008 - 2010,2160-01-09
""",
    "admissions": """subject_id,hadm_id,admittime,dischtime,deathtime,admission_type
10000011,20000011,2130-03-01 08:00:00,2130-03-05 12:00:00,,EW EMER.
10000012,20000012,2155-07-10 09:00:00,2155-07-12 10:00:00,,URGENT
10000013,20000013,2180-05-03 10:00:00,2180-05-06 11:00:00,,ELECTIVE
10000014,20000014,2140-02-01 10:00:00,2140-02-04 11:00:00,,EW EMER.
10000015,20000015,2120-01-01 10:00:00,2120-01-02 11:00:00,,ELECTIVE
10000016,20000016,2160-01-02 10:00:00,2160-01-09 11:00:00,2160-01-09 11:00:00,EW EMER.
""",
    "d_labitems": """itemid,label,fluid,category
50971,Potassium,Blood,Chemistry
50983,Sodium,Blood,Chemistry
""",
    # Only 10000012 is monitored: potassium and sodium on the day of discharge.
    "labevents": (
        "labevent_id,subject_id,hadm_id,specimen_id,itemid,order_provider_id,charttime,storetime,value,"
        "valuenum,valueuom,ref_range_lower,ref_range_upper,flag,priority,comments\n"
        "1,10000012,20000012,501,50971,,2155-07-12 06:00:00,2155-07-12 07:00:00,4.1,4.1,mEq/L,3.3,5.1,,,\n"
        "2,10000012,20000012,501,50983,,2155-07-12 06:00:00,2155-07-12 07:00:00,139,139,mEq/L,133,145,,,\n"
    ),
    # Every patient goes home on furosemide for two months.
    "prescriptions": (
        "subject_id,hadm_id,pharmacy_id,poe_id,poe_seq,order_provider_id,starttime,stoptime,drug_type,drug,"
        "formulary_drug_cd,gsn,ndc,prod_strength,form_rx,dose_val_rx,dose_unit_rx,form_val_disp,"
        "form_unit_disp,doses_per_24_hrs,route\n"
        "10000011,20000011,1,p1,1,P1,2130-03-05 09:00:00,2130-05-05 09:00:00,MAIN,Furosemide,"
        "FURO40,008209,0,40mg Tablet,,40,mg,1,TAB,1,PO\n"
        "10000012,20000012,2,p2,1,P1,2155-07-12 09:00:00,2155-09-12 09:00:00,MAIN,Furosemide,"
        "FURO40,008209,0,40mg Tablet,,40,mg,1,TAB,1,PO\n"
        "10000013,20000013,3,p3,1,P1,2180-05-06 09:00:00,2180-07-06 09:00:00,MAIN,Furosemide,"
        "FURO40,008209,0,40mg Tablet,,40,mg,1,TAB,1,PO\n"
        "10000014,20000014,4,p4,1,P1,2140-02-03 09:00:00,2140-04-03 09:00:00,MAIN,Furosemide,"
        "FURO40,008209,0,40mg Tablet,,40,mg,1,TAB,1,PO\n"
        "10000016,20000016,5,p5,1,P1,2160-01-09 08:00:00,,MAIN,Furosemide,"
        "FURO40,008209,0,40mg Tablet,,40,mg,1,TAB,1,PO\n"
    ),
    "diagnoses_icd": """subject_id,hadm_id,seq_num,icd_code,icd_version
10000011,20000011,1,I509,10
10000012,20000012,1,I509,10
10000013,20000013,1,I509,10
10000014,20000014,1,I509,10
10000015,20000015,1,J189,10
10000016,20000016,1,I509,10
""",
}


def _run(tmp, as_of):
    export = write_mimic(tmp / "export", FILES)
    code = cli(
        "run", "--exports", str(export), "--format", "mimic", "--as-of", as_of,
        "--out", str(tmp / "out"), "--db", str(tmp / "audit.duckdb"),
    )  # fmt: skip
    assert code == 0
    return json.loads((tmp / "out" / "summary.json").read_text())


def test_latest_audits_only_the_patient_whose_record_reaches_it_and_warns(tmp_path):
    summary = _run(tmp_path, "latest")
    assert summary["as_of"] == "2180-05-06"
    assert flagged(tmp_path / "audit.duckdb", DEM) == {"10000013"}
    assert summary["coverage"]["patients"] == 6 and summary["coverage"]["with_recent_record"] == 1
    assert [w for w in summary["warnings"] if "--as-of per-patient" in w]


def test_per_patient_audits_each_patient_as_of_their_own_last_record(tmp_path):
    summary = _run(tmp_path, "per-patient")
    db = tmp_path / "audit.duckdb"
    # 10000011 and 10000013: discharged on furosemide with no electrolytes; 10000012 was monitored;
    # 10000014 went home on furosemide and died five days later: alive at their last record, so
    # audited (and flagged); 10000016 died in hospital on the day of their last record: out.
    assert flagged(db, DEM) == {"10000011", "10000013", "10000014"}
    check = summary["checks"][DEM]
    assert (check["denominator"], check["flagged"], check["deceased_excluded"]) == (4, 3, 1)
    assert summary["as_of"] == "2180-05-06" and summary["coverage"] is None
    assert [w for w in summary["warnings"] if w.startswith("As of per patient")]
    assert not [w for w in summary["warnings"] if "have any record" in w]
    with duckdb.connect(str(db), read_only=True) as con:
        settings = json.loads(con.execute("SELECT settings FROM runs").fetchall()[0][0])
        evidence = json.loads(
            con.execute("SELECT evidence FROM findings WHERE patient_id = '10000011'").fetchall()[0][0]
        )
    assert settings["as_of_mode"] == "per-patient"
    # the diuretic's start (2130-03-05, the patient's last record) is moved onto the as-of date
    assert "2180-05-06" in json.dumps(evidence)


def test_explain_per_patient_says_how_far_the_dates_moved(tmp_path, capsys):
    _run(tmp_path, "per-patient")
    capsys.readouterr()
    code = cli(
        "explain", "10000011", "--check", DEM, "--as-of", "per-patient",
        "--db", str(tmp_path / "audit.duckdb"),
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "as of their last record, 2130-03-05" in out and "+18325 days onto 2180-05-06" in out
    assert "FLAGGED" in out


def test_per_patient_keeps_each_patients_own_windows(tmp_path):
    """Windows are measured from each patient's own last record: day 365 back is inside the
    diuretic check's lookback, day 366 is not, for patients whose records lie years apart."""
    prescriptions = table("""
    patient_id | drug_name        | rxnorm_code | atc_code | start_date | end_date | days_supply
    A          | furosemide 40 mg | 4603        | C03CA01  | 2001-01-01 |          |
    B          | furosemide 40 mg | 4603        | C03CA01  | 2019-01-01 |          |
    """)
    labs = table("""
    patient_id | collected_at | loinc_code | test_name | value | unit
    # A: last record 2002-06-30; electrolytes 365 days before it (2001-06-30): monitored
    A          | 2001-06-30   | 2823-3     |           | 4.1   | mmol/L
    A          | 2001-06-30   | 2951-2     |           | 140   | mmol/L
    A          | 2002-06-30   | 1742-6     |           | 20    | U/L
    # B: last record 2021-03-01; electrolytes 366 days before it (2020-02-29): not monitored
    B          | 2020-02-29   | 2823-3     |           | 4.1   | mmol/L
    B          | 2020-02-29   | 2951-2     |           | 140   | mmol/L
    B          | 2021-03-01   | 1742-6     |           | 20    | U/L
    """)
    export = write_export(tmp_path / "export", labs=labs, prescriptions=prescriptions)
    code = cli(
        "run", "--exports", str(export), "--as-of", "per-patient", "--out", str(tmp_path / "out"),
        "--db", str(tmp_path / "audit.duckdb"), "--checks", DEM,
    )  # fmt: skip
    assert code == 0
    assert flagged(tmp_path / "audit.duckdb", DEM) == {"B"}
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["as_of"] == "2021-03-01" and summary["checks"][DEM]["denominator"] == 2
