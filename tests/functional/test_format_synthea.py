# ruff: noqa: E501 - the fixture tables read best unwrapped, as in tests/spec
"""Synthea CSV (v2 and v3 column sets) through the real CLI: every check runs, planted patients are
flagged, bad values are quarantined with their line, a missing column names file and column.

The fixture is built from the Synthea wiki's "CSV File Data Dictionary"; patients are synthetic.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import pytest

from checks.evaluate import all_checks
from tests.helpers import cli, flagged, run_args, table

PATIENTS = table(
    """
    Id  | BIRTHDATE  | DEATHDATE | FIRST | LAST  | GENDER
    S01 | 1950-02-03 |           | Ann   | Alpha | F
    S02 | 1948-07-21 |           | Bob   | Beta  | M
    S03 | 1961-11-30 |           | Cy    | Gamma | M
    S04 | 1959-05-05 |           | Di    | Delta | F
    """
)
# S01 on hydrochlorothiazide, never tested: flagged. S02 on furosemide with recent K and Na: not.
OBSERVATIONS = table(
    """
    DATE                 | PATIENT | ENCOUNTER | CATEGORY    | CODE    | DESCRIPTION                                 | VALUE        | UNITS  | TYPE
    2026-09-01T08:30:00Z | S02     | E1        | laboratory  | 2823-3  | Potassium [Moles/volume] in Serum or Plasma | 4.1          | mmol/L | numeric
    2026-09-01T08:30:00Z | S02     | E1        | laboratory  | 2951-2  | Sodium [Moles/volume] in Serum or Plasma    | 139          | mmol/L | numeric
    2026-09-01T08:30:00Z | S02     | E1        | survey      | 72166-2 | Tobacco smoking status                      | Never smoker |        | text
    2026-09-02T08:30:00Z | S03     | E2        | laboratory  | 2823-3  | Potassium [Moles/volume] in Serum or Plasma | 4,1          | mmol/L | numeric
    2026-09-01T08:30:00Z | S02     | E1        | vital-signs | 8302-2  | Body Height                                 | 170.2        | cm     | numeric
    2026-09-01T08:30:00Z | S02     | E1        | laboratory  | 5778-6  | Color of Urine                              | Yellow       |        | text
    2026-09-01T08:30:00Z | S02     | E1        |             | QALY    | QALY                                        | 58.0         | a      | numeric
    2026-09-01T08:30:00Z | S02     | E1        |             | DALY    | DALY                                        | 2.1          | a      | numeric
    2026-09-01T08:30:00Z | S02     | E1        |             | QOLS    | QOLS                                        | 0.9          | {score} | numeric
    """
)
# What is skipped: v3 by CATEGORY (the QALY/DALY/QOLS rows have none), v2 (no CATEGORY) by code:
# the category pipelines/reference/observation_categories.csv gives it (72166-2 is social history
# there, as real Synthea writes it; this fixture's v3 row says survey).
SKIPPED = {
    3: {
        "not a laboratory observation (quality-of-life index)": 3,
        "not a laboratory observation (survey)": 1,
        "not a laboratory observation (vital-signs)": 1,
    },
    2: {
        "not a laboratory observation (quality-of-life index)": 3,
        "not a laboratory observation (social-history)": 1,
        "not a laboratory observation (vital-signs)": 1,
    },
}
MEDICATIONS = table(
    """
    START                | STOP                 | PATIENT | PAYER | ENCOUNTER | CODE   | DESCRIPTION                           | BASE_COST | PAYER_COVERAGE | DISPENSES | TOTALCOST | REASONCODE | REASONDESCRIPTION
    2026-03-01T09:00:00Z |                      | S01     | P     | E3        | 310798 | Hydrochlorothiazide 25 MG Oral Tablet | 1.5       | 0              | 12        | 18        | 59621000   | Essential hypertension (disorder)
    2026-01-10T09:00:00Z | 2027-01-10T09:00:00Z | S02     | P     | E4        | 313988 | Furosemide 40 MG Oral Tablet          | 2         | 0              | 12        | 24        |            |
    2026-05-01T09:00:00Z | 2026-04-01T09:00:00Z | S04     | P     | E5        | 314231 | Simvastatin 10 MG Oral Tablet         | 1         | 0              | 1         | 1         |            |
    """
)
# S03: cirrhosis since 2024 and a cramp last month: flagged. S04: cirrhosis resolved before the cramp.
CONDITIONS = table(
    """
    START      | STOP       | PATIENT | ENCOUNTER | SYSTEM    | CODE     | DESCRIPTION
    2024-01-10 |            | S03     | E6        | SNOMED-CT | 19943007 | Cirrhosis of liver (disorder)
    2026-10-01 | 2026-10-20 | S03     | E7        | SNOMED-CT | 55300003 | Cramp (finding)
    2020-01-10 | 2025-01-01 | S04     | E8        | SNOMED-CT | 19943007 | Cirrhosis of liver (disorder)
    2026-10-01 |            | S04     | E9        | SNOMED-CT | 55300003 | Cramp (finding)
    2026-10-02 |            | S04     | E9        | LOCAL     | X-1      | Unknown code system
    """
)
V2_DROPPED = {"CATEGORY", "SYSTEM"}  # Synthea v2 has neither


def write_synthea(folder: Path, version: int = 3, **override: str) -> Path:
    """The fixture as Synthea CSV files; version 2 drops the v3-only columns; override replaces a file."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"patients": PATIENTS, "observations": OBSERVATIONS, "medications": MEDICATIONS}
    files["conditions"] = [r for r in CONDITIONS if version == 3 or r["SYSTEM"] == "SNOMED-CT"]
    for name, rows in files.items():
        if name in override:
            (folder / f"{name}.csv").write_text(override[name], encoding="utf-8")
            continue
        fields = [f for f in rows[0] if version == 3 or f not in V2_DROPPED]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fields, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        (folder / f"{name}.csv").write_text(buffer.getvalue(), encoding="utf-8")
    return folder


@pytest.mark.parametrize(("version", "extra"), [(3, ("--format", "synthea")), (2, ())])
def test_every_check_runs_and_planted_patients_are_flagged(tmp_path, version, extra):
    export = write_synthea(tmp_path / "export", version)
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1", *extra)) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert set(summary["checks"]) == {c.id for c in all_checks()}
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"S01"}
    assert flagged(tmp_path / "audit.duckdb", "cramps_cirrhosis") == {"S03"}


def test_bad_values_are_quarantined_with_their_line(tmp_path):
    export = write_synthea(tmp_path / "export")
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        got = set(con.execute("SELECT file, line, column_name, rule FROM quarantine").fetchall())
        loaded = con.execute("SELECT test_name FROM labs WHERE value IS NULL").fetchall()
    assert got == {
        ("observations.csv", 5, "value", "numeric"),
        ("medications.csv", 4, "end_date", "after_start"),
        ("conditions.csv", 6, "code_system", "allowed"),
    }
    assert loaded == [("Color of Urine",)]  # a text lab result loads without a numeric result


@pytest.mark.parametrize("version", [3, 2])
def test_rows_that_are_not_labs_are_skipped_not_rejected(tmp_path, version):
    export = write_synthea(tmp_path / "export", version)
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    labs = json.loads((tmp_path / "out" / "summary.json").read_text())["files"]["labs"]
    skipped = sum(SKIPPED[version].values())
    assert labs["skip_reasons"] == SKIPPED[version]
    assert (labs["rows_read"], labs["rows_skipped"], labs["rows_rejected"]) == (9, skipped, 1)
    assert labs["rows_loaded"] == 9 - skipped - 1
    assert labs["reject_rate"] == round(1 / (9 - skipped), 6)  # of the rows audited
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        codes = {r[0] for r in con.execute("SELECT loinc_code FROM lab_results").fetchall()}
        stored = con.execute(
            "SELECT rows_read, rows_skipped, skip_reasons FROM run_files WHERE table_name = 'labs'"
        ).fetchall()
    assert not codes & {"QALY", "DALY", "QOLS"}
    assert "8302-2" not in codes  # a vital sign, by its CATEGORY (v3) or its code (v2)
    assert stored[0][:2] == (9, skipped) and json.loads(stored[0][2]) == SKIPPED[version]
    report = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "Skipped rows in observations.csv" in report
    assert "not a laboratory observation (quality-of-life index)" in report


@pytest.mark.parametrize("version", [3, 2])
def test_a_standard_export_loads_at_the_default_threshold(tmp_path, version, capsys):
    # Five of eight observations are no labs: were they rejected, 63% would stop the run.
    rows = [r for r in OBSERVATIONS if r["VALUE"] != "4,1"]
    fields = [f for f in rows[0] if version == 3 or f not in V2_DROPPED]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    export = write_synthea(tmp_path / "export", version, observations=buffer.getvalue())
    (export / "medications.csv").write_text(
        "\n".join((tmp_path / "export" / "medications.csv").read_text().splitlines()[:3]) + "\n"
    )  # without the stop-before-start row
    (export / "conditions.csv").write_text(
        "\n".join(
            line for line in (export / "conditions.csv").read_text().splitlines() if "LOCAL" not in line
        )
        + "\n"
    )
    assert cli(*run_args(tmp_path, export)) == 0
    out = " ".join(capsys.readouterr().out.split())  # as read, whatever the console's width
    assert "skipped in observations.csv: 3 rows, not a laboratory observation (quality-of-life index)" in out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["files"]["labs"]["rows_rejected"] == 0
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"S01"}


def test_missing_column_names_file_and_column(tmp_path, capsys):
    export = write_synthea(
        tmp_path / "export", conditions="START,STOP,PATIENT,ENCOUNTER\n2024-01-10,,S03,E6\n"
    )
    assert cli(*run_args(tmp_path, export)) == 3
    err = capsys.readouterr().err
    assert "conditions.csv" in err and "'code'" in err and "Traceback" not in err


def test_detection_does_not_collide_with_generic(tmp_path):
    from pipelines.formats import detect

    assert detect(write_synthea(tmp_path / "export")) == "synthea"


def test_structural_faults_are_quarantined_with_their_line(tmp_path):
    export = write_synthea(tmp_path / "export")
    with (export / "observations.csv").open("a", encoding="utf-8") as handle:
        handle.write('2026-01-01,S01,"unterminated\n')  # line 11
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        got = con.execute(
            "SELECT line, rule FROM quarantine WHERE file = 'observations.csv' ORDER BY 1"
        ).fetchall()
    assert got == [(5, "numeric"), (11, "unterminated_quote")]  # the mended read (pipelines/csv_scan.py)


def test_an_unchanged_file_keeps_its_skipped_and_noted_counts(tmp_path):
    export = write_synthea(tmp_path / "export")
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    first = json.loads((tmp_path / "out" / "summary.json").read_text())["files"]["labs"]
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    again = json.loads((tmp_path / "out" / "summary.json").read_text())["files"]["labs"]
    assert again["skipped_unchanged"] and not first["skipped_unchanged"]
    for key in ("rows_read", "rows_rejected", "rows_skipped", "skip_reasons", "rows_noted", "reject_rate"):
        assert again[key] == first[key], key
    report = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "Skipped rows in observations.csv" in report


# encounters.csv (Synthea's column set): S01's latest encounter names no PROVIDER (the CSV exporter
# leaves it empty when the encounter has no clinician), S02's no ORGANIZATION; their earlier
# encounters name both.
ENCOUNTERS = table(
    """
    Id | START                | STOP                 | PATIENT | ORGANIZATION | PROVIDER | PAYER | ENCOUNTERCLASS | CODE      | DESCRIPTION                       | BASE_ENCOUNTER_COST | TOTAL_CLAIM_COST | PAYER_COVERAGE | REASONCODE | REASONDESCRIPTION
    E1 | 2025-02-01T09:00:00Z | 2025-02-01T09:15:00Z | S01     | ORG-A        | PRV-A    | P     | wellness       | 162673000 | General examination of patient (procedure) | 125.00 | 125.00 | 0.00 |  |
    E2 | 2026-06-01T09:00:00Z | 2026-06-01T09:15:00Z | S01     | ORG-B        |          | P     | ambulatory     | 185345009 | Encounter for symptom (procedure) | 75.00               | 75.00            | 0.00           |            |
    E3 | 2025-02-01T09:00:00Z | 2025-02-01T09:15:00Z | S02     | ORG-A        | PRV-A    | P     | wellness       | 162673000 | General examination of patient (procedure) | 125.00 | 125.00 | 0.00 |  |
    E4 | 2026-06-01T09:00:00Z | 2026-06-01T09:15:00Z | S02     |              | PRV-C    | P     | ambulatory     | 185345009 | Encounter for symptom (procedure) | 75.00               | 75.00            | 0.00           |            |
    """
)


def test_site_and_clinician_come_from_one_encounter_the_latest(tmp_path):
    # Both from the latest encounter, as the README says, even where it leaves one empty: a
    # clinician from an older encounter at another organization is not this site's clinician.
    export = write_synthea(tmp_path / "export")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, list(ENCOUNTERS[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(ENCOUNTERS)
    (export / "encounters.csv").write_text(buffer.getvalue(), encoding="utf-8")
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT patient_id, site_id, clinician_id FROM patient_state").fetchall()
    got = {p: (site, clinician) for p, site, clinician in rows}
    assert got["S01"] == ("ORG-B", None)
    assert got["S02"] == (None, "PRV-C")
    assert got["S03"] == (None, None)  # no encounter


def test_a_spreadsheets_semicolon_file_reads_decimal_commas(tmp_path):
    # observations.csv opened and saved by a spreadsheet in a decimal-comma locale (Synthea's own
    # Locale.US '4.1' becomes '4,1', the separator a semicolon): read as the generic format reads it.
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, list(OBSERVATIONS[0]), delimiter=";", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({**r, "VALUE": r["VALUE"].replace(".", ",")} for r in OBSERVATIONS)
    export = write_synthea(tmp_path / "export", observations=buffer.getvalue())
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    labs = json.loads((tmp_path / "out" / "summary.json").read_text())["files"]["labs"]
    assert (labs["rows_read"], labs["rows_skipped"], labs["rows_rejected"]) == (9, 5, 0)
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        got = con.execute(
            "SELECT patient_id, loinc_code, value_original FROM lab_results ORDER BY ALL"
        ).fetchall()
    assert got == [
        ("S02", "2823-3", 4.1),
        ("S02", "2951-2", 139.0),
        ("S02", "5778-6", None),
        ("S03", "2823-3", 4.1),
    ]
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"S01"}


def test_a_v2_exports_scores_and_social_history_are_not_labs(tmp_path):
    """A v2 export has no CATEGORY, so its non-lab rows are known by code alone. Synthea writes
    questionnaire scores, growth percentiles and social history as observations (the codes Synthea27Nj
    carries under LOINC's Survey and Clinical Observation classes): loaded as labs, a PHQ-9 dated after
    every lab moved `--as-of latest` to its date and shifted every window."""
    later = [
        (
            "2026-11-18T10:00:00Z",
            "44261-6",
            "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]",
            "4.0",
            "{score}",
        ),
        (
            "2026-11-18T10:00:00Z",
            "59576-9",
            "Body mass index (BMI) [Percentile] Per age and sex",
            "61.3",
            "%",
        ),
        ("2026-11-18T10:00:00Z", "93038-8", "Stress level", "Not at all", ""),
        ("2026-11-18T10:00:00Z", "75626-2", "Total score [AUDIT-C]", "2.0", "{score}"),
    ]
    rows = [r for r in OBSERVATIONS if r["VALUE"] != "4,1"] + [
        {
            "DATE": d,
            "PATIENT": "S02",
            "ENCOUNTER": "E9",
            "CODE": c,
            "DESCRIPTION": t,
            "VALUE": v,
            "UNITS": u,
            "TYPE": "numeric" if u else "text",
        }
        for d, c, t, v, u in later
    ]
    fields = [f for f in OBSERVATIONS[0] if f not in V2_DROPPED]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    export = write_synthea(tmp_path / "export", 2, observations=buffer.getvalue())
    args = run_args(tmp_path, export, "--reject-threshold", "1")
    args[args.index("--as-of") + 1] = "latest"
    assert cli(*args) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["files"]["labs"]["skip_reasons"] == {
        "not a laboratory observation (quality-of-life index)": 3,
        "not a laboratory observation (social-history)": 2,
        "not a laboratory observation (survey)": 2,
        "not a laboratory observation (vital-signs)": 2,
    }
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        assert con.execute("SELECT max(as_of)::VARCHAR FROM runs").fetchone() == ("2026-10-01",)


LAPSED_MEDICATIONS = """START,STOP,PATIENT,PAYER,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,PAYER_COVERAGE,DISPENSES,TOTALCOST,REASONCODE,REASONDESCRIPTION
2020-05-02T10:00:00Z,,L1,P,E1,197805,Ibuprofen 400 MG Oral Tablet,2.1,0,1,2.1,,
2019-03-04T10:00:00Z,,L2,P,E2,1719286,10 ML Furosemide 10 MG/ML Injection,5.0,0,1,5.0,,
2010-01-05T10:00:00Z,,L3,P,E3,313988,Furosemide 40 MG Oral Tablet,2.0,0,202,404.0,,
2026-09-01T10:00:00Z,2026-10-01T10:00:00Z,L4,P,E4,314076,lisinopril 10 MG Oral Tablet,1.0,0,1,1.0,,
"""
LAPSED_CONDITIONS = """START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION
2018-01-01,,L1,E0,433144002,Chronic kidney disease stage 3 (disorder)
"""


def test_a_medication_left_open_whose_dispenses_lapsed_long_ago_is_not_taken_today(tmp_path):
    """Synthea leaves STOP empty for a medication its module never ended, and counts a prescription's
    refills as its DISPENSES however long the row stays open: a 2020 ibuprofen filled once (L1, CKD
    stage 3) and a 2019 furosemide injection (L2) were read as taken in 2026, and flagged high. Even
    at one fill a year they could not reach the export's end (its latest START or STOP, 2026-10-01:
    the simulation ran at least that far): they end after their fills, a month each. A drug filled
    monthly since 2010 (L3, 202 dispenses) runs."""
    export = write_synthea(tmp_path / "export", medications=LAPSED_MEDICATIONS, conditions=LAPSED_CONDITIONS)
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    db = tmp_path / "audit.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        ends = dict(con.execute("SELECT patient_id, end_date::VARCHAR FROM prescriptions").fetchall())
    assert ends == {"L1": "2020-06-01", "L2": "2019-04-03", "L3": None, "L4": "2026-10-01"}
    assert flagged(db, "nsaid_kidney_disease") == set()
    assert flagged(db, "diuretic_electrolyte_monitoring") == {"L3"}


def test_whether_fills_lapsed_is_judged_at_the_exports_end_not_on_the_day_of_the_run(tmp_path):
    """An export whose simulation ended in 2023 (its latest date 2023-06-01), audited as of then: a
    naproxen opened in 2022 with two refills in a CKD stage 4 patient could reach the export's end at
    a fill a year, so it runs and is flagged, whatever day the audit is run (judged against the day of
    the run, it lapsed once that day was past 2025 and the same audit lost the flag)."""
    medications = """START,STOP,PATIENT,PAYER,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,PAYER_COVERAGE,DISPENSES,TOTALCOST,REASONCODE,REASONDESCRIPTION
2022-03-01T10:00:00Z,,K3,P,E1,849574,Naproxen sodium 220 MG Oral Tablet,1.0,0,2,2.0,,
2023-05-01T10:00:00Z,2023-06-01T10:00:00Z,K4,P,E2,314076,lisinopril 10 MG Oral Tablet,1.0,0,1,1.0,,
"""
    conditions = "START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION\n2020-01-01,,K3,E0,431857002,Chronic kidney disease stage 4 (disorder)\n"
    export = write_synthea(tmp_path / "export", medications=medications, conditions=conditions)
    args = run_args(tmp_path, export, "--reject-threshold", "1")
    args[args.index("--as-of") + 1] = "2023-06-01"
    assert cli(*args) == 0
    db = tmp_path / "audit.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT end_date FROM prescriptions WHERE patient_id = 'K3'").fetchall() == [
            (None,)
        ]
    assert flagged(db, "nsaid_kidney_disease") == {"K3"}
