# ruff: noqa: E501 - the fixture files read best unwrapped, one record a line
"""A patient whose row in the patients file cannot be read is left out of every check, in every format.

The row is quarantined either way; what it said of the patient's death or registration is not known.
Before, such a patient was audited on what earlier exports said, or as a patient with no details: a
Synthea patients.csv line cut short after DEATHDATE, or a FHIR Patient line cut off mid-resource,
left a dead patient on the call list. Now the patient is counted as left out ('unreadable': console,
summary.json, check_results, check_exclusions, the report), the run warns with the count (never who),
and the patient is audited again once an export sends a row for them that loads.

The fixtures reuse each format test's writer and clinical rows (tests/functional/test_format_*.py),
replacing only the patients; each lost row is shaped as the fault leaves it in the real file.
"""

from __future__ import annotations

import gzip
import json

import duckdb
import pytest

from pipelines.db import SCHEMA_VERSION
from tests.functional import test_death_formats as deaths
from tests.functional import test_format_fhir as fhir
from tests.functional import test_format_mimic as mimic
from tests.functional import test_format_omop as omop
from tests.functional import test_format_synthea as synthea
from tests.helpers import cli, flagged, query, run_args, write_export

DIURETIC = "diuretic_electrolyte_monitoring"
CIRRHOSIS = "cramps_cirrhosis"
WARNING = "patient(s) whose latest row in the patients file could not be read"


def summary(tmp) -> dict:
    return json.loads((tmp / "out" / "summary.json").read_text(encoding="utf-8"))


def unreadable(tmp) -> dict[str, int]:
    """summary.json's unreadable_excluded per check."""
    return {check: c["unreadable_excluded"] for check, c in summary(tmp)["checks"].items()}


def unreadable_patients(tmp) -> list[str]:
    return [
        p for (p,) in query(tmp / "audit.duckdb", "SELECT patient_id FROM unreadable_patients ORDER BY 1")
    ]


GENERIC_HEADER = "patient_id,birth_date,sex,death_date,deceased,registered_until\n"
GENERIC_PRESCRIPTIONS = (
    "patient_id,drug_name,rxnorm_code,atc_code,start_date,end_date,days_supply\n"
    + "".join(f"G{i},furosemide 40 mg tablet,4603,C03CA01,2026-01-01,,\n" for i in range(1, 7))
)


def generic(tmp, patients: str, audited: int = 6, *extra: str):
    """A generic export of these patients rows, G1 to G`audited` on open-ended furosemide, untested."""
    prescriptions = "".join(GENERIC_PRESCRIPTIONS.splitlines(keepends=True)[: audited + 1])
    export = write_export(tmp / "export", patients=GENERIC_HEADER + patients, prescriptions=prescriptions)
    return cli(*run_args(tmp, export, "--reject-threshold", "1", *extra))


def test_generic_rows_that_cannot_be_read(tmp_path):
    # G1: a death date no reader can take (day 31 of November); G2: the line cut short after the
    # sex, its death lost; G3: an unreadable registration end; G4: a stray quote; G5: a birth date
    # that cannot be read (a soft rule: the row loads without it, so G5 is audited); G6: well.
    rows = (
        "G1,1950-01-01,F,2026-11-31,,\n"
        "G2,1950-01-01,M\n"
        "G3,1950-01-01,F,,,31/31/2026\n"
        'G4,1950-01-01,M,"2026-10-01,,\n'
        "G5,1950-13-01,F,,,\n"
        "G6,1950-01-01,M,,,\n"
    )
    assert generic(tmp_path, rows) == 0
    assert flagged(tmp_path / "audit.duckdb", DIURETIC) == {"G5", "G6"}
    assert unreadable_patients(tmp_path) == ["G1", "G2", "G3", "G4"]
    check = summary(tmp_path)["checks"][DIURETIC]
    assert (check["denominator"], check["unreadable_excluded"], check["deceased_excluded"]) == (2, 4, 0)
    assert any(w.startswith("Left out of every check: 4 " + WARNING) for w in summary(tmp_path)["warnings"])
    assert not any("G1" in w for w in summary(tmp_path)["warnings"])  # the count, never who
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        reasons = con.execute(
            "SELECT patient_id, reason FROM check_exclusions WHERE check_id = $c ORDER BY 1", {"c": DIURETIC}
        ).fetchall()
        stored = con.execute(
            "SELECT unreadable_excluded FROM check_results WHERE check_id = $c", {"c": DIURETIC}
        )
        assert stored.fetchall() == [(4,)]
    assert reasons == [(f"G{i}", "unreadable") for i in range(1, 5)]
    report = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "4 left out because their row in the patients file could not be read" in report


@pytest.mark.parametrize("kind", ["--scheduled", "--ad-hoc"])
def test_a_patient_is_audited_again_once_a_row_loads(tmp_path, kind):
    # Night 1: G1 well, flagged. Night 2: G1's row now carries a death date that cannot be read: left
    # out. Night 3: the same file again: still left out. Night 4: the file byte for byte as on night
    # 1 (which an ad-hoc run would skip as loaded before, and whose row is a duplicate): audited
    # again. G2 is always well.
    well = "G1,1950-01-01,F,,,\nG2,1950-01-01,M,,,\n"
    bad = "G1,1950-01-01,F,2026-31-10,,\nG2,1950-01-01,M,,,\n"
    seen = []
    for rows in (well, bad, bad, well):
        assert generic(tmp_path, rows, 2, kind) == 0
        seen.append((sorted(flagged(tmp_path / "audit.duckdb", DIURETIC)), unreadable(tmp_path)[DIURETIC]))
    assert seen == [(["G1", "G2"], 0), (["G2"], 1), (["G2"], 1), (["G1", "G2"], 0)]
    assert not any(WARNING in w for w in summary(tmp_path)["warnings"])
    if kind == "--scheduled":  # the nightly record: the flag ended as 'unreadable', not 'resolved'
        statuses = query(
            tmp_path / "audit.duckdb",
            "SELECT r.seq, f.status FROM flag_status f JOIN runs r USING (run_id) "
            f"WHERE f.patient_id = 'G1' AND f.check_id = '{DIURETIC}' ORDER BY 1",
        )
        assert statuses == [(1, "new"), (2, "unreadable"), (4, "new")]


def test_a_good_row_beside_a_lost_one_does_not_clear_it(tmp_path):
    # A registration history sends a row per period: G1's open period loads, but the row holding the
    # end of another is lost, and it may be the latest. The patient is not known registered: out.
    rows = "G1,1950-01-01,F,,,\nG1,1950-01-01,F,,,2026-02-30\nG2,1950-01-01,M,,,\n"
    assert generic(tmp_path, rows, 2) == 0
    assert flagged(tmp_path / "audit.duckdb", DIURETIC) == {"G2"}
    assert unreadable_patients(tmp_path) == ["G1"]


SYNTHEA_CUT = deaths.SYNTHEA_PATIENTS.replace(
    "S01,1950-02-03,2026-10-05,999-10-1001,S99910011,X1001X,Mrs.,Ann,,Alpha,,,M,white,nonhispanic,F,Boston  Massachusetts  US,1 Main St,Boston,Massachusetts,Suffolk County,25025,02101,42.35,-71.06,10000.0,2000.0,50000",
    "S01,1950-02-03,2026-10-05,999-10-1001,S99910011,X1001X,Mrs.,Ann,,Alp",
)


def test_synthea_line_cut_short(tmp_path):
    # S01 died 2026-10-05 on open-ended hydrochlorothiazide, but the line is cut short: no row loads,
    # and before this S01 was flagged as a living patient with no details. Left out now.
    export = synthea.write_synthea(
        tmp_path / "export", patients=SYNTHEA_CUT, medications=deaths.SYNTHEA_MEDICATIONS
    )
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    assert flagged(tmp_path / "audit.duckdb", DIURETIC) == {"S03", "S04"}
    assert unreadable_patients(tmp_path) == ["S01"]
    assert unreadable(tmp_path)[DIURETIC] == 1


def test_omop_person_line_cut_short(tmp_path):
    # Person 1 (hydrochlorothiazide, untested) died, per DEATH.csv; the person line is cut short, and
    # the death is joined to the person row, so it was lost with it. Person 3 dies after as-of.
    export = omop.write_cdm(tmp_path / "export")
    person = (export / "PERSON.csv").read_text(encoding="utf-8").splitlines()
    person[1] = "1,8532,19"
    (export / "PERSON.csv").write_text("\n".join(person) + "\n", encoding="utf-8")
    (export / "DEATH.csv").write_text(deaths.OMOP_DEATH, encoding="utf-8")
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    assert flagged(tmp_path / "audit.duckdb", DIURETIC) == set()
    assert flagged(tmp_path / "audit.duckdb", CIRRHOSIS) == {"3"}
    assert unreadable_patients(tmp_path) == ["1"]
    assert unreadable(tmp_path)[DIURETIC] == 1


def test_mimic_patients_line_cut_short(tmp_path):
    # 10000001 (furosemide, no electrolytes; cirrhosis and cramps) died 2180-05-20; the line is cut
    # off before its dod. 10000002 (furosemide) is well and flagged.
    files = dict(mimic.FILES)
    files["patients"] = """subject_id,gender,anchor_age,anchor_year,anchor_year_group,dod
10000001,M,61,2180,2011 - 20
10000002,F,70,2179,2014 - 2016,
10000003,M,55,2180,2017 - 2019,
10000004,F,48,2178,2008 - 2010,
"""
    export = mimic.write_mimic(tmp_path / "export", files)
    assert mimic.run(tmp_path, export, "--reject-threshold", "1") == 0
    assert "10000001" not in flagged(tmp_path / "audit.duckdb", DIURETIC)
    assert "10000001" not in flagged(tmp_path / "audit.duckdb", CIRRHOSIS)
    assert unreadable_patients(tmp_path) == ["10000001"]
    assert (unreadable(tmp_path)[DIURETIC], unreadable(tmp_path)[CIRRHOSIS]) == (1, 1)


def test_fhir_patient_line_cut_off(tmp_path):
    # p1 (furosemide, no labs; cirrhosis and cramp) died; the export was cut off while writing its
    # Patient, the file's last line. A line of another resource type in the Patient file names no
    # patient of its own (p2 stays audited).
    export = fhir.write_fhir(tmp_path / "export", fhir.RESOURCES)
    with gzip.open(export / "1.Patient.ndjson.gz", "rt", encoding="utf-8") as handle:
        lines = handle.read().splitlines()[1:]
    lines.append(json.dumps({"resourceType": "Observation", "id": "p2", "status": "final"}))
    lines.append(
        '{"resourceType": "Patient", "id": "p1", "birthDate": "1951-03-01", "gender": "male", "deceasedDateTime": "2026-09-'
    )
    with gzip.open(export / "1.Patient.ndjson.gz", "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    assert fhir.run(tmp_path, export, "--reject-threshold", "1") == 0
    assert "p1" not in flagged(tmp_path / "audit.duckdb", DIURETIC)
    assert "p1" not in flagged(tmp_path / "audit.duckdb", CIRRHOSIS)
    assert unreadable_patients(tmp_path) == ["p1"]


def test_fhir_patient_file_whose_first_line_is_cut(tmp_path):
    # p1's Patient, the file's first line, was cut mid-resource (a part file glued to a torn end).
    # Before, the whole file was refused (exit 3) because its type was read from that line alone;
    # its name says Patient, so the line is quarantined, p1 left out and every other patient read.
    export = fhir.write_fhir(tmp_path / "export", fhir.RESOURCES)
    with gzip.open(export / "1.Patient.ndjson.gz", "rt", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    p1 = next(i for i, line in enumerate(lines) if json.loads(line)["id"] == "p1")
    cut = lines.pop(p1)[:70]
    assert '"id": "p1"' in cut and not cut.endswith("}")
    with gzip.open(export / "1.Patient.ndjson.gz", "wt", encoding="utf-8") as handle:
        handle.write("\n".join([cut, *lines]) + "\n")
    assert fhir.run(tmp_path, export, "--reject-threshold", "1") == 0
    held = "SELECT line, rule FROM quarantine WHERE table_name = 'patients'"
    assert query(tmp_path / "audit.duckdb", held) == [(1, "malformed_json")]
    assert query(tmp_path / "audit.duckdb", "SELECT count(*) FROM patients") == [(len(lines),)]
    assert "p1" not in flagged(tmp_path / "audit.duckdb", DIURETIC)
    assert unreadable_patients(tmp_path) == ["p1"]


NUL_BLOCK = "\x00" * 5000  # a zero-filled stretch (pages a crash left unwritten), longer than the text kept


def test_a_generic_row_behind_a_block_of_nul_bytes(tmp_path):
    # G2 (dead, on furosemide) comes after a block of NULs on its line: the line is quarantined and
    # G2 left out. Before, the kept text was the line's first 4096 bytes, all NUL: no id, G2 audited.
    rows = "G1,1950-01-01,F,,,\n" + NUL_BLOCK + "G2,1950-01-01,M,2026-10-01,,\nG3,1950-01-01,F,,,\n"
    assert generic(tmp_path, rows, 3) == 0
    assert flagged(tmp_path / "audit.duckdb", DIURETIC) == {"G1", "G3"}
    assert unreadable_patients(tmp_path) == ["G2"]
    held = "SELECT line, rule, original FROM quarantine WHERE table_name = 'patients'"
    assert query(tmp_path / "audit.duckdb", held) == [(3, "nul_byte", "G2,1950-01-01,M,2026-10-01,,")]


def test_a_fhir_patient_behind_a_block_of_nul_bytes(tmp_path):
    # p1 (dead; furosemide, no labs) follows a block of NULs on its line. Without the NULs the kept
    # text is a whole Patient: its id is read from it, and p1 left out.
    export = fhir.write_fhir(tmp_path / "export", fhir.RESOURCES)
    with gzip.open(export / "1.Patient.ndjson.gz", "rt", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    p1 = next(i for i, line in enumerate(lines) if json.loads(line)["id"] == "p1")
    lines[p1] = NUL_BLOCK + lines[p1]
    with gzip.open(export / "1.Patient.ndjson.gz", "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    assert fhir.run(tmp_path, export, "--reject-threshold", "1") == 0
    assert "p1" not in flagged(tmp_path / "audit.duckdb", DIURETIC)
    assert unreadable_patients(tmp_path) == ["p1"]
    held = "SELECT line, original FROM quarantine WHERE table_name = 'patients'"
    assert query(tmp_path / "audit.duckdb", held) == [(p1 + 1, lines[p1].removeprefix(NUL_BLOCK))]


def test_an_ad_hoc_run_between_two_nights_does_not_let_the_nightly_skip_the_lost_row(tmp_path):
    # Night 1 (scheduled): G1's death date cannot be read: out. An analyst's ad-hoc run of an older
    # export, where G1's row reads well, finds it readable. Night 2 sends night 1's file byte for
    # byte: it is read again (not skipped as the nightly's file unchanged), and G1 is out again.
    bad = "G1,1950-01-01,F,2026-31-10,,\nG2,1950-01-01,M,,,\n"
    older = "G1,1950-01-01,F,,,\nG2,1950-01-01,M,,,\n"
    assert generic(tmp_path, bad, 2, "--scheduled") == 0
    assert generic(tmp_path, older, 2, "--ad-hoc") == 0
    assert flagged(tmp_path / "audit.duckdb", DIURETIC) == {"G1", "G2"}
    assert generic(tmp_path, bad, 2, "--scheduled") == 0
    assert flagged(tmp_path / "audit.duckdb", DIURETIC) == {"G2"}
    assert unreadable_patients(tmp_path) == ["G1"]


def test_rows_quarantined_before_the_upgrade_are_found_by_the_next_read(tmp_path):
    # A database from schema 17 quarantined G1's row and audited G1. The same export the next night,
    # byte for byte, is read again once: G1 is out. The night after, it is skipped as unchanged again.
    bad = "G1,1950-01-01,F,2026-31-10,,\nG2,1950-01-01,M,,,\n"
    assert generic(tmp_path, bad, 2, "--scheduled") == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb")) as con:  # as a version-17 binary left it
        con.execute("DROP TABLE unreadable_patients; DROP TABLE reread_next")
        con.execute("ALTER TABLE check_results DROP COLUMN unreadable_excluded")
        con.execute("UPDATE schema_version SET version = 17")
    assert generic(tmp_path, bad, 2, "--scheduled") == 0
    assert query(tmp_path / "audit.duckdb", "SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
    assert flagged(tmp_path / "audit.duckdb", DIURETIC) == {"G2"}
    assert summary(tmp_path)["files"]["patients"]["skipped_unchanged"] is False
    well = "G1,1950-01-01,F,,,\nG2,1950-01-01,M,,,\n"
    assert generic(tmp_path, well, 2, "--scheduled") == 0
    assert generic(tmp_path, well, 2, "--scheduled") == 0
    assert flagged(tmp_path / "audit.duckdb", DIURETIC) == {"G1", "G2"}
    assert summary(tmp_path)["files"]["patients"]["skipped_unchanged"] is True


def test_a_line_cut_inside_the_id_names_nobody(tmp_path):
    # The export was cut off inside the last line's id: 'G3' of 'G33'. G3 is another patient, well:
    # audited. G33's row is lost with no id to be had; the quarantine holds the line, and nobody is
    # left out or counted as such.
    rows = "G3,1950-01-01,F,,,\nG1,1950-01-01,M,,,\nG3"
    assert generic(tmp_path, rows, 3) == 0
    assert flagged(tmp_path / "audit.duckdb", DIURETIC) == {"G1", "G2", "G3"}
    assert unreadable_patients(tmp_path) == []
    assert not any(WARNING in w for w in summary(tmp_path)["warnings"])


def test_a_quoted_id_holding_the_delimiter_is_one_id(tmp_path):
    # "G,1"'s line is cut short; G's row loads. G,1 is out, G audited (not the other way round).
    export = write_export(
        tmp_path / "export",
        patients=GENERIC_HEADER + '"G,1",1950-01-01,F\nG,1950-01-01,M,,,\n',
        prescriptions="patient_id,drug_name,rxnorm_code,atc_code,start_date,end_date,days_supply\n"
        '"G,1",furosemide 40 mg tablet,4603,C03CA01,2026-01-01,,\n'
        "G,furosemide 40 mg tablet,4603,C03CA01,2026-01-01,,\n",
    )
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    assert flagged(tmp_path / "audit.duckdb", DIURETIC) == {"G"}
    assert unreadable_patients(tmp_path) == ["G,1"]
