"""Issue #18, as judged: a scripted week of nights with ad-hoc runs in between.

The real CLI, a real SMTP server on 127.0.0.1 (aiosmtpd), one night failing on a bad export, one
night killed (SIGKILL, a real subprocess) after its commit and before its outputs were in place.
Afterwards the nightly flag lifecycle and trend must be identical to the same week without the
ad-hoc runs; every failure must have been emailed, without patient data; and after every night
`out/` must match the latest committed scheduled run, or say plainly that it is stale.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.conftest import SAMPLE_EXPORT
from tests.functional.test_email import RECIPIENTS, smtp_env, smtp_server  # noqa: F401 - the fixture
from tests.helpers import cli

FIRST_NIGHT = date(2026, 11, 16)
NIGHTS = 7
BAD_NIGHT = 3  # the export job wrote a labs file without its value column
KILLED_NIGHT = 5  # killed after its commit, before its outputs were in place
# Ad-hoc runs an analyst makes after a night: the README's own examples, which used to corrupt the
# nightly record (an as-of in the past, a changed parameter, a subset of checks).
AD_HOC_AFTER = {
    2: ("--as-of", "2026-06-30"),
    4: ("--param", "diuretic_electrolyte_monitoring.lookback_days=90"),
    6: ("--checks", "nsaid_kidney_disease", "--email"),
}
PATIENT_ID = re.compile(r"\bP\d{4}\b")
RUN_META = re.compile(r'<meta name="clinic-audit-run" content="(\S+) ')


def night(n: int) -> date:
    return FIRST_NIGHT + timedelta(days=n - 1)


def export_for(tmp: Path, n: int) -> Path:
    """The sample clinic's export; on the bad night, labs.csv lost its value column."""
    folder = tmp / f"export_{n}"
    if folder.exists():  # the ad-hoc runs of a night read that night's export
        return folder
    shutil.copytree(SAMPLE_EXPORT, folder)
    if n == BAD_NIGHT:
        labs = folder / "labs.csv"
        lines = labs.read_text(encoding="utf-8").splitlines()
        header = lines[0].split(",")
        keep = [i for i, name in enumerate(header) if name != "value"]
        labs.write_text("\n".join(",".join(line.split(",")[i] for i in keep) for line in lines) + "\n")
    return folder


def nightly_env(port: int, n: int) -> dict[str, str]:
    """The scheduler's environment: the configured as-of date is the night's (cron would leave it
    unset and the run would take today; the test pins each night)."""
    return smtp_env(port, CLINIC_AUDIT_AS_OF=night(n).isoformat())


def args(tmp: Path, db: str, n: int, *extra: str, out: bool = True) -> list[str]:
    where = ["--out", str(tmp / "out")] if out else []
    return ["run", "--exports", str(export_for(tmp, n)), *where, "--db", str(tmp / db), *extra]


def shown_run(out: Path) -> tuple[str, str | None, bool]:
    """(run id report.html shows, run id summary.json records, whether the report says stale)."""
    report = (out / "report.html").read_text(encoding="utf-8")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return RUN_META.search(report)[1], summary.get("run_id"), "stale: last successful run was" in report


def latest_scheduled(db: Path) -> str:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT run_id FROM runs WHERE kind = 'scheduled' ORDER BY seq DESC LIMIT 1"
        ).fetchall()[0][0]


def assert_out_matches_or_is_stale(tmp: Path) -> None:
    """out/ is the latest committed scheduled run's complete set, or its report says it is stale."""
    out = tmp / "out"
    report_run, summary_run, stale = shown_run(out)
    if not stale:
        assert report_run == summary_run == latest_scheduled(tmp / "audit.duckdb")
        worklists = {p.name for p in out.glob("worklist_*.csv")}
        assert len(worklists) == 10  # every check's worklist of the nightly, none of an ad-hoc subset
    assert not list(out.glob(".incoming-*")) or stale


def kill_after_commit(tmp: Path, port: int, n: int) -> None:
    """Run night `n` as a real process; SIGKILL it once its commit is done (its outputs' temporary
    folder appears only after the commit) and before they are moved into place."""
    env = {**os.environ, **nightly_env(port, n), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    command = [sys.executable, "-m", "pipelines", *args(tmp, "audit.duckdb", n), "--email"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while not list((tmp / "out").glob(".incoming-*")):
            assert process.poll() is None, "the run ended before its outputs were staged"
            assert time.monotonic() < deadline
            time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=60) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()


def lifecycle(db: Path) -> list[tuple]:
    """The nightly record, without run ids: per scheduled run, each patient's status per check."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            """
            SELECT r.as_of, s.check_id, s.patient_id, s.status, s.first_as_of, s.runs_standing
            FROM flag_status s JOIN runs r USING (run_id)
            ORDER BY r.as_of, s.check_id, s.patient_id, s.status
            """
        ).fetchall()


def trend(db: Path) -> list[tuple]:
    """Each scheduled run's flagged rate per check, as the report's trend reads it (check_runs)."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT cr.as_of, cr.check_id, cr.check_run_no, c.rate FROM check_runs cr "
            "JOIN check_results c USING (run_id, check_id) ORDER BY cr.as_of, cr.check_id"
        ).fetchall()


def received(inbox) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(raw, policy=email.policy.default) for _, raw in inbox.received]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """The same week without the ad-hoc runs (and without the kill): the nightly record to match."""
    tmp = tmp_path_factory.mktemp("baseline")
    for n in range(1, NIGHTS + 1):
        env = {"CLINIC_AUDIT_AS_OF": night(n).isoformat()}
        assert cli(*args(tmp, "audit.duckdb", n), env=env) == (3 if n == BAD_NIGHT else 0)
    return tmp / "audit.duckdb"


def test_a_week_of_nights_with_ad_hoc_runs_a_failure_and_a_kill(tmp_path, smtp_server, baseline):  # noqa: F811
    inbox, port = smtp_server
    failures = 0
    for n in range(1, NIGHTS + 1):
        if n == KILLED_NIGHT:
            kill_after_commit(tmp_path, port, n)
            report_run, _, stale = shown_run(tmp_path / "out")
            # killed between commit and the move: the old set, marked stale (the run it shows is not
            # the latest committed one), never a mixture
            assert stale and report_run != latest_scheduled(tmp_path / "audit.duckdb")
            assert cli("report", "--db", str(tmp_path / "audit.duckdb"), "--out", str(tmp_path / "out")) == 0
            assert shown_run(tmp_path / "out")[2] is False  # repaired from the stored run
        else:
            code = cli(*args(tmp_path, "audit.duckdb", n, "--email"), env=nightly_env(port, n))
            assert code == (3 if n == BAD_NIGHT else 0), n
            failures += n == BAD_NIGHT
            if n == BAD_NIGHT:
                assert shown_run(tmp_path / "out")[2], "a failed night leaves the old report marked stale"
            else:  # the night after the kill says so (its report and email never went out)
                warnings = json.loads((tmp_path / "out" / "summary.json").read_text())["warnings"]
                stopped = [w for w in warnings if "did not finish after it committed" in w]
                assert len(stopped) == (n == KILLED_NIGHT + 1), (n, warnings)
        assert_out_matches_or_is_stale(tmp_path)
        if n in AD_HOC_AFTER:
            before = shown_run(tmp_path / "out")
            extra = AD_HOC_AFTER[n]
            env = nightly_env(port, n) | {"CLINIC_AUDIT_OUT": str(tmp_path / "out")}  # as configured
            assert cli(*args(tmp_path, "audit.duckdb", n, *extra, out=False), env=env) == 0
            assert shown_run(tmp_path / "out") == before  # the nightly's outputs untouched
    db = tmp_path / "audit.duckdb"

    # 1. the nightly lifecycle and trend are those of the week without ad-hoc runs
    assert lifecycle(db) == lifecycle(baseline)
    assert trend(db) == trend(baseline)
    with duckdb.connect(str(db), read_only=True) as con:
        kinds = con.execute("SELECT kind, count(*) FROM runs GROUP BY kind ORDER BY kind").fetchall()
    assert kinds == [("ad hoc", 3), ("scheduled", NIGHTS - 1)]
    adhoc = sorted((tmp_path / "out" / "adhoc").iterdir())
    assert len(adhoc) == 3 and all((folder / "report.html").exists() for folder in adhoc)
    for folder in adhoc:
        report = (folder / "report.html").read_text(encoding="utf-8")
        assert "ad-hoc run:" in report and "Not part of the nightly record" in report

    # 2. out/ is the last night's complete set
    assert_out_matches_or_is_stale(tmp_path)
    assert shown_run(tmp_path / "out")[2] is False

    # 3. every failure emailed, with the reason and no patient data; the nightly summaries arrived
    messages = received(inbox)
    failed = [m for m in messages if "did not complete" in m["Subject"]]
    assert len(failed) == failures == 1
    body = failed[0].get_content()
    assert "the export could not be used" in body and "labs.csv" in body and "What to do:" in body
    assert failed[0]["To"] == RECIPIENTS.replace(",", ", ")
    assert not PATIENT_ID.search(body)
    summaries = [m for m in messages if "did not complete" not in m["Subject"]]
    assert len(summaries) == NIGHTS - 2 + 1  # the good nights, less the killed one; one ad-hoc --email
    said = "did not finish after it committed"
    told = [m for m in summaries if said in m.get_body(("plain",)).get_content()]
    assert len(told) == 1  # the morning after the kill, the team hears of it
