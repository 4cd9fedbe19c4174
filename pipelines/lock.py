"""One clinic-audit process per database at a time: a `filelock` lock on `<db>.lock`, taken first.

The lock file sits beside the database (the real file: a database named through a symlink shares
the lock of its target) and is taken before the database is opened, so a second run started while
one is running fails at once (or waits) without reading or changing anything. `filelock` uses the
operating system's lock (flock on Unix, LockFileEx on Windows), which the system releases when its
process dies, so a killed run leaves no stale lock behind. It opens the lock file without following
a symlink; the file is made owner-only and holds the holder's process id, for the message only.

The same wait (`--wait`, `--wait-timeout`) covers a DuckDB session of another program holding the
database file itself (an analyst's): `pipelines.db` asks `may_wait()` before giving up with exit 5.
"""

from __future__ import annotations

import errno
import math
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from filelock import FileLock, Timeout

from pipelines.errors import LockedError, StorageError

POLL_SECONDS = 0.2
# Until when (time.monotonic()) the command holding the lock may wait for the database file to be
# free; None: it does not wait.
_WAIT_UNTIL: ContextVar[float | None] = ContextVar("clinic_audit_wait_until", default=None)


def lock_path(db: Path) -> Path:
    """The lock file of a database: `<db>.lock` beside the real file (symlinks resolved). A path
    that resolves to no file (a symlink loop, a name too long), a folder or a file that is no regular
    file is a StorageError (exit 6)."""
    try:
        real = db.resolve()
    except RuntimeError:  # Python before 3.13: a symlink loop
        raise StorageError(
            f"{db}: a symlink loop (links that lead back to themselves); give the database file"
        ) from None
    except OSError as error:  # 3.13 and later: ELOOP; or a name the system refuses
        why = "a symlink loop" if error.errno == errno.ELOOP else error.strerror
        raise StorageError(f"{db}: cannot be used as the database ({why})") from None
    refuse_no_database_file(db, real)
    return real.with_name(real.name + ".lock")


def refuse_no_database_file(db: Path, real: Path | None = None) -> None:
    """A database path that names a folder (`.`, `./`, `/`, `..`) or an existing entry that is no
    regular file (a named pipe, whose open would wait for ever holding the lock; a device, a socket)
    is a StorageError (exit 6), found by stat alone, before any lock file is made. `real` is the
    path with its symlinks resolved, when known; an absent path is fine (a new database)."""
    real = real if real is not None else db
    shown = f"{db}" if str(db) == str(real) else f"{db} ({real})"
    try:
        mode = os.stat(real).st_mode
    except OSError:  # absent (a new database), or unreadable: opening it says why
        mode = None
    if not real.name or (mode is not None and stat.S_ISDIR(mode)):
        raise StorageError(f"{shown}: is a folder, not a database file: name a file with --db.")
    if mode is not None and not stat.S_ISREG(mode):
        raise StorageError(
            f"{shown}: not a regular file (a named pipe, device or socket), so not a database file: "
            "name a file with --db. Nothing was read or changed."
        )


def may_wait() -> bool:
    """Whether the command may still wait for a busy database (its --wait budget is not spent)."""
    until = _WAIT_UNTIL.get()
    return until is not None and time.monotonic() < until


def _record_holder(fd: int) -> None:
    """On acquiring: owner-only, and our process id in place of the last holder's (only for the
    message: a lock file we may lock but not write, e.g. another user's 0444 file, still locks)."""
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
    except OSError:
        pass


def _holder(path: Path) -> str:
    try:
        pid = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        pid = ""
    return f" (process {pid})" if pid.isdigit() else ""


@contextmanager
def database_lock(db: Path, wait: bool = False, timeout: float | None = None) -> Iterator[Path]:
    """Hold the database's lock for the block; raise LockedError when it is held elsewhere.

    With `wait`, wait until the lock is free, for at most `timeout` seconds (None: no limit); the
    rest of that time also bounds waiting for the database file itself (`may_wait`).
    """
    path = lock_path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    until = (math.inf if timeout is None else time.monotonic() + timeout) if wait else None
    lock = FileLock(
        path,
        mode=0o600,
        poll_interval=POLL_SECONDS,
        fallback_to_soft=False,  # a soft lock outlives a killed process: the next night would exit 5
        on_acquired=_record_holder,
    )
    try:
        lock.acquire(timeout=(-1 if timeout is None else timeout) if wait else 0)
    except Timeout:
        waited = f" after waiting {timeout:g}s" if wait else ""
        raise LockedError(
            f"{db} is in use by another clinic-audit process{_holder(path)}{waited}; "
            f"lock file {path}. Try again later, or pass --wait to queue behind it."
        ) from None
    token = _WAIT_UNTIL.set(until)
    try:
        yield path
    finally:
        _WAIT_UNTIL.reset(token)
        lock.release()
