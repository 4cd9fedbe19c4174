"""Logging set-up: readable lines on stderr, optionally JSON lines in a file, tagged with the run id.

The file (--log-file, or the `log_file` setting) gets every record at INFO and above whatever -q says,
errors included (pipelines/cli.py logs each one it prints), and a run's last line is "run finished"
with its run id, kind, outcome, exit code, duration and counts as JSON fields: what a scheduler reads.

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
FILE_ONLY = {"file_only": True}  # `extra=` for a record the log file keeps and stderr does not show
_stderr: list[logging.StreamHandler] = []  # the stderr handler of configure(), for live displays


class JsonLines(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, run_id; a record logged
    with `extra={"fields": {...}}` (the "run finished" line) adds those keys."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "run_id": getattr(record, "run_id", None) or RUN_ID.get(),
        }
        return json.dumps(line | getattr(record, "fields", {}), default=str)


class PrivateFileHandler(logging.StreamHandler):
    """Append to a log file opened owner-only and without following a symlink."""

    def __init__(self, path: Path) -> None:
        super().__init__(open_append_private(path))
        self.path = path
        self.failed = False

    def handleError(self, record: logging.LogRecord) -> None:
        """A write that fails (disk full) is said once on stderr, in one line, not as a traceback."""
        error = sys.exc_info()[1]
        self._warn(getattr(error, "strerror", None) or type(error).__name__)

    def _warn(self, reason: str) -> None:
        if not self.failed:
            self.failed = True
            sys.stderr.write(f"clinic-audit: warning: cannot write the log file {self.path} ({reason})\n")

    def close(self) -> None:
        """Close the file with the handler. Closing flushes what a full disk refused before; that
        fails again, and was said already (or is said now): never an error of the next command."""
        try:
            self.stream.close()
        except OSError as error:
            self._warn(error.strerror or type(error).__name__)
        finally:
            super().close()


def _not_file_only(record: logging.LogRecord) -> bool:
    return record.name != CRASH_LOGGER and not getattr(record, "file_only", False)


class _AtLeast(logging.Filter):
    """Pass records at `level` and above (the crash logger's debug records always: file only)."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.level or record.name == CRASH_LOGGER


class _NoFrames(logging.Formatter):
    """stderr's lines: a record logged with an exception (py4j logs a dying JVM's connection errors
    with exc_info) shows the exception's type on one line, never its frames or message: never a
    traceback on the console, and no data quoted from a message."""

    def format(self, record: logging.LogRecord) -> str:
        """The line, with the exception formatted here: logging caches a record's formatted
        traceback (`exc_text`), and another handler's formatter may have put a full one there."""
        cached, record.exc_text = record.exc_text, None
        try:
            return super().format(record)
        finally:
            record.exc_text = cached

    def formatException(self, ei) -> str:
        """One line: the exception's type only."""
        return f"({_kind(ei[0])}; traceback withheld)" if ei[0] else ""

    def formatStack(self, stack_info: str) -> str:
        """No stack on the console."""
        return ""


def configure(level: int, log_file: Path | None = None) -> None:
    """Route the tool's loggers to stderr at `level` and, when asked, to a JSON-lines file (appended)
    at INFO and above whatever `level` is (-q quietens stderr, not the record a scheduler keeps)."""
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(_NoFrames("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    stderr.addFilter(_not_file_only)
    stderr.addFilter(_AtLeast(level))
    _stderr[:] = [stderr]
    logging.basicConfig(level=logging.WARNING, handlers=[stderr], force=True)
    for name in PACKAGES:
        logging.getLogger(name).setLevel(min(level, logging.INFO))
    logging.getLogger(CRASH_LOGGER).setLevel(logging.DEBUG)
    if log_file is not None:
        add_log_file(log_file, level)


def add_log_file(log_file: Path, level: int = logging.INFO) -> None:
    """Also append every record at INFO and above (debug too with -v) to `log_file` as JSON lines:
    --log-file at start-up, or the `log_file` setting once a command has read its settings."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = PrivateFileHandler(log_file)
    handler.setFormatter(JsonLines())
    handler.addFilter(_AtLeast(min(level, logging.INFO)))
    logging.getLogger().addHandler(handler)


def has_log_file() -> bool:
    """Whether a log file receives the records already (--log-file given)."""
    return any(isinstance(h, PrivateFileHandler) for h in logging.getLogger().handlers)


def stderr_handler() -> logging.StreamHandler | None:
    """The handler writing log lines to stderr, so a progress display can route them above itself."""
    return _stderr[0] if _stderr else None


def log_unexpected(error: BaseException) -> None:
    """Log an unexpected error's traceback to the log file only, at debug: where it happened and the
    exception's type, not its message (a DuckDB or parser message can quote a patient's data)."""
    frames = "".join(traceback.format_tb(error.__traceback__))
    logging.getLogger(CRASH_LOGGER).debug("unexpected %s (message withheld)\n%s", _kind(type(error)), frames)


def _kind(exception: type[BaseException]) -> str:
    """An exception's type as a log line names it (module.Name): never its message, which may quote
    a patient's data."""
    return f"{exception.__module__}.{exception.__qualname__}"
