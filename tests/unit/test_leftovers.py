"""What a killed run leaves behind (a half-written file, a staging folder) goes on the next run,
without following a symlink and without touching anything named otherwise (reports/files.py)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import duckdb

from pipelines.db import analyst_copy_path, publish_analyst_copy
from pipelines.outputs import staged
from reports.files import private_folder_beside, remove_leftovers, temp_leftovers


def killed_write(folder: Path, name: str) -> Path:
    """The temporary file open_private makes for `folder/name`, as a process killed mid-write leaves it."""
    fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    os.write(fd, b"half of it")
    os.close(fd)
    return Path(temp)


def test_only_open_privates_own_temporary_names_are_leftovers(tmp_path):
    ours = killed_write(tmp_path, "audit.analyst.duckdb")
    others = [
        ".audit.analyst.duckdb.my-notes.tmp",
        "audit.analyst.duckdb.abcd1234.tmp",
        ".audit.duckdb.abcd1234.tmp",
    ]
    for name in others:
        (tmp_path / name).write_text("not a leftover of this copy", encoding="utf-8")
    assert [p.name for p in temp_leftovers(tmp_path, "audit.analyst.duckdb")] == [ours.name]


def test_leftovers_are_removed_but_a_symlink_is_never_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.csv").write_text("someone else's", encoding="utf-8")
    folder = tmp_path / "left"
    folder.mkdir()
    (folder / "half.csv").write_text("patient data", encoding="utf-8")
    (folder / "link").symlink_to(outside)
    planted = tmp_path / "planted"
    planted.symlink_to(outside)
    half = tmp_path / "half.tmp"
    half.write_text("patient data", encoding="utf-8")
    remove_leftovers([folder, planted, half, tmp_path / "gone"], "a leftover")
    assert not folder.exists() and not half.exists()
    assert planted.is_symlink() and (outside / "keep.csv").exists()


def test_the_analysts_copy_a_killed_run_left_half_written_goes_with_the_next_copy(tmp_path):
    db = tmp_path / "audit.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS i")
    copy = analyst_copy_path(db)
    partial = killed_write(tmp_path, copy.name)
    outside = tmp_path / "outside.duckdb"
    outside.write_text("not ours", encoding="utf-8")
    (tmp_path / f".{copy.name}.linked12.tmp").symlink_to(outside)
    assert publish_analyst_copy(db) == copy
    left = sorted(p.name for p in tmp_path.glob(f".{copy.name}.*.tmp"))
    assert left == [f".{copy.name}.linked12.tmp"] and outside.read_text(encoding="utf-8") == "not ours"
    assert not partial.exists()


def test_a_report_half_written_by_a_killed_run_goes_with_the_next_outputs(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    half = killed_write(out, "report.html")
    (out / ".notes.txt.abcd1234.tmp").write_text("the clinic's own", encoding="utf-8")
    with staged(out) as staging:
        (staging / "report.html").write_text("new", encoding="utf-8")
    assert not half.exists() and (out / ".notes.txt.abcd1234.tmp").exists()


def test_a_runs_folder_beside_the_database_replaces_a_killed_runs_and_only_that(tmp_path):
    """One helper serves the mended copies (`scratch`) and Spark's staged Parquet (`spark`): beside
    the database file a symlink names, owner-only, gone after the run; a killed run's folder of
    that kind (tempfile's exact name) goes first, and nothing else that merely starts alike."""
    data = tmp_path / "data"
    data.mkdir()
    db = data / "audit.duckdb"
    db.write_bytes(b"")
    link = tmp_path / "audit.duckdb"
    link.symlink_to(db)
    killed = Path(tempfile.mkdtemp(dir=data, prefix=".audit.duckdb.spark-"))
    (killed / "labs.parquet").write_bytes(b"patient rows")
    kept = [data / ".audit.duckdb.spark-notes", data / ".audit.duckdb.scratch-k1ll3d_x"]
    for folder in kept:
        folder.mkdir()
    with private_folder_beside(link, "spark", "staged copy") as folder:
        assert folder.parent == data and folder.name.startswith(".audit.duckdb.spark-")
        assert os.stat(folder).st_mode & 0o777 == 0o700
        assert not killed.exists() and all(k.exists() for k in kept)
        (folder / "labs.parquet").write_bytes(b"patient rows")
    assert not folder.exists() and all(k.exists() for k in kept) and link.is_symlink()


def test_a_killed_runs_spark_staging_beside_a_symlinked_database_goes_too(tmp_path):
    """Spark's staging went beside the `--db` symlink (not its target) until 2026-12: one a killed
    run left there is removed as well, and the new folder is made beside the target."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "audit.duckdb").write_bytes(b"")
    link = tmp_path / "audit.duckdb"
    link.symlink_to(data / "audit.duckdb")
    killed = Path(tempfile.mkdtemp(dir=tmp_path, prefix=".audit.duckdb.spark-"))
    with private_folder_beside(link, "spark", "staged copy") as folder:
        assert not killed.exists() and folder.parent == data
