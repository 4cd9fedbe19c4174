"""The outputs as a set: written into a temporary folder, moved into place after the commit.

A run's outputs (report.html, email.html, findings.csv, worklist_<check>.csv, summary.json) must
match the database. So:

1. before the run's transaction, the report already in OUT gets a visible "stale" notice (so a
   process killed after its commit, before its outputs are in place, leaves a report that says so);
2. after the commit, every output is written into OUT/.incoming-<random>/ (a half-written set is
   never in OUT);
3. the files are then moved into OUT one by one (each move atomic), summary.json and report.html
   last, and old worklists of checks this run did not evaluate are removed. Until summary.json
   moves, it and the report in OUT carry the stale notice (a process killed among the moves leaves
   CSVs of both runs beside them, which they say); once it has moved every other file is the new
   run's, and after report.html OUT is the new run's complete set.

Only files the tool published are ever removed: OUT/.clinic-audit-outputs.json (the manifest)
records each output it moved in, by name and identity (inode, size, modification time), so a file
the team saved in OUT under an output's name (worklist_team_notes.csv, calllist.xlsx saved by Excel
beside calllist.csv), or an output the team has since replaced or edited, is left alone.

A failure in steps 2-3 (disk full, permissions) is an OutputError (exit 8): the run is committed,
the old report says it is stale, and `clinic-audit report` writes the outputs again from the record.
"""

from __future__ import annotations

import dataclasses
import errno
import html
import json
import logging
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.errors import OutputError, StorageError
from pipelines.logs import log_unexpected
from pipelines.settings import Settings
from reports.files import NO_FOLLOW, remove_leftovers, temp_leftovers, write_text_private

if TYPE_CHECKING:  # the failure email (pipelines/alerts.py) imports this module: it stays light
    import duckdb

    from checks.framework import CheckDefinition
    from reports.render import Reports

log = logging.getLogger(__name__)

INCOMING = ".incoming-"
LAST = "report.html"  # moved last: until then the old report carries the stale notice
SUMMARY = "summary.json"  # moved just before it: a scheduler reading it sees "stale" until then
MANIFEST = ".clinic-audit-outputs.json"  # what the tool published in OUT: only those may go
IN_PLACE = (LAST, SUMMARY, MANIFEST, "email.eml")  # written in OUT itself, not staged (a stale notice)
# Every file a run writes into OUT (reports/render.py, record.write_summary): an old one the new set
# lacks (a worklist of a check no longer run, an .xlsx after worklist_format went back to csv) goes,
# if the manifest says the tool published it.
OUTPUT_FILE = re.compile(
    r"(report|email)\.html|summary\.json|(findings|measures|measures_shared)\.csv"
    r"|(worklist_[\w-]+|calllist|due_soon)\.(csv|xlsx)"
)
NOTICE = re.compile(r"<!-- stale-notice -->.*?<!-- /stale-notice -->\n?", re.DOTALL)
BODY = re.compile(r"<body[^>]*>\n?", re.IGNORECASE)
RUN_META = re.compile(r'<meta name="clinic-audit-run" content="([^"]*)"')
NOTICE_STYLE = (
    "background:#fff3cd;border:3px solid #b45309;color:#000;padding:12px 16px;margin:0 0 16px;"
    "font:bold 16px/1.4 system-ui,sans-serif"
)


def adhoc_out(out: Path, run_id: str) -> Path:
    """An ad-hoc run's own output folder, OUT/adhoc/<run id> (never the nightly's files). The tool
    makes OUT/adhoc itself: a symlink planted there is refused (exit 6), never written through, as
    an ad-hoc run's worklists name patients and would land wherever it points."""
    folder = out / "adhoc"
    if folder.is_symlink():
        raise StorageError(
            f"{folder}: a symlink where clinic-audit writes ad-hoc runs' outputs; it writes through none. "
            "Remove it: the tool makes this folder itself"
        )
    return folder / run_id


@contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A temporary folder inside OUT to write a run's outputs into; on leaving the block without an
    error they are moved into OUT (report.html last). Folders left by a killed run, and the temporary
    files of a write into OUT it was killed in, are removed."""
    try:
        os.makedirs(out, mode=0o700, exist_ok=True)
        remove_leftovers(out.glob(INCOMING + "*"), "a killed run's output folder")
        for name in IN_PLACE:  # a process killed writing one of them left its temporary file
            remove_leftovers(temp_leftovers(out, name), "a half-written output")
        staging = Path(tempfile.mkdtemp(dir=out, prefix=INCOMING))
    except OSError as error:
        raise _output_error(out, error) from None
    try:
        yield staging
        publish(staging, out)
    except (OSError, MemoryError) as error:
        raise _output_error(out, error) from None
    except Exception as error:  # a defect in writing them: the run stays committed all the same
        import duckdb

        from pipelines.db import damaged_database, database_error

        if isinstance(error, duckdb.Error) and damaged_database(error):
            # exit 6, not 8: `report` reads the same damaged file, so "run report once fixed" would
            # loop a wrapper that acts on exit 8 (helper 185)
            raise StorageError(
                f"the run committed, but the database file is damaged (a block failed its checksum when "
                f"read back for the reports), so its outputs were not written into {out} and "
                "`clinic-audit report` cannot write them either. Restore the database from a backup, or "
                "move it aside to start a new one. " + _stale_sentence(out).split(";")[0] + "."
            ) from None
        # DuckDB's own word for the machine (out of memory, a full disk, a read-only file system):
        # no defect of ours
        known = database_error(error, None) if isinstance(error, duckdb.Error) else error
        if known is not error:
            raise OutputError(
                f"the run committed, but its outputs could not be written into {out}: {known} "
                f"{_stale_sentence(out)}"
            ) from None
        log_unexpected(error)
        raise OutputError(
            f"the run committed, but its outputs could not be written into {out} (internal error "
            f"{type(error).__name__}, please report it; its traceback is in the --log-file). "
            f"{_stale_sentence(out)}"
        ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def publish(staging: Path, out: Path) -> None:
    """Move the staged files into OUT, summary.json and report.html last (both still say "stale"
    while the others move); remove outputs of the previous set that the new one does not have (the
    worklist of a check no longer run), only those the manifest says the tool published and that
    are still as it wrote them. Files OUT holds that are not outputs (an email.eml, the adhoc/
    folder, the clinic's own files, even one named like an output) are left alone."""
    new = {p.name: [_identity(p.lstat())] for p in staging.iterdir()}
    last = [name for name in (SUMMARY, LAST) if name in new]
    for name in new:  # what os.replace cannot take, before anything moves: the set stays whole
        target = out / name
        if target.is_dir() and not target.is_symlink():
            raise IsADirectoryError(errno.EISDIR, "a folder holds an output's name", str(target))
    previous = read_manifest(out)
    if previous is None:
        previous = {}
        _say_unrecorded(out, set(new))
    # before anything moves or goes: a process killed from here on leaves a manifest naming every
    # output of either set that OUT may hold, with both identities for a name in both sets (killed
    # before its move, OUT still holds the old file), so the next run can still remove them
    _write_manifest(out, {n: previous.get(n, []) + new.get(n, []) for n in previous.keys() | new.keys()})
    for name, identities in sorted(previous.items()):
        if name not in new and name not in (LAST, SUMMARY):
            _remove_if_ours(out / name, identities)
    for name in sorted(set(new) - set(last)) + last:
        os.replace(staging / name, out / name)
    _write_manifest(out, new)


def _say_unrecorded(out: Path, new: set[str]) -> None:
    """With no record of what the tool published in OUT (an OUT written before the record existed,
    or one the record of which cannot be read), nothing is removed: warn of the files named like
    outputs the new set lacks, so an analyst can remove the old ones by hand (names, no contents)."""
    unrecorded = sorted(
        p.name for p in out.iterdir() if OUTPUT_FILE.fullmatch(p.name) and p.name not in new and p.is_file()
    )
    if unrecorded:
        log.warning(
            "%s holds %d file(s) named like outputs that no record says clinic-audit wrote, left in "
            "place (remove any that are old outputs by hand): %s",
            out,
            len(unrecorded),
            ", ".join(unrecorded),
        )


def _identity(status: os.stat_result) -> list[int]:
    """What tells the file the tool moved into OUT from another put under its name since: a rename
    keeps the inode, size and modification time; a save by a spreadsheet or editor changes them."""
    return [status.st_ino, status.st_size, status.st_mtime_ns]


def read_manifest(out: Path) -> dict[str, list[list[int]]] | None:
    """The outputs the tool last published in OUT (name: the identities the file may have), from
    OUT's manifest; None when there is none (an OUT written before the manifest existed) or it
    cannot be read or is not the tool's (a symlink, damaged: a warning). Nothing is removed then."""
    path = out / MANIFEST
    try:
        fd = os.open(path, os.O_RDONLY | NO_FOLLOW | os.O_CLOEXEC)
        with open(fd, encoding="utf-8") as handle:
            files = json.load(handle)["files"]
        return {
            name: [i for i in identities if _is_identity(i)]
            for name, identities in files.items()
            if OUTPUT_FILE.fullmatch(name) and isinstance(identities, list)
        }
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        why = error.strerror if isinstance(error, OSError) else "not a manifest of clinic-audit's"
        log.warning("%s cannot be read (%s): no earlier output is removed from %s", path, why, out)
        return None


def _is_identity(value: object) -> bool:
    """Whether a manifest entry is an identity as _identity writes it (three integers)."""
    return isinstance(value, list) and len(value) == 3 and all(type(n) is int for n in value)


def _write_manifest(out: Path, files: dict[str, list[list[int]]]) -> None:
    """Record, owner-only and atomically, the outputs OUT holds with the identities each may have."""
    body = {"written_by": "clinic-audit", "files": dict(sorted(files.items()))}
    write_text_private(out / MANIFEST, json.dumps(body, indent=2) + "\n")


def _remove_if_ours(path: Path, identities: list[list[int]]) -> None:
    """Remove an output of the previous set if it is still a file the tool moved there (never a
    symlink, never a file saved under its name since)."""
    try:
        status = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISREG(status.st_mode) or _identity(status) not in identities:
        log.info("%s was changed or replaced since clinic-audit wrote it: left in place", path.name)
        return
    path.unlink()


def in_place(paths: Reports, out: Path) -> Reports:
    """`reports.render.Reports` with its paths moved from the staging folder to OUT."""
    return dataclasses.replace(
        paths,
        report=out / paths.report.name,
        email_html=out / paths.email_html.name,
        findings=out / paths.findings.name,
        worklists=tuple(out / p.name for p in paths.worklists),
        calllist=tuple(out / p.name for p in paths.calllist),
    )


def mark_stale(out: Path, notice: str) -> bool:
    """Put `notice` at the top of OUT/report.html (replacing an earlier notice) and into
    summary.json as "stale"; True if the report was marked (False: no report, or OUT refused the
    write). Never raises: a report that cannot be marked must not stop the run (the failure email
    and an exit 8's message say so, from stale_state)."""
    report = out / LAST
    try:
        text = report.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    block = f'<!-- stale-notice --><div id="stale-notice" role="alert" style="{NOTICE_STYLE}">'
    block += f"{html.escape(notice)}</div><!-- /stale-notice -->\n"
    text = NOTICE.sub("", text)
    body = BODY.search(text)
    text = text[: body.end()] + block + text[body.end() :] if body else block + text
    try:
        write_text_private(report, text)
        _mark_summary(out / "summary.json", notice)
    except OSError as error:
        log.warning("could not mark %s as stale (%s)", report, error.strerror)
        return False
    return True


MARKED, UNMARKED, NO_REPORT = "marked", "unmarked", "none"


def stale_state(out: Path) -> str:
    """Whether the report in OUT carries a stale notice (MARKED), does not (UNMARKED: it looks
    current), or OUT holds no report (NO_REPORT): what a message about it may claim."""
    try:
        text = (out / LAST).read_text(encoding="utf-8")
    except FileNotFoundError:
        return NO_REPORT
    except (OSError, UnicodeDecodeError):
        return UNMARKED
    return MARKED if NOTICE.search(text) else UNMARKED


def _mark_summary(path: Path, notice: str) -> None:
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(summary, dict) and summary.get("status") == "succeeded":
        write_text_private(path, json.dumps(summary | {"stale": notice}, indent=2) + "\n")


def shown_run(out: Path) -> str:
    """The run the report in OUT shows, as its header records it ("<run id>, as of <date>"), or ''."""
    with suppress(OSError, UnicodeDecodeError):
        head = (out / LAST).read_text(encoding="utf-8")[:4096]
        found = RUN_META.search(head)
        if found:
            return html.unescape(found[1])
    return ""


def in_progress_notice(out: Path, run_id: str, started: str) -> str:
    """The notice a run puts on the old report before its transaction starts."""
    last = shown_run(out)
    return (
        f"stale: last successful run was {last or 'the one shown below'}. A newer run ({run_id}, "
        f"started {started}) has not finished writing its outputs; if this notice stays, that run "
        "failed or was stopped: see the failure email or summary.json, and run `clinic-audit report` "
        "to write the outputs of the latest completed run."
    )


def failed_notice(out: Path, when: str, reason: str) -> str:
    """The notice a failed run leaves on the old report."""
    last = shown_run(out)
    return (
        f"stale: last successful run was {last or 'the one shown below'}. The run of {when} did not "
        f"complete: {reason} These results are not up to date."
    )


def _output_error(out: Path, error: BaseException) -> OutputError:
    if isinstance(error, MemoryError):
        why = "out of memory"
    else:
        where = f"{error.filename}: " if getattr(error, "filename", None) else ""
        full = error.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
        why = f"{where}{'disk full' if full else error.strerror}"
    return OutputError(
        f"the run committed, but its outputs could not be written into {out} ({why}). {_stale_sentence(out)}"
    )


def _stale_sentence(out: Path) -> str:
    """What the report in OUT shows now, read from it: marked stale (before the run's transaction),
    or not (OUT refused that write too), or no report at all; and how to repair it."""
    shown = {
        MARKED: "The report there is marked stale",
        UNMARKED: "The report there could not be marked stale either and still shows the previous run "
        "as if current",
        NO_REPORT: "There is no earlier report there",
    }[stale_state(out)]
    return f"{shown}; once fixed, `clinic-audit report` writes them from the stored run."


def write_outputs(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    run_id: str,
    definitions: Sequence[CheckDefinition],
    now: datetime,
) -> Reports:
    """Every output of a committed run, from its record, written as a set into `settings.out`: after
    the run, and again by `clinic-audit report` (which also repairs an OUT a killed run left stale)."""
    from pipelines.record import summary_of_record, write_summary
    from reports.render import write_reports

    location = settings.report_location or str(_real(settings.out / LAST))
    with staged(settings.out) as staging:
        into = dataclasses.replace(settings, out=staging, report_location=location)
        written = write_reports(con, into, run_id, definitions, now, linked=bool(settings.report_location))
        write_summary(staging, summary_of_record(con, run_id))
    return in_place(written, settings.out)


def _real(path: Path) -> Path:
    """`path` with symlinks resolved, for the email's link; only absolute when they cannot be (a
    symlink loop: Path.resolve raises RuntimeError, which after the commit would be exit 1; the
    write into it then fails as exit 8)."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        return path.absolute()
