"""When the nightly fails, a person hears of it: the stale notice on the old report and a short email.

The email says that tonight's audit did not complete, the reason in plain words and what to do. It is
built from the kind of error (its class, or an OS error number) and the names of the files and the
line or column involved, never from an error's own text: DuckDB's and the parsers' messages can quote
row values, and this message carries no patient data.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from pipelines.errors import (
    EXIT_INTERNAL,
    EXIT_LOCKED,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EngineError,
    InputError,
    LockedError,
    OutputError,
    ResourceError,
    StorageError,
)
from pipelines.outputs import MARKED, NO_REPORT, UNMARKED, failed_notice, mark_stale, stale_state
from pipelines.settings import ConfigError, Settings
from reports.errors import EmailError

log = logging.getLogger(__name__)

FILE_NAME = re.compile(r"[\w.-]+\.(?:csv|tsv|ndjson|json|gz|duckdb|parquet|toml|html)\b", re.IGNORECASE)
LINE = re.compile(r"\bline (\d+)\b")
COLUMN = re.compile(r"\bcolumn '?([A-Za-z_][\w]*)'?")


@dataclass(frozen=True)
class Failure:
    """A failed run in plain words: what went wrong, where, what to do, and the exit code."""

    reason: str
    where: str
    what_to_do: str
    exit_code: int


# (error class, reason, what to do): the first class the error is an instance of wins.
REASONS = (
    (
        InputError,
        "the export could not be used (a missing file or column, too many rejected rows, an export "
        "much smaller or older than expected).",
        "Check tonight's export job and its files, then run again. The database was not changed.",
    ),
    (
        ConfigError,
        "a setting is wrong (the config file, an environment variable or an option).",
        "Run the same command by hand to see the setting named, correct it and run again.",
    ),
    (
        LockedError,
        "another run, or another program's DuckDB session, held the database.",
        "Check whether an earlier run is still going or an analyst has the database open; run "
        "again (with --wait to queue behind it).",
    ),
    (
        OutputError,
        "the run was recorded, but its reports could not be written.",
        "Free disk space or fix the folder's permissions, then run `clinic-audit report` to write "
        "the reports from the stored run.",
    ),
    (
        ResourceError,
        "the machine ran out of disk space or memory.",
        "Free disk space, or lower memory_limit / give the machine more memory, and run again. "
        "Nothing was committed.",
    ),
    (
        StorageError,
        "the database file or a folder the tool writes could not be used (damaged, unreadable, "
        "read-only or a symbolic link).",
        "Check the file named and its folder's permissions; restore a damaged database from a "
        "backup. Then run again.",
    ),
    (
        EmailError,
        "the summary email could not be sent (the audit itself completed).",
        "Check the smtp_* settings and the mail server.",
    ),
    (
        EngineError,
        "Spark, which runs the checks (engine = spark), stopped during the run: its Java process "
        "was killed or crashed, or the cluster went away.",
        "Check the machine's memory (the kernel's out-of-memory killer) and the cluster, then run "
        "again; run with -v to see Spark's own log. Nothing was committed.",
    ),
)


def describe(error: BaseException, exit_code: int) -> Failure:
    """The failure in plain words, from the error's class and the file, line and column it names."""
    where = _where(error)
    if exit_code in (EXIT_SIGINT, EXIT_SIGTERM):
        return Failure(
            "the run was stopped (a signal: a shutdown, a timeout or a person).",
            where,
            "Check why the run was stopped (the scheduler's time limit, a reboot) and run again; "
            "a run stopped before it committed left the database unchanged.",
            exit_code,
        )
    for kind, reason, what_to_do in REASONS:
        if isinstance(error, kind):
            return Failure(reason, where, what_to_do, exit_code)
    if isinstance(error, OSError | MemoryError):
        full = isinstance(error, MemoryError) or error.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
        reason, todo = REASONS[4 if full else 5][1:]
        return Failure(reason, where, todo, exit_code)
    return Failure(
        f"an internal error ({type(error).__name__}).",
        where,
        "Report it to whoever maintains clinic-audit, with the log file; the database was not changed "
        "unless the run had committed.",
        exit_code or EXIT_INTERNAL,
    )


def _where(error: BaseException) -> str:
    """File names (without folders), line and column the error names: never its other text. A
    setting's error quotes the value it refused, which may read like anything: only the config
    file it came from (its message starts with its origin) is named."""
    if isinstance(error, ConfigError):
        origin = str(error).split(": ", 1)[0]
        return Path(origin).name if origin.lower().endswith(".toml") else ""
    filename = getattr(error, "filename", None)
    text = str(error) if not isinstance(error, OSError) else ""
    files = [Path(str(filename)).name] if filename else []
    files += [name for name in FILE_NAME.findall(text) if name not in files]
    parts = files[:3]
    if line := LINE.search(text):
        parts.append(f"line {line[1]}")
    if column := COLUMN.search(text):
        parts.append(f"column {column[1]}")
    return ", ".join(parts)


def failure_email(
    settings: Settings,
    failure: Failure,
    run_id: str,
    started: datetime,
    marked: bool = True,
    stale: str = MARKED,
) -> EmailMessage:
    """The short "did not complete" message: plain text, counts nor patient data. `marked`: this run
    tried to give the old report the stale notice (not when another process held the database);
    `stale`: what the report in OUT shows since (pipelines/outputs.py stale_state)."""
    message = EmailMessage()
    message["Subject"] = f"{settings.clinic_name}: tonight's audit did not complete"
    message["From"] = settings.smtp_sender or "clinic-audit@localhost"
    if settings.smtp_recipients:
        message["To"] = ", ".join(settings.smtp_recipients)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="clinic-audit.invalid")
    lines = [
        f"Tonight's clinical audit for {settings.clinic_name} did not complete.",
        "",
        f"Run: started {started:%Y-%m-%d %H:%M}{f' (run {run_id})' if run_id else ''}, "
        f"exit code {failure.exit_code}.",
        f"What went wrong: {failure.reason}",
    ]
    if failure.where:
        lines.append(f"Where: {failure.where}")
    lines += [
        f"What to do: {failure.what_to_do}",
        "",
        _reports_line(settings.out, failure, marked, stale),
        "The full message is in the scheduler's output and the log file. This email carries no patient data.",
    ]
    message.set_content("\n".join(lines) + "\n")
    return message


def _reports_line(out: Path, failure: Failure, marked: bool, stale: str) -> str:
    """What the reports in OUT show now, as true as the files say."""
    if not marked:
        why = (
            "another process held the database"
            if failure.exit_code == EXIT_LOCKED
            else "this run stopped before it opened the database"
        )
        return f"The reports in {out} still show the last successful run (left as they are: {why})."
    if stale == NO_REPORT:
        return f"{out} holds no report of an earlier run."
    if stale == UNMARKED:
        return (
            f"The reports in {out} still show the last successful run and could not be marked stale "
            "(see the log): they look current."
        )
    return f"The reports in {out} still show the last successful run and are marked stale."


def report_failure(
    settings: Settings,
    error: BaseException,
    exit_code: int,
    run_id: str,
    started: datetime,
    email: str | None,
    password: str | None,
    mark: bool = True,
) -> None:
    """A scheduled run failed: with `mark`, put a stale notice on the old report; with `email`
    ("send" or "dry-run") send the failure email (or write it to OUT/failure.eml). Never raises: the
    run's own error and exit code stand; a failure to tell is printed and logged."""
    failure = describe(error, exit_code)
    if mark:
        mark_stale(settings.out, failed_notice(settings.out, f"{started:%Y-%m-%d %H:%M}", failure.reason))
    if email is None:
        return
    from reports.email import send, write_eml

    stale = stale_state(settings.out) if mark else MARKED
    message = failure_email(settings, failure, run_id, started, marked=mark, stale=stale)
    try:
        if email == "dry-run":  # OUT may not exist yet: a first night can fail before writing it
            os.makedirs(settings.out, mode=0o700, exist_ok=True)
            write_eml(settings.out / "failure.eml", message)
        elif not settings.smtp_host or not settings.smtp_recipients:
            raise EmailError("no SMTP server or recipients set (smtp_host, smtp_recipients)")
        else:
            send(message, settings, password)
    except (EmailError, OSError) as problem:
        line = f"the failure email could not be sent: {problem}"
        log.error(line)
        print(f"clinic-audit: {line}", file=sys.stderr)
        return
    log.info("failure email %s", "written to failure.eml" if email == "dry-run" else "sent")
