"""Every documented exit code, in one place: what a scheduler can rely on."""

from __future__ import annotations

import shutil
import socket

from pipelines import errors
from pipelines.lock import database_lock
from tests.conftest import SAMPLE_EXPORT
from tests.helpers import cli, run_args


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_codes_are_the_documented_ones():
    assert (errors.EXIT_OK, errors.EXIT_INTERNAL, errors.EXIT_CONFIG) == (0, 1, 2)
    assert (errors.EXIT_INPUT, errors.EXIT_EMAIL, errors.EXIT_LOCKED) == (3, 4, 5)


def test_0_success(tmp_path):
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == 0


def test_2_config_error(tmp_path, capsys):
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--reject-threshold", "7")) == 2
    assert "reject_threshold" in capsys.readouterr().err


def test_3_bad_input_over_threshold(tmp_path, capsys):
    export = tmp_path / "bad"
    shutil.copytree(SAMPLE_EXPORT, export)
    lines = (export / "labs.csv").read_text(encoding="utf-8").splitlines()
    bad = [lines[0], *(line.replace(",20", ",not-a-date-20", 1) for line in lines[1:])]
    (export / "labs.csv").write_text("\n".join(bad) + "\n", encoding="utf-8")
    assert cli(*run_args(tmp_path, export)) == 3
    assert "threshold" in capsys.readouterr().err


def test_3_strict_volume_guard(tmp_path, capsys):
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == 0
    export = tmp_path / "small"
    shutil.copytree(SAMPLE_EXPORT, export)
    (export / "labs.csv").write_text("patient_id,collected_at,loinc_code,test_name,value,unit\n")
    assert cli(*run_args(tmp_path, export, "--strict")) == 3
    assert "volume guard" in capsys.readouterr().err


def test_4_email_failure(tmp_path, capsys):
    env = {
        "CLINIC_AUDIT_SMTP_HOST": "127.0.0.1",
        "CLINIC_AUDIT_SMTP_PORT": str(free_port()),
        "CLINIC_AUDIT_SMTP_SENDER": "clinic-audit@clinic.example",
        "CLINIC_AUDIT_SMTP_RECIPIENTS": "lead@clinic.example",
        "CLINIC_AUDIT_SMTP_STARTTLS": "false",
    }
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--email"), env=env) == 4
    assert "SMTP" in capsys.readouterr().err


def test_5_lock_held(tmp_path, capsys):
    with database_lock(tmp_path / "audit.duckdb"):
        assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == 5
    assert "--wait" in capsys.readouterr().err
