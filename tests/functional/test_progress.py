"""Progress a person can read (#18 outcome 7): on a terminal a bar per export file (bytes read,
throughput, time left) and one per stage, log lines printed whole above the bars; without one (cron,
systemd) no bar, no escape code, one log line per stage. The terminal is a real pseudo-terminal."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time

import duckdb
import pytest

from checks.evaluate import all_checks
from pipelines.console import progress_reporter
from pipelines.progress import Step
from tests.conftest import ROOT, SAMPLE_EXPORT
from tests.helpers import clean_env

FILES = ("patients.csv", "diagnoses.csv", "prescriptions.csv", "labs.csv")
STAGES = ("running the checks", "recording the run", "writing the outputs")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
FILE_LOG = re.compile(
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO pipelines\.load: (\w+\.csv): read=\d+ loaded=\d+ "
    r"duplicate=\d+ rejected=\d+ skipped=\d+ noted=\d+ \(\d+\.\d+s\)"
)


def command(tmp_path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pipelines",
        "run",
        "--exports",
        str(SAMPLE_EXPORT),
        "--out",
        str(tmp_path / "out"),
        "--db",
        str(tmp_path / "audit.duckdb"),
        "--as-of",
        "2026-11-20",
    ]


def environment() -> dict[str, str]:
    env = clean_env(TERM="xterm-256color", COLUMNS="160", LINES="40", PYTHONPATH=str(ROOT))
    env.pop("NO_COLOR", None)
    return env


def run_on_a_terminal(tmp_path) -> tuple[int, str]:
    """The CLI with stdin, stdout and stderr on a pseudo-terminal; returns exit code and all it wrote."""
    pty = pytest.importorskip("pty")  # a Unix terminal; the lock and the tool need none
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        command(tmp_path), stdin=terminal, stdout=terminal, stderr=terminal, env=environment()
    )
    os.close(terminal)
    written, deadline = b"", time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed: the process is done
                break
            if not chunk:
                break
            written += chunk
        elif process.poll() is not None:
            break
    os.close(controller)
    return process.wait(timeout=60), written.decode("utf-8", "replace")


def shown_lines(written: str) -> list[str]:
    """What each terminal line finally shows: escape codes removed, the last of its \\r-parts."""
    text = ANSI.sub("", written)
    return [line.rstrip("\r").split("\r")[-1] for line in text.split("\n")]


def test_on_a_terminal_each_file_has_a_bar_and_log_lines_print_whole_above_it(tmp_path):
    code, written = run_on_a_terminal(tmp_path)
    assert code == 0, written[-2000:]
    text = ANSI.sub("", written)
    for name in FILES:  # a bar with the file's bytes done of its size, then its rate and time left
        size_kb = (SAMPLE_EXPORT / name).stat().st_size / 1000
        assert re.search(rf"loading {re.escape(name)} +━+ {size_kb:.1f}/{size_kb:.1f} kB", text), name
    for stage in STAGES:
        assert re.search(rf"{stage} +━+", text), stage
    assert re.search(r"\d[\d.]* (k?B|bytes)/s", text)  # throughput
    assert "\x1b[2K" in written  # the bars redraw in place
    logged = [
        FILE_LOG.fullmatch(line.strip()) for line in shown_lines(written) if "INFO pipelines.load" in line
    ]
    assert len(logged) == len(FILES) and all(logged), [
        line for line in shown_lines(written) if "INFO" in line
    ]
    assert sorted(m.group(1) for m in logged) == sorted(FILES)
    assert "clinic-audit run" in text  # the summary table follows the bars


def test_without_a_terminal_no_bar_no_escape_code_and_one_line_per_stage(tmp_path):
    done = subprocess.run(command(tmp_path), capture_output=True, text=True, env=environment(), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "\x1b" not in done.stderr and "\x1b" not in done.stdout
    assert "━" not in done.stderr
    stages = re.findall(r"INFO pipelines\.progress: (.+)", done.stderr)
    measures = "computing the monthly measures"  # scheduled runs only: ad hoc unless run on 2026-11-20
    checks = [f"check {c.id}" for c in all_checks()]  # one line per check, after "running the checks"
    expected = [f"loading {name}" for name in FILES] + [STAGES[0], *checks, *STAGES[1:]]
    assert [s for s in stages if s != measures] == expected
    assert len(FILE_LOG.findall(done.stderr)) == len(FILES)


def test_a_file_bar_fills_with_the_duckdb_statement_reading_it():
    """The bar's bytes follow DuckDB's query_progress() of the statement running, polled from a thread
    (the tool reads each export file in one statement)."""
    con = duckdb.connect()
    with progress_reporter(terminal=True) as progress:
        progress(Step("loading labs.csv", 1_000_000, con))
        con.execute("SELECT sum(hash(i)) FROM range(150000000) t(i)").fetchall()
        time.sleep(0.3)  # a poll after the statement leaves the furthest share seen
        task = progress.bars.tasks[0]
        assert 0 < task.completed <= 1_000_000 and task.total == 1_000_000
        progress("running the checks")
        assert progress.bars.tasks[0].completed == 1_000_000  # a finished file's bar is full
        assert progress.bars.tasks[1].total is None  # a stage: no size, no bytes
    con.close()


def test_the_lock_uses_no_unix_only_call():
    """The lock works wherever Python runs: filelock, no fcntl."""
    for path in (ROOT / "pipelines").rglob("*.py"):
        assert not re.search(r"\bimport fcntl\b|\bfcntl\.", path.read_text(encoding="utf-8")), path
