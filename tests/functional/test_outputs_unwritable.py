"""Exit 8 with an OUT nothing can be written to (made immutable as root, read-only as another user):
the run is committed, the report could not be marked stale either, and the message says so rather
than claiming a stale notice the report does not carry."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from contextlib import contextmanager

import pytest

from pipelines.errors import EXIT_OUTPUTS
from tests.conftest import SAMPLE_EXPORT
from tests.helpers import cli, run_args


@contextmanager
def unwritable(folder):
    """`folder` made unwritable for this process: chattr +i as root (root ignores modes), else 0555."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("chattr is not installed (root ignores a folder's mode)")
        made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
        if made.returncode != 0:
            pytest.skip(f"this file system takes no immutable flag: {made.stderr.decode().strip()}")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)


def test_an_out_nothing_can_be_written_to_is_not_claimed_marked_stale(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--scheduled")) == 0
    capsys.readouterr()
    with unwritable(out):
        assert cli("-q", *run_args(tmp_path, SAMPLE_EXPORT, "--scheduled")) == EXIT_OUTPUTS
    err = capsys.readouterr().err
    assert "the run committed" in err and "clinic-audit report" in err
    assert "is marked stale" not in err
    assert "could not be marked stale" in err and "still shows the previous run" in err
    assert "stale-notice" not in (out / "report.html").read_text(encoding="utf-8")  # what it says is true
    assert "stale" not in json.loads((out / "summary.json").read_text(encoding="utf-8"))


def test_an_out_that_is_a_symlink_loop_is_refused_before_the_run_not_an_internal_error(tmp_path, capsys):
    """Path.resolve raised RuntimeError writing the outputs, after the commit: exit 1. A link that
    leads to no folder is now refused before anything is read (exit 2)."""
    out = tmp_path / "out"
    out.symlink_to(out)
    assert cli("-q", *run_args(tmp_path, SAMPLE_EXPORT)) == 2
    err = capsys.readouterr().err
    assert "symbolic link that leads to no folder" in err and "internal error" not in err
    assert not (tmp_path / "audit.duckdb").exists()


def test_a_folder_at_an_outputs_name_leaves_the_whole_previous_set(tmp_path, capsys):
    """A folder where findings.csv goes: os.replace fails on it, after calllist.csv and email.html
    had already moved, so OUT held the new email beside the old, stale report. Every name is checked
    before anything moves: the previous set stays whole, and its report says it is stale."""
    out = tmp_path / "out"
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--as-of", "2026-11-19")) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != "report.html"}
    (out / "findings.csv").unlink()
    (out / "findings.csv").mkdir()
    capsys.readouterr()
    assert cli("-q", *run_args(tmp_path, SAMPLE_EXPORT, "--as-of", "2026-11-20")) == EXIT_OUTPUTS
    assert "is marked stale" in capsys.readouterr().err
    assert "stale-notice" in (out / "report.html").read_text(encoding="utf-8")
    for name, data in before.items():
        if name not in ("findings.csv", "summary.json"):  # summary.json carries the stale notice
            assert (out / name).read_bytes() == data, name
