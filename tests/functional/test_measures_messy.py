"""Monthly measures (issue #19) on messy runs: options and exports shaped as operators and clinics
really give them, each month still one evaluation of the check as of its end."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb

from checks.evaluate import all_checks, compute, prepare
from checks.measures import month_ends
from tests.conftest import SAMPLE_EXPORT
from tests.helpers import cli, read_csv_rows, run_args, write_export

AS_OF = date(2026, 11, 20)  # run_args' as-of date


def rows(db: Path, sql: str, params: dict | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or {}).fetchall()


def test_a_check_named_twice_is_counted_once(tmp_path):
    """`--checks X,X` (a pasted list, a script joining ids) selects the check twice: its months are
    evaluated and stored once, or every figure of the run's measures.csv would be there twice."""
    check = "diuretic_electrolyte_monitoring"
    args = run_args(
        tmp_path, SAMPLE_EXPORT, "--checks", f"{check},{check}", "--param", f"{check}.lookback_days=90"
    )
    assert cli(*args) == 0
    db = tmp_path / "audit.duckdb"
    assert (
        rows(
            db,
            "SELECT check_id, month_end, breakdown, group_value, count(*) FROM measures "
            "GROUP BY ALL HAVING count(*) > 1",
        )
        == []
    )
    exact = read_csv_rows(tmp_path / "out" / "measures.csv")
    keys = [(r["check_id"], r["month_end"], r["breakdown"], r["group"]) for r in exact]
    assert len(keys) == len(set(keys)) and any(k[0] == check for k in keys)


def _clinic(night: int) -> dict[str, list[dict[str, str]]]:
    """Ten patients on an open-ended diuretic from 2025, as two nights' exports state them: night 2
    records a death late (January), revives a patient night 1 had dead, ends one prescription in
    February, adds a result dated in April and gives sites and clinicians, which night 1 had none of."""
    patients, prescriptions, labs = [], [], []
    for n in range(10):
        pid = f"D{n}"
        patients.append({"patient_id": pid, "birth_date": f"19{41 + n}-10-31", "sex": "FM"[n % 2]})
        prescriptions.append(
            {"patient_id": pid, "drug_name": "furosemide 40 mg tablet", "atc_code": "C03CA01",
             "start_date": f"2025-0{1 + n % 9}-15"}
        )  # fmt: skip
        labs.append({"patient_id": pid, "collected_at": "2025-11-02", "test_name": "Potassium",
                     "value": "4.1", "unit": "mmol/L"})  # fmt: skip
    patients[1]["death_date"] = "2026-03-31"  # dead on a month-end
    patients[2] |= {"birth_date": "", "sex": ""}
    if night == 1:
        patients[3]["death_date"] = "2025-12-20"
        return {"patients": patients, "prescriptions": prescriptions, "labs": labs}
    patients[3]["deceased"] = "false"  # the death was recorded in error
    patients[4]["death_date"] = "2026-01-15"  # recorded late
    prescriptions.append({**prescriptions[5], "end_date": "2026-02-10"})  # restated with its end
    del prescriptions[5]
    labs.append({"patient_id": "D6", "collected_at": "2026-04-02", "test_name": "Sodium", "value": "139",
                 "unit": "mmol/L"})  # fmt: skip
    for n, p in enumerate(patients):
        p |= {"site_id": ("north", "south", "")[n % 3], "clinician_id": f"dr-{n % 2}"}
    return {"patients": patients, "prescriptions": prescriptions, "labs": labs}


def test_messy_nights_keep_every_month_equal_to_the_check_as_of_it(tmp_path):
    """Late deaths, a revived patient, a restated prescription, an old result arriving late, sites
    first given on night 2, a patient without birth date or sex: after night 2 every stored month of
    every check equals the single-date evaluation as of that month-end on the data now loaded, every
    breakdown sums to its total, and a third night on the same export evaluates nothing."""
    db = tmp_path / "audit.duckdb"
    for night in (1, 2, 2):
        export = write_export(tmp_path / f"night{night}", **_clinic(night))
        assert cli(*run_args(tmp_path, export, "--scheduled", "--reject-threshold", "1")) == 0
    last = rows(db, "SELECT arg_max(run_id, seq) FROM runs")[0][0]
    assert rows(db, "SELECT count(*) FROM measure_fingerprints WHERE run_id = $r", {"r": last}) == [(0,)]
    stored = {
        (c, m): (p, f)
        for c, m, p, f in rows(
            db,
            "SELECT check_id, month_end, population, flagged FROM current_measures WHERE breakdown = 'total'",
        )
    }
    assert (
        rows(
            db,
            "SELECT b.check_id, b.month_end, b.breakdown FROM current_measures b JOIN current_measures t "
            "ON t.check_id = b.check_id AND t.month_end = b.month_end AND t.breakdown = 'total' "
            "WHERE b.breakdown <> 'total' "
            "GROUP BY b.check_id, b.month_end, b.breakdown, t.population, t.flagged "
            "HAVING sum(b.population) <> t.population OR sum(b.flagged) <> t.flagged",
        )
        == []
    )
    copy = tmp_path / "copy.duckdb"
    shutil.copy(db, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("SET TimeZone = 'UTC'")
        prepare(con)
        for definition in all_checks():
            for month in month_ends(AS_OF, 24):
                table, _ = compute(con, definition, month, {})
                single = con.execute(f"SELECT count(*), count(*) FILTER (flagged) FROM {table}").fetchone()
                assert stored[(definition.id, month)] == single, (definition.id, month)
    assert stored[("diuretic_electrolyte_monitoring", date(2026, 3, 31))][0] == 7  # D1, D4 dead; D5's ended


def test_sex_recorded_as_unknown_and_not_recorded_are_one_group(tmp_path):
    """Sex 'U' (or 'unknown') and an empty sex are one 'unknown' group of the sex breakdown."""
    clinic = _clinic(1)
    clinic["patients"][0]["sex"] = "U"
    clinic["patients"][3]["sex"] = "unknown"
    export = write_export(tmp_path / "export", **clinic)
    assert cli(*run_args(tmp_path, export, "--scheduled", "--reject-threshold", "1")) == 0
    groups = rows(
        tmp_path / "audit.duckdb",
        "SELECT DISTINCT group_value FROM measures WHERE breakdown = 'sex' AND population > 0 ORDER BY 1",
    )
    assert groups == [("F",), ("M",), ("unknown",)]
