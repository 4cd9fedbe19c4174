"""The scheduling examples: systemd units parse, carry the required settings, and pass
`systemd-analyze verify` where it exists; the cron example runs the same command."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from pipelines.cli import cli
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
BINARY = "/opt/clinic-audit/.venv/bin/clinic-audit"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True, comment_prefixes=("#", ";"))
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((DEPLOY / "systemd" / name).read_text(encoding="utf-8"))
    return parser


def exec_args(line: str) -> list[str]:
    """The clinic-audit arguments of a command line (what follows the binary)."""
    words = shlex.split(line)
    return words[words.index(BINARY) + 1 :]


def test_service_is_a_private_oneshot_that_emails():
    service = unit("clinic-audit.service")["Service"]
    assert service["Type"] == "oneshot"
    assert service["UMask"] == "0077"
    args = exec_args(service["ExecStart"])
    assert "run" in args and "--email" in args and "--wait" in args
    assert "CLINIC_AUDIT_SMTP_PASSWORD" not in service.get("Environment", "")  # kept in EnvironmentFile
    assert service["EnvironmentFile"].lstrip("-").startswith("/etc/")


def test_the_prune_timer_runs_weekly_and_the_services_share_their_settings():
    timer = unit("clinic-audit-prune.timer")["Timer"]
    assert timer["Unit"] == "clinic-audit-prune.service" and timer["Persistent"] == "true"
    run, prune = (unit(n)["Service"] for n in ("clinic-audit.service", "clinic-audit-prune.service"))
    for key in ("User", "UMask", "EnvironmentFile", "WorkingDirectory", "ReadWritePaths", "ProtectSystem"):
        assert run[key] == prune[key], key
    assert "prune" in exec_args(prune["ExecStart"])


def test_timer_runs_nightly_and_catches_up():
    parser = unit("clinic-audit.timer")
    timer = parser["Timer"]
    assert timer["OnCalendar"] == "*-*-* 02:30:00"
    assert timer["Persistent"] == "true"
    assert timer["Unit"] == "clinic-audit.service"
    assert parser["Install"]["WantedBy"] == "timers.target"


@pytest.mark.parametrize("line", ["service", "prune-service", "cron-run", "cron-prune"])
def test_scheduled_commands_are_valid_clinic_audit_invocations(line):
    if line.endswith("service"):
        name = "clinic-audit-prune.service" if line == "prune-service" else "clinic-audit.service"
        command = unit(name)["Service"]["ExecStart"]
    else:
        jobs = [c for c in (DEPLOY / "cron.example").read_text().splitlines() if c and c[0].isdigit()]
        command = jobs[0 if line == "cron-run" else 1]
    args = exec_args(command)
    at = next(i for i, word in enumerate(args) if word in cli.commands)
    group_options = {opt for param in cli.params for opt in param.opts}
    assert all(word in group_options for word in args[:at] if word.startswith("-")), args[:at]
    command_object = cli.commands[args[at]]
    command_object.make_context(args[at], args[at + 1 :])  # raises on an unknown option or bad value


def test_cron_example_sets_umask_and_keeps_the_password_out_of_the_crontab():
    text = (DEPLOY / "cron.example").read_text()
    jobs = [c for c in text.splitlines() if c and c[0].isdigit()]
    assert jobs and all(job.split()[5].startswith("umask") for job in jobs)
    # every job reads the settings file (a CLINIC_AUDIT_DB there is the database every job uses)
    assert all(". /etc/clinic-audit/environment" in job for job in jobs)
    assert "CLINIC_AUDIT_SMTP_PASSWORD=" not in text
    assert jobs[0].split()[:5] == ["30", "2", "*", "*", "*"]


def test_systemd_analyze_verify(tmp_path):
    """Verified where systemd-analyze exists; ExecStart must exist, so point it at this checkout's."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed; the INI and key checks above still ran")
    local = str(ROOT / ".venv" / "bin" / "clinic-audit")
    assert Path(local).exists()
    names = (
        "clinic-audit.service",
        "clinic-audit.timer",
        "clinic-audit-prune.service",
        "clinic-audit-prune.timer",
    )
    for name in names:
        text = (DEPLOY / "systemd" / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace(BINARY, local), encoding="utf-8")
    result = subprocess.run(
        [analyze, "verify", "--man=no", *(str(tmp_path / name) for name in names)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stderr
