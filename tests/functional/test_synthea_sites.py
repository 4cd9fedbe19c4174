"""Synthea's site and clinician (#19 review 10): ORGANIZATION and PROVIDER of each patient's latest
encounter in encounters.csv (real rows, tests/fixtures/real/synthea), whatever the file's order; an
export without encounters.csv has none."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from tests.helpers import cli, run_args

REAL = Path(__file__).parents[1] / "fixtures" / "real" / "synthea"
CHILD, ADULT = "838e3532-0deb-eb80-3c5e-f5b4c243efaa", "4491801b-0532-adef-781c-07640bfe6f17"
EXPECTED = {
    # latest: the outpatient visit of 2022-07-25, not the wellness clinic of most visits
    CHILD: ("e0158096-178e-4753-83ff-15984cfd578e", "a67c944c-9884-3385-a583-d90e5ac492e5"),
    ADULT: ("adfa520e-270a-4775-ab42-6c57d5951197", "cd612b76-2edb-3644-bd5b-11146c8a72b4"),  # 1978-04-21
}


def state(tmp: Path, export: Path) -> dict[str, tuple[str | None, str | None]]:
    assert cli(*run_args(tmp, export, "--reject-threshold", "1")) == 0
    with duckdb.connect(str(tmp / "audit.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT patient_id, site_id, clinician_id FROM patient_state").fetchall()
    return {p: (site, clinician) for p, site, clinician in rows}


@pytest.mark.parametrize("reverse", [False, True], ids=["file order", "reversed"])
def test_site_and_clinician_are_those_of_the_latest_encounter(tmp_path, reverse):
    export = tmp_path / "export"
    shutil.copytree(REAL, export)
    if reverse:
        header, *rows = (export / "encounters.csv").read_text(encoding="utf-8").splitlines()
        (export / "encounters.csv").write_text("\n".join([header, *reversed(rows)]) + "\n", encoding="utf-8")
    got = state(tmp_path, export)
    assert {p: got[p] for p in EXPECTED} == EXPECTED
    others = {p: v for p, v in got.items() if p not in EXPECTED}
    assert others and set(others.values()) == {(None, None)}  # no encounter kept for them
    assert len(got) == 6  # one row per patient: the encounters' patient not in patients.csv adds none


def test_without_encounters_there_is_no_site(tmp_path):
    export = tmp_path / "export"
    shutil.copytree(REAL, export)
    (export / "encounters.csv").unlink()
    assert set(state(tmp_path, export).values()) == {(None, None)}
