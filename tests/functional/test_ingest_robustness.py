"""How a run reads its files: order, files that change underneath it, databases from newer versions."""

from __future__ import annotations

import os
import shutil
import threading
import time
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

import pipelines.ingest
import pipelines.load
from pipelines.db import SCHEMA_VERSION, connect, memory_limit_bytes
from pipelines.errors import EXIT_CONFIG, EXIT_INPUT
from pipelines.ingest import StagingBudget
from pipelines.run import execute_run
from pipelines.settings import Settings
from tests.conftest import SAMPLE_EXPORT
from tests.helpers import cli, run_args, table_counts, write_export


def test_files_load_smallest_first_and_are_reported_in_export_order(tmp_path, monkeypatch):
    loaded = []
    original = pipelines.load.ingest_file

    def recording(con, source, *args):
        loaded.append(source.spec.table)
        return original(con, source, *args)

    monkeypatch.setattr(pipelines.load, "ingest_file", recording)
    settings = Settings(exports=SAMPLE_EXPORT, out=tmp_path / "out", db=tmp_path / "audit.duckdb")
    outcome = execute_run(settings, datetime(2026, 11, 21, 3, 0))

    sizes = {t: (SAMPLE_EXPORT / f"{t}.csv").stat().st_size for t in loaded}
    assert loaded == sorted(sizes, key=sizes.get) and loaded[-1] == "labs"
    assert [f.table for f in outcome.files] == ["patients", "labs", "prescriptions", "diagnoses"]


def test_a_file_that_changes_while_it_is_read_loads_nothing(tmp_path, monkeypatch, capsys):
    export = tmp_path / "export"
    shutil.copytree(SAMPLE_EXPORT, export)
    original = pipelines.ingest._stage

    def stage_then_append(con, source, *args):
        original(con, source, *args)
        if source.spec.table == "labs":  # the exporter is still writing
            with (export / "labs.csv").open("a", encoding="utf-8") as handle:
                handle.write("P9999,2026-11-01,2823-3,Potassium,4.0,mmol/L\n")

    monkeypatch.setattr(pipelines.ingest, "_stage", stage_then_append)
    assert cli(*run_args(tmp_path, export)) == EXIT_INPUT
    assert "labs.csv changed while it was being read" in capsys.readouterr().err
    assert not (tmp_path / "audit.duckdb").exists()  # a failed first run leaves no database


def test_a_failed_first_run_through_a_symlink_to_no_file_yet_leaves_the_link_and_no_database(
    tmp_path, monkeypatch
):
    """A deployment names the database by a link to its storage volume, made before the first run.
    A first run that fails (here: labs.csv changes while read) must leave things as they were: the
    link in place, and no database at its target. The link itself was removed, and a database of
    schema only left at the target, so the next run wrote a plain file where the link had been."""
    export = tmp_path / "export"
    shutil.copytree(SAMPLE_EXPORT, export)
    original = pipelines.ingest._stage

    def stage_then_append(con, source, *args):
        original(con, source, *args)
        if source.spec.table == "labs":
            with (export / "labs.csv").open("a", encoding="utf-8") as handle:
                handle.write("P9999,2026-11-01,2823-3,Potassium,4.0,mmol/L\n")

    store = tmp_path / "volume"
    store.mkdir()
    link = tmp_path / "audit.duckdb"
    link.symlink_to(store / "real.duckdb")
    monkeypatch.setattr(pipelines.ingest, "_stage", stage_then_append)
    assert cli(*run_args(tmp_path, export)) == EXIT_INPUT
    assert link.is_symlink() and not link.exists()
    assert [p.name for p in store.iterdir() if not p.name.endswith(".lock")] == []
    monkeypatch.setattr(pipelines.ingest, "_stage", original)
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == 0  # the next night creates it at the target
    assert link.is_symlink() and (store / "real.duckdb").is_file()


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

    def remove_then_stage(con, source, *args):
        if source.spec.table == "labs":  # the exporter replaces its output: DuckDB's read fails
            (export / "labs.csv").unlink()
        original(con, source, *args)

    monkeypatch.setattr(pipelines.ingest, "_stage", remove_then_stage)
    assert cli(*run_args(tmp_path, export)) == EXIT_INPUT
    assert "labs.csv disappeared or became unreadable" in capsys.readouterr().err
    assert not (tmp_path / "audit.duckdb").exists()  # a failed first run leaves no database


GOOD_LAB = "P0001,2026-11-02,2823-3,Potassium,4.2,mmol/L\n"
BAD_LABS = (
    "P0001,2026-13-40,2823-3,Potassium,4.0,mmol/L\n"  # not a date
    "P0001,2026-11-01,2823-3,Potassium\n"  # too few fields
    'P0001,2026-11-01,2823-3,Potassium,"4,0",mmol/L\n'  # not a number (a decimal comma)
    + GOOD_LAB
    + GOOD_LAB  # the same again (kept: one export)
)


def _database_content(db) -> dict[str, list[tuple]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            "quarantine": con.execute(
                "SELECT table_name, file, line, column_name, rule, original FROM quarantine ORDER BY ALL"
            ).fetchall(),
            "labs": con.execute("SELECT * EXCLUDE (_run_id) FROM lab_results ORDER BY ALL").fetchall(),
            "run_files": con.execute(
                "SELECT table_name, rows_read, rows_loaded, rows_duplicate, rows_rejected FROM run_files "
                "ORDER BY ALL"
            ).fetchall(),
            "tables": con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall(),
        }


def test_files_staged_in_the_database_file_load_exactly_as_files_staged_in_memory(tmp_path, monkeypatch):
    """A big export stages its largest files in the database file (StagingBudget); nothing a run
    stores may depend on where a file was staged: rows, quarantined lines and counts, and no
    staging table is left behind."""
    export = tmp_path / "export"
    shutil.copytree(SAMPLE_EXPORT, export)
    with (export / "labs.csv").open("a", encoding="utf-8") as handle:
        handle.write(BAD_LABS)
    staged_in = []
    original = pipelines.ingest._stage

    def recording(con, source, staging="temp"):
        original(con, source, staging)
        where = con.execute(
            "SELECT CASE WHEN temporary THEN 'temp' ELSE schema_name END FROM duckdb_tables() "
            "WHERE table_name = $t",
            {"t": f"typed_{source.spec.table}"},
        ).fetchall()
        staged_in.append(where[0][0])  # where the staged rows really are

    monkeypatch.setattr(pipelines.ingest, "_stage", recording)
    in_memory, on_disk = tmp_path / "memory", tmp_path / "disk"
    assert cli(*run_args(in_memory, export)) == 0
    assert staged_in == ["temp"] * 4
    monkeypatch.setattr(StagingBudget, "schema_for", lambda self, source, size: "main")
    assert cli(*run_args(on_disk, export)) == 0
    assert staged_in[4:] == ["main"] * 4

    content = _database_content(on_disk / "audit.duckdb")
    assert content == _database_content(in_memory / "audit.duckdb")
    lines = {row[2] for row in content["quarantine"] if row[0] == "labs"}
    first = len((SAMPLE_EXPORT / "labs.csv").read_text().splitlines()) + 1
    assert {first, first + 1, first + 2} <= lines  # the appended bad rows, by their line in labs.csv
    assert not [t for (t,) in content["tables"] if t.startswith("typed_")]

    assert cli(*run_args(on_disk, export, "--as-of", "2026-11-21")) == 0  # unchanged: skipped
    (export / "labs.csv").write_text((export / "labs.csv").read_text() + GOOD_LAB)
    assert cli(*run_args(on_disk, export, "--as-of", "2026-11-22")) == 0  # changed: re-read, deduplicated
    assert _database_content(on_disk / "audit.duckdb")["labs"] == content["labs"]


def test_record_numbers_hold_across_row_groups_when_staged_in_the_database_file(tmp_path, monkeypatch):
    """Staged rows' rowids are their record numbers (quarantine lines come from them), also when
    DuckDB writes the staged table in parallel, in many row groups, to the database file."""
    rows = 400_000  # more than three row groups of 122,880
    bad = {5: "1x", 150_001: "2y", 399_999: "3z"}  # record number -> a value that is not a number
    lines = ["patient_id,collected_at,loinc_code,test_name,value,unit"]
    lines += [f"P{i % 997},2026-01-02,2823-3,Potassium,{bad.get(i, 4.1)},mmol/L" for i in range(rows)]
    lines[120_000] = lines[120_000].rsplit(",", 1)[0]  # record 119,999: too few fields (a reader reject)
    write_export(tmp_path / "export", labs="\n".join(lines) + "\n")
    monkeypatch.setattr(StagingBudget, "schema_for", lambda self, source, size: "main")
    assert cli(*run_args(tmp_path, tmp_path / "export")) == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        found = con.execute("SELECT line, rule, original FROM quarantine ORDER BY line").fetchall()
    assert [(line, rule) for line, rule, _ in found] == [
        (7, "numeric"),
        (120_001, "missing_columns"),
        (150_003, "numeric"),
        (400_001, "numeric"),
    ]
    assert found[2][2].startswith("P451,2026-01-02,2823-3,Potassium,2y,")  # 150,001 % 997 = 451


def test_staging_budget_keeps_small_files_in_memory_and_sends_the_rest_to_disk():
    csv, joined = (
        pipelines.ingest.RawSource(None, "f", (), "", {}, (), lines=kind) for kind in (True, False)
    )
    budget = StagingBudget(memory_bytes=500)  # a file's staged rows take about twice its size
    placed = [budget.schema_for(csv, size) for size in (100, 100, 100, 10)]
    assert placed == ["temp", "temp", "main", "temp"]
    assert budget.schema_for(joined, 10**12) == "temp"  # a joined or compressed source: size says little
    assert StagingBudget(memory_bytes=None).schema_for(csv, 10**12) == "temp"  # limit unknown: as before
    packed = pipelines.ingest.RawSource(None, "f", (Path("labs.csv.gz"),), "", {}, (), lines=True)
    budget = StagingBudget(memory_bytes=500)  # a .gz file's text is about 8 times its size
    assert [budget.schema_for(packed, size) for size in (20, 20, 10)] == ["temp", "main", "temp"]


def test_memory_limit_is_read_back_from_duckdb(tmp_path):
    con = connect(tmp_path / "audit.duckdb", "1.25GB")
    try:
        assert abs(memory_limit_bytes(con) - 1.25e9) < 0.1e9  # DuckDB shows it rounded: "1.1 GiB"
    finally:
        con.close()


def test_a_working_copy_is_made_beside_the_database_and_a_killed_runs_is_removed(tmp_path, monkeypatch):
    """A file the reader cannot take as it is (here: blank lines in labs.csv) is read from a mended
    copy, patient rows and all. It was made in the system temp folder, where a killed run left it
    for good; now in `.<db name>.scratch-<random>` beside the database, removed after the run, and
    one a killed run left there is removed by the next."""
    export = tmp_path / "export"
    shutil.copytree(SAMPLE_EXPORT, export)
    lines = (export / "labs.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (export / "labs.csv").write_text("".join([*lines[:50], "\n", "\n", *lines[50:]]), encoding="utf-8")
    left = tmp_path / ".audit.duckdb.scratch-k1ll3d_x"
    left.mkdir()
    (left / "mended.csv").write_text("P0001,2026-11-02,2823-3,Potassium,4.2,mmol/L\n", encoding="utf-8")
    made = []
    original = pipelines.ingest.mend

    def recording(source, target, *args):
        made.append(target)
        return original(source, target, *args)

    monkeypatch.setattr(pipelines.ingest, "mend", recording)
    assert cli(*run_args(tmp_path, export)) == 0
    assert [p.parent.parent.parent for p in made] == [tmp_path]
    assert made[0].parent.parent.name.startswith(".audit.duckdb.scratch-")
    assert not left.exists() and not list(tmp_path.glob(".audit.duckdb.scratch-*"))


@pytest.mark.parametrize("when", ["before its file is opened", "after its scan, before DuckDB reads it"])
def test_an_export_file_swapped_for_a_named_pipe_mid_run_is_bad_input_not_a_hang(
    tmp_path, monkeypatch, capsys, when
):
    """The first look at the export refuses a named pipe (exit 3); one put in a file's place after it
    (the exporter rewriting its output as a pipe, while the smaller files load) blocked the hash's
    and the scan's opens for ever, the run holding the database lock through SIGTERM; swapped after
    the scan (or in a FHIR export, which has none), DuckDB's reader waited on it. The opens refuse
    what is no longer a regular file, and so does a last look just before DuckDB reads it. (After
    20 s a writer answers every open of the pipe, so a regression fails here rather than hangs.)"""
    export = tmp_path / "export"
    shutil.copytree(SAMPLE_EXPORT, export)
    fifo = export / "labs.csv"

    def swap():
        fifo.unlink()
        os.mkfifo(fifo)
        threading.Thread(target=unblock, daemon=True).start()

    def unblock():  # every open of the pipe after 20 s finds a writer, which closes at once
        time.sleep(20)
        while not done.is_set():
            with open(fifo, "wb"):
                pass

    done = threading.Event()
    if when == "before its file is opened":
        ingest = pipelines.load.ingest_file

        def swap_then_ingest(con, source, *args):
            if source.spec.table == "labs":
                swap()
            return ingest(con, source, *args)

        monkeypatch.setattr(pipelines.load, "ingest_file", swap_then_ingest)
    else:
        reading = pipelines.ingest._reading

        def read_then_swap(source, scratch):
            found = reading(source, scratch)
            if source.spec.table == "labs":
                swap()
            return found

        monkeypatch.setattr(pipelines.ingest, "_reading", read_then_swap)
    started = time.monotonic()
    code = cli(*run_args(tmp_path, export))
    done.set()
    assert code == EXIT_INPUT
    assert time.monotonic() - started < 20
    err = capsys.readouterr().err
    assert "labs.csv" in err and "not a regular file" in err and "Traceback" not in err
    assert not (tmp_path / "audit.duckdb").exists()
