"""CSV outputs: `findings.csv` (every flag of a run) and, per check, a worklist (written by
reports/files.py's write_csv: formula-safe cells, BOM, CRLF, owner-only, atomic)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from checks.framework import CheckDefinition
from reports.action import ActionContext, FlagReview
from reports.context import CheckSection
from reports.files import write_csv


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


def write_findings(
    con: duckdb.DuckDBPyConnection, out: Path, run_id: str, definitions: Sequence[CheckDefinition]
) -> Path:
    """`findings.csv`: every flag of the run, highest priority first, evidence as columns."""
    cursor = con.execute(
        "SELECT check_id, patient_id, priority, reason, evidence FROM findings WHERE run_id = $run "
        "ORDER BY check_id, priority = 'high' DESC, patient_id",
        {"run": run_id},
    )
    names = [d[0] for d in cursor.description]
    findings = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    evidence_order = list(dict.fromkeys(e for c in definitions for e in c.evidence))
    header, rows = findings_rows(findings, evidence_order)
    return write_csv(out / "findings.csv", header, rows)


def worklist_rows(
    section: CheckSection, action: ActionContext | None = None
) -> tuple[list[str], list[list[Any]]]:
    """A check's full worklist as CSV header and rows (ISO dates; evidence one column each), then the
    team's review of each flag as this run judged it (status, state, the review in words)."""
    header = [
        "patient_id",
        "priority",
        "flagged_since",
        "days_flagged",
        "runs_flagged",
        "reason",
        *section.evidence_columns,
        "review_status",
        "review_state",
        "review",
    ]
    check_id = section.summary.check_id
    rows = [
        [r.patient_id, r.priority, r.flagged_since.isoformat(), r.days_flagged, r.runs_flagged, r.reason]
        + [v.isoformat() if isinstance(v, date) else v for _, v in r.evidence]
        + _review_cells(action.review_of(check_id, r.patient_id) if action else None)
        for r in section.worklist
    ]
    return header, rows


def _review_cells(review: FlagReview | None) -> list[Any]:
    return [review.status, review.state, review.text] if review else [None, None, None]
