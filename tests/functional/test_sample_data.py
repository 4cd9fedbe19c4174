"""The CLI end to end on the bundled sample: it flags exactly the patients the generator planted,
quarantines exactly the planted bad rows, and writes its outputs owner-only."""

from __future__ import annotations

import csv
import filecmp
import json
import re
import stat
from collections import defaultdict

import duckdb
import pytest

from checks.evaluate import all_checks
from tests.conftest import ROOT, SAMPLE_EXPORT
from tests.helpers import cli, flagged, generated_clinic, read_csv_rows, run_args


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sample")
    code = cli(*run_args(tmp, SAMPLE_EXPORT))
    return code, tmp


def expected_flags() -> dict[str, set[str]]:
    expected: dict[str, set[str]] = defaultdict(set)
    with (ROOT / "sample_data" / "expected_flags.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            expected[row["check_id"]].add(row["patient_id"])
    return expected


def test_run_succeeds(sample_run):
    code, _ = sample_run
    assert code == 0


@pytest.mark.parametrize("check_id", [c.id for c in all_checks()])
def test_flags_exactly_the_planted_patients(sample_run, check_id):
    _, tmp = sample_run
    assert flagged(tmp / "audit.duckdb", check_id) == expected_flags()[check_id]


def test_quarantines_exactly_the_planted_bad_rows(sample_run):
    _, tmp = sample_run
    with (ROOT / "sample_data" / "quarantine_expected.csv").open(encoding="utf-8") as handle:
        expected = {(r["file"], int(r["line"]), r["column"], r["rule_hint"]) for r in csv.DictReader(handle)}
    with duckdb.connect(str(tmp / "audit.duckdb"), read_only=True) as con:
        got = set(con.execute("SELECT file, line, column_name, rule FROM quarantine").fetchall())
    assert got == expected


def test_summary_and_findings_agree(sample_run):
    _, tmp = sample_run
    summary = json.loads((tmp / "out" / "summary.json").read_text())
    rows = read_csv_rows(tmp / "out" / "findings.csv")
    for check_id, figures in summary["checks"].items():
        assert figures["flagged"] == sum(r["check_id"] == check_id for r in rows)
        assert 0 < figures["flagged"] <= figures["denominator"]
    assert list(rows[0])[:4] == ["check_id", "patient_id", "priority", "reason"]
    assert summary["files"]["labs"]["rows_rejected"] == 5
    assert sum(f["rows_read"] for f in summary["files"].values()) == sum(
        len(read_csv_rows(p)) for p in SAMPLE_EXPORT.glob("*.csv")
    )


def planted_patient(key: str) -> str:
    """The patient id of a flagged planted scenario (expected_flags.csv names it in each reason)."""
    rows = read_csv_rows(ROOT / "sample_data" / "expected_flags.csv")
    (pid,) = {r["patient_id"] for r in rows if r["why"].endswith(f"[planted: {key}]")}
    return pid


def test_deceased_patients_are_flagged_by_no_check(sample_run):
    # Planted in generate.py appended_scenarios: dead 45 days before as-of, dead on as-of, and
    # dead on an unknown date; alive, each would be flagged by the checks listed below.
    _, tmp = sample_run
    dead = {
        r["patient_id"]
        for r in read_csv_rows(SAMPLE_EXPORT / "patients.csv")
        if (r["death_date"] and r["death_date"] <= "2026-11-20") or r["deceased"] == "true"
    }
    assert len(dead) == 3
    assert not dead & {f["patient_id"] for f in read_csv_rows(tmp / "out" / "findings.csv")}
    summary = json.loads((tmp / "out" / "summary.json").read_text())
    would_flag = (
        "diuretic_electrolyte_monitoring",
        "cramps_cirrhosis",
        "cramps_medication_review",
        "cramps_electrolyte_check",
        "cramps_metabolic_workup",
        "nsaid_kidney_disease",
        "refractory_neuropathic_pain",
    )
    for check_id in would_flag:
        assert summary["checks"][check_id]["deceased_excluded"] >= 1, check_id


@pytest.mark.parametrize(
    ("key", "priority", "last_potassium"),
    [
        ("ipd_same_day_latest_low", "high", "3.3"),  # 3.9 at 04:10, 3.3 at 13:17: latest is low
        ("ipd_censored_potassium_below_2_5", "high", "<2.5"),  # '<2.5' is below 3.0, severe
        ("ipd_same_day_fall_by_time", "normal", "3.6"),  # 4.7 at 06:05 -> 3.6 at 14:40: a fall
    ],
)
def test_latest_potassium_is_latest_in_time(sample_run, key, priority, last_potassium):
    _, tmp = sample_run
    pid = planted_patient(key)
    (row,) = [
        r
        for r in read_csv_rows(tmp / "out" / "findings.csv")
        if r["patient_id"] == pid and r["check_id"] == "insulin_potassium_drop"
    ]
    assert (row["priority"], row["last_potassium"]) == (priority, last_potassium)


def findings_of(tmp, check_id: str) -> dict[str, dict[str, str]]:
    """The tool's findings of one check, by patient."""
    rows = read_csv_rows(tmp / "out" / "findings.csv")
    return {r["patient_id"]: r for r in rows if r["check_id"] == check_id}


def oracle_reasons(check_id: str) -> dict[str, str]:
    """The generator's oracle reasons (expected_flags.csv 'why') of one check, by patient."""
    rows = read_csv_rows(ROOT / "sample_data" / "expected_flags.csv")
    return {r["patient_id"]: r["why"] for r in rows if r["check_id"] == check_id}


def test_diuretic_monitoring_label_matches_the_oracle(sample_run):
    # Issue 15: a diuretic course started within 14 days is 'baseline tests due', else 'overdue';
    # a renewal keeps the course's first start. The oracle's reason starts with its own label.
    _, tmp = sample_run
    found = findings_of(tmp, "diuretic_electrolyte_monitoring")
    oracle = oracle_reasons("diuretic_electrolyte_monitoring")
    labels = {pid: why.split(":")[0] for pid, why in oracle.items()}
    assert {pid: found[pid]["monitoring"] for pid in oracle} == labels
    assert {"baseline tests due", "overdue"} <= set(labels.values())
    for pid, label in labels.items():
        assert found[pid]["reason"].startswith(label + ":"), pid


@pytest.mark.parametrize("check_id", ["nsaid_kidney_disease", "insulin_potassium_drop"])
def test_priority_matches_the_oracle(sample_run, check_id):
    # Issue 15: CKD stage 4+, ESRD or dialysis coded is high priority on its own, as is eGFR < 30;
    # for insulin only results on or after insulin started (or a latest still low) make it high.
    _, tmp = sample_run
    found = findings_of(tmp, check_id)
    oracle = oracle_reasons(check_id)
    expected = {pid: re.search(r"; priority (high|normal) \[planted", why)[1] for pid, why in oracle.items()}
    assert {pid: found[pid]["priority"] for pid in oracle} == expected
    assert set(expected.values()) == {"high", "normal"}


def test_ckd_stage_4_codes_are_high_priority_without_an_egfr(sample_run):
    _, tmp = sample_run
    found = findings_of(tmp, "nsaid_kidney_disease")
    for key in ("nkd_dialysis_code_only", "nkd_ckd4_code_no_egfr"):
        row = found[planted_patient(key)]
        assert (row["priority"], row["latest_egfr"]) == ("high", ""), key


def test_concurrent_diuretic_shown_for_insulin_flags(sample_run):
    # Issue 15: a diuretic active on or after insulin started is shown; it does not change the flag.
    _, tmp = sample_run
    found = findings_of(tmp, "insulin_potassium_drop")
    oracle = oracle_reasons("insulin_potassium_drop")
    with_diuretic = {pid for pid, why in oracle.items() if "; also on " in why}
    assert with_diuretic == {planted_patient("ipd_low_potassium_on_furosemide")}
    assert {pid for pid, row in found.items() if row["concurrent_diuretics"]} == with_diuretic
    assert "furosemide" in found[next(iter(with_diuretic))]["concurrent_diuretics"]


def test_outputs_are_owner_only(sample_run):
    _, tmp = sample_run
    for path in [tmp / "audit.duckdb", tmp / "out" / "summary.json", tmp / "out" / "findings.csv"]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_generator_is_deterministic(tmp_path):
    export = generated_clinic(tmp_path, seed=None, patients=None)  # the bundled sample's defaults
    for name in ("patients.csv", "labs.csv", "prescriptions.csv", "diagnoses.csv"):
        assert filecmp.cmp(export / name, SAMPLE_EXPORT / name, shallow=False), name
    for name in ("expected_flags.csv", "quarantine_expected.csv"):
        assert filecmp.cmp(tmp_path / name, ROOT / "sample_data" / name, shallow=False), name
