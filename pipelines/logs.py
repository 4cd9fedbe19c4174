"""Logging set-up: readable lines on stderr, optionally JSON lines in a file, tagged with the run id.

Logs carry counts, file names and check ids only, never patient identifiers or clinical values;
tests/functional/test_logs.py greps a sample run's logs for every sample patient id.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path

RUN_ID: ContextVar[str | None] = ContextVar("clinic_audit_run_id", default=None)
PACKAGES = ("pipelines", "checks", "reports")


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


def configure(level: int, log_file: Path | None = None) -> None:
    """Route the tool's loggers to stderr and, when asked, to a JSON-lines file (appended)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    handlers[0].setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setFormatter(JsonLines())
        handlers.append(file_handler)
    logging.basicConfig(level=logging.WARNING, handlers=handlers, force=True)
    for name in PACKAGES:
        logging.getLogger(name).setLevel(level)
