"""Progress messages that can say how big the step is, for a progress bar (pipelines/console.py).

A `Step` is a plain `str` (the step's words, as any `progress(message)` callback takes them) that
also carries the step's size in bytes and the DuckDB connection doing the work, whose
`query_progress()` the bar polls: each export file is read by one DuckDB statement, so the bar's
bytes are the file's size times the share of that statement done.
"""

from __future__ import annotations

from typing import Any


class Step(str):
    """A progress message with, optionally, its size in bytes and the connection working on it."""

    total_bytes: int | None
    connection: Any

    def __new__(cls, text: str, total_bytes: int | None = None, connection: Any = None) -> Step:
        """The message `text`; `total_bytes` and `connection` for a bar, when known."""
        step = super().__new__(cls, text)
        step.total_bytes = total_bytes
        step.connection = connection
        return step
