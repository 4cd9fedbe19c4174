"""reports/files.py restrict_to_owner: an existing file written in place made owner-only, safely."""

from __future__ import annotations

import os
import stat

import pytest

from reports.files import restrict_to_owner

pytestmark = pytest.mark.skipif(not hasattr(os, "fchmod"), reason="POSIX modes")


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_a_file_readable_by_others_is_made_owner_only(tmp_path):
    db = tmp_path / "audit.duckdb"
    db.write_bytes(b"x")
    db.chmod(0o644)
    restrict_to_owner(db)
    assert mode(db) == 0o600


def test_a_symlink_is_not_followed(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_bytes(b"x")
    target.chmod(0o644)
    link = tmp_path / "audit.duckdb"
    link.symlink_to(target)
    restrict_to_owner(link)
    assert mode(target) == 0o644


def test_a_missing_file_or_a_named_pipe_is_left_alone(tmp_path):
    restrict_to_owner(tmp_path / "absent")  # no error
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo, 0o644)
    os.chmod(fifo, 0o644)
    restrict_to_owner(fifo)  # opened without blocking, and not changed
    assert mode(fifo) == 0o644
