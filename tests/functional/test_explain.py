"""`clinic-audit explain`: per check, population, flag, evidence and what clears it; stores nothing."""

from __future__ import annotations

import duckdb
import pytest

from checks.evaluate import all_checks
from tests.conftest import SAMPLE_EXPORT
from tests.helpers import cli, findings, run_args, table_counts

CHECK = "diuretic_electrolyte_monitoring"


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("explain")
    assert cli(*run_args(tmp, SAMPLE_EXPORT)) == 0
    return tmp / "audit.duckdb"


def population_ids(db, check_id: str, flagged: bool) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        ids = {r[0] for r in con.execute("SELECT patient_id FROM patients").fetchall()}
    flagged_ids = {f["patient_id"] for f in findings(db) if f["check_id"] == check_id}
    return sorted(flagged_ids if flagged else ids - flagged_ids)


def test_explains_a_flagged_patient_with_evidence_and_what_clears_it(sample_db, capsys):
    patient = population_ids(sample_db, CHECK, flagged=True)[0]
    before = table_counts(sample_db)
    args = ["explain", patient, "--check", CHECK, "--as-of", "2026-11-20", "--db", str(sample_db)]
    assert cli(*args) == 0
    out = capsys.readouterr().out
    definition = next(c for c in all_checks() if c.id == CHECK)
    assert f"Patient {patient}, as of 2026-11-20" in out
    assert "FLAGGED" in out
    assert all(column in out for column in definition.evidence)
    assert "What would clear it:" in out and definition.clears.split()[0] in out
    assert table_counts(sample_db) == before  # nothing stored


def test_explains_every_check_by_default(sample_db, capsys):
    patient = population_ids(sample_db, CHECK, flagged=False)[0]
    assert cli("explain", patient, "--as-of", "2026-11-20", "--db", str(sample_db)) == 0
    out = capsys.readouterr().out
    for check in all_checks():
        assert check.id in out
    assert "Not in the population" in out


def test_without_as_of_it_explains_as_of_the_latest_nightly_run(sample_db, capsys):
    """The team calling patients asks why last night's call list has a patient on it: the answer is
    as of that run's date (here the sample's 2026-11-20), not today, and matches its flag."""
    patient = population_ids(sample_db, CHECK, flagged=True)[0]
    assert cli("explain", patient, "--check", CHECK, "--db", str(sample_db)) == 0
    out = capsys.readouterr().out
    assert f"Patient {patient}, as of 2026-11-20" in out and "FLAGGED" in out


def test_unknown_patient_and_unknown_check_are_config_errors(sample_db, capsys, tmp_path):
    log = tmp_path / "audit.jsonl"  # the message reaches the log file: no patient identifier in it
    assert cli("--log-file", str(log), "explain", "NOBODY", "--db", str(sample_db)) == 2
    assert "that patient is not in the database" in capsys.readouterr().err
    assert "NOBODY" not in log.read_text(encoding="utf-8")
    assert cli("explain", "P0001", "--check", "no_such_check", "--db", str(sample_db)) == 2


def test_every_check_says_what_clears_it():
    for check in all_checks():
        assert len(check.clears) > 20, check.id
