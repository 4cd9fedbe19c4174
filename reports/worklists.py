"""CSV outputs: `findings.csv` (every flag of a run) and, per check, a worklist.

Cells that a spreadsheet would read as a formula (=, +, -, @, and tab/CR tricks) are prefixed with
an apostrophe, so a drug name typed as `=HYPERLINK(...)` stays text. Numbers are written as numbers
(a negative value is a number, not a formula) and dates in ISO form.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from reports.files import open_private, write_text_private

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Neutralise text that a spreadsheet would evaluate; leave numbers and empties alone."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_private_text(path: Path, text: str) -> Path:
    """Write a UTF-8 text file readable by its owner only (reports carry patient data), atomically and
    never through a symlink (reports/files.py)."""
    return write_text_private(path, text)


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """UTF-8 with BOM (so Excel detects the encoding), CRLF line ends, every cell made safe, owner-only,
    written whole or not at all (reports/files.py)."""
    with open_private(path, encoding="utf-8-sig") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(header)
        # None is written as an empty cell by the csv module itself: only values need making safe
        # (findings.csv rows are mostly empty evidence columns).
        writer.writerows([v if v is None else safe_cell(v) for v in row] for row in rows)
    return path


def findings_rows(
    findings: Iterable[Mapping[str, Any]], evidence_order: Sequence[str]
) -> tuple[list[str], list[list[Any]]]:
    """Flatten findings (evidence as JSON) into one row each with one column per evidence field."""
    header = ["check_id", "patient_id", "priority", "reason", *evidence_order]
    position = {name: i for i, name in enumerate(header) if i >= 4}
    empty = [None] * len(evidence_order)
    rows = []
    for finding in findings:
        row = [finding["check_id"], finding["patient_id"], finding["priority"], finding["reason"], *empty]
        for name, value in json.loads(finding["evidence"]).items():  # a check fills only its own fields
            if name in position:
                row[position[name]] = value
        rows.append(row)
    return header, rows
