"""Settings, gathered once and passed down.

Strength order: CLI flags > `CLINIC_AUDIT_*` environment variables > TOML file > defaults. Nothing
deeper in the code reads `os.environ`; `load_settings` takes the environment as an argument so tests
can pass their own.
"""

from __future__ import annotations

import codecs
import difflib
import ipaddress
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from email.errors import NonASCIILocalPartDefect
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from checks.framework import MAXIMUM_BY_UNIT
from pipelines.errors import EXIT_CONFIG, ClinicAuditError
from pipelines.formats import names as format_names

ENV_PREFIX = "CLINIC_AUDIT_"


class ConfigError(ClinicAuditError):
    """A setting is wrong; the message names the key and where it came from."""

    exit_code = EXIT_CONFIG


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know, with the defaults a first-time user gets."""

    exports: Path = Path("sample_data/clinic_export")
    out: Path = Path("out")
    db: Path = Path("clinic_audit.duckdb")
    # None = today; "latest" = the newest record date in the data; "per-patient" = each patient as of
    # their own last record (date-shifted research data), see checks/sql/_aligned.sql
    as_of: date | str | None = None
    export_format: str = "auto"  # detected from the files present; or a profile of pipelines/formats
    encoding: str = "utf-8"  # of the export's CSV files read in order; cp1252 for a spreadsheet's CSV
    # How the export writes a date that is not ISO 8601: iso (only ISO 8601 is a date), day-first
    # (31/05/2026, UK), month-first (05/31/2026, US); ISO 8601 dates are read under every setting
    date_order: str = "iso"
    reject_threshold: float = 0.05
    clinic_name: str = "Clinic"
    as_of_gap_warning_days: int = 365  # warn when as-of is this far outside the data's date range
    # Coverage guard: warn when under this share of patients has any record in the lookback to as-of
    coverage_warning_share: float = 0.25
    coverage_lookback_days: int = 365
    memory_limit: str = "1.25GB"  # DuckDB working memory (see StagingBudget)
    threads: int = 0  # DuckDB worker threads; 0 = one per core
    # Query engine of the checks: duckdb, or spark (pipelines/engines/spark.py; the [spark] extra).
    # With spark the DuckDB file still holds the run record, findings and reports' data.
    engine: str = "duckdb"
    # spark-submit's --master: local[N], yarn, spark://host:7077, ...; empty = Spark's launcher decides
    spark_master: str = ""
    spark_warehouse: str = ""  # spark.sql.warehouse.dir; empty = Spark's default (./spark-warehouse)
    # Per-check parameter overrides: {check_id: {param: value}}
    check_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    checks: tuple[str, ...] = ()  # empty = all checks
    # A folder of the clinic's own codelist additions (pipelines/codelists.py); None = shipped lists only
    local_codelists: Path | None = None
    # Reports
    report_location: str = ""  # where readers find report.html (path or URL), quoted in the email
    report_max_rows: int = 500  # worklist rows per check in report.html; the CSV has them all
    small_count_threshold: int = 7  # counts 1..this show as "1–7" (raised to 7, 12, 17...); 0: exact email
    email_exact_counts: bool = False  # true: the email goes to clinic staff only; counts are exact
    worklist_format: str = "csv"  # csv | xlsx | both: how worklists and the call list are written
    due_soon_days: int = 30  # the prospective list's horizon: tests falling due within it; 0 = none
    measures_months: int = 24  # monthly measures: month-ends back-calculated up to as-of (0: none)
    # Volume guard: warn when an export file has fewer rows than this share of the previous run's
    volume_guard_ratio: float = 0.5
    volume_guard_strict: bool = False  # true: stop (exit 3) instead of warning, before loading anything
    # Freshness guard (scheduled runs dated today or as configured): a table's newest record older than
    # this many days before the as-of date warns, or with freshness_strict stops the run (exit 3)
    freshness_max_days: int = 2
    freshness_strict: bool = False
    # Email (the password comes only from the CLINIC_AUDIT_SMTP_PASSWORD environment variable)
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_sender: str = ""
    smtp_recipients: tuple[str, ...] = ()
    smtp_starttls: bool = True
    smtp_user: str = ""  # login name; empty = the sender address
    # The whole SMTP conversation (connect, STARTTLS, login, the message, QUIT) must end within this:
    # each read's own 30 s timeout lets a server trickling its reply hold the run and its lock
    smtp_timeout_seconds: int = 120
    # JSON-lines log file (as --log-file, which wins): every record at INFO and above, -q or not
    log_file: Path | None = None

    def resolved_as_of(self, today: date) -> date:
        """The audit date known before loading: the configured one, or today.

        With `as_of = "latest"` this is only a stand-in; the run replaces it with the newest record
        date once the export is loaded.
        """
        return self.as_of if isinstance(self.as_of, date) else today


MAX_SMTP_SECONDS = 3600  # an hour: the run holds the database lock while it sends

# One line of help per setting, for `clinic-audit init`; tests/unit/test_init_config.py checks every
# field has one, so a new setting cannot be left out of the generated config.
SETTING_HELP = {
    "exports": "Folder with the export files (patients.csv, labs.csv, prescriptions.csv, diagnoses.csv).",
    "out": "Folder for summary.json, findings.csv, report.html, email.html and the worklists.",
    "db": "DuckDB database file (created if absent); its lock file is <db>.lock beside it.",
    "as_of": "Audit date YYYY-MM-DD, or latest (the newest record date: date-shifted research data); "
    "unset = the day the run starts.",
    "as_of_gap_warning_days": "Warn when the as-of date lies this many days beyond the data's date range.",
    "coverage_warning_share": "Warn when under this share of patients (0 to 1) has any lab, prescription "
    "or diagnosis in the coverage_lookback_days before the as-of date.",
    "coverage_lookback_days": "The lookback of the coverage warning, in days up to the as-of date.",
    "export_format": "Export format: auto (detected from the files present), or one of "
    f"{', '.join(format_names())}.",
    "encoding": "Text encoding of the export's CSV files: utf-8, or cp1252 for a CSV saved by Excel "
    "on Windows (Windows-1252).",
    "date_order": "How the export writes dates that are not ISO 8601 (YYYY-MM-DD): iso (only ISO 8601 "
    "is a date; others are quarantined), day-first (31/05/2026, 31.05.2026 14:05: UK and European "
    "systems) or month-first (05/31/2026 2:05 PM: US systems); a four-digit year is required.",
    "reject_threshold": "Stop (exit 3) when a file's share of rejected rows exceeds this, 0 to 1.",
    "clinic_name": "Clinic name shown in the report and the email.",
    "memory_limit": "DuckDB working memory, a size (1.25GB, 4GiB, 512MB; at least 64MiB) or a share of "
    "RAM (80%); a file too big to stage in it is staged in the database file, and other large work "
    "spills to disk beside the database.",
    "threads": "DuckDB worker threads, 0 (default) for one per core, at most 256; fewer leaves cores "
    "(and the address space each thread reserves) to the rest of a shared server.",
    "engine": "Query engine of the checks: duckdb, or spark (needs the [spark] extra and Java); with "
    "spark the checks run on Spark, translated from their DuckDB SQL, and the DuckDB file still holds "
    "the run record, the findings and everything the reports read.",
    "spark_master": "Spark master for engine = spark: local[2], local[*], yarn, spark://host:7077, "
    "k8s://... (as spark-submit's --master); empty leaves it to spark-submit's --master, else "
    "spark.master in spark-defaults.conf, else Spark's default (local[*], every core). Set, it wins "
    "over them, though not over a session already running (a notebook's keeps its own).",
    "spark_warehouse": "Spark SQL warehouse folder for engine = spark; empty uses Spark's default.",
    "check_params": "Per-check parameters, in the [checks.<id>] tables below.",
    "checks": "Check ids to run; empty runs all checks.",
    "local_codelists": "Folder of the clinic's own codelist additions: CSVs named after the codelist "
    "they extend (diuretics.csv, lab_tests.csv), with its columns; their rows are added to the "
    "shipped lists. Unset = the shipped lists only.",
    "report_location": "Where readers find report.html (path or URL), quoted in the email.",
    "report_max_rows": "Worklist rows per check shown in report.html; the CSV worklists have them all.",
    "small_count_threshold": "Counts from 1 to this show as a range in the email and measures_shared.csv, "
    "raised to the next of 7, 12, 17, ... so rounding to 5 cannot pin them; 0 shows exact counts in "
    "the email (measures_shared.csv keeps at least 1–7).",
    "email_exact_counts": "true when every recipient works in the clinic: the email shows exact counts "
    "(small-number suppression is for recipients outside it).",
    "worklist_format": "Worklists and the call list as csv, xlsx (frozen header, filters, widths) or both.",
    "due_soon_days": "The prospective list: patients not yet flagged whose test falls due within this "
    "many days (checks declaring due_on); 0 turns it off.",
    "measures_months": "Monthly measures: how many month-ends up to the as-of date each check is "
    "back-calculated for (measures.csv, the report's trend); 0 computes none.",
    "volume_guard_ratio": "Warn when an export file has fewer rows than this share of the previous run's.",
    "volume_guard_strict": "When the volume guard trips, stop with exit code 3 before loading anything.",
    "freshness_max_days": "Nightly runs: warn when a table's newest record (lab, prescription, diagnosis) "
    "is more than this many days before the as-of date (a stale export).",
    "freshness_strict": "When the freshness guard trips, stop with exit code 3 (nothing is kept).",
    "smtp_host": "SMTP server for the summary email; the password comes only from "
    "CLINIC_AUDIT_SMTP_PASSWORD.",
    "smtp_port": "SMTP port.",
    "smtp_sender": "From address of the summary email.",
    "smtp_recipients": "Recipients of the summary email.",
    "smtp_starttls": "Use STARTTLS on the SMTP connection.",
    "smtp_user": "SMTP login name; empty uses the sender address.",
    "smtp_timeout_seconds": "Seconds the whole SMTP conversation may take, from connecting to the "
    "server's last reply (each step also times out after 30 s); past it the email counts as not sent "
    f"(exit 4). 1 to {MAX_SMTP_SECONDS}.",
    "log_file": "Append the logs to this file as JSON lines (INFO and above, even with --quiet; each "
    "run ends with a 'run finished' line); --log-file wins. Unset = stderr only.",
}

MAX_THREADS = 256
MAX_MEASURES_MONTHS = 600
# A day count setting's largest value, as a check parameter's in days: 100 years, far past any use,
# and inside what the date arithmetic can take (DuckDB's INTEGER and intervals, Python's dates); past
# it a run failed as an internal error (exit 1) instead of naming the setting.
MAX_DAYS = MAXIMUM_BY_UNIT["days"]
_DAYS = {"due_soon_days", "as_of_gap_warning_days", "coverage_lookback_days", "freshness_max_days"}
# The as-of dates an audit can mean: from the earliest date a record may carry (pipelines/rules.py)
# to well past any export; beyond, date arithmetic (month-ends, windows) would overflow.
AS_OF_RANGE = (date(1900, 1, 1), date(2999, 12, 31))
_SCALARS = {f.name: f for f in fields(Settings) if f.name not in {"check_params"}}
_INTS = {
    "due_soon_days",
    "report_max_rows",
    "small_count_threshold",
    "measures_months",
    "smtp_port",
    "as_of_gap_warning_days",
    "coverage_lookback_days",
    "freshness_max_days",
    "threads",
    "smtp_timeout_seconds",
}
_TUPLES = {"checks", "smtp_recipients"}
_PATHS = {"exports", "out", "db", "local_codelists", "log_file", "spark_warehouse"}
_REQUIRED_PATHS = {"exports", "out", "db"}  # a path that must name something: never blank
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def _not_boolean(value: Any) -> Any:
    """A TOML true/false where a number belongs is refused: Python reads it as 1/0 (a
    reject_threshold of true would be 100%, the guard off; an smtp_port of true port 1)."""
    if isinstance(value, bool):
        raise ValueError("expected a number, not true or false")
    return value


def _whole(value: Any) -> int:
    """A whole number: a TOML float with a fraction (30.5) is refused, not truncated."""
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("expected a whole number")
    return int(value)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in _TRUE | _FALSE:
        raise ValueError("expected true or false")
    return text in _TRUE


def _utf8(text: str) -> bool:
    """Whether a path given as text is UTF-8: a name with another byte reaches Python as a lone
    surrogate (os.fsdecode), which DuckDB cannot open and the run record cannot store; found only
    after the checks had run, it was exit 1, the night's work lost."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _coerce(key: str, value: Any, origin: str) -> Any:
    """Turn a raw TOML/env/CLI value into the field's type, or say which key is wrong."""
    kind = _SCALARS[key].type
    try:
        if key in _PATHS and "\0" in str(value):  # the OS refuses it (ValueError) wherever it is used
            raise ValueError("holds a NUL character, which no file path can")
        if key in _PATHS and not _utf8(str(value)):  # DuckDB and the run record take UTF-8 text
            raise ValueError(
                "is not valid UTF-8 (a byte the file system allows but no text encoding reads); "
                "give a path with a UTF-8 name"
            )
        if key in _REQUIRED_PATHS and not str(value).strip():
            # Path("") is the working folder: the outputs (patient identifiers) would land wherever
            # cron or systemd started, and a database named "" has no file name at all
            raise ValueError("is blank; give a path (or leave the setting out for its default)")
        if key == "out" and Path(value).exists() and not Path(value).is_dir():
            raise ConfigError(f"{origin}: setting 'out' names a file, {value}; give a folder")
        if key == "out" and Path(value).is_symlink() and not Path(value).exists():
            # no folder can be made there: found only after the run committed (exit 8)
            raise ConfigError(
                f"{origin}: setting 'out' is a symbolic link that leads to no folder (to nothing, or round "
                f"a loop), {value}; give a folder"
            )
        if key in _REQUIRED_PATHS:
            return Path(value)
        if key in {"local_codelists", "log_file"}:
            return Path(value) if str(value).strip() else None
        if key == "as_of":
            if str(value).strip().lower() in {"latest", "per-patient"}:
                return str(value).strip().lower()
            if isinstance(value, datetime):  # TOML's 2026-11-20T10:00:00
                raise ValueError("expected a date (YYYY-MM-DD), not a date and time")
            day = value if isinstance(value, date) else date.fromisoformat(str(value))
            if not AS_OF_RANGE[0] <= day <= AS_OF_RANGE[1]:
                raise ValueError(f"expected a date from {AS_OF_RANGE[0]} to {AS_OF_RANGE[1]}")
            return day
        if key == "encoding":
            return _text_encoding(str(value).strip())
        if key == "date_order":
            return _date_order(str(value))
        if key == "memory_limit":
            return _memory_limit(str(value))
        if key == "export_format":
            return _export_format(str(value))
        if key == "engine":
            if str(value).strip().lower() not in ("duckdb", "spark"):
                raise ValueError("expected duckdb or spark")
            return str(value).strip().lower()
        if key == "worklist_format":
            if str(value).strip().lower() not in ("csv", "xlsx", "both"):
                raise ValueError("expected csv, xlsx or both")
            return str(value).strip().lower()
        if key in {"reject_threshold", "volume_guard_ratio", "coverage_warning_share"}:
            number = float(_not_boolean(value))
            if not 0 <= number <= 1:
                raise ValueError("must be between 0 and 1")
            return number
        if key in _INTS:
            number = _whole(_not_boolean(value))
            if number < 0:
                raise ValueError("must not be negative")
            if key == "smtp_port" and not 1 <= number <= 65535:
                raise ValueError("a port from 1 to 65535")
            if key == "smtp_timeout_seconds" and not 1 <= number <= MAX_SMTP_SECONDS:
                raise ValueError(f"seconds from 1 to {MAX_SMTP_SECONDS}")
            if key == "threads" and number > MAX_THREADS:  # each reserves address space and a stack
                raise ValueError(f"at most {MAX_THREADS} (0: one per core)")
            if key == "measures_months" and number > MAX_MEASURES_MONTHS:
                raise ValueError(f"at most {MAX_MEASURES_MONTHS} (50 years)")
            if key in _DAYS and number > MAX_DAYS:
                raise ValueError(f"at most {MAX_DAYS} days (100 years)")
            return number
        if key in {"smtp_starttls", "volume_guard_strict", "freshness_strict", "email_exact_counts"}:
            return _boolean(value)
        if key in _TUPLES:
            found = tuple(item.strip() for item in _text_items(value) if item.strip())
            return _check_ids(found) if key == "checks" else _addresses(_header_safe(key, found))
        if key == "smtp_sender":
            sender = _header_safe(key, str(value))
            return _addresses((sender,))[0] if sender.strip() else sender
        if key in _HEADERS:
            return _header_safe(key, str(value))
        if key == "smtp_host":
            return _smtp_host(str(value))
        if kind in ("str", str):
            return str(value)
        return value
    except LookupError:
        raise ConfigError(f"{origin}: setting '{key}' names an unknown encoding {value!r}") from None
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{origin}: setting '{key}' has an invalid value {value!r}: {error}") from None


_HEADERS = {"smtp_sender", "clinic_name"}  # go into the email's From and Subject headers


def _text_items(value: Any) -> list[str]:
    """A list setting's items: a TOML list of strings, or comma-separated text (the environment, an
    option). A number or a table among them (`smtp_recipients = [1, 2]`) is refused here, where it
    failed when the run stripped it (an internal error, exit 1)."""
    if isinstance(value, str):
        return value.split(",")
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise ValueError('expected a list of text values, such as ["a", "b"]')
    return list(value)


def _header_safe(key: str, value: Any) -> Any:
    """A value that goes into an email header (sender, recipients, the clinic name in the subject)
    holding a line break could add headers of its own: refused, so the run stops before any work."""
    items = value if isinstance(value, tuple) else (value,)
    if key in _HEADERS | {"smtp_recipients"} and any("\r" in i or "\n" in i for i in items):
        raise ValueError("holds a line break (CR or LF), which an email header cannot carry")
    return value


def _addresses(items: tuple[str, ...]) -> tuple[str, ...]:
    """Email addresses as the email package reads them when it builds the To and From headers
    (reports/email.py): each item one address with a domain (`lead@example.org`, `Lead
    <lead@example.org>`), and all of them together one header. What it cannot parse
    (`lead@[10.0.0.1`, `lead@`) raised AttributeError or IndexError there, once the run had
    committed, or in place of a failed night's own error and failure email."""
    for item in items:
        fault = _address_fault(item)
        if fault is not None:
            which = f"{item!r} " if len(items) > 1 else ""
            raise ValueError(f"{which}is not an email address such as lead@example.org ({fault})")
    if len(items) > 1 and _address_fault(", ".join(items), count=len(items)) is not None:
        raise ValueError("the addresses do not make one header together (one address per item)")
    return items


def _address_fault(text: str, count: int = 1) -> str | None:
    """Why `text` is not `count` email addresses, read by the email package's own header parser; None
    when it is. A non-ASCII local part is left to the mail server (SMTPUTF8)."""
    message = EmailMessage()
    try:
        message["To"] = text
        header = message["To"]
        found = header.addresses
    except Exception:  # the parser's own failure on malformed input: AttributeError, IndexError, ...
        return "the email package cannot parse it"
    defects = [d for d in header.defects if not isinstance(d, NonASCIILocalPartDefect)]
    if defects:
        return str(defects[0])
    if len(found) != count:
        return f"{len(found)} addresses where {count} belong"
    if not all(a.username and a.domain for a in found):
        return "no domain"
    return None


def _text_encoding(name: str) -> str:
    """The codec's name, for a text encoding only: codecs.lookup also knows rot13, hex, base64 and
    zip, which map str to str or bytes to bytes and cannot read a CSV file (LookupError at load)."""
    info = codecs.lookup(name)  # an unknown name: LookupError, "names an unknown encoding"
    try:
        "".encode(info.name)  # str.encode refuses a codec that is not a text encoding
    except LookupError:
        raise ValueError("not a text encoding (such as utf-8 or cp1252)") from None
    if info.name.startswith(("utf-16", "utf-32")):  # two or four bytes a character: no byte-level scan
        raise ValueError("UTF-16 and UTF-32 files are not read: export them as UTF-8") from None
    return info.name


DATE_ORDERS = ("iso", "day-first", "month-first")
_DATE_ORDER_NAMES = {"dmy": "day-first", "mdy": "month-first", "ymd": "iso"}


def _date_order(value: str) -> str:
    """One of DATE_ORDERS; the short names a spreadsheet's locale uses (DMY, MDY, YMD) too."""
    name = value.strip().lower().replace("_", "-")
    name = _DATE_ORDER_NAMES.get(name, name)
    if name not in DATE_ORDERS:
        raise ValueError(f"expected one of {', '.join(DATE_ORDERS)}")
    return name


def _smtp_host(value: str) -> str:
    """A host name or an IP address, or empty (no email): a typo such as "smtp..example.org" is
    refused here (exit 2), not when a committed run sends its email."""
    host = value.strip()
    if not host:
        return host
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    if any(c.isspace() or c in "/:@" for c in host):
        raise ValueError(
            "expected a host name such as smtp.example.org or an IP address (the port is smtp_port)"
        )
    try:
        encoded = host.encode("idna")
    except UnicodeError:
        raise ValueError(
            "not a host name: an empty part (two dots in a row, a leading dot) or a part over 63 characters"
        ) from None
    if len(encoded) > 253:
        raise ValueError("not a host name: over 253 characters")
    return host


def _check_ids(ids: tuple[str, ...]) -> tuple[str, ...]:
    """Check ids that all name a check (the nearest one suggested for a typo), each once, in the
    order given: the run record then says what ran (`--checks x,x` ran x once)."""
    if not ids:
        return ids
    from checks.evaluate import all_checks  # heavy (pandera): only when checks are named

    known = [c.id for c in all_checks()]
    for check_id in ids:
        if check_id not in known:
            raise ValueError(f"unknown check '{check_id}'{did_you_mean(check_id, known)}")
    return tuple(dict.fromkeys(ids))


def did_you_mean(name: str, known: Any) -> str:
    """The closest known name to a typo as " (did you mean 'x'?)", or "" when none is close."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


_MEMORY = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(%|B|bytes|[KMGT]i?B)\s*", re.IGNORECASE)
_MEMORY_BYTES = {"b": 1, "bytes": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12}
_MEMORY_BYTES |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
MIN_MEMORY_BYTES = 64 * 2**20  # below this DuckDB cannot even open the database with its schema


def _memory_limit(text: str) -> str:
    """A DuckDB memory_limit ("1.25GB", "4GiB", "80%"): checked here, so a bad one stops the command
    (exit 2) before anything is opened."""
    match = _MEMORY.fullmatch(text)
    if not match:
        raise ValueError("expected a size such as 1.25GB, 4GiB or 512MB, or a share of memory like 80%")
    number, unit = float(match[1]), match[2].lower()
    if unit == "%":
        if not 0 < number <= 100:
            raise ValueError("a share of memory must be over 0% and at most 100%")
        return text.strip()
    if number * _MEMORY_BYTES[unit] < MIN_MEMORY_BYTES:
        raise ValueError("must be at least 64MiB")
    return text.strip()


def _export_format(value: str) -> str:
    """auto, or the name of a format profile (pipelines/formats)."""
    if value.strip() not in ("auto", *format_names()):
        hint = did_you_mean(value.strip(), ("auto", *format_names()))
        raise ValueError(f"expected auto or one of {', '.join(format_names())}{hint}")
    return value.strip()


MAX_CONFIG_BYTES = 1 << 20  # 1 MiB: a config file is a few kilobytes


def _config_text(path: Path) -> str:
    """The config file's text. Opened without blocking and checked by its type before a byte is read:
    a named pipe was waited on for ever (a run that never starts and says nothing), /dev/zero read
    until memory ran out. A file that is missing, unreadable, no regular file or over
    MAX_CONFIG_BYTES is a ConfigError (exit 2) naming it; one not UTF-8 a UnicodeDecodeError."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as error:
        raise ConfigError(f"{path}: the config file cannot be read ({error.strerror})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ConfigError(
            f"{path}: not a regular file (a folder, named pipe, device or socket); the config is a TOML file"
        )
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(MAX_CONFIG_BYTES + 1)  # bounded: the file may grow after the check
        except OSError as error:
            raise ConfigError(f"{path}: the config file cannot be read ({error.strerror})") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: over {MAX_CONFIG_BYTES // 2**20} MiB, too large for a config file")
    return data.decode("utf-8")


def _from_toml(path: Path) -> dict[str, Any]:
    """Read `[run]` scalars and `[checks.<id>]` tables from a TOML config file."""
    try:
        data = tomllib.loads(_config_text(path))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text (a TOML file is UTF-8)") from None
    unknown = set(data) - {"run", "checks"}
    if unknown:
        name = sorted(unknown)[0]
        raise ConfigError(
            f"{path}: unknown section '{name}'{did_you_mean(name, ('run', 'checks'))} "
            "(expected [run], [checks.*])"
        )
    run = data.get("run", {})
    if not isinstance(run, Mapping):  # `run = 5`: a value where the [run] table belongs
        raise ConfigError(f"{path}: 'run' must be the [run] table of settings, not a single value")
    values: dict[str, Any] = {}
    for key, value in run.items():
        if key not in _SCALARS:
            raise ConfigError(f"{path}: unknown key 'run.{key}'{did_you_mean(key, _SCALARS)}")
        values[key] = _coerce(key, value, str(path))
    values["check_params"] = data.get("checks", {})
    _known_checks(values["check_params"], str(path))
    return values


def _known_checks(check_params: Mapping[str, Any], origin: str) -> None:
    """Every `[checks.<id>]` table or `--param <id>.<name>` names a check and one of its parameters
    (values are checked with the selected checks, pipelines/run.py checks_for), so a typo stops the
    command (exit 2) before any export is read, with the nearest name."""
    if not check_params:
        return
    if not isinstance(check_params, Mapping):
        raise ConfigError(f"{origin}: 'checks' must hold [checks.<id>] tables")
    from checks.evaluate import all_checks  # heavy (pandera): only when parameters are given

    known = {c.id: c for c in all_checks()}
    for check_id, overrides in check_params.items():
        if check_id not in known:
            raise ConfigError(
                f"{origin}: checks.{check_id}: no such check{did_you_mean(check_id, known)} "
                f"(known: {', '.join(sorted(known))})"
            )
        names = [p.name for p in known[check_id].parameters]
        if not isinstance(overrides, Mapping):
            raise ConfigError(f"{origin}: 'checks.{check_id}' must be a table of parameters")
        for name in overrides:
            if name not in names:
                raise ConfigError(
                    f"{origin}: checks.{check_id}.{name}: unknown parameter{did_you_mean(name, names)} "
                    f"(known: {', '.join(sorted(names)) or 'none'})"
                )


def _env_values(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """The `CLINIC_AUDIT_<FIELD>` variables that are set (e.g. CLINIC_AUDIT_DB), as (field, text)."""
    return [
        (key, environ[ENV_PREFIX + key.upper()]) for key in _SCALARS if environ.get(ENV_PREFIX + key.upper())
    ]


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """The environment's settings, each checked."""
    return {
        key: _coerce(key, raw, f"environment {ENV_PREFIX + key.upper()}") for key, raw in _env_values(environ)
    }


def _config_file(config_path: Path | None, environ: Mapping[str, str]) -> Path | None:
    """--config, else CLINIC_AUDIT_CONFIG, else none."""
    if config_path is None and environ.get(ENV_PREFIX + "CONFIG"):
        return Path(environ[ENV_PREFIX + "CONFIG"])
    return config_path


def load_settings(
    config_path: Path | None,
    environ: Mapping[str, str],
    cli: Mapping[str, Any],
) -> Settings:
    """Merge defaults, the TOML file, the environment and CLI flags (strongest last)."""
    values: dict[str, Any] = {}
    config_path = _config_file(config_path, environ)
    if config_path is not None:
        values.update(_from_toml(config_path))
    values.update(_from_env(environ))
    for key, value in cli.items():
        if value is None or key == "check_params":
            continue
        values[key] = _coerce(key, value, f"option --{key.replace('_', '-')}")
    _known_checks(cli.get("check_params", {}), "option --param")
    merged_params = {k: dict(v) for k, v in values.get("check_params", {}).items()}
    for check_id, overrides in cli.get("check_params", {}).items():
        merged_params.setdefault(check_id, {}).update(overrides)
    values["check_params"] = merged_params
    return replace(Settings(), **values)


_INVALID = object()  # a value that is not a valid setting


def _coerced_or_invalid(key: str, value: Any) -> Any:
    """The setting's value, or _INVALID for anything a config file can hold that is not one."""
    try:
        return _coerce(key, value, key)
    except Exception:  # a TOML value of any type, an overflow, a path the OS refuses
        return _INVALID


def valid_value(key: str, value: Any) -> bool:
    """Whether `value` is a valid setting `key` on its own."""
    return _coerced_or_invalid(key, value) is not _INVALID


def settings_despite_errors(
    config_path: Path | None, environ: Mapping[str, str], cli: Mapping[str, Any]
) -> Settings | None:
    """When `load_settings` failed (exit 2), the settings a failure email still needs: every known
    key of the config file's [run] table, the environment and the options that is valid on its own,
    merged as load_settings merges them (the strongest last); a key whose strongest value is invalid
    is left at its default rather than taken from a weaker source (an operator's override of the
    recipients, wrong, must not send to the file's). Check parameters stay at their defaults. None
    when the config file cannot be read as TOML.

    Why: the nightly's SMTP settings usually come from the same config file, so without this a typo
    in it (an unknown key, a bad value) would stop every night without a word to anyone."""
    config_path = _config_file(config_path, environ)
    raw: list[tuple[str, Any]] = []
    if config_path is not None:
        try:
            run = tomllib.loads(_config_text(config_path)).get("run", {})
        except (ConfigError, OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return None
        raw += list(run.items()) if isinstance(run, Mapping) else []
    raw += _env_values(environ)
    raw += [(k, v) for k, v in cli.items() if v is not None]
    values = {key: _coerced_or_invalid(key, value) for key, value in raw if key in _SCALARS}
    return replace(Settings(), **{k: v for k, v in values.items() if v is not _INVALID})
