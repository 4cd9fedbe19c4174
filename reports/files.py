"""Writing files that carry patient data: owner-only, whole or not at all, never through a symlink.

Every output (report.html, email.html, email.eml, findings.csv, the worklists, summary.json, the
analysts' database copy) is written to a new temporary file in the target's own folder and then
renamed over the target. A rename replaces the directory entry itself, so a symlink planted where an
output goes is replaced, never followed, and a reader (or a kill mid-write) never sees half a file.
The new file is created 0600, whatever the old one's mode was. Files appended to in place (the log
file) and the lock file are opened with O_NOFOLLOW instead (`open_append_private`). A process killed
mid-write leaves its temporary file (`.<name>.<random>.tmp`): the next run removes it
(`temp_leftovers`, `remove_leftovers`), as it removes a killed run's staging folders.

CSV files are written for spreadsheets: cells that a spreadsheet would read as a formula (=, +, -, @,
and tab/CR tricks) are prefixed with an apostrophe, so a drug name typed as `=HYPERLINK(...)` stays
text; numbers are written as numbers (a negative value is a number, not a formula).
"""

from __future__ import annotations

import csv
import glob
import logging
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

OWNER_ONLY = 0o600
NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)  # absent on Windows, where symlinks need privileges anyway
TEMP_RANDOM = "[a-z0-9_]{8}"  # the random part of tempfile's names (open_private's temporary files)


@contextmanager
def open_private(
    path: Path, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = ""
) -> Iterator[IO]:
    """Open a temporary file beside `path` for writing; on success it replaces `path` atomically.

    On any error (or a signal) the temporary file is removed and `path` keeps its old content.
    """
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(temp, OWNER_ONLY)  # mkstemp makes 0600 already; said here so it stays so
        with open(fd, mode, encoding=encoding, newline=newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError as error:
        _remove(temp)
        if error.filename is None:  # a failed write names no file: name the output, for the message
            raise OSError(error.errno, error.strerror, str(path)) from None
        raise
    except BaseException:
        _remove(temp)
        raise


def write_text_private(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write a text file (exactly `text`, no newline translation) owner-only and atomically."""
    with open_private(path, encoding=encoding) as handle:
        handle.write(text)
    return path


def copy_private(source: Path, target: Path) -> Path:
    """Copy `source` to `target` owner-only and atomically (readers of the old copy keep theirs)."""
    with source.open("rb") as src, open_private(target, "wb", encoding=None, newline=None) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return target


def open_append_private(path: Path) -> IO[str]:
    """Open a text file for appending, created 0600 and made 0600 if it existed; refuses a symlink
    (OSError ELOOP) instead of writing to whatever it points at."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | NO_FOLLOW | os.O_CLOEXEC, OWNER_ONLY)
    try:
        os.fchmod(fd, OWNER_ONLY)
    except BaseException:
        os.close(fd)
        raise
    return open(fd, "a", encoding="utf-8")


def temp_leftovers(folder: Path, name: str) -> list[Path]:
    """The temporary files open_private made for `folder/name` (`.<name>.<random>.tmp`): files a
    killed process left, when no write of that file is under way (the caller holds the lock)."""
    return _made_by_tempfile(folder, f".{name}.", ".tmp")


def _made_by_tempfile(folder: Path, prefix: str, suffix: str = "") -> list[Path]:
    """What tempfile made in `folder` with this prefix and suffix: its exact names only, never
    another file that merely starts alike (a user's `.audit.duckdb.scratch-notes`)."""
    exact = re.compile(re.escape(prefix) + TEMP_RANDOM + re.escape(suffix))
    return [path for path in folder.glob(glob.escape(prefix) + "*" + suffix) if exact.fullmatch(path.name)]


@contextmanager
def private_folder_beside(db: Path, kind: str, what: str) -> Iterator[Path]:
    """A run's owner-only folder (0700) `.<db name>.<kind>-<random>` beside the database file itself
    (a symlink's target: on its volume, as its lock and write-ahead log), removed after the run.
    For working copies that hold patient rows (a mended export, Parquet staged for Spark): beside
    the database, not in the system temp folder, where a killed run's copy stayed for good (cron
    has no private /tmp). One a killed run left goes first: the caller holds the database lock, so
    no other run is using it. `what` names the folder in a warning that it cannot be removed."""
    real = Path(os.path.realpath(db))
    prefix = f".{real.name}.{kind}-"
    left = _made_by_tempfile(real.parent, prefix)
    if Path(os.path.abspath(db)) != real:  # a symlink: Spark's staging went beside the link until 2026-12
        left += _made_by_tempfile(db.parent, f".{db.name}.{kind}-")
    remove_leftovers(left, f"a killed run's {what}")
    folder = Path(tempfile.mkdtemp(dir=real.parent, prefix=prefix))
    try:
        yield folder
    finally:
        remove_leftovers([folder], f"the run's {what}")


def remove_leftovers(paths: Iterable[Path], what: str) -> None:
    """Remove what a killed run left (a staging folder, a half-written copy: patient data) without
    following a symlink (one at such a name is left as it is, and what it points at); a leftover
    that cannot be removed is a warning, never a failure of the run."""
    for path in paths:
        try:
            if path.is_symlink():
                continue
            if path.is_dir():
                shutil.rmtree(path)  # never follows a symlink inside it
            elif path.exists():
                path.unlink()
        except OSError as error:
            log.warning("cannot remove %s %s (%s)", what, path, error.strerror)


def restrict_to_owner(path: Path) -> None:
    """Make an existing file owner-only (0600) when it is a regular file this user owns; a symlink
    is not followed (nor changed), and a missing file, a FIFO, a device or another user's file is
    left as it is. For files written in place (the database and its write-ahead log), which a
    restore by `cp` under umask 022 leaves readable by everyone."""
    try:
        fd = os.open(path, os.O_RDONLY | NO_FOLLOW | getattr(os, "O_NONBLOCK", 0) | os.O_CLOEXEC)
    except OSError:  # absent, a symlink (ELOOP), unreadable: nothing this may change
        return
    try:
        info = os.fstat(fd)
        mine = not hasattr(os, "geteuid") or info.st_uid == os.geteuid()
        if stat.S_ISREG(info.st_mode) and mine and stat.S_IMODE(info.st_mode) != OWNER_ONLY:
            os.fchmod(fd, OWNER_ONLY)
    except OSError:  # a file system that keeps no modes: nothing more can be done here
        pass
    finally:
        os.close(fd)


def _remove(path: str) -> None:
    with suppress(FileNotFoundError):
        os.unlink(path)


# The first characters a spreadsheet evaluates a cell from (OWASP CSV injection); one character each,
# so a cell's first decides.
FORMULA_STARTS = frozenset(("=", "+", "-", "@", "\t", "\r"))


def safe_cell(value: Any) -> Any:
    """Neutralise text that a spreadsheet would evaluate; leave numbers and empties alone."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if type(value) is int or type(value) is float:  # exactly: a subclass's text could pose as a formula
        return value
    text = str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """UTF-8 with BOM (so Excel detects the encoding), CRLF line ends, every cell made safe, owner-only,
    written whole or not at all (reports/files.py)."""
    with open_private(path, encoding="utf-8-sig") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(_safe_cells(row) for row in rows)
    return path


def _safe_cells(row: Sequence[Any]) -> list[Any]:
    """`safe_cell` of each cell, the common kinds decided inline: a million-patient run writes some
    16 M cells (findings.csv's are mostly empty evidence columns), and a call per cell cost 3 s.
    Exactly int, float and str (type(), which a value cannot fake; not bool, an int); every other
    kind goes to safe_cell. None is written as an empty cell by the csv module itself."""
    return [
        v
        if v is None or (kind := type(v)) is int or kind is float
        else (("'" + v) if v[:1] in FORMULA_STARTS else v)
        if kind is str
        else safe_cell(v)
        for v in row
    ]
