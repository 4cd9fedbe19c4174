"""Spec: leaving the practice, for every check alike, as death is (tests/spec/test_death.py). A patient
registered until a day before the as-of date, or said to be no longer registered with no date, is
in no check's population (neither flagged nor counted, but counted as left out); registered until
the as-of date itself (the registration's last day) or later leaves the patient in, as ehrQL's
practice_registrations.for_patient_on keeps a registration on its end date. A death wins as the
reason. Leaving ends no exposure: the care goes on elsewhere, out of sight.

The population is diuretic_electrolyte_monitoring's (on a diuretic on the as-of date): every patient
below takes open-ended furosemide and has no electrolytes, so each one still in is flagged.
"""

from __future__ import annotations

import json
from datetime import date

import duckdb

from tests.functional import test_format_fhir as fhir
from tests.helpers import cli, flagged, patients_table, run_args, run_pipeline, table, write_export
from tests.spec.harness import OUT, check_spec

AS_OF = date(2026, 11, 20)
CHECK = "diuretic_electrolyte_monitoring"

PATIENTS = table("""
patient_id | birth_date | sex | death_date | deceased | registered_until | registered
# left the day before as-of: out
R01        | 1950-01-01 | F   |            |          | 2026-11-19       |
# registered until the as-of date: still in on its last day
R02        | 1950-01-01 | M   |            |          | 2026-11-20       |
# a planned end after the export date (a temporary resident): in
R03        | 1950-01-01 | F   |            |          | 2027-02-28       |
# not registered, date unknown: out
R04        | 1950-01-01 | M   |            |          |                  | no
# explicitly registered: in
R05        | 1950-01-01 | F   |            |          |                  | yes
# nothing said: in
R06        | 1950-01-01 | M   |            |          |                  |
# left, then died: out as deceased
R07        | 1950-01-01 | F   | 2026-10-01 |          | 2026-06-30       |
# left years ago, the open-ended prescription never stopped in the export: out
R08        | 1940-01-01 | M   |            |          | 2021-03-31       | false
""")

PRESCRIPTIONS = table(
    "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
    + "\n".join(f"R0{i} | furosemide 40 mg tablet | 4603 | C03CA01 | 2019-06-01 | |" for i in range(1, 9))
)
TABLES = {"patients": PATIENTS, "prescriptions": PRESCRIPTIONS}
IN = {"R02", "R03", "R05", "R06"}


def flagged_only(*ids: str) -> dict[str, bool]:
    """The expectation for the R patients: these flagged, the others out."""
    return {f"R0{i}": True if f"R0{i}" in ids else OUT for i in range(1, 9)}


def test_left_the_practice_by_the_as_of_date_is_in_no_population(tmp_path):
    run = check_spec(tmp_path, CHECK, AS_OF, TABLES, flagged_only(*IN))
    assert (run.result.flagged, run.result.deregistered_excluded, run.result.deceased_excluded) == (4, 3, 1)


def test_each_as_of_date_sees_the_registrations_then(tmp_path):
    # as of 2021-03-31 R08 is still registered (its last day), and R07 (left 2026-06-30) too
    run = check_spec(tmp_path, CHECK, date(2021, 3, 31), TABLES, flagged_only(*IN, "R01", "R07", "R08"))
    assert run.result.deregistered_excluded == 1  # R04 only, gone with the date unknown


def test_counts_are_stored_summarised_reported_and_explained(tmp_path):
    run_pipeline(tmp_path, AS_OF, (CHECK,), **TABLES)
    db = tmp_path / "audit.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        stored = con.execute("SELECT deceased_excluded, deregistered_excluded FROM check_results").fetchall()
        excluded = con.execute(
            "SELECT patient_id, reason, death_date::VARCHAR, registered_until::VARCHAR "
            "FROM check_exclusions ORDER BY patient_id"
        ).fetchall()
    assert stored == [(1, 3)]
    assert excluded == [
        ("R01", "deregistered", None, "2026-11-19"),
        ("R04", "deregistered", None, None),
        ("R07", "deceased", "2026-10-01", None),
        ("R08", "deregistered", None, "2021-03-31"),
    ]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["checks"][CHECK]["deregistered_excluded"] == 3
    report = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "3 left out as no longer registered with the practice" in report


def test_explain_says_why(tmp_path, capsys):
    run_pipeline(tmp_path, AS_OF, (CHECK,), **TABLES)
    db = str(tmp_path / "audit.duckdb")
    said = {
        "R01": "no longer registered with the practice (registered until 2026-11-19, before the as-of date)",
        "R04": "no longer registered with the practice (date unknown)",
        "R07": "deceased on 2026-10-01",
    }
    for patient, text in said.items():
        capsys.readouterr()
        assert cli("explain", patient, "--check", CHECK, "--as-of", "2026-11-20", "--db", db) == 0
        out = capsys.readouterr().out
        assert text in " ".join(out.split()), out
        assert "FLAGGED" not in out
    assert cli("explain", "R02", "--check", CHECK, "--as-of", "2026-11-20", "--db", db) == 0
    assert "FLAGGED" in capsys.readouterr().out


def test_registration_follows_the_latest_export_and_a_flag_ends_as_deregistered(tmp_path):
    # Night 1: registered, flagged. Night 2: registered until 2026-11-01: out, its flag ends as
    # 'deregistered', not 'resolved'. Night 3: registered again (the export gives no end): flagged.
    prescription = [PRESCRIPTIONS[0]]
    seen = []
    for until in ("", "2026-11-01", ""):
        row = {"patient_id": "R01", "birth_date": "1950-01-01", "sex": "F", "registered_until": until}
        outcome = run_pipeline(tmp_path, AS_OF, (CHECK,), patients=[row], prescriptions=prescription)
        with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
            state = con.execute(
                "SELECT deregistered, registered_until::VARCHAR FROM patient_state"
            ).fetchall()
            status = con.execute(
                "SELECT f.status FROM flag_status f JOIN runs r USING (run_id) ORDER BY r.seq DESC LIMIT 1"
            ).fetchall()
        result = outcome.checks[0]
        seen.append(
            (*state[0], result.flagged, result.deregistered_excluded, status[0][0] if status else None)
        )
    assert seen == [
        (False, None, 1, 0, "new"),
        (True, "2026-11-01", 0, 1, "deregistered"),
        (False, None, 1, 0, "new"),
    ]


def test_unreadable_registration_rejects_the_patient_row(tmp_path):
    # The run's export date is 2026-11-24 (tests.helpers.run_pipeline); a planned end after it is read.
    patients = table("""
    patient_id | birth_date | sex | registered_until | registered
    V01        | 1950-01-01 | F   | 2026-02-30       |
    V02        | 1950-01-01 | F   | 1899-12-31       |
    V03        | 1950-01-01 | F   |                  | maybe
    V04        | 1950-01-01 | F   | 2027-06-30       | yes
    V05        | 1950-01-01 | F   |                  | N
    """)
    run_pipeline(tmp_path, AS_OF, (CHECK,), patients=patients)
    rejected, loaded = patients_table(
        tmp_path / "audit.duckdb", "patient_id", "registered_until::VARCHAR", "deregistered"
    )
    assert rejected == [
        (2, "registered_until", "format"),
        (3, "registered_until", "date_range"),
        (4, "registered", "yes_no"),
    ]
    assert loaded == [("V04", "2027-06-30", True), ("V05", None, True)]


def test_monthly_measures_leave_out_who_had_left_by_each_month_end(tmp_path):
    # R01 registered until 2026-08-15: in every month-end to July, out from August on.
    patients = [
        {"patient_id": "R01", "birth_date": "1950-01-01", "sex": "F", "registered_until": "2026-08-15"}
    ]
    exports = {"patients": patients, "prescriptions": [PRESCRIPTIONS[0]]}
    export = write_export(tmp_path / "export", **exports)
    assert cli(*run_args(tmp_path, export, "--scheduled")) == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        months = con.execute(
            "SELECT month_end::VARCHAR, population FROM measures WHERE check_id = $c AND breakdown = 'total' "
            "AND month_end >= DATE '2026-06-30' ORDER BY 1",
            {"c": CHECK},
        ).fetchall()
    assert months == [
        ("2026-06-30", 1),
        ("2026-07-31", 1),
        ("2026-08-31", 0),
        ("2026-09-30", 0),
        ("2026-10-31", 0),
    ]


def test_fhir_patient_no_longer_active_is_left_out(tmp_path):
    # p5 (furosemide in the FHIR fixture, like p6 below) is active false: the record no longer in
    # active use; p6 is active true and flagged.
    resources = dict(fhir.RESOURCES)
    resources["1.Patient.ndjson.gz"] = [
        fhir.patient("p5", "1955-03-05", "male") | {"active": False},
        fhir.patient("p6", "1956-03-06", "female") | {"active": True},
    ]
    first = fhir.RESOURCES["MedicationRequest.ndjson.gz"][0]
    resources["MedicationRequest.ndjson.gz"] = [
        dict(first, id="mp5", subject={"reference": "Patient/p5"}),
        dict(first, id="mp6", subject={"reference": "Patient/p6"}),
    ]
    export = fhir.write_fhir(tmp_path / "export", resources)
    assert fhir.run(tmp_path, export) == 0
    assert flagged(tmp_path / "audit.duckdb", CHECK) & {"p5", "p6"} == {"p6"}
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["checks"][CHECK]["deregistered_excluded"] == 1


def test_the_prospective_list_leaves_out_who_will_have_left_by_the_due_date(tmp_path):
    # Both monitored (potassium and sodium on 2025-12-01): due again 2026-12-01, within 30 days.
    # R01 is a temporary resident registered until 2026-11-25: gone by then, so not listed.
    patients = table("""
    patient_id | birth_date | sex | registered_until
    R01        | 1950-01-01 | F   | 2026-11-25
    R02        | 1950-01-01 | F   |
    """)
    labs = table(
        "patient_id | collected_at | value | loinc_code | test_name | unit\n"
        + "\n".join(
            f"{p} | 2025-12-01T09:00:00 | {v} | {code} | {name} | mmol/L"
            for p in ("R01", "R02")
            for code, name, v in (("2823-3", "Potassium", "4.1"), ("2951-2", "Sodium", "139"))
        )
    )
    prescriptions = [PRESCRIPTIONS[0], PRESCRIPTIONS[1]]
    run_pipeline(tmp_path, AS_OF, (CHECK,), patients=patients, prescriptions=prescriptions, labs=labs)
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        soon = con.execute("SELECT patient_id, due_on::VARCHAR FROM due_soon").fetchall()
    assert soon == [("R02", "2026-12-01")]
