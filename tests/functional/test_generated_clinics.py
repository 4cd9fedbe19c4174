"""Clinics the sample generator draws from other seeds: the audit flags exactly what the generator's
independent oracle derives, and quarantines exactly the bad rows it planted.

Why: the bundled sample is one draw. The scenarios place their patients, dates, values and codes at
random, so another seed puts every boundary (a result a day inside the lookback, a censored value,
a renewal, a death on the as-of date) somewhere new, and the oracle (sample_data/clinic/oracle.py:
plain Python, its own code sets) says what each check must flag there. A check that is right only
on the bundled draw fails here.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest

from checks.evaluate import all_checks
from tests.helpers import cli, findings, generated_clinic, run_args

SEEDS = (3, 7, 11)
PATIENTS = 400


def oracle_flags(folder: Path) -> dict[str, dict[str, str]]:
    """check id -> patient id -> the oracle's reason, as the generator wrote them."""
    expected: dict[str, dict[str, str]] = defaultdict(dict)
    with (folder / "expected_flags.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            expected[row["check_id"]][row["patient_id"]] = row["why"]
    return expected


@pytest.fixture(scope="module", params=SEEDS, ids=[f"seed{s}" for s in SEEDS])
def seeded_run(request, tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp(f"seed{request.param}")
    export = generated_clinic(folder, request.param, PATIENTS)
    assert cli(*run_args(folder, export)) == 0
    return folder, folder / "audit.duckdb"


@pytest.mark.parametrize("check_id", [c.id for c in all_checks()])
def test_each_check_flags_exactly_what_the_oracle_derives(seeded_run, check_id: str) -> None:
    folder, db = seeded_run
    got = {f["patient_id"]: f for f in findings(db) if f["check_id"] == check_id}
    want = oracle_flags(folder)[check_id]
    assert want, "every seed plants patients for every check (else this compares nothing)"
    assert set(got) == set(want), (
        f"missed {sorted(set(want) - set(got))[:5]}; not planted {sorted(set(got) - set(want))[:5]}"
    )
    # where the oracle states a priority, it is the run's
    for pid, why in want.items():
        stated = re.search(r"; priority (high|normal) \[planted", why)
        if stated:
            assert got[pid]["priority"] == stated[1], (pid, why)


def test_quarantine_is_exactly_the_planted_bad_rows(seeded_run) -> None:
    folder, db = seeded_run
    with (folder / "quarantine_expected.csv").open(encoding="utf-8") as handle:
        expected = {(r["file"], int(r["line"]), r["column"], r["rule_hint"]) for r in csv.DictReader(handle)}
    with duckdb.connect(str(db), read_only=True) as con:
        got = set(con.execute("SELECT file, line, column_name, rule FROM quarantine").fetchall())
    assert expected and got == expected
