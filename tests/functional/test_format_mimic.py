"""The `mimic` profile end to end through the CLI, on a spec fixture built from the MIMIC-IV v2.x
hosp documentation (mimic.mit.edu/docs/iv/modules/hosp/): synthetic rows, gzipped as distributed,
dates shifted into the 2100s like the real data. No real patient data.

Planted: 10000001 on furosemide with no labs and cirrhosis + cramps (ICD-10); 10000002 on
furosemide with only urine potassium and sodium; 10000003 on furosemide with blood potassium and a
sodium whose valuenum is empty but value numeric (monitored); 10000004 with cirrhosis + cramps in
ICD-9. Mess: stop times before their start times (by ten hours, across midnight, and by ten
minutes: both end at discharge, with a note), orders without a stop time (end at discharge, or on
their start day with a note when the admission is unknown), NDC '0', a text-only result.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

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
        "10000003,20000003,5,10000003-2,2,P1,2180-05-03 10:00:00,2180-05-03 09:50:00,MAIN,Heparin,"
        "HEPA5I,006549,63323026201,5000 Unit Vial,,5000,UNIT,1,mL,3,SC\n"
        "10000002,20000002,6,10000002-2,2,P1,2180-05-02 12:00:00,,MAIN,Ondansetron,"
        "ONDA4I,019475,0,4mg/2mL Vial,,4,mg,1,VIAL,0,IV\n"
        "10000001,29999999,7,10000001-2,2,P1,2180-05-01 12:00:00,,MAIN,Docusate Sodium,"
        "DOCU100,003009,0,100mg Capsule,,100,mg,1,CAP,2,PO\n"
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


def test_inpatient_orders_end_at_discharge_and_nothing_is_quarantined(mimic_run):
    _, tmp = mimic_run
    with duckdb.connect(str(tmp / "audit.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT table_name, column_name FROM quarantine").fetchall()
        labs = con.execute("SELECT count(*) FROM labs").fetchall()[0][0]
        births = dict(con.execute("SELECT patient_id, birth_date::VARCHAR FROM patients").fetchall())
        ends = dict(con.execute("SELECT drug_name, end_effective::VARCHAR FROM prescriptions").fetchall())
        notes = con.execute("SELECT column_name, rule FROM row_notes ORDER BY rule").fetchall()
    summary = json.loads((tmp / "out" / "summary.json").read_text(encoding="utf-8"))
    assert rows == []
    assert labs == 6
    # Stop before start, by hours across midnight or by minutes the same day: handled one way.
    assert ends["Ipratropium Bromide Neb"] == "2180-04-22"  # its admission's discharge
    assert ends["Heparin"] == "2180-05-06"
    assert ends["Ondansetron"] == "2180-05-04"  # no stoptime: discharge, without a note
    assert ends["Docusate Sodium"] == "2180-05-01"  # no stoptime, admission unknown: its start day
    assert ends["Furosemide"] is not None
    assert notes == [
        ("end_date", "no_stop_no_discharge"),
        ("end_date", "stop_before_start"),
        ("end_date", "stop_before_start"),
    ]
    rx = summary["files"]["prescriptions"]
    assert (rx["rows_read"], rx["rows_loaded"], rx["rows_rejected"], rx["rows_noted"]) == (7, 7, 0, 3)
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
    err = capsys.readouterr().err
    assert "required MIMIC-IV file admissions.csv.gz (or .csv) is missing" in err
    assert "its hosp/ and its core/" in err  # not named as if it belonged beside hosp/


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


# Censored results and numbers kept in `comments`, on rows shaped like MIMIC-IV labevents (the real
# column set). eGFR (itemid 50920) has value '___', no valuenum or unit, and its number in the comment,
# in the wordings MIMIC-IV uses; a censored value has an empty valuenum.
EGFR_OLD = (
    "Using this patient's age, gender, and serum creatinine value of 1.3,.  Estimated GFR = 54 if non "
    "African-American (mL/min/1.73 m2).  Estimated GFR = 65 if African-American (mL/min/1.73 m2).  For "
    "comparison, mean GFR for age group 70+ is 75 (mL/min/1.73 m2).  GFR<60 = Chronic Kidney Disease, "
    "GFR<15 = Kidney Failure."
)
EGFR_HIGH = (
    "Using this patient's age, gender, and serum creatinine value of 0.7,.  Estimated GFR = >75 if non "
    "African-American (mL/min/1.73 m2).  Estimated GFR = >75 if African-American (mL/min/1.73 m2).  For "
    "comparison, mean GFR for age group 20-29 is 116 (mL/min/1.73 m2).  GFR<60 = Chronic Kidney Disease, "
    "GFR<15 = Kidney Failure."
)
EGFR_NEW = (
    "Using this patient's age, gender, and serum creatinine value of 1.1, .  estimated GFR (eGFR) is likely "
    ">75 mL/min/1.73 m2, .  provided the serum creatinine value is stable. .  An eGFR < 60 suggests kidney "
    "disease in those below the age of 65 .  and there may be kidney disease in those over 65.."
)
CENSORED_ROWS = [
    # (labevent_id, subject_id, itemid, charttime, value, valuenum, valueuom, comments)
    (11, 10000003, 50920, "2180-05-03 11:00:00", "___", "", "", EGFR_OLD),
    (12, 10000003, 50920, "2180-05-04 11:00:00", "___", "", "", EGFR_HIGH),
    (13, 10000003, 50920, "2180-05-05 11:00:00", "___", "", "", EGFR_NEW),
    (14, 10000003, 50920, "2180-05-06 11:00:00", "___", "", "", ">60"),
    (15, 10000003, 50971, "2180-05-03 11:00:00", "<2.5", "", "mEq/L", ""),
    (16, 10000003, 51010, "2180-05-03 11:00:00", ">2000", "", "pg/mL", ""),
    (17, 10000003, 50971, "2180-05-04 11:00:00", "HEMOLYZED", "", "mEq/L", "___"),
    (18, 10000003, 50931, "2180-05-03 11:00:00", "112", "112", "mg/dL",
     "IF FASTING, 70-100 NORMAL, >125 PROVISIONAL DIABETES."),
    # valuenum holds the bound of a censored value: the comparator is kept
    (19, 10000003, 50971, "2180-05-05 11:00:00", "<3.0", "3.0", "mEq/L", ""),
    (20, 10000003, 51010, "2180-05-04 11:00:00", "GREATER THAN 2000", "", "pg/mL", ""),
]  # fmt: skip
LAB_COLUMNS = (
    "labevent_id,subject_id,hadm_id,specimen_id,itemid,order_provider_id,charttime,storetime,value,"
    "valuenum,valueuom,ref_range_lower,ref_range_upper,flag,priority,comments"
)


def censored_files(with_comments=True):
    """FILES with the censored rows as labevents (optionally without the comments column)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = LAB_COLUMNS.split(",")
    writer.writerow(columns if with_comments else columns[:-1])
    for lid, subject, item, when, value, valuenum, uom, comment in CENSORED_ROWS:
        row = [lid, subject, 20000003, 502, item, "", when, when, value, valuenum, uom, "", "", "", "STAT"]
        writer.writerow([*row, comment] if with_comments else row)
    items = FILES["d_labitems"] + "51010,Vitamin B12,Blood,Chemistry\n50931,Glucose,Blood,Chemistry\n"
    return dict(FILES, labevents=buffer.getvalue(), d_labitems=items)


def stored_results(db):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT test_name, collected_at::DATE::VARCHAR, value_original, value_comparator "
            "FROM lab_results ORDER BY ALL"
        ).fetchall()


def test_censored_values_and_numbers_in_comments_are_read(tmp_path):
    assert run(tmp_path, write_mimic(tmp_path / "export", censored_files())) == 0
    assert stored_results(tmp_path / "audit.duckdb") == [
        ("Estimated GFR (MDRD equation)", "2180-05-03", 54.0, None),  # the non-African-American estimate
        ("Estimated GFR (MDRD equation)", "2180-05-04", 75.0, ">"),
        ("Estimated GFR (MDRD equation)", "2180-05-05", 75.0, ">"),  # the later wording
        ("Estimated GFR (MDRD equation)", "2180-05-06", 60.0, ">"),
        ("Glucose", "2180-05-03", 112.0, None),  # valuenum wins; the comment's numbers are not read
        ("Potassium", "2180-05-03", 2.5, "<"),
        ("Potassium", "2180-05-04", None, None),  # HEMOLYZED: a result without a numeric value
        ("Potassium", "2180-05-05", 3.0, "<"),
        ("Vitamin B12", "2180-05-03", 2000.0, ">"),
        ("Vitamin B12", "2180-05-04", 2000.0, ">"),
    ]
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM quarantine WHERE table_name = 'labs'").fetchall() == [(0,)]
        # each result is named by its labevent_id (a later extract's row of the id replaces it)
        ids = con.execute("SELECT result_id FROM lab_results ORDER BY result_id::INTEGER").fetchall()
        assert [i for (i,) in ids] == [str(row[0]) for row in CENSORED_ROWS]


def test_comments_column_is_optional(tmp_path):
    assert run(tmp_path, write_mimic(tmp_path / "export", censored_files(with_comments=False))) == 0
    stored = stored_results(tmp_path / "audit.duckdb")
    assert [r for r in stored if r[0].startswith("Estimated GFR")] == [
        ("Estimated GFR (MDRD equation)", day, None, None)
        for day in ("2180-05-03", "2180-05-04", "2180-05-05", "2180-05-06")
    ]
    assert ("Potassium", "2180-05-03", 2.5, "<") in stored


def _counts(tmp, files):
    """Run `files` in a folder of its own; (summary, stored rows per table)."""
    tmp.mkdir()
    assert run(tmp, write_mimic(tmp / "export", files)) == 0
    summary = json.loads((tmp / "out" / "summary.json").read_text(encoding="utf-8"))
    with duckdb.connect(str(tmp / "audit.duckdb"), read_only=True) as con:
        stored = {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in ("patients", "lab_results", "prescriptions", "diagnoses")
        }
        stored["test_names"] = con.execute("SELECT DISTINCT test_name FROM labs ORDER BY 1").fetchall()
    return summary, stored


def test_duplicated_lookup_keys_do_not_multiply_facts(tmp_path):
    doubled = dict(
        FILES,
        # 50971 twice (the second row a copy with another label), 20000001 twice.
        d_labitems=FILES["d_labitems"] + "50971,Potassium (copy),Blood,Chemistry\n",
        admissions=FILES["admissions"]
        + "10000001,20000001,2180-05-01 08:00:00,2180-05-05 12:00:00,,EW EMER.\n",
    )
    plain, plain_stored = _counts(tmp_path / "plain", FILES)
    twice, twice_stored = _counts(tmp_path / "doubled", doubled)
    assert twice_stored == plain_stored
    for table_name, counts in plain["files"].items():
        for key in ("rows_read", "rows_loaded", "rows_rejected", "rows_noted"):
            assert twice["files"][table_name][key] == counts[key], (table_name, key)
    assert "d_labitems.csv.gz has 1 duplicated itemid values; one row of each was used." in twice["warnings"]
    assert "admissions.csv.gz has 1 duplicated hadm_id values; one row of each was used." in twice["warnings"]
    assert not any("duplicated" in w for w in plain["warnings"])
    assert flagged(tmp_path / "doubled" / "audit.duckdb", "cramps_cirrhosis") == {"10000001", "10000004"}


def test_admissions_without_dischtime_is_named(tmp_path, capsys):
    files = dict(FILES, admissions="subject_id,hadm_id,admittime\n10000001,20000001,2180-05-01 08:00:00\n")
    assert run(tmp_path, write_mimic(tmp_path / "export", files)) == 3
    err = capsys.readouterr().err
    assert "admissions.csv.gz" in err and "'dischtime'" in err


def test_an_eye_route_makes_an_nsaid_eye_drop_not_systemic(tmp_path):
    """MIMIC writes 'Ketorolac 0.5% Ophth Soln' on route BOTH EYES: eye drops, no systemic NSAID to
    flag in CKD stage 4. The same drug IV is systemic and flagged."""
    line = (
        "{sid},{hadm},{n},{sid}-9,9,P1,2180-05-10 09:00:00,2180-07-10 09:00:00,MAIN,{drug},"
        "KETO,000000,0,,,1,DROP,1,BTL,4,{route}\n"
    )
    orders = [
        ("10000001", "20000001", "Ketorolac 0.5% Ophth Soln", "BOTH EYES"),
        ("10000002", "20000002", "Diclofenac Sodium 0.1% Ophth Soln", "LEFT EYE"),
        ("10000003", "20000003", "Ketorolac", "IV"),
    ]
    prescriptions = FILES["prescriptions"] + "".join(
        line.format(sid=s, hadm=h, n=90 + i, drug=d, route=r) for i, (s, h, d, r) in enumerate(orders)
    )
    ckd4 = "".join(f"{s},{h},9,5854,9\n" for s, h, _, _ in orders)
    files = dict(FILES, prescriptions=prescriptions, diagnoses_icd=FILES["diagnoses_icd"] + ckd4)
    assert run(tmp_path, write_mimic(tmp_path / "export", files), "--format", "mimic") == 0
    assert flagged(tmp_path / "audit.duckdb", "nsaid_kidney_disease") == {"10000003"}


def test_a_death_in_hospital_is_a_death_when_dod_is_empty_or_later(tmp_path):
    """admissions.deathtime records an in-hospital death. MIMIC-IV v0.4/v1.0 left patients.dod empty
    (the maintainers: use the earliest deathtime; mimic-code #955, mimic-iv #71), and v3.1 has dod
    days after deathtime for some patients. 10000001 died in hospital on 2180-05-05 with dod empty,
    10000004 on 2180-04-22 with a dod a week later: neither is flagged after death."""
    admissions = (
        FILES["admissions"]
        .replace(
            "10000001,20000001,2180-05-01 08:00:00,2180-05-05 12:00:00,,",
            "10000001,20000001,2180-05-01 08:00:00,2180-05-05 12:00:00,2180-05-05 11:40:00,",
        )
        .replace(
            "10000004,20000004,2180-04-20 07:30:00,2180-04-22 15:00:00,,",
            "10000004,20000004,2180-04-20 07:30:00,2180-04-22 15:00:00,2180-04-22 15:00:00,",
        )
    )
    patients = FILES["patients"].replace(
        "10000004,F,48,2178,2008 - 2010,", "10000004,F,48,2178,2008 - 2010,2180-04-29"
    )
    files = dict(FILES, admissions=admissions, patients=patients)
    assert run(tmp_path, write_mimic(tmp_path / "export", files)) == 0
    db = tmp_path / "audit.duckdb"
    assert flagged(db, "cramps_cirrhosis") == set()
    assert flagged(db, "diuretic_electrolyte_monitoring") == {"10000002"}
    with duckdb.connect(str(db), read_only=True) as con:
        deaths = con.execute("SELECT patient_id, death_date::VARCHAR FROM patients WHERE deceased").fetchall()
        notes = con.execute("SELECT rule FROM row_notes WHERE table_name = 'patients'").fetchall()
    assert sorted(deaths) == [("10000001", "2180-05-05"), ("10000004", "2180-04-22")]
    assert notes == [("death_from_deathtime",), ("death_from_deathtime",)]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["checks"]["cramps_cirrhosis"]["deceased_excluded"] == 2


def test_mimic_iv_v1_layout_with_core_folder_is_read(tmp_path):
    """MIMIC-IV v0.4 and v1.0 ship patients and admissions in core/, the rest in hosp/ (v2.0 merged
    core into hosp); their dod is empty, so an in-hospital death is in admissions.deathtime."""
    admissions = FILES["admissions"].replace(
        "10000001,20000001,2180-05-01 08:00:00,2180-05-05 12:00:00,,",
        "10000001,20000001,2180-05-01 08:00:00,2180-05-05 12:00:00,2180-05-05 11:40:00,",
    )
    export = write_mimic(
        tmp_path / "export", {k: v for k, v in FILES.items() if k not in ("patients", "admissions")}
    )
    (export / "core").mkdir()
    for name, text in (("patients", FILES["patients"]), ("admissions", admissions)):
        with gzip.open(export / "core" / f"{name}.csv.gz", "wt", encoding="utf-8", newline="") as handle:
            handle.write(text)
    assert run(tmp_path, export) == 0
    assert flagged(tmp_path / "audit.duckdb", "cramps_cirrhosis") == {"10000004"}  # 10000001 died in hospital
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"10000002"}


@pytest.mark.parametrize("second", ["export/labevents.csv.gz", "export/hosp/labevents.csv"])
def test_a_table_with_two_files_is_refused_not_one_read_at_random(tmp_path, capsys, second):
    """A labevents.csv.gz beside hosp/ (a sample someone left there), or a plain labevents.csv beside
    the .gz (a partial `gunzip -k`): one of them was read without a word, whichever the folder
    listing gave last. Which one the exporter meant is anyone's guess: exit 3, both named."""
    export = write_mimic(tmp_path / "export")
    extra = tmp_path / second
    extra.write_bytes(gzip.compress(FILES["labevents"].encode()) if second.endswith(".gz") else b"x")
    assert run(tmp_path, export) == 3
    err = capsys.readouterr().err
    assert "2 files could be this table's" in err and str(extra) in err
    assert str(export / "hosp" / "labevents.csv.gz") in err and "Traceback" not in err
    assert not (tmp_path / "audit.duckdb").exists()


def test_an_export_without_its_patients_file_warns_that_deaths_are_unknown(tmp_path):
    """Without patients.csv.gz (optional, as in every format) no death is read, not even
    admissions.deathtime: 10000001, who died in hospital, was audited without a word. The run
    now says so."""
    admissions = FILES["admissions"].replace(
        "2180-05-05 12:00:00,,", "2180-05-05 12:00:00,2180-05-05 11:40:00,"
    )
    files = {k: v for k, v in FILES.items() if k != "patients"} | {"admissions": admissions}
    assert run(tmp_path, write_mimic(tmp_path / "export", files)) == 0
    warnings = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))["warnings"]
    assert any(w.startswith("The export has no patients file: no death") for w in warnings)
    assert run(tmp_path, write_mimic(tmp_path / "full", dict(FILES, admissions=admissions))) == 0
    warnings = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))["warnings"]
    assert not any("no patients file" in w for w in warnings)


def test_upper_case_headers_and_an_itemid_missing_from_d_labitems(tmp_path):
    """A re-export that writes MIMIC's headers in upper case (SUBJECT_ID) was refused as missing
    'subject_id'; a labevents itemid not in d_labitems was quarantined as 'loinc_code and test_name
    are both empty'. Headers are matched case aside, and the result is kept under its itemid."""
    upper = {
        name: text.split("\n", 1)[0].upper() + "\n" + text.split("\n", 1)[1] for name, text in FILES.items()
    }
    upper["labevents"] += (
        "7,10000003,20000003,502,59999,,2180-05-03 11:00:00,2180-05-03 13:00:00,12,12,U/L,,,,STAT,\n"
    )
    assert run(tmp_path, write_mimic(tmp_path / "export", upper)) == 0
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"10000001", "10000002"}
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM quarantine").fetchall() == [(0,)]
        names = con.execute("SELECT test_name FROM lab_results WHERE result_id = '7'").fetchall()
    assert names == [("itemid 59999 (not in d_labitems)",)]


def test_a_lookup_files_record_with_an_extra_field_is_named_by_line_and_fault(tmp_path, capsys):
    """A bad record in a lookup file (admissions) stops the run, as the joins need every row, but it
    was described as 'not text the tool can read record by record (binary data, or broken quotes or
    line ends)', with no line. Now the line and the fault, and no patient data."""
    lines = FILES["admissions"].splitlines(keepends=True)
    admissions = "".join([*lines[:2], lines[2].replace(",URGENT", ",URGENT,extra"), *lines[3:]])
    assert run(tmp_path, write_mimic(tmp_path / "export", dict(FILES, admissions=admissions))) == 3
    err = capsys.readouterr().err
    assert "admissions.csv.gz, line 3: a record with 7 fields where the header has 6" in err
    assert "10000002" not in err and "Traceback" not in err


def test_an_empty_unit_on_a_us_unit_chemistry_is_the_unit_mimic_reports_it_in(tmp_path):
    """MIMIC-IV reports magnesium and creatinine in mg/dL; a row whose valueuom is empty was read in
    the canonical unit: a low magnesium of 1.5 mg/dL (0.62 mmol/L) became 1.5 mmol/L, and a
    creatinine of 1.2 mg/dL an implausible 1.2 umol/L. Such a row takes its itemid's unit, with a
    note; a potassium without a unit stays in mEq/L, which is mmol/L."""
    files = dict(
        FILES,
        d_labitems=FILES["d_labitems"] + "50960,Magnesium,Blood,Chemistry\n",
        labevents=FILES["labevents"]
        + "7,10000003,20000003,503,50960,,2180-05-04 11:00:00,2180-05-04 13:00:00,1.5,1.5,,1.6,2.6,low,"
        "STAT,\n"
        + "8,10000003,20000003,503,50912,,2180-05-04 11:00:00,2180-05-04 13:00:00,1.2,1.2,,0.5,1.2,,STAT,\n"
        + "9,10000003,20000003,503,50971,,2180-05-04 11:00:00,2180-05-04 13:00:00,3.9,3.9,,3.3,5.1,,STAT,\n",
    )
    assert run(tmp_path, write_mimic(tmp_path / "export", files)) == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        values = con.execute(
            "SELECT analyte, value FROM labs WHERE collected_at >= '2180-05-04' ORDER BY analyte"
        ).fetchall()
        notes = con.execute("SELECT count(*) FROM row_notes WHERE rule = 'unit_from_itemid'").fetchall()
        rejected = con.execute("SELECT count(*) FROM quarantine").fetchall()
    assert values == [("creatinine", 106.0), ("magnesium", 0.62), ("potassium", 3.9)]
    assert notes == [(2,)] and rejected == [(0,)]


def test_another_formats_file_beside_its_gz_copy_is_no_mimic_error_when_detecting(tmp_path):
    """Detection asks every profile; MIMIC's refused a Synthea folder holding patients.csv beside
    patients.csv.gz (a `gzip -k`) as a MIMIC table with two files. It is Synthea's folder."""
    from pipelines.formats import format_read

    export = tmp_path / "syn"
    shutil.copytree(Path(__file__).parents[1] / "fixtures" / "real" / "synthea", export)
    patients = export / "patients.csv"
    patients.with_name("patients.csv.gz").write_bytes(gzip.compress(patients.read_bytes()))
    assert format_read(export, "auto") == "synthea"
