"""The `mimic` profile end to end through the CLI, on a spec fixture built from the MIMIC-IV v2.x
hosp documentation (mimic.mit.edu/docs/iv/modules/hosp/): synthetic rows, gzipped as distributed,
dates shifted into the 2100s like the real data. No real patient data.

Planted: 10000001 on furosemide with no labs and cirrhosis + cramps (ICD-10); 10000002 on
furosemide with only urine potassium and sodium; 10000003 on furosemide with blood potassium and a
sodium whose valuenum is empty but value numeric (monitored); 10000004 with cirrhosis + cramps in
ICD-9. Mess: a stop time before its start time (quarantined), NDC '0', a text-only result.
"""

from __future__ import annotations

import gzip
import json

import duckdb
import pytest

from checks.evaluate import all_checks
from tests.helpers import cli, flagged

AS_OF = "2180-06-01"

FILES = {
    "patients": """subject_id,gender,anchor_age,anchor_year,anchor_year_group,dod
10000001,M,61,2180,2011 - 2013,
10000002,F,70,2179,2014 - 2016,
10000003,M,55,2180,2017 - 2019,
10000004,F,48,2178,2008 - 2010,
""",
    "admissions": """subject_id,hadm_id,admittime,dischtime,deathtime,admission_type
10000001,20000001,2180-05-01 08:00:00,2180-05-05 12:00:00,,EW EMER.
10000002,20000002,2180-05-02 09:00:00,2180-05-04 10:00:00,,URGENT
10000003,20000003,2180-05-03 10:00:00,2180-05-06 11:00:00,,ELECTIVE
10000004,20000004,2180-04-20 07:30:00,2180-04-22 15:00:00,,EW EMER.
""",
    "d_labitems": """itemid,label,fluid,category
50971,Potassium,Blood,Chemistry
50983,Sodium,Blood,Chemistry
51097,"Potassium, Urine",Urine,Chemistry
51100,"Sodium, Urine",Urine,Chemistry
50912,Creatinine,Blood,Chemistry
50920,Estimated GFR (MDRD equation),Blood,Chemistry
""",
    "labevents": (
        "labevent_id,subject_id,hadm_id,specimen_id,itemid,order_provider_id,charttime,storetime,value,"
        "valuenum,valueuom,ref_range_lower,ref_range_upper,flag,priority,comments\n"
        "1,10000002,20000002,501,51097,,2180-05-02 10:00:00,"
        "2180-05-02 12:00:00,40,40,mEq/L,,,,ROUTINE,\n"
        "2,10000002,20000002,501,51100,,2180-05-02 10:00:00,"
        "2180-05-02 12:00:00,60,60,mEq/L,,,,ROUTINE,\n"
        "3,10000003,20000003,502,50971,,2180-05-03 11:00:00,"
        "2180-05-03 13:00:00,4.1,4.1,mEq/L,3.3,5.1,,STAT,\n"
        "4,10000003,20000003,502,50983,,2180-05-03 11:00:00,"
        "2180-05-03 13:00:00,140,,mEq/L,133,145,,STAT,\n"
        "5,10000003,20000003,502,50920,,2180-05-03 11:00:00,"
        "2180-05-03 13:00:00,HEMOLYZED,,,,,,STAT,"
        '"Using this patient\'s age, gender, and serum creatinine value of 1.0, Estimated GFR = 75"\n'
        "6,10000003,20000003,502,50912,,2180-05-03 11:00:00,"
        "2180-05-03 13:00:00,1.0,1.0,mg/dL,0.5,1.2,,STAT,\n"
    ),
    "prescriptions": (
        "subject_id,hadm_id,pharmacy_id,poe_id,poe_seq,order_provider_id,starttime,stoptime,drug_type,drug,"
        "formulary_drug_cd,gsn,ndc,prod_strength,form_rx,dose_val_rx,dose_unit_rx,form_val_disp,"
        "form_unit_disp,doses_per_24_hrs,route\n"
        "10000001,20000001,1,10000001-1,1,P1,2180-05-01 09:00:00,2180-07-01 09:00:00,MAIN,Furosemide,"
        "FURO40,008209,0,40mg Tablet,,40,mg,1,TAB,1,PO/NG\n"
        "10000002,20000002,2,10000002-1,1,P1,2180-05-02 09:00:00,2180-08-02 09:00:00,MAIN,Furosemide,"
        "FURO20,008208,51079007220,20mg Tablet,,20,mg,1,TAB,1,PO\n"
        "10000003,20000003,3,10000003-1,1,P1,2180-05-03 09:00:00,2180-08-03 09:00:00,MAIN,Furosemide,"
        "FURO20,008208,51079007220,20mg Tablet,,20,mg,1,TAB,1,PO\n"
        "10000004,20000004,4,10000004-1,1,P1,2180-04-21 08:00:00,2180-04-20 22:00:00,MAIN,"
        "Ipratropium Bromide Neb,"
        "IPRA2H,021700,0,2.5mL Vial,,1,NEB,1,VIAL,4,IH\n"
    ),
    "diagnoses_icd": """subject_id,hadm_id,seq_num,icd_code,icd_version
10000001,20000001,1,K7030,10
10000001,20000001,2,R252,10
10000004,20000004,1,5715,9
10000004,20000004,2,72982,9
""",
}


def write_mimic(folder, files=FILES, compress=True):
    """The fixture as MIMIC-IV ships it: hosp/<table>.csv.gz."""
    hosp = folder / "hosp"
    hosp.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        if compress:
            with gzip.open(hosp / f"{name}.csv.gz", "wt", encoding="utf-8", newline="") as handle:
                handle.write(text)
        else:
            (hosp / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


def run(tmp, export, *extra):
    return cli(
        "run", "--exports", str(export), "--out", str(tmp / "out"), "--db", str(tmp / "audit.duckdb"),
        "--as-of", AS_OF, "--reject-threshold", "0.5", *extra,
    )  # fmt: skip


@pytest.fixture(scope="module", params=["--format=mimic", "auto"])
def mimic_run(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mimic")
    export = write_mimic(tmp / "export")
    extra = () if request.param == "auto" else (request.param,)
    return run(tmp, export, *extra), tmp


def test_run_succeeds_and_runs_every_check(mimic_run):
    code, tmp = mimic_run
    assert code == 0
    summary = json.loads((tmp / "out" / "summary.json").read_text(encoding="utf-8"))
    assert set(summary["checks"]) == {c.id for c in all_checks()}


def test_diuretic_without_blood_electrolytes_is_flagged(mimic_run):
    # 10000002's urine potassium and sodium do not count; 10000003's sodium has only `value`.
    _, tmp = mimic_run
    assert flagged(tmp / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"10000001", "10000002"}


def test_cirrhosis_with_cramps_is_flagged_in_icd10_and_icd9(mimic_run):
    _, tmp = mimic_run
    assert flagged(tmp / "audit.duckdb", "cramps_cirrhosis") == {"10000001", "10000004"}


def test_stop_before_start_is_quarantined_and_text_results_are_not(mimic_run):
    _, tmp = mimic_run
    with duckdb.connect(str(tmp / "audit.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT table_name, column_name FROM quarantine").fetchall()
        labs = con.execute("SELECT count(*) FROM labs").fetchall()[0][0]
        births = dict(con.execute("SELECT patient_id, birth_date::VARCHAR FROM patients").fetchall())
    assert [t for t, _ in rows] == ["prescriptions"]
    assert labs == 6
    assert births["10000001"] == "2119-01-01"  # anchor_year - anchor_age, 1 January


def test_plain_csv_is_read_too(tmp_path):
    export = write_mimic(tmp_path / "export", compress=False)
    assert run(tmp_path, export, "--format", "mimic") == 0
    assert "10000002" in flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring")


def test_missing_column_names_file_and_column(tmp_path, capsys):
    files = dict(FILES, d_labitems="itemid,label,category\n50971,Potassium,Chemistry\n")
    assert run(tmp_path, write_mimic(tmp_path / "export", files)) == 3
    err = capsys.readouterr().err
    assert "d_labitems.csv.gz" in err and "'fluid'" in err and "Traceback" not in err
    assert not (tmp_path / "audit.duckdb").exists()


def test_missing_file_is_named(tmp_path, capsys):
    files = {k: v for k, v in FILES.items() if k != "admissions"}
    assert run(tmp_path, write_mimic(tmp_path / "export", files), "--format", "mimic") == 3
    assert "admissions" in capsys.readouterr().err


def test_as_of_latest_audits_date_shifted_data_without_warnings(tmp_path):
    export = write_mimic(tmp_path / "export")
    code = cli(
        "run", "--exports", str(export), "--out", str(tmp_path / "out"),
        "--db", str(tmp_path / "audit.duckdb"), "--as-of", "latest", "--reject-threshold", "0.5",
    )  # fmt: skip
    assert code == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["as_of"] > "2100-01-01"  # the newest shifted record date, not today
    assert summary["warnings"] == []
    # Today's date on shifted data is far after the newest record: the run says so.
    code = cli(
        "run", "--exports", str(export), "--out", str(tmp_path / "out2"), "--db", str(tmp_path / "b.duckdb"),
        "--reject-threshold", "0.5",
    )  # fmt: skip
    assert code == 0
    warnings = json.loads((tmp_path / "out2" / "summary.json").read_text(encoding="utf-8"))["warnings"]
    assert any("before the oldest record" in w for w in warnings)
