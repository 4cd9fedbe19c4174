"""README examples work when pasted after the set-up command (#18 outcome 8).

Every `clinic-audit ...` line in README.md's code blocks is found; after the set-up command's own run
(in a copy of sample_data, in a fresh folder: the default database name, the paths as written), each
one that needs no SMTP server, network or site-specific folder runs, in README order, and exits 0.
An example that cannot run here is skipped for a reason listed in SKIPS, never silently. The lock
file the runs leave is documented and ignored by git.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from pipelines.cli import main
from tests.conftest import ROOT

README = ROOT / "README.md"
SETUP = "&& .venv/bin/clinic-audit "  # the set-up command ends by running the tool from its venv

# Why an example cannot run on a fresh clone, by a word of it (first match wins).
SKIPS = {
    "/opt/": "a deployment's cron line (installed tool, /etc config, /var/log)",
    "/data/": "a clinic's own export and server folders",
    "/var/log/": "a system log folder; test_logs.py covers --log-file",
    " ...": "a placeholder for the rest of a command",
    "--email ": "sends email through an SMTP server; tests/functional/test_email.py uses a local one",
    "--import reviews.csv": "a sheet the team fills in; tests/functional/test_review_nights.py imports one",
    "output/csv": "a Synthea export the user brings; test_format_synthea.py and test_real_formats.py",
    "cdm_export/": "an OMOP export the user brings; test_format_omop.py",
    "mimic-iv-2.2/": "MIMIC-IV (credentialed access); test_format_mimic.py",
    "bulk_export/": "a FHIR bulk export the user brings; test_format_fhir.py",
}
EXAMPLE_RUN_ID = "20261120T030000-1a2b3c"  # a run id cannot be known in advance: the set-up run's


def code_lines() -> list[tuple[int, str]]:
    """(line number, text) of every line inside a fenced code block, continuations joined."""
    found, inside, pending = [], False, ""
    for number, line in enumerate(README.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            inside = not inside
            continue
        if inside:
            pending += line.rstrip("\\").strip() + " " if line.endswith("\\") else line
            if not line.endswith("\\"):
                found.append((number, pending))
                pending = ""
    return found


def examples() -> list[tuple[int, str]]:
    """Every README command line that runs clinic-audit."""
    return [(n, line) for n, line in code_lines() if re.search(r"(^|[\s/])clinic-audit\s", line)]


def skip_reason(line: str) -> str | None:
    return next((why for word, why in SKIPS.items() if word in line + " "), None)


def as_args(line: str, run_id: str) -> list[str]:
    """The command's arguments as a shell would pass them: the comment dropped, optional [parts]
    given, the example run id replaced by a real one."""
    command = re.sub(r"\s{2,}#.*$", "", line)
    command = command[command.index("clinic-audit ") :]
    command = re.sub(r"\[([^\]]*)\]", r"\1", command).replace(EXAMPLE_RUN_ID, run_id)
    command = re.sub(r"--run ID\b", f"--run {run_id}", command)
    return shlex.split(command)[1:]


@pytest.fixture
def fresh_clone(tmp_path, monkeypatch) -> Path:
    """A folder as after `git clone`: sample_data here, nothing else; the working directory."""
    shutil.copytree(ROOT / "sample_data", tmp_path / "sample_data")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def setup_args() -> list[str]:
    setup = [line for _, line in code_lines() if SETUP in line]
    assert len(setup) == 1, "README has one set-up command running the tool"
    return shlex.split(setup[0][setup[0].index(SETUP) + len(SETUP) :])


def test_every_readme_example_works_after_the_setup_command(fresh_clone, capsys):
    assert main(setup_args(), {}) == 0
    run_id = json.loads((fresh_clone / "out" / "summary.json").read_text(encoding="utf-8"))["run_id"]
    failures, ran = [], 0
    for number, line in examples():
        if SETUP in line or skip_reason(line):
            continue
        args = as_args(line, run_id)
        capsys.readouterr()  # this example's output only, below
        code = main(args, {})
        ran += 1
        if code != 0:
            failures.append(
                f"README.md:{number}: {shlex.join(args)} -> exit {code}\n{capsys.readouterr().err}"
            )
    assert not failures, "\n".join(failures)
    assert ran >= 12  # the skips cannot swallow the examples


def test_every_example_not_run_has_a_reason_and_the_default_database():
    for number, line in examples():
        if SETUP in line or skip_reason(line):
            continue
        db = re.search(r"--db (\S+)", line)
        assert db is None or db.group(1) == "clinic_audit.duckdb", f"README.md:{number}: {line}"
    skipped = [line for _, line in examples() if skip_reason(line)]
    assert all(skip_reason(line) for line in skipped)
    assert len(skipped) < len(examples()) / 2


def test_the_lock_file_is_documented_and_ignored_by_git():
    text = README.read_text(encoding="utf-8")
    assert "`<db>.lock`" in text
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git clone")
    for path in ("clinic_audit.duckdb.lock", "elsewhere/audit.duckdb.lock"):
        ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False)
        assert ignored.returncode == 0, path
