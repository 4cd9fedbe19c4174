"""Errors a user can act on, each with the process exit code the CLI returns for it.

Exit codes are part of the interface a scheduler relies on; the README lists them.
"""

from __future__ import annotations

from reports.errors import EmailError  # the reports layer's own; re-exported for the CLI

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_CONFIG = 2
EXIT_INPUT = 3
EXIT_EMAIL = EmailError.exit_code  # 4
EXIT_LOCKED = 5


class ClinicAuditError(Exception):
    """Base class: a failure with a message meant for the user, never a traceback."""

    exit_code = EXIT_INTERNAL


class InputError(ClinicAuditError):
    """The export cannot be loaded as given (missing file or column, too many bad rows)."""

    exit_code = EXIT_INPUT


class LockedError(ClinicAuditError):
    """Another clinic-audit process holds the database's lock file; nothing was read or changed."""

    exit_code = EXIT_LOCKED


# Every error the CLI turns into a message and an exit code, never a traceback.
USER_ERRORS = (ClinicAuditError, EmailError)
