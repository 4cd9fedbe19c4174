"""Test helpers: write small exports from readable text tables, run the real pipeline on them."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path

import duckdb

from pipelines.cli import main
from pipelines.contract import CONTRACTS
from pipelines.run import RunOutcome, execute_run
from pipelines.settings import Settings
from tests.conftest import ROOT

HEADERS = {spec.table: list(spec.columns) for spec in CONTRACTS}


def clean_env(**more: str) -> dict[str, str]:
    """This process's environment without any CLINIC_AUDIT_* setting (as a scheduler starts the
    tool: only what the command line and the config say), plus `more`."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_AUDIT_")} | more


def start_cli(*args: str) -> subprocess.Popen:
    """The CLI as a process of its own (for kills and locks), its stderr unbuffered and piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines", *args],
        cwd=ROOT,
        env=clean_env(PYTHONUNBUFFERED="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_args(tmp: Path, export: Path, *extra: str) -> list[str]:
    """`run` arguments for an export into tmp's database and out folder, as of the sample date."""
    return [
        "run",
        "--exports",
        str(export),
        "--out",
        str(tmp / "out"),
        "--db",
        str(tmp / "audit.duckdb"),
        "--as-of",
        "2026-11-20",
        *extra,
    ]


def generated_clinic(folder: Path, seed: int | None, patients: int | None = 400) -> Path:
    """A clinic the sample generator draws into `folder`: export/ and the oracle's answers beside it
    (expected_flags.csv, quarantine_expected.csv); returns the export folder. None: the generator's
    own default (the bundled sample's seed, or its size)."""
    export = folder / "export"
    chosen = [
        *(["--seed", str(seed)] if seed is not None else []),
        *(["--patients", str(patients)] if patients else []),
    ]
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "sample_data" / "generate.py"),
            *chosen,
            "--out",
            str(export),
            "--flags",
            str(folder / "expected_flags.csv"),
            "--quarantine",
            str(folder / "quarantine_expected.csv"),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return export


def table(text: str) -> list[dict[str, str]]:
    """Parse an ehrql-style text table (`a | b` header, then rows; blank cell = empty) into dicts."""
    lines = [line for line in text.strip().splitlines() if line.strip() and not line.strip().startswith("#")]
    names = [n.strip() for n in lines[0].split("|")]
    return [dict(zip(names, (c.strip() for c in line.split("|")), strict=True)) for line in lines[1:]]


def write_export(folder: Path, **tables: list[dict[str, str]] | str) -> Path:
    """Write an export folder in the generic format. Each table is rows (dicts) or raw CSV text.

    Files not given are written header-only (labs, prescriptions, diagnoses are mandatory).
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("labs", "prescriptions", "diagnoses", "patients"):
        content = tables.get(name)
        if content is None and name == "patients":
            continue
        path = folder / f"{name}.csv"
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
            continue
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, HEADERS[name], lineterminator="\n")
        writer.writeheader()
        for row in content or []:
            writer.writerow({k: row.get(k, "") for k in HEADERS[name]})
        path.write_text(buffer.getvalue(), encoding="utf-8")
    return folder


def run_pipeline(
    tmp: Path,
    as_of: date,
    checks: tuple[str, ...] = (),
    params: Mapping[str, Mapping[str, object]] | None = None,
    **tables,
) -> RunOutcome:
    """Ingest the tables into a fresh DuckDB file and evaluate the checks as of a date, with any
    check parameters overridden ({check_id: {name: value}})."""
    exports = write_export(tmp / "export", **tables)
    settings = Settings(
        exports=exports,
        out=tmp / "out",
        db=tmp / "audit.duckdb",
        as_of=as_of,
        checks=checks,
        check_params=params or {},
        reject_threshold=1.0,
    )
    return execute_run(settings, datetime(2026, 11, 24, 3, 0))


def findings_by_patient(db: Path) -> dict[str, dict]:
    """The latest run's findings keyed by patient (for spec tests of one check)."""
    return {f["patient_id"]: f for f in findings(db)}


def flagged(db: Path, check_id: str) -> set[str]:
    """The patient ids a check flagged in the database's latest run."""
    return {f["patient_id"] for f in findings(db) if f["check_id"] == check_id}


def findings(db: Path, run_id: str | None = None) -> list[dict]:
    """Findings rows (latest run when none is named), as dicts."""
    with duckdb.connect(str(db), read_only=True) as con:
        run_id = run_id or con.execute("SELECT arg_max(run_id, seq) FROM runs").fetchall()[0][0]
        cursor = con.execute("SELECT * FROM findings WHERE run_id = $r ORDER BY ALL", {"r": run_id})
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def patients_table(db: Path, *columns: str) -> tuple[list[tuple], list[tuple]]:
    """The patients export as the database kept it: the quarantined rows (line, column, rule) and
    the loaded rows' `columns` (expressions the test writes), each in order."""
    shown = ", ".join(columns)
    with duckdb.connect(str(db), read_only=True) as con:
        rejected = con.execute(
            "SELECT line, column_name, rule FROM quarantine WHERE table_name = 'patients' ORDER BY ALL"
        ).fetchall()
        loaded = con.execute(f"SELECT {shown} FROM patients ORDER BY ALL").fetchall()
    return rejected, loaded


def cli(*args: str, env: dict[str, str] | None = None) -> int:
    """Run the CLI in-process with a controlled environment; returns the exit code."""
    return main(list(args), env or {})


def query(db: Path, sql: str) -> list[tuple]:
    """The rows of one read-only query of the database: a test's look at what was stored."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def table_counts(db: Path) -> dict[str, int]:
    """Row counts of the data tables: the database's content, for before/after comparisons."""
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in ("patients", "labs", "prescriptions", "diagnoses", "quarantine", "runs", "findings")
        }


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    """A CSV the tool wrote, as dicts."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def night(tmp: Path, as_of: str, export: Path, settings: str = "") -> None:
    """One nightly run into tmp's database, dated by its config file as a scheduler's would be, its
    outputs in tmp/out-<as_of>; `settings`, more lines of the config's [run] section."""
    config = tmp / f"night-{as_of}.toml"
    run = f'[run]\nas_of = "{as_of}"\nclinic_name = "Riverside Practice"\n{settings}'
    config.write_text(run, encoding="utf-8")
    args = ["run", "--config", str(config), "--exports", str(export), "--out", str(tmp / f"out-{as_of}")]
    assert cli(*args, "--db", str(tmp / "audit.duckdb")) == 0


def review(tmp: Path, *args: str) -> int:
    """`clinic-audit review ...` on tmp's database."""
    return cli("review", *args, "--db", str(tmp / "audit.duckdb"))
