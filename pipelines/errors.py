"""Errors a user can act on, each with the process exit code the CLI returns for it.

Exit codes are part of the interface a scheduler relies on; the README lists them.
"""

from __future__ import annotations

import gzip
import zlib

from reports.errors import EmailError  # the reports layer's own; re-exported for the CLI

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_CONFIG = 2
EXIT_INPUT = 3
EXIT_EMAIL = EmailError.exit_code  # 4
EXIT_LOCKED = 5
EXIT_STORAGE = 6  # the database file or a folder/file the tool writes cannot be used
EXIT_RESOURCES = 7  # out of memory or disk full
EXIT_OUTPUTS = 8  # the run committed, but its outputs could not be written (clinic-audit report)
EXIT_ENGINE = 9  # the query engine (Spark) stopped during the run: its JVM killed or crashed, a cluster gone
EXIT_SIGINT = 130  # 128 + the signal number, as a shell reports a process a signal ended
EXIT_SIGTERM = 143


class ClinicAuditError(Exception):
    """Base class: a failure with a message meant for the user, never a traceback."""

    exit_code = EXIT_INTERNAL


class InputError(ClinicAuditError):
    """The export cannot be loaded as given (missing file or column, too many bad rows)."""

    exit_code = EXIT_INPUT


class LockedError(ClinicAuditError):
    """Another clinic-audit process holds the database's lock file; nothing was read or changed."""

    exit_code = EXIT_LOCKED


class StorageError(ClinicAuditError):
    """The database file (damaged, empty, another program's, unreadable) or a folder or file the tool
    writes (database folder, lock file, log file, outputs) cannot be used; the message names it."""

    exit_code = EXIT_STORAGE


class ResourceError(ClinicAuditError):
    """Out of memory or out of disk space; the message says what ran out and what was kept."""

    exit_code = EXIT_RESOURCES


class OutputError(ClinicAuditError):
    """The run committed, but writing its outputs failed (disk full, permissions, a kill): the old
    report is marked stale where OUT allows it (the message says whether it is, from the report
    itself) and `clinic-audit report` writes them again from the stored run."""

    exit_code = EXIT_OUTPUTS


class EngineError(ClinicAuditError):
    """The engine the checks run on stopped answering mid-run (Spark's Java process was killed,
    crashed or ran out of memory outside its heap; a cluster went away): not a bug in the tool, not a
    file it cannot use. Nothing was committed."""

    exit_code = EXIT_ENGINE


# What reading an export file raises besides DuckDB's own errors: the OS's, and a .gz file's.
READ_ERRORS = (OSError, EOFError, zlib.error)


def file_fault(error: BaseException) -> str:
    """Why an export file cannot be read, in words that quote nothing from it (the one place that
    names a file's fault): a .gz that is not gzip, or is truncated or damaged (an early end, a bad
    CRC or length, a corrupt stream); otherwise the operating system's reason."""
    if isinstance(error, gzip.BadGzipFile) and str(error).startswith("Not a gzipped file"):
        return "not a gzip file"
    if isinstance(error, EOFError | zlib.error | gzip.BadGzipFile):
        return "a truncated or damaged gzip file"
    return getattr(error, "strerror", None) or "I/O error"


# Every error the CLI turns into a message and an exit code, never a traceback.
USER_ERRORS = (ClinicAuditError, EmailError)
