"""Load the run's export files, inside the run's transaction: each file staged, validated, its bad
rows quarantined and its new rows stored (pipelines/ingest.py)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import duckdb

from pipelines.db import memory_limit_bytes
from pipelines.ingest import FileResult, RawSource, StagingBudget, file_state, hashing_thread, ingest_file
from pipelines.progress import Step

log = logging.getLogger(__name__)


def load_exports(
    con: duckdb.DuckDBPyConnection,
    files: list[RawSource],
    run_id: str,
    run_day: date,
    progress: Callable[[str], None],
    restate: bool = True,
    scratch: Path | None = None,
) -> Iterator[FileResult]:
    """Load every export file, yielding each file's result as it is done.

    Smallest file first: staged rows hold their memory until the commit (DuckDB keeps them for a
    rollback, even once dropped), so the small files are staged in memory and the biggest, once
    memory is spoken for, in the database file (StagingBudget).
    """
    budget = StagingBudget(memory_limit_bytes(con))
    with hashing_thread() as hasher:
        for source in sorted(files, key=lambda source: sum(size for size, _ in file_state(source))):
            progress(Step(f"loading {source.label}", sum(size for size, _ in file_state(source)), con))
            log.debug("loading %s", source.label)
            started = time.perf_counter()
            result = ingest_file(con, source, run_id, run_day, budget, hasher, restate, scratch)
            _log_file(result, time.perf_counter() - started)
            yield result


def in_export_order(files: list[RawSource], results: list[FileResult]) -> list[FileResult]:
    """Results in the order the export lists its files (the order they are reported in)."""
    order = {source.label: i for i, source in enumerate(files)}
    return sorted(results, key=lambda result: order[result.file])


def _log_file(result: FileResult, seconds: float) -> None:
    """Counts only: logs never carry patient identifiers or values."""
    log.info(
        "%s: read=%d loaded=%d duplicate=%d rejected=%d skipped=%d noted=%d (%.1fs)",
        result.file,
        result.rows_read,
        result.rows_loaded,
        result.rows_duplicate,
        result.rows_rejected,
        result.rows_skipped,
        result.rows_noted,
        seconds,
    )
