"""The installed package (not just the source tree) holds every module and data file the tool reads.

A fresh `pip install .` once missed a new subpackage; this builds the wheel and compares."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_wheel_contains_every_module_and_data_file(tmp_path):
    # Build from a clean copy: pip builds in-tree, and a stale build/ folder would hide a missing file.
    source = tmp_path / "src"
    shutil.copytree(
        ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "out")
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("clinic_audit-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {
        str(p.relative_to(ROOT))
        for top in ("pipelines", "checks", "reports")
        for p in (ROOT / top).rglob("*")
        if p.is_file() and p.suffix in {".py", ".sql", ".csv", ".j2", ".md"} and "__pycache__" not in p.parts
    }
    assert wanted - names == set()
