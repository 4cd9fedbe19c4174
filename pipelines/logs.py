"""Logging set-up: readable lines on stderr, optionally JSON lines in a file, tagged with the run id.

Logs carry counts, file names and check ids only, never patient identifiers or clinical values;
tests/functional/test_logs.py greps a sample run's logs for every sample patient id. The log file is
opened owner-only and never through a symlink (reports/files.py). An unexpected error's traceback goes
to the log file only, at debug, as frames and the exception's type: its message may quote data.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path

from reports.files import open_append_private

RUN_ID: ContextVar[str | None] = ContextVar("clinic_audit_run_id", default=None)
PACKAGES = ("pipelines", "checks", "reports")
CRASH_LOGGER = "pipelines.crash"  # records for the log file only, never stderr


class JsonLines(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, run_id."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        return json.dumps(
            {
                "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
                "run_id": RUN_ID.get(),
            }
        )


class PrivateFileHandler(logging.StreamHandler):
    """Append to a log file opened owner-only and without following a symlink."""

    def __init__(self, path: Path) -> None:
        super().__init__(open_append_private(path))
        self.path = path
        self.failed = False

    def handleError(self, record: logging.LogRecord) -> None:
        """A write that fails (disk full) is said once on stderr, in one line, not as a traceback."""
        if not self.failed:
            self.failed = True
            error = sys.exc_info()[1]
            reason = getattr(error, "strerror", None) or type(error).__name__
            sys.stderr.write(f"clinic-audit: warning: cannot write the log file {self.path} ({reason})\n")

    def close(self) -> None:
        """Close the file with the handler."""
        try:
            self.stream.close()
        finally:
            super().close()


def _not_file_only(record: logging.LogRecord) -> bool:
    return record.name != CRASH_LOGGER


def configure(level: int, log_file: Path | None = None) -> None:
    """Route the tool's loggers to stderr and, when asked, to a JSON-lines file (appended)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    handlers[0].setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handlers[0].addFilter(_not_file_only)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = PrivateFileHandler(log_file)
        file_handler.setFormatter(JsonLines())
        handlers.append(file_handler)
    logging.basicConfig(level=logging.WARNING, handlers=handlers, force=True)
    for name in PACKAGES:
        logging.getLogger(name).setLevel(level)
    logging.getLogger(CRASH_LOGGER).setLevel(logging.DEBUG)


def log_unexpected(error: BaseException) -> None:
    """Log an unexpected error's traceback to the log file only, at debug: where it happened and the
    exception's type, not its message (a DuckDB or parser message can quote a patient's data)."""
    frames = "".join(traceback.format_tb(error.__traceback__))
    kind = f"{type(error).__module__}.{type(error).__qualname__}"
    logging.getLogger(CRASH_LOGGER).debug("unexpected %s (message withheld)\n%s", kind, frames)
