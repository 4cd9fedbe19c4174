"""The coverage diagnostic (`clinic-audit codelists --unmatched`, the report section), local codelists
(setting local_codelists) and the codelist versions stored with each run (issue 15, part 3)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest

from pipelines.db import CODELIST_DIR
from tests.helpers import cli, flagged, write_export

CHECK = "diuretic_electrolyte_monitoring"
AS_OF = "2026-11-20"

# Identifiers chosen so a leak into the diagnostic's output would be visible.
PRESCRIPTIONS = """patient_id,drug_name,rxnorm_code,atc_code,start_date,end_date,days_supply
PX-1001,Furosemid 40mg Tabletten,,,2025-01-01,,
PX-1002,Frusemid 20 mg tablet,,,2025-01-01,,
PX-1003,Diurapid 40 mg,,,2025-01-01,,
PX-1004,Timolol 0.5% eye drops,,,2025-01-01,,
PX-1005,furosemide 40 mg tablet,4603,C03CA01,2025-01-01,,
PX-1006,Furosemid 40mg Tabletten,,,2025-02-01,,
PX-1007,furosemide 20 mg tablet,4603,C03CA01,2025-01-01,,
"""

# Serum Kalium: blood potassium under a name no codelist holds. U-Kalium: urine. 2829-0 is a valid
# LOINC code no list holds (24-hour urine potassium) exported as "Potassium": never rescued by name.
# Vitamin K and Creatine kinase mention no audited analyte.
LABS = """patient_id,collected_at,loinc_code,test_name,value,unit
PX-1001,2026-10-01,,Serum Kalium,4.1,mmol/L
PX-1001,2026-10-01,2951-2,,139,mmol/L
PX-1006,2026-09-01,,Serum Kalium,3.9,mmol/L
PX-1006,2026-10-01,,Serum Kalium,4.0,mmol/L
PX-1007,2026-10-01,,Serum Kalium,4.2,mmol/L
PX-1007,2026-10-01,2951-2,,140,mmol/L
PX-1002,2026-10-01,,U-Kalium,40,mmol/L
PX-1002,2026-10-01,2829-0,Potassium,60,mmol/d
PX-1003,2026-10-01,,Vitamin K,1.0,ng/mL
PX-1003,2026-10-01,,Creatine kinase,120,U/L
"""

# R25.1 shares category R25 with R25.2 (muscle_cramps) and is not listed; I10 shares none.
DIAGNOSES = """patient_id,code,code_system,recorded_at,resolved_at
PX-1001,R25.1,ICD-10-CM,2026-01-01,
PX-1002,R25.1,ICD-10-CM,2026-02-01,
PX-1003,I10,ICD-10-CM,2026-01-01,
PX-1004,R25.2,ICD-10-CM,2026-01-01,
"""


@pytest.fixture
def export(tmp_path) -> Path:
    return write_export(tmp_path / "export", prescriptions=PRESCRIPTIONS, labs=LABS, diagnoses=DIAGNOSES)


def run(tmp: Path, export: Path, *extra: str, out: str = "out", check: str = CHECK) -> int:
    return cli(
        "run", "--exports", str(export), "--out", str(tmp / out), "--db", str(tmp / "audit.duckdb"),
        "--as-of", AS_OF, "--checks", check, *extra,
    )  # fmt: skip


def unmatched(tmp: Path, capsys, *extra: str) -> dict:
    capsys.readouterr()
    assert cli("codelists", "--unmatched", "--db", str(tmp / "audit.duckdb"), "--format", "json", *extra) == 0
    printed = capsys.readouterr().out
    assert "PX-" not in printed, "the diagnostic shows counts, never a patient identifier"
    return json.loads(printed)


def by_name(entries: list[dict]) -> dict[str, dict]:
    return {e["name"] or e["code"]: e for e in entries}


def local_folder(tmp: Path, **files: str) -> Path:
    folder = tmp / "local_codelists"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


def test_unmatched_lists_related_labs_drugs_and_codes_with_counts(tmp_path, export, capsys):
    assert run(tmp_path, export) == 0
    found = unmatched(tmp_path, capsys)

    labs = by_name(found["labs"])
    assert set(labs) == {"Serum Kalium", "U-Kalium", "Potassium"}  # not Vitamin K, not Creatine kinase
    assert (labs["Serum Kalium"]["rows"], labs["Serum Kalium"]["patients"]) == (4, 3)
    assert labs["Serum Kalium"]["related_to"] == "potassium"
    assert "add the name to a local lab_tests.csv" in labs["Serum Kalium"]["note"]
    assert "deliberately not mapped" in labs["U-Kalium"]["note"]  # urine: said so, not suggested
    assert "add" not in labs["U-Kalium"]["note"]
    assert labs["Potassium"]["code"] == "2829-0" and "LOINC code in no codelist" in labs["Potassium"]["note"]
    assert found["labs"][0]["name"] == "Serum Kalium"  # most rows first

    drugs = by_name(found["drugs"])
    assert set(drugs) == {"Furosemid 40mg Tabletten", "Frusemid 20 mg tablet", "Timolol 0.5% eye drops"}
    assert (drugs["Furosemid 40mg Tabletten"]["rows"], drugs["Furosemid 40mg Tabletten"]["patients"]) == (
        2,
        2,
    )
    assert drugs["Furosemid 40mg Tabletten"]["related_to"] == "diuretics: furosemide"
    assert "misspelt" in drugs["Frusemid 20 mg tablet"]["note"]
    assert "beta_blockers: timolol" in drugs["Timolol 0.5% eye drops"]["related_to"]
    assert "deliberately not mapped" in drugs["Timolol 0.5% eye drops"]["note"]

    diagnoses = by_name(found["diagnoses"])
    assert set(diagnoses) == {"R25.1"}
    assert diagnoses["R25.1"]["code_system"] == "ICD-10-CM"
    assert (diagnoses["R25.1"]["rows"], diagnoses["R25.1"]["patients"]) == (2, 2)
    assert "muscle_cramps (R25)" in diagnoses["R25.1"]["related_to"]
    assert any("SNOMED" in note for note in found["notes"])


def test_the_text_listing_and_the_limit(tmp_path, export, capsys):
    assert run(tmp_path, export) == 0
    assert unmatched(tmp_path, capsys, "--limit", "1")["labs"][0]["name"] == "Serum Kalium"
    assert len(unmatched(tmp_path, capsys, "--limit", "1")["labs"]) == 1
    assert cli("codelists", "--unmatched", "--db", str(tmp_path / "audit.duckdb")) == 0
    text = capsys.readouterr().out
    assert "Serum Kalium" in text and "labs: 3 unmatched" in text and "PX-" not in text


def test_a_local_codelist_adds_a_brand_and_a_lab_name_so_the_check_sees_the_patient(tmp_path, export, capsys):
    db = tmp_path / "audit.duckdb"
    assert run(tmp_path, export) == 0
    assert "PX-1003" not in flagged(db, CHECK)  # Diurapid is in no list: not in the population
    assert "PX-1007" in flagged(db, CHECK)  # a sodium, and a potassium under a name in no list

    folder = local_folder(
        tmp_path,
        diuretics="code,system,description,ingredient\ndiurapid,name,brand (DE),furosemide\n",
        lab_tests="code,system,description,analyte,specimen\nserum kalium,name,German name,potassium,blood\n",
    )
    assert run(tmp_path, export, "--local-codelists", str(folder)) == 0
    assert "PX-1003" in flagged(db, CHECK)  # now on a diuretic, with no electrolytes
    assert "PX-1007" not in flagged(db, CHECK)  # its Serum Kalium is a potassium now
    assert "PX-1005" in flagged(db, CHECK)  # the shipped furosemide still counts; no results

    found = unmatched(tmp_path, capsys, "--local-codelists", str(folder))
    assert "Serum Kalium" not in by_name(found["labs"])  # matched by the local name now
    assert found["local_codelists"][0]["rows"] in (1,)
    # without the local folder, today's shipped lists miss it again (the command reads the config)
    assert "Serum Kalium" in by_name(unmatched(tmp_path, capsys)["labs"])


def test_a_local_codelist_from_the_config_file_and_the_environment(tmp_path, export):
    folder = local_folder(tmp_path, diuretics="code,system,description,ingredient\ndiurapid,name,,\n")
    config = tmp_path / "c.toml"
    config.write_text(f'[run]\nlocal_codelists = "{folder}"\n', encoding="utf-8")
    assert run(tmp_path, export, "--config", str(config)) == 0
    assert "PX-1003" in flagged(tmp_path / "audit.duckdb", CHECK)
    env = {"CLINIC_AUDIT_LOCAL_CODELISTS": str(tmp_path / "nowhere")}
    assert cli("run", "--exports", str(export), "--db", str(tmp_path / "b.duckdb"), env=env) == 2


def test_the_run_records_every_codelist_file_with_its_hash_and_rows(tmp_path, export):
    text = "code,system,description,ingredient\ndiurapid,name,brand,furosemide\nC03CA99,ATC,made up,x\n"
    folder = local_folder(tmp_path, diuretics=text)
    assert run(tmp_path, export, "--local-codelists", str(folder)) == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        stored = con.execute("SELECT codelist, source, file, sha256, rows FROM run_codelists").fetchall()
    shipped = {row[0]: row for row in stored if row[1] == "shipped"}
    assert set(shipped) == {p.stem for p in CODELIST_DIR.glob("*.csv")}
    diuretics = CODELIST_DIR / "diuretics.csv"
    assert shipped["diuretics"][3] == hashlib.sha256(diuretics.read_bytes()).hexdigest()
    assert shipped["diuretics"][4] == len(diuretics.read_text(encoding="utf-8").strip().splitlines()) - 1
    local = [row for row in stored if row[1] == "local"]
    assert local == [
        ("diuretics", "local", str(folder / "diuretics.csv"), hashlib.sha256(text.encode()).hexdigest(), 2)
    ]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("diuretic", "code,system,description,ingredient\nlasix,name,,\n", "no shipped codelist is called"),
        ("diuretics", "code,system,description\nlasix,name,\n", "line 1: missing column 'ingredient'"),
        (
            "lab_tests",
            "code,system,description,analyte,specimen\n2823-3,LOINC,,potassium,blood\n"
            "2823-4,LOINC,typo,potassium,blood\n",
            "line 3: '2823-4' is not a valid LOINC code",
        ),
        ("muscle_cramps", "code,system,description\nR25.2,ICD-10-CM,\nR252.1,ICD-10-CM,\n", "line 3"),
        ("diuretics", "code,system,description,ingredient\nco-amilofruse,name,,\n", "line 2"),
        ("diuretics", "code,system,description,ingredient\nlasix,Name,,\n", "line 2: unknown system"),
        (
            "lab_tests",
            "code,system,description,analyte,specimen\n2823-3,LOINC,,sodium,blood\n",
            "shipped as potassium (blood)",
        ),
        ("lab_tests", "code,system,description,analyte,specimen\nkalium,name,,kalium,blood\n", "analyte"),
    ],
)
def test_a_bad_local_file_is_a_config_error_naming_file_and_line(
    tmp_path, export, capsys, name, text, expected
):
    folder = local_folder(tmp_path, **{name: text})
    assert run(tmp_path, export, "--local-codelists", str(folder)) == 2
    error = capsys.readouterr().err
    assert str(folder / f"{name}.csv") in error and expected in error
    assert not (tmp_path / "audit.duckdb").exists()  # refused before anything was loaded


def test_a_local_file_never_removes_shipped_codes(tmp_path, export):
    # An (almost) empty local diuretics.csv: the shipped furosemide still counts.
    folder = local_folder(tmp_path, diuretics="code,system,description,ingredient\n")
    assert run(tmp_path, export, "--local-codelists", str(folder)) == 0
    assert "PX-1005" in flagged(tmp_path / "audit.duckdb", CHECK)


def test_a_re_rendered_old_run_shows_its_own_unmatched_list(tmp_path, export):
    db = tmp_path / "audit.duckdb"
    assert run(tmp_path, export) == 0  # run 1: Serum Kalium unmatched
    folder = local_folder(
        tmp_path, lab_tests="code,system,description,analyte,specimen\nserum kalium,name,,potassium,blood\n"
    )
    assert run(tmp_path, export, "--local-codelists", str(folder)) == 0  # run 2: matched
    with duckdb.connect(str(db), read_only=True) as con:
        first, second = (r[0] for r in con.execute("SELECT run_id FROM runs ORDER BY seq").fetchall())

    assert cli("report", "--run", first, "--db", str(db), "--out", str(tmp_path / "old")) == 0
    assert cli("report", "--run", second, "--db", str(db), "--out", str(tmp_path / "new")) == 0
    old = (tmp_path / "old" / "report.html").read_text(encoding="utf-8")
    new = (tmp_path / "new" / "report.html").read_text(encoding="utf-8")
    assert "What the codelists may have missed" in old and "What the codelists may have missed" in new
    assert "Serum Kalium" in old and "Serum Kalium" not in new
    assert "Furosemid 40mg Tabletten" in old and "Furosemid 40mg Tabletten" in new
    assert "shipped codelists only" in old and "lab_tests.csv" in new
    assert "U-Kalium" in new  # urine: listed as related, not mapped, in both


def test_codelists_lists_the_files_in_use(tmp_path, capsys):
    folder = local_folder(
        tmp_path, statins="code,system,description,ingredient\nlipex,name,brand,simvastatin\n"
    )
    assert cli("codelists", "--local-codelists", str(folder), "--format", "json") == 0
    files = json.loads(capsys.readouterr().out)
    assert {f["source"] for f in files} == {"shipped", "local"}
    assert [f["codelist"] for f in files if f["source"] == "local"] == ["statins"]


def test_a_fifo_named_as_a_local_codelist_is_refused_not_waited_on(tmp_path, export, capsys):
    """A read of a FIFO waits for a writer that may never come, while the run holds the lock."""
    import os

    folder = local_folder(tmp_path)
    os.mkfifo(folder / "diuretics.csv")
    assert run(tmp_path, export, "--local-codelists", str(folder)) == 2
    error = capsys.readouterr().err
    assert str(folder / "diuretics.csv") in error and "not a regular file" in error


def test_a_local_entry_without_an_ingredient_does_not_make_a_second_drug_of_a_listed_one(tmp_path):
    """A clinic adds 'zostrix' (already a capsaicin brand in the shipped list) and its own brand
    'nervalin', both with the ingredient left empty. Zostrix cream is one trial, of capsaicin, not
    also one of 'zostrix cream'; nervalin, named by nothing else, is a trial under its own name."""
    export = write_export(
        tmp_path / "export",
        prescriptions="""patient_id,drug_name,rxnorm_code,atc_code,start_date,end_date,days_supply
PX-2001,Nervalin 75mg capsule,,,2025-07-01,2025-08-01,
PX-2001,ZOSTRIX cream,,,2025-07-05,2025-08-01,
PX-2001,amitriptyline 10 mg tablet,,N06AA09,2025-08-15,2025-09-15,
PX-2001,duloxetine 30 mg capsule,,N06AX21,2025-10-01,,
""",
        diagnoses="patient_id,code,code_system,recorded_at,resolved_at\nPX-2001,B02.23,ICD-10-CM,2025-06-01,\n",
    )
    folder = local_folder(
        tmp_path,
        neuropathic_pain_drugs="code,system,description,ingredient\n"
        "nervalin,name,local gabapentinoid brand,\nzostrix,name,local capsaicin brand,\n",
    )
    check, db = "refractory_neuropathic_pain", str(tmp_path / "audit.duckdb")
    assert run(tmp_path, export, "--local-codelists", str(folder), check=check) == 0
    with duckdb.connect(db, read_only=True) as con:
        (reason,) = con.execute("SELECT reason FROM findings WHERE check_id = $c", {"c": check}).fetchone()
    assert reason.startswith("4 neuropathic pain drugs started")
    assert "nervalin 75mg capsule (2025-07-01); capsaicin (2025-07-05)" in reason
    assert "zostrix" not in reason


def test_a_local_insulin_code_without_an_ingredient_still_makes_a_pump_cartridge_insulin(tmp_path):
    """A clinic lists its own RxNorm code for an insulin pump cartridge, ingredient left empty. The
    name also carries the class word 'insulin' (placeholder '<insulin>', no ingredient) and the device
    word 'cartridge': the coded row says insulin, so the patient is in the insulin check's population
    (the empty-ingredient row is not dropped for a placeholder)."""
    export = write_export(
        tmp_path / "export",
        prescriptions="patient_id,drug_name,rxnorm_code,atc_code,start_date,end_date,days_supply\n"
        "PX-3001,NovoPump insulin pump cartridge 100 units/mL,999001,,2026-06-01,,\n",
    )
    local = "code,system,description,ingredient\n999001,RxNorm,local insulin,\n"
    folder = local_folder(tmp_path, insulins=local)
    check, db = "insulin_potassium_drop", str(tmp_path / "audit.duckdb")
    assert run(tmp_path, export, "--local-codelists", str(folder), check=check) == 0
    with duckdb.connect(db, read_only=True) as con:
        assert con.execute("SELECT denominator FROM check_results").fetchall() == [(1,)]


def test_a_misspelt_name_of_a_local_entry_without_an_ingredient_is_listed_not_a_crash(tmp_path, capsys):
    """A clinic lists its own brand 'nervalin' with the ingredient left empty, and a prescription
    spells it 'nervalen': the unmatched diagnostic names the local entry it resembles (before, its
    related_to was NULL and the whole run ended as an internal error, exit 1)."""
    export = write_export(
        tmp_path / "export",
        prescriptions="patient_id,drug_name,rxnorm_code,atc_code,start_date,end_date,days_supply\n"
        "PX-4001,Nervalen 75mg capsule,,,2026-06-01,,\n",
    )
    folder = local_folder(
        tmp_path, neuropathic_pain_drugs="code,system,description,ingredient\nnervalin,name,local brand,\n"
    )
    assert run(tmp_path, export, "--local-codelists", str(folder), check="refractory_neuropathic_pain") == 0
    found = unmatched(tmp_path, capsys, "--local-codelists", str(folder))
    entry = by_name(found["drugs"])["Nervalen 75mg capsule"]
    assert entry["related_to"] == "neuropathic_pain_drugs: nervalin"
    assert "'nervalen' resembles 'nervalin'" in entry["note"]
