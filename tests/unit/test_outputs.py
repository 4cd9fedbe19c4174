"""Outputs as a set (#18): the staged folder, the order of the move, the stale notice."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path

import pytest

from pipelines.errors import EXIT_OUTPUTS, OutputError, StorageError
from pipelines.outputs import failed_notice, in_progress_notice, mark_stale, publish, shown_run, staged

REPORT = (
    '<!DOCTYPE html><html><head><meta name="clinic-audit-run" content="RUN-A (scheduled, as of '
    '2026-11-19, written 2026-11-19 03:00)"></head>\n<body>\n<h1>report A</h1></body></html>'
)


def published_by_the_tool(out, files):
    """`files` (name: text) published into OUT as a run does: staged, then moved in and recorded."""
    staging = out / ".incoming-old"
    staging.mkdir(parents=True)
    for name, text in files.items():
        (staging / name).write_text(text, encoding="utf-8")
    publish(staging, out)
    staging.rmdir()


def old_set(out):
    out.mkdir()
    published_by_the_tool(
        out,
        {
            "report.html": REPORT,
            "summary.json": json.dumps({"run_id": "RUN-A", "status": "succeeded"}),
            "worklist_gone.csv": "old",
        },
    )
    (out / "notes.txt").write_text("the clinic's own file")


def test_staged_moves_the_new_set_in_summary_and_report_last_and_removes_old_outputs(tmp_path, monkeypatch):
    out = tmp_path / "out"
    old_set(out)
    moved = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (moved.append(os.path.basename(b)), real_replace(a, b)))
    manifest = ".clinic-audit-outputs.json"  # rewritten before and after the moves
    with staged(out) as staging:
        for name in ("report.html", "findings.csv", "worklist_new.csv", "summary.json"):
            (staging / name).write_text(f"new {name}")
        assert (out / "report.html").read_text() == REPORT  # nothing moved before the block ends
    # summary.json and report.html last: while the CSVs move, both still say the set is stale
    moved = [name for name in moved if name != manifest]
    assert moved[-2:] == ["summary.json", "report.html"] and set(moved) == {
        "report.html",
        "findings.csv",
        "worklist_new.csv",
        "summary.json",
    }
    assert sorted(p.name for p in out.iterdir()) == [
        ".clinic-audit-outputs.json", "findings.csv", "notes.txt", "report.html", "summary.json",
        "worklist_new.csv"
    ]  # fmt: skip


def test_a_failure_while_writing_leaves_the_old_set_and_no_temporary_folder(tmp_path):
    out = tmp_path / "out"
    old_set(out)
    with pytest.raises(OutputError) as raised, staged(out) as staging:
        (staging / "findings.csv").write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device", str(staging / "report.html"))
    assert raised.value.exit_code == EXIT_OUTPUTS == 8
    assert "disk full" in str(raised.value) and "clinic-audit report" in str(raised.value)
    assert (out / "report.html").read_text() == REPORT
    assert not list(out.glob(".incoming-*"))


def test_a_folder_left_by_a_killed_run_is_cleared_by_the_next(tmp_path):
    out = tmp_path / "out"
    old_set(out)
    (out / ".incoming-killed").mkdir()
    (out / ".incoming-killed" / "report.html").write_text("half")
    with staged(out) as staging:
        (staging / "report.html").write_text("new")
    assert not list(out.glob(".incoming-*"))


def test_mark_stale_puts_one_notice_after_body_and_marks_summary(tmp_path):
    out = tmp_path / "out"
    old_set(out)
    assert shown_run(out) == "RUN-A (scheduled, as of 2026-11-19, written 2026-11-19 03:00)"
    assert mark_stale(out, in_progress_notice(out, "RUN-B", "2026-11-20 03:00"))
    assert mark_stale(out, failed_notice(out, "2026-11-20 03:00", "the export could not be used <x>."))
    text = (out / "report.html").read_text()
    assert text.count('id="stale-notice"') == 1
    assert text.index("<body>") < text.index("stale: last successful run was RUN-A") < text.index("<h1>")
    assert "&lt;x&gt;" in text and "<x>" not in text  # escaped
    assert "did not complete" in json.loads((out / "summary.json").read_text())["stale"]


def test_mark_stale_without_a_report_does_nothing(tmp_path):
    assert mark_stale(tmp_path, "stale: x") is False
    assert list(tmp_path.iterdir()) == []


def test_publish_ignores_the_adhoc_folder(tmp_path):
    out, staging = tmp_path / "out", tmp_path / "staging"
    old_set(out)
    (out / "adhoc").mkdir()
    staging.mkdir()
    (staging / "report.html").write_text("new")
    publish(staging, out)
    assert (out / "adhoc").is_dir() and (out / "notes.txt").exists()


def test_every_kind_of_old_output_the_new_set_lacks_is_removed(tmp_path):
    """An .xlsx worklist or call list after worklist_format went back to csv, old measures and
    due-soon files: stale files with patient ids never stay beside a current report."""
    out, staging = tmp_path / "out", tmp_path / "out" / ".incoming-x"
    old = ["worklist_a.xlsx", "calllist.xlsx", "due_soon.xlsx", "measures.csv", "measures_shared.csv"]
    published_by_the_tool(out, dict.fromkeys(old, "old"))
    staging.mkdir(parents=True)
    for name in ("notes.txt", "email.eml"):
        (out / name).write_text("old", encoding="utf-8")
    for name in ("report.html", "worklist_a.csv", "calllist.csv"):
        (staging / name).write_text("new", encoding="utf-8")
    publish(staging, out)
    names = {p.name for p in out.iterdir() if p.is_file()}
    assert not names & set(old)
    assert {"notes.txt", "email.eml", "report.html", "worklist_a.csv", "calllist.csv"} <= names


def new_set(out, *names):
    staging = Path(tempfile.mkdtemp(dir=out, prefix=".incoming-"))
    for name in names:
        (staging / name).write_text("new", encoding="utf-8")
    return staging


def test_a_file_of_the_teams_named_like_an_output_is_never_removed(tmp_path):
    """Only what the tool published may go: the team's worklist_team_notes.csv, Excel's save of
    calllist.csv as calllist.xlsx, and an old output the team edited since all stay."""
    out = tmp_path / "out"
    published_by_the_tool(out, {"report.html": REPORT, "worklist_a.csv": "old", "worklist_b.csv": "old"})
    (out / "worklist_team_notes.csv").write_text("the team's sheet", encoding="utf-8")
    (out / "calllist.xlsx").write_bytes(b"PK the team's annotated call list")
    (out / "worklist_b.csv").write_text("the team's notes added to it", encoding="utf-8")
    publish(new_set(out, "report.html", "calllist.csv"), out)
    names = {p.name for p in out.iterdir()}
    assert {"worklist_team_notes.csv", "calllist.xlsx", "worklist_b.csv", "calllist.csv"} <= names
    assert "worklist_a.csv" not in names  # the tool's own, unchanged: a check no longer run


def test_an_out_without_a_manifest_or_with_a_planted_one_loses_nothing(tmp_path):
    """An OUT written before the manifest, or whose manifest is a symlink or damaged: no file goes."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "worklist_old.csv").write_text("old", encoding="utf-8")
    publish(new_set(out, "report.html"), out)
    assert (out / "worklist_old.csv").exists()
    for planted in ("symlink", "damaged"):
        manifest = out / ".clinic-audit-outputs.json"
        manifest.unlink()
        elsewhere = tmp_path / "elsewhere.json"
        elsewhere.write_text(json.dumps({"files": {"worklist_old.csv": [1, 2, 3]}}), encoding="utf-8")
        if planted == "symlink":
            manifest.symlink_to(elsewhere)
        else:
            manifest.write_text("{not json", encoding="utf-8")
        publish(new_set(out, "report.html"), out)
        assert (out / "worklist_old.csv").exists() and elsewhere.exists()
        assert not manifest.is_symlink() and oct(manifest.stat().st_mode & 0o777) == "0o600"


def test_an_out_without_a_manifest_names_what_it_leaves_in_place(tmp_path, caplog):
    """Nothing is removed without a record, but the run says which files look like old outputs."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "worklist_old.csv").write_text("old", encoding="utf-8")
    (out / "notes.txt").write_text("the clinic's own", encoding="utf-8")
    with caplog.at_level("WARNING", logger="pipelines.outputs"):
        publish(new_set(out, "report.html"), out)
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "worklist_old.csv" in said and "notes.txt" not in said
    caplog.clear()
    with caplog.at_level("WARNING", logger="pipelines.outputs"):
        publish(new_set(out, "report.html"), out)  # now recorded: no warning about the old file
    assert "worklist_old.csv" not in " ".join(r.getMessage() for r in caplog.records)


def test_a_run_killed_before_it_moved_an_output_leaves_it_removable(tmp_path, monkeypatch):
    """Killed after the manifest was written but before worklist_a.csv of the new set moved in: OUT
    still holds the previous run's worklist_a.csv, which the next run (without that check) removes."""
    out = tmp_path / "out"
    out.mkdir()
    publish(new_set(out, "report.html", "worklist_a.csv"), out)
    staging = new_set(out, "report.html", "worklist_a.csv")

    real_replace = os.replace

    def killed(src, dst):
        if os.path.basename(dst) == ".clinic-audit-outputs.json":
            return real_replace(src, dst)  # the manifest is written
        raise KeyboardInterrupt  # the process stops at its first output's move

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        publish(staging, out)
    monkeypatch.undo()
    publish(new_set(out, "report.html"), out)
    assert not (out / "worklist_a.csv").exists()


def test_a_defect_while_writing_is_an_output_error_not_an_internal_one(tmp_path):
    """After the commit, any failure to write the outputs (here a defect, not a disk) is exit 8,
    'the run committed', never exit 1 saying a run that had not committed leaves the database alone."""
    out = tmp_path / "out"
    old_set(out)
    with pytest.raises(OutputError) as raised, staged(out):
        raise ValueError("a bug in a renderer")
    assert raised.value.exit_code == EXIT_OUTPUTS
    assert "the run committed" in str(raised.value) and "ValueError" in str(raised.value)
    assert (out / "report.html").read_text() == REPORT
    assert not list(out.glob(".incoming-*"))


def failed_staging(out):
    with pytest.raises(OutputError) as raised, staged(out):
        raise OSError(errno.EACCES, "Permission denied", str(out / "findings.csv"))
    return str(raised.value)


def test_an_output_error_says_the_report_is_marked_stale_only_when_it_is(tmp_path):
    """Exit 8 said "The report there is marked stale" even when OUT could not be written at all, so
    marking failed too and the report still presented the previous run as current."""
    out = tmp_path / "out"
    old_set(out)
    unmarked = failed_staging(out)
    assert "is marked stale" not in unmarked
    assert "could not be marked stale" in unmarked and "still shows the previous run" in unmarked
    assert mark_stale(out, in_progress_notice(out, "RUN-B", "2026-11-20 03:00"))
    marked = failed_staging(out)
    assert "The report there is marked stale" in marked and "could not be marked" not in marked
    (out / "report.html").unlink()
    assert "no earlier report" in failed_staging(out)


def test_mark_stale_that_cannot_write_the_report_says_it_did_not(tmp_path, monkeypatch):
    out = tmp_path / "out"
    old_set(out)

    def refuse(path, text):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr("pipelines.outputs.write_text_private", refuse)
    assert mark_stale(out, "stale: x") is False
    assert (out / "report.html").read_text() == REPORT


def test_a_damaged_block_read_for_the_outputs_says_damaged_not_internal_error(tmp_path):
    """Writing the outputs reads the database back: a block failing its checksum there (DuckDB's plain
    Error) is the damaged database it is (exit 6, restore from a backup), not an internal error, and
    not exit 8, whose advice (`clinic-audit report` once fixed) reads the same damaged file and would
    loop a wrapper acting on it (helper 185)."""
    import duckdb

    checksum = "Corrupt database file: computed checksum 1 does not match stored checksum 2 in block at 5"
    with pytest.raises(StorageError) as raised, staged(tmp_path / "out"):
        raise duckdb.Error(checksum)
    message = str(raised.value)
    assert raised.value.exit_code == 6
    assert message.startswith("the run committed, but the database file is damaged")
    assert "Restore the database from a backup" in message and "internal error" not in message
    assert "once fixed" not in message
    assert "checksum 1" not in message  # DuckDB's own text never reaches the user


@pytest.mark.parametrize("error", [KeyError("checksum"), ValueError("unknown file extension")])
def test_a_defect_whose_message_reads_like_damage_is_still_an_internal_error(tmp_path, error):
    """Only a DuckDB error saying the file is damaged is the database's fault: a defect of ours whose
    text happens to say 'checksum' is reported as the internal error it is."""
    with pytest.raises(OutputError) as raised, staged(tmp_path / "out"):
        raise error
    assert "internal error" in str(raised.value) and "damaged" not in str(raised.value)


def test_out_of_memory_while_the_outputs_are_built_is_said_so(tmp_path):
    """DuckDB running out of memory while the reports read the run back (a million patients) is the
    machine's limit, exit 8 saying so, not an internal error to report."""
    import duckdb

    with pytest.raises(OutputError) as raised, staged(tmp_path / "out"):
        raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block of size 256 KiB")
    assert "out of memory" in str(raised.value) and "internal error" not in str(raised.value)
