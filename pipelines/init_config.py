"""`clinic-audit init`: a commented TOML config with every setting at its default.

Generated from the `Settings` fields and every check's parameters, so it cannot drift from the
code: a new setting or parameter appears here the day it is added.
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import date
from pathlib import Path
from typing import Any

from checks.evaluate import all_checks
from pipelines.settings import ENV_PREFIX, SETTING_HELP, Settings
from reports.files import write_text_private


def toml_value(value: Any) -> str:
    """A Python default as a TOML value (strings JSON-quoted, which TOML accepts)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, date):
        return value.isoformat()
    return json.dumps(str(value))


_EXAMPLES = {
    "as_of": '"2026-01-31"',
    "local_codelists": '"/etc/clinic-audit/codelists"',
    "log_file": '"/var/log/clinic-audit/audit.jsonl"',
}


def _run_section() -> list[str]:
    lines = ["[run]"]
    defaults = Settings()
    for f in fields(Settings):
        if f.name == "check_params":
            continue
        lines.append(f"# {SETTING_HELP[f.name]} (env {ENV_PREFIX}{f.name.upper()})")
        value = getattr(defaults, f.name)
        if value is None:  # no default: written commented out, with an example
            lines.append(f"# {f.name} = {_EXAMPLES[f.name]}")
        else:
            lines.append(f"{f.name} = {toml_value(value)}")
        lines.append("")
    return lines


def _checks_sections() -> list[str]:
    lines = [f"# {SETTING_HELP['check_params']} Override one with --param CHECK.NAME=VALUE.", ""]
    for check in all_checks():
        lines.append(f"# {check.title}")
        lines.append(f"[checks.{check.id}]")
        for p in check.parameters:
            lines.append(f"# {p.description} ({p.unit})")
            lines.append(f"{p.name} = {toml_value(p.default)}")
        lines.append("")
    return lines


def config_text() -> str:
    """The whole commented config file."""
    header = [
        "# clinic-audit configuration: every setting with its default.",
        "# Strength order: command-line flags > CLINIC_AUDIT_* environment variables > this file.",
        "# Use it with: clinic-audit run --config THIS_FILE (or CLINIC_AUDIT_CONFIG=THIS_FILE).",
        "",
    ]
    return "\n".join(header + _run_section() + _checks_sections()).rstrip() + "\n"


def write_config(path: Path, force: bool = False) -> Path:
    """Write the config file; refuse to replace an existing file unless `force`."""
    from pipelines.settings import ConfigError

    if (path.exists() or path.is_symlink()) and not force:
        raise ConfigError(f"{path}: already exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_text_private(path, config_text())  # replaces a symlink, never writes through it
