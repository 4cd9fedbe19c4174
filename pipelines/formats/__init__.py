"""Export format profiles: each turns an export folder into one `RawSource` per contract table.

A profile knows its format's files, columns, code systems and date handling, and yields the contract
columns as text; staging, pandera validation, quarantine and loading are the same for every format.
Adding a format is adding a module here with `NAME`, `detect(folder)` and `sources(folder)`; optionally
`hint(folder)` (what to do with a folder no profile reads, for the refusal) and `warnings(folder)`
(about the export as a whole, for the run's warnings).
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

from pipelines.errors import InputError


def names() -> tuple[str, ...]:
    """The profiles' names (each module's name is its NAME), found without importing any of them:
    the CLI's --format choices and the export_format setting's values, and nothing heavy at start-up."""
    return tuple(sorted(info.name for info in pkgutil.iter_modules(__path__)))


def profiles() -> dict[str, ModuleType]:
    """Every format module in this package, by name."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        found[module.NAME] = module
    return found


def detect(export_dir: Path) -> str:
    """The one format whose files are present; an error when none or several match."""
    if not export_dir.is_dir():
        raise InputError(f"{export_dir}: export folder not found")
    matches = sorted(name for name, module in profiles().items() if module.detect(export_dir))
    if len(matches) != 1:
        known = ", ".join(sorted(profiles()))
        found = f"several formats match ({', '.join(matches)})" if matches else "no known format matches"
        hints = [h for module in profiles().values() if (h := getattr(module, "hint", _none)(export_dir))]
        raise InputError(
            f"{export_dir}: {found}; name one with --format ({known})" + "".join(f"; {h}" for h in hints)
        )
    return matches[0]


def _none(export_dir: Path) -> str:
    return ""


def export_warnings(export_dir: Path, name: str) -> list[str]:
    """The profile's warnings about the export as a whole (a module's optional `warnings(folder)`:
    FHIR deletions it does not apply), for the run's warnings."""
    module = profiles().get(name)
    return list(module.warnings(export_dir)) if module is not None and hasattr(module, "warnings") else []


def format_read(export_dir: Path, export_format: str = "auto") -> str:
    """The format the export is read as: the one named, or (auto) the one its files match."""
    return detect(export_dir) if export_format == "auto" else export_format


def sources_for(export_dir: Path, export_format: str = "auto") -> list:
    """The export's RawSources, with every required file and column checked."""
    name = format_read(export_dir, export_format)
    known = profiles()
    if name not in known:
        raise InputError(f"unknown export format '{name}' (known: auto, {', '.join(sorted(known))})")
    return known[name].sources(export_dir)
