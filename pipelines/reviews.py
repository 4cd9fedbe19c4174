"""Reviews and exceptions: what the clinic team decided about a flag, remembered across runs.

A review is recorded against one patient's flag by one check (`clinic-audit review`, or a CSV sheet
with `clinic-audit review --import`): *acknowledged* (seen, an action is planned: the patient stays
in the numerator, as in PINCER's pharmacist reviews) or *exception* (the patient is left out of the
check's numerator while it applies, as QOF exception reporting and HEDIS exclusions do). It keeps who
recorded it and when, and a fingerprint of the flag's evidence at that time.

A review applies to a later run's flag while the evidence is unchanged and, with `valid_until`, up to
and including that date. A new prescription or result changes the evidence: the review is then shown
as *re-opened*, and the patient counts again until somebody reviews the flag anew. Every run records,
per flagged patient with a review, the review's state then (`review_outcomes`); `reviews` themselves
are never pruned.

Reason codes (REASONS) follow the measure conventions clinicians know:

- QOF (NHS England, Quality and Outcomes Framework guidance, "personalised care adjustments",
  formerly exception reporting): the patient chose not to have the intervention (informed dissent),
  the intervention is not clinically appropriate, the patient is receiving end-of-life care;
- HEDIS (NCQA, the exclusions common to its measures): palliative care or hospice, and a service
  documented as done by another provider counts when its date is recorded;
- PINCER (the pharmacist-led intervention): each flag gets a review and an action plan.
"""

from __future__ import annotations

import csv
import getpass
import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from checks.evaluate import CheckResult, all_checks
from pipelines.csv_tables import MAX_RECORD_BYTES
from pipelines.db import transaction
from pipelines.errors import InputError
from pipelines.settings import ConfigError

STATUSES = ("acknowledged", "exception")
STATES = ("applies", "re-opened", "expired")  # review_outcomes.state


@dataclass(frozen=True)
class Reason:
    """A reason code: what it means, which statuses may use it, what it needs, and its source."""

    code: str
    label: str
    statuses: tuple[str, ...]
    source: str
    needs_date: bool = False  # done_elsewhere: the date it was done (done_on)
    needs_note: bool = False


REASONS = (
    Reason(
        "patient_declined",
        "patient declined",
        STATUSES,
        "QOF personalised care adjustment: informed dissent; HEDIS: refusal is documented, not excluded",
    ),
    Reason(
        "not_clinically_appropriate",
        "not clinically appropriate",
        STATUSES,
        "QOF personalised care adjustment: not appropriate (clinically unsuitable, contraindicated)",
    ),
    Reason(
        "done_elsewhere",
        "done elsewhere",
        STATUSES,
        "HEDIS: a service done by another provider counts when documented with its date",
        needs_date=True,
    ),
    Reason(
        "palliative",
        "palliative or end-of-life care",
        STATUSES,
        "HEDIS palliative care / hospice exclusion; QOF: end-of-life care register",
    ),
    Reason(
        "action_planned",
        "action planned",
        ("acknowledged",),
        "PINCER: the pharmacist's review with an action plan (test booked, prescriber asked)",
        needs_note=True,
    ),
    Reason("other", "other", STATUSES, "any other reason, stated in the note", needs_note=True),
)
REASON_BY_CODE = {r.code: r for r in REASONS}

# Evidence fields that move with the as-of date, not with the patient's record: left out of the
# fingerprint of a check that declares no `fingerprint` fields, or a review would re-open on a birthday.
AS_OF_RELATIVE = frozenset({"age"})

IMPORT_COLUMNS = ("patient_id", "check_id", "status", "reason", "note", "until", "done_on", "by")
REQUIRED_COLUMNS = ("patient_id", "check_id", "status", "reason")


@dataclass(frozen=True)
class ReviewInput:
    """One review as given (command line or one row of a sheet), before it is checked."""

    patient_id: str
    check_id: str
    status: str
    reason: str
    note: str = ""
    until: str = ""
    done_on: str = ""
    by: str = ""
    source: str = "command line"


@dataclass(frozen=True)
class Problem:
    """Why a review cannot be recorded: where (file, line, column) and what is wrong, never the value
    given: messages reach stderr and the log file, and a sheet's shifted columns put patient ids and
    free text where a check id or a date belongs."""

    where: str
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: column {self.column}: {self.message}"


def fingerprint(evidence: str | Mapping[str, Any], fields: Sequence[str] = ()) -> str:
    """sha256 of a flag's evidence (JSON), keys sorted: only `fields` when given (the check's
    declared clinical facts, CheckDefinition.fingerprint), else every field but the as-of-relative
    ones (a review recorded before checks declared their facts was fingerprinted so)."""
    values = json.loads(evidence) if isinstance(evidence, str) else dict(evidence)
    if fields:
        kept = {k: values.get(k) for k in fields}
    else:
        kept = {k: v for k, v in values.items() if k not in AS_OF_RELATIVE}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()


def fingerprint_fields(check_id: str) -> tuple[str, ...]:
    """The evidence fields naming the clinical facts behind a flag of this check (none: unknown)."""
    return next((c.fingerprint for c in all_checks() if c.id == check_id), ())


# Per check, the run a team reviews: the latest scheduled (nightly) run that evaluated it, else the
# latest run of any kind (a database with ad-hoc runs only).
LATEST_RUN_OF_CHECK = """
    SELECT c.check_id, r.run_id, r.as_of, r.started_at
    FROM check_results c JOIN runs r USING (run_id)
    QUALIFY row_number() OVER (
        PARTITION BY c.check_id ORDER BY coalesce(r.kind, 'scheduled') = 'scheduled' DESC, r.seq DESC) = 1
"""


def latest_flags(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, date, dict[str, str]]]:
    """Per check: the run a team reviews (LATEST_RUN_OF_CHECK), its as-of date, and its flags
    (patient -> evidence)."""
    latest = con.execute(f"SELECT check_id, run_id, as_of FROM ({LATEST_RUN_OF_CHECK})").fetchall()  # noqa: S608
    flags: dict[str, tuple[str, date, dict[str, str]]] = {}
    for check_id, run_id, as_of in latest:
        rows = con.execute(
            "SELECT patient_id, evidence FROM findings WHERE run_id = $r AND check_id = $c",
            {"r": run_id, "c": check_id},
        ).fetchall()
        flags[check_id] = (run_id, as_of, dict(rows))
    return flags


def _date(text: str) -> date:
    return date.fromisoformat(text.strip())


def validate(
    item: ReviewInput,
    flags: Mapping[str, tuple[str, date, dict[str, str]]],
    today: date,
) -> list[Problem]:
    """Every problem with one review, each naming its column (an empty list: it can be recorded)."""
    problems = []

    def bad(column: str, message: str) -> None:
        problems.append(Problem(item.source, column, message))

    known = {c.id for c in all_checks()}
    if not item.patient_id.strip():
        bad("patient_id", "empty")
    if item.check_id not in known:
        bad("check_id", "not a known check id (see `clinic-audit checks`)")
    elif item.check_id not in flags:
        bad("check_id", f"check {item.check_id} has not run yet: nothing to review")
    elif item.patient_id.strip() and item.patient_id not in flags[item.check_id][2]:
        run_id = flags[item.check_id][0]
        # the patient is named by the line (or the command) only: messages reach the log file
        bad("patient_id", f"the patient is not flagged by {item.check_id} in its latest run {run_id}")
    if item.status not in STATUSES:
        bad("status", f"not one of: {', '.join(STATUSES)}")
    reason = REASON_BY_CODE.get(item.reason)
    if reason is None:
        bad("reason", f"not one of: {', '.join(REASON_BY_CODE)}")
    elif item.status in STATUSES and item.status not in reason.statuses:
        bad("reason", f"{item.reason} is for {' or '.join(reason.statuses)} only, not {item.status}")
    if reason is not None and reason.needs_note and not item.note.strip():
        bad("note", f"reason {item.reason} needs a note saying what was decided")
    flag_as_of = flags[item.check_id][1] if item.check_id in flags else today
    problems += _dates(item, reason, today, flag_as_of)
    return problems


def _dates(item: ReviewInput, reason: Reason | None, today: date, flag_as_of: date) -> list[Problem]:
    """done_on: a date, not in the future. until: a date, not before the as-of date of the run whose
    flag is reviewed (it would never apply)."""
    problems = []
    for column, text in (("until", item.until), ("done_on", item.done_on)):
        if not text.strip():
            continue
        try:
            day = _date(text)
        except ValueError:
            problems.append(Problem(item.source, column, "not a date (YYYY-MM-DD)"))
            continue
        if column == "until" and day < flag_as_of:
            message = f"before the flag's as-of date {flag_as_of}: the review would never apply"
            problems.append(Problem(item.source, column, message))
        if column == "done_on" and day > today:
            problems.append(Problem(item.source, column, "a date in the future"))
    if reason is not None and reason.needs_date and not item.done_on.strip():
        problems.append(
            Problem(item.source, "done_on", f"reason {reason.code} needs the date it was done (done_on)")
        )
    return problems


def default_until(con: duckdb.DuckDBPyConnection, run_id: str, item: ReviewInput) -> date | None:
    """The review's end: --until, else for a test done elsewhere the day it falls due again (done_on
    plus the check's lookback_days, as the run used it), else none."""
    if item.until.strip():
        return _date(item.until)
    if item.reason != "done_elsewhere" or not item.done_on.strip():
        return None
    rows = con.execute(
        "SELECT parameters->>'lookback_days' FROM check_results WHERE run_id = $r AND check_id = $c",
        {"r": run_id, "c": item.check_id},
    ).fetchall()
    lookback = rows[0][0] if rows else None
    return _date(item.done_on) + timedelta(days=int(lookback)) if lookback else None


def _expires_before(
    con: duckdb.DuckDBPyConnection, item: ReviewInput, flags: Mapping[str, tuple[str, date, dict[str, str]]]
) -> list[Problem]:
    """A test done elsewhere so long ago that it fell due again (done_on + the check's lookback)
    before the flag's as-of date would never apply: refused like an --until before it."""
    if item.until.strip() or item.reason != "done_elsewhere" or item.check_id not in flags:
        return []
    run_id, flag_as_of, _ = flags[item.check_id]
    until = default_until(con, run_id, item)
    if until is None or until >= flag_as_of:
        return []
    lookback = (until - _date(item.done_on)).days  # said in place of the dates: they are the patient's
    message = (
        f"the test fell due again ({lookback} days on: the check's lookback) before the flag's as-of "
        f"date {flag_as_of} (give a later --until to except it anyway)"
    )
    return [Problem(item.source, "done_on", message)]


def reviewer(by: str) -> str:
    """Who records a review: --by, else the user running the command. The OS is asked only then, and
    a user with no passwd entry (a container's --user, OpenShift's random uid) is 'uid N', as `id`
    shows it: getpass.getuser raised KeyError there (OSError from Python 3.13), an internal error."""
    if by.strip():
        return by.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):  # ImportError: no pwd module (Windows without USERNAME)
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown user"


def record(
    con: duckdb.DuckDBPyConnection,
    items: Sequence[ReviewInput],
    recorded_by: str,
    now: datetime,
) -> list[int]:
    """Validate every review, then store them all in one transaction, or none (InputError for a sheet,
    ConfigError for the command line, listing every problem). Returns the new review ids."""
    flags = latest_flags(con)
    problems = [p for item in items for p in validate(item, flags, now.date())]
    problems += [p for item in items if not problems for p in _expires_before(con, item, flags)]
    problems += _repeated(items)
    if problems:
        shown = "\n".join(f"  {p}" for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        error = InputError if any(i.source != "command line" for i in items) else ConfigError
        raise error(f"{len(problems)} problem(s); nothing was recorded:\n{shown}{more}")
    ids = []
    with transaction(con):
        for item in items:
            run_id, _, evidence = flags[item.check_id]
            ids.append(_insert(con, item, run_id, evidence[item.patient_id], recorded_by, now))
    return ids


def _repeated(items: Sequence[ReviewInput]) -> list[Problem]:
    seen: dict[tuple[str, str], str] = {}
    problems = []
    for item in items:
        key = (item.patient_id, item.check_id)
        if key in seen:
            problems.append(Problem(item.source, "patient_id", f"reviewed twice (also {seen[key]})"))
        seen.setdefault(key, item.source)
    return problems


def _insert(
    con: duckdb.DuckDBPyConnection,
    item: ReviewInput,
    run_id: str,
    evidence: str,
    recorded_by: str,
    now: datetime,
) -> int:
    review_id = con.execute("SELECT coalesce(max(review_id), 0) + 1 FROM reviews").fetchall()[0][0]
    con.execute(
        "INSERT INTO reviews (review_id, patient_id, check_id, status, reason, note, done_on, valid_until, "
        "recorded_by, recorded_at, run_id, evidence_fingerprint, source) VALUES ($id, $p, $c, $status, "
        "$reason, $note, $done_on, $until, $by, $at, $run, $fp, $source)",
        {
            "id": review_id,
            "p": item.patient_id,
            "c": item.check_id,
            "status": item.status,
            "reason": item.reason,
            "note": item.note.strip() or None,
            "done_on": _date(item.done_on) if item.done_on.strip() else None,
            "until": default_until(con, run_id, item),
            "by": item.by.strip() or recorded_by,
            "at": now,
            "run": run_id,
            "fp": fingerprint(evidence, fingerprint_fields(item.check_id)),
            "source": item.source,
        },
    )
    return review_id


def read_sheet(path: Path) -> list[ReviewInput]:
    """A team's review sheet (CSV, UTF-8 with or without BOM): one review per row, IMPORT_COLUMNS.

    A missing required column or an unknown one is an InputError naming it, and so is a record the
    CSV reader cannot take (a quote never closed); rows are checked later, all together, by `record`.
    Each row is named by the line its record starts on: a quoted note may span lines.
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            lines = list(handle)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text (save the sheet as CSV UTF-8)") from None
    records = _records(path, lines)
    columns = [c.strip() for c in next(records, (1, []))[1]]
    _check_columns(path, columns)
    return [_sheet_row(path, line, columns, cells) for line, cells in records if any(cells)]


def _records(path: Path, lines: Sequence[str]) -> Iterator[tuple[int, list[str]]]:
    """Each record of the sheet with the line it starts on. Strict: a quote left open would
    otherwise read every later line into one note (one review recorded where the team wrote many),
    and a quote closing a cell with text after it would join the two without a word."""
    reader = csv.reader(lines, strict=True)
    while True:
        start = reader.line_num + 1  # a record starts on the line after the previous one ended
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise InputError(_broken_record(path, start, lines, str(error))) from None
        yield start, cells


def _broken_record(path: Path, start: int, lines: Sequence[str], error: str) -> str:
    """Where a record the reader refused starts and why, in words that quote none of its text."""
    if "unexpected end of data" in error:  # the file ended inside a quoted cell
        what = (
            f"{_open_quote_column(lines, start)}a quoted cell opened on this line is never closed, so "
            "every later line would be read into it (close the quote; a quote inside a cell is "
            "written twice)"
        )
    elif "expected after" in error:
        what = "a quoted cell has text after its closing quote (a quote inside a cell is written twice)"
    elif "field larger than field limit" in error:
        what = f"a cell longer than {MAX_RECORD_BYTES >> 20} MiB (a quote left open?)"
    else:
        what = "not a CSV record"
    return f"{path}: line {start}: {what}; nothing was recorded"


def _open_quote_column(lines: Sequence[str], start: int) -> str:
    """'column NAME: ' of the cell whose quote opens on line `start` and never closes: read alone,
    that line ends inside the cell, so it is the line's last. Empty on the header line."""
    if start < 2:
        return ""
    header = next(csv.reader(lines[:1]), [])
    index = len(next(csv.reader(lines[start - 1 : start]), [])) - 1
    name = header[index].strip() if 0 <= index < len(header) else str(index + 1)
    return f"column {name}: "


def _check_columns(path: Path, columns: Sequence[str]) -> None:
    """Every required column, no unknown one, and each once: of a name given twice only one cell
    would be read (the last), and a review recorded against the patient the team did not mean."""
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    unknown = [c for c in columns if c not in IMPORT_COLUMNS]
    repeated = list(dict.fromkeys(c for c in columns if columns.count(c) > 1))
    if missing:
        what = f"missing column(s) {', '.join(missing)}"
    elif unknown:
        what = f"unknown column(s) {', '.join(unknown)}"
    elif repeated:
        what = f"column(s) {', '.join(repeated)} given more than once"
    else:
        return
    raise InputError(f"{path}: line 1: {what} (columns: {', '.join(IMPORT_COLUMNS)}); nothing was recorded")


def _sheet_row(path: Path, line: int, columns: Sequence[str], cells: Sequence[str]) -> ReviewInput:
    if len(cells) > len(columns):
        return ReviewInput("", "", "", "", source=f"{path}: line {line} (more cells than columns)")
    values = {name: cell.strip() for name, cell in zip(columns, cells, strict=False)}
    return ReviewInput(
        **{c: values.get(c, "") for c in IMPORT_COLUMNS if c != "by"},
        by=values.get("by", ""),
        source=f"{path}: line {line}",
    )


def apply_reviews(
    con: duckdb.DuckDBPyConnection, run_id: str, as_of: date, results: Iterable[CheckResult]
) -> list[CheckResult]:
    """Judge each flag of this run that has a review: applies, re-opened (evidence changed) or expired
    (past valid_until); record it in `review_outcomes`, and the exceptions in `check_results`.

    Runs inside the run's transaction, after the checks stored their findings.
    """
    rows = con.execute(
        """
        SELECT f.check_id, f.patient_id, f.evidence, v.review_id, v.status, v.valid_until,
               v.evidence_fingerprint
        FROM findings f
        JOIN (SELECT * FROM reviews QUALIFY row_number() OVER (
                  PARTITION BY patient_id, check_id ORDER BY review_id DESC) = 1) v
            USING (check_id, patient_id)
        WHERE f.run_id = $r
        ORDER BY f.check_id, f.patient_id
        """,
        {"r": run_id},
    ).fetchall()
    exceptions: dict[str, int] = {}
    fields = {c.id: c.fingerprint for c in all_checks()}
    for check_id, patient_id, evidence, review_id, status, until, stored in rows:
        state = review_state(evidence, stored, until, as_of, fields.get(check_id, ()))
        con.execute(
            "INSERT INTO review_outcomes VALUES ($r, $c, $p, $id, $status, $state)",
            {"r": run_id, "c": check_id, "p": patient_id, "id": review_id, "status": status, "state": state},
        )
        if state == "applies" and status == "exception":
            exceptions[check_id] = exceptions.get(check_id, 0) + 1
    updated = []
    for result in results:
        n = exceptions.get(result.check_id, 0)
        con.execute(
            "UPDATE check_results SET exceptions = $n, flagged_after_exceptions = flagged - $n "
            "WHERE run_id = $r AND check_id = $c",
            {"n": n, "r": run_id, "c": result.check_id},
        )
        updated.append(replace(result, exceptions=n))
    return updated


def review_state(
    evidence: str, stored_fingerprint: str, until: date | None, as_of: date, fields: Sequence[str] = ()
) -> str:
    """'re-opened' when the clinical facts behind the flag (the check's `fields`) changed since the
    review, 'expired' after valid_until, else 'applies'. Status words, day counters and lists that
    slide with the window are no facts: time passing alone never re-opens a review. A review stored
    with the whole evidence's fingerprint (before checks declared their facts) still applies while
    the whole evidence is unchanged."""
    if stored_fingerprint not in {fingerprint(evidence, fields), fingerprint(evidence)}:
        return "re-opened"
    if until is not None and as_of > until:
        return "expired"
    return "applies"


@dataclass(frozen=True)
class ReviewRow:
    """A review as `clinic-audit reviews` and `explain` show it, with its state in the latest run."""

    review_id: int
    patient_id: str
    check_id: str
    status: str
    reason: str
    note: str | None
    done_on: date | None
    valid_until: date | None
    recorded_by: str
    recorded_at: datetime
    source: str
    state: str  # applies | re-opened | expired | flag resolved | awaiting the next run | superseded

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in self.__dict__.items()}


def list_reviews(
    con: duckdb.DuckDBPyConnection,
    patient_id: str | None = None,
    check_id: str | None = None,
    history: bool = False,
) -> list[ReviewRow]:
    """The current review of each patient and check (every review with `history`), newest first,
    with its state in the latest run of the check recorded after it."""
    rows = con.execute(
        f"""
        WITH latest AS ({LATEST_RUN_OF_CHECK}),
        ranked AS (
            SELECT v.*, row_number() OVER (PARTITION BY patient_id, check_id ORDER BY review_id DESC) AS nth
            FROM reviews v
        )
        SELECT v.review_id, v.patient_id, v.check_id, v.status, v.reason, v.note, v.done_on,
               v.valid_until, v.recorded_by, v.recorded_at, v.source,
               CASE WHEN v.nth > 1 THEN 'superseded'
                    WHEN o.state IS NOT NULL THEN o.state
                    WHEN l.run_id <> v.run_id AND l.started_at >= v.recorded_at
                        THEN 'flag resolved'
                    ELSE 'awaiting the next run' END AS state
        FROM ranked v
        LEFT JOIN latest l USING (check_id)
        LEFT JOIN review_outcomes o
            ON o.run_id = l.run_id AND o.review_id = v.review_id
        WHERE ($all OR v.nth = 1)
          AND ($p IS NULL OR v.patient_id = $p) AND ($c IS NULL OR v.check_id = $c)
        ORDER BY v.review_id DESC
        """,  # noqa: S608 - a constant subquery; values are bound
        {"all": history, "p": patient_id, "c": check_id},
    ).fetchall()
    return [ReviewRow(*row) for row in rows]


def review_text(row: ReviewRow) -> str:
    """One line: 'exception (patient declined) by ana on 2026-11-21, until 2027-02-01: note [applies]'."""
    reason = REASON_BY_CODE[row.reason].label if row.reason in REASON_BY_CODE else row.reason
    parts = [f"{row.status} ({reason}", f", done {row.done_on}" if row.done_on else "", ")"]
    parts.append(f" by {row.recorded_by} on {row.recorded_at:%Y-%m-%d}")
    if row.valid_until:
        parts.append(f", until {row.valid_until}")
    if row.note:
        parts.append(f": {row.note}")
    parts.append(f" [{row.state}]")
    return "".join(parts)


def check_ids() -> tuple[str, ...]:
    """Every check id, for the CLI's choices."""
    return tuple(c.id for c in all_checks())


def reason_codes() -> tuple[str, ...]:
    """Every reason code, for the CLI's choices."""
    return tuple(REASON_BY_CODE)


__all__ = [
    "REASONS",
    "STATUSES",
    "ConfigError",
    "ReviewInput",
    "ReviewRow",
    "apply_reviews",
    "fingerprint",
    "list_reviews",
    "read_sheet",
    "record",
    "review_text",
    "reviewer",
]
