"""One clinic-audit process per database at a time: an fcntl lock on `<db>.lock`, taken first.

The lock file sits beside the database and is taken before the database is opened, so a second
run started while one is running fails at once (or waits) without reading or changing anything.
The operating system releases an fcntl lock when its process dies, so a killed run leaves no
stale lock behind. The file holds the holder's process id, for the message only.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipelines.errors import LockedError

POLL_SECONDS = 0.2


def lock_path(db: Path) -> Path:
    """The lock file of a database: `<db>.lock` in the same folder."""
    return db.with_name(db.name + ".lock")


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(path: Path) -> str:
    try:
        pid = path.read_text(encoding="ascii").strip()
    except OSError:
        pid = ""
    return f" (process {pid})" if pid else ""


@contextmanager
def database_lock(db: Path, wait: bool = False, timeout: float | None = None) -> Iterator[Path]:
    """Hold the database's lock for the block; raise LockedError when it is held elsewhere.

    With `wait`, poll until the lock is free, for at most `timeout` seconds (None: no limit).
    """
    path = lock_path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not _try_lock(fd):
            if not wait or (deadline is not None and time.monotonic() >= deadline):
                waited = f" after waiting {timeout:g}s" if wait else ""
                raise LockedError(
                    f"{db} is in use by another clinic-audit process{_holder(path)}{waited}; "
                    f"lock file {path}. Try again later, or pass --wait to queue behind it."
                )
            time.sleep(POLL_SECONDS)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the lock
