"""report.html and email.html rendered to PNG in headless Chromium, with no console errors.

Needs the Debian package `chromium` (the README test command and `.ci/run` install it when missing).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import SAMPLE_EXPORT
from tests.helpers import cli

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    args = ["run", "--exports", str(SAMPLE_EXPORT), "--out", str(tmp / "out"), "--db", str(tmp / "a.duckdb")]
    assert cli(*args, "--as-of", "2026-11-20") == 0
    return tmp / "out"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "width"), [("report.html", 1280), ("email.html", 1280), ("report.html", 390)]
)
def test_renders_in_chromium_without_console_errors(out, tmp_path, name, width):
    png = tmp_path / f"{name}-{width}.png"
    result = subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={png}",
            f"--window-size={width},2000",
            (out / name).as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert png.exists() and png.stat().st_size > 20_000  # a blank page compresses to a few KB
    assert png.read_bytes().startswith(b"\x89PNG")
    for marker in ("Uncaught", "ERROR:CONSOLE"):
        assert marker not in result.stderr
