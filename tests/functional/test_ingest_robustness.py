"""How a run reads its files: order, files that change underneath it, databases from newer versions."""

from __future__ import annotations

import shutil
from datetime import datetime

import duckdb

import pipelines.ingest
import pipelines.run
from pipelines.db import SCHEMA_VERSION
from pipelines.errors import EXIT_CONFIG, EXIT_INPUT
from pipelines.settings import Settings
from tests.conftest import SAMPLE_EXPORT
from tests.helpers import cli, run_args, table_counts


def test_files_load_smallest_first_and_are_reported_in_export_order(tmp_path, monkeypatch):
    loaded = []
    original = pipelines.run.ingest_file

    def recording(con, source, *args):
        loaded.append(source.spec.table)
        return original(con, source, *args)

    monkeypatch.setattr(pipelines.run, "ingest_file", recording)
    settings = Settings(exports=SAMPLE_EXPORT, out=tmp_path / "out", db=tmp_path / "audit.duckdb")
    outcome = pipelines.run.execute_run(settings, datetime(2026, 11, 21, 3, 0))

    sizes = {t: (SAMPLE_EXPORT / f"{t}.csv").stat().st_size for t in loaded}
    assert loaded == sorted(sizes, key=sizes.get) and loaded[-1] == "labs"
    assert [f.table for f in outcome.files] == ["patients", "labs", "prescriptions", "diagnoses"]


def test_a_file_that_changes_while_it_is_read_loads_nothing(tmp_path, monkeypatch, capsys):
    export = tmp_path / "export"
    shutil.copytree(SAMPLE_EXPORT, export)
    original = pipelines.ingest._stage

    def stage_then_append(con, source):
        original(con, source)
        if source.spec.table == "labs":  # the exporter is still writing
            with (export / "labs.csv").open("a", encoding="utf-8") as handle:
                handle.write("P9999,2026-11-01,2823-3,Potassium,4.0,mmol/L\n")

    monkeypatch.setattr(pipelines.ingest, "_stage", stage_then_append)
    assert cli(*run_args(tmp_path, export)) == EXIT_INPUT
    assert "labs.csv changed while it was being read" in capsys.readouterr().err
    assert table_counts(tmp_path / "audit.duckdb")["runs"] == 0


def test_a_database_from_a_newer_version_is_refused_untouched(tmp_path, capsys):
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == 0
    db = tmp_path / "audit.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE schema_version SET version = $v", {"v": SCHEMA_VERSION + 1})
    before = table_counts(db)
    capsys.readouterr()

    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == EXIT_CONFIG
    assert f"schema version {SCHEMA_VERSION + 1}" in capsys.readouterr().err
    assert table_counts(db) == before


def test_a_file_removed_while_it_is_read_is_bad_input_not_a_crash(tmp_path, monkeypatch, capsys):
    export = tmp_path / "export"
    shutil.copytree(SAMPLE_EXPORT, export)
    original = pipelines.ingest._stage

    def remove_then_stage(con, source):
        if source.spec.table == "labs":  # the exporter replaces its output: DuckDB's read fails
            (export / "labs.csv").unlink()
        original(con, source)

    monkeypatch.setattr(pipelines.ingest, "_stage", remove_then_stage)
    assert cli(*run_args(tmp_path, export)) == EXIT_INPUT
    assert "labs.csv disappeared or became unreadable" in capsys.readouterr().err
    assert table_counts(tmp_path / "audit.duckdb")["runs"] == 0
