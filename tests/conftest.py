"""Shared fixtures. Tests run the real pipeline on real DuckDB files in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_EXPORT = ROOT / "sample_data" / "clinic_export"
SHARED = ROOT.parent / "shared"


@pytest.fixture
def sample_export() -> Path:
    """The bundled synthetic clinic export."""
    return SAMPLE_EXPORT
