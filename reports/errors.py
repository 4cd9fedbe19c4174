"""Errors of the reports layer, with the exit code the CLI returns for each (README "Exit codes").

Reports import nothing from pipelines; pipelines re-exports these beside its own errors.
"""

from __future__ import annotations


class EmailError(Exception):
    """An email could not be sent (connection refused, login failed, bad settings): the summary
    email of a run that succeeded (exit 4; the CLI says its outputs are written), or a failed
    night's failure email (pipelines/alerts.py: the run's own exit code stands). The message says
    what went wrong, not which email it was."""

    exit_code = 4
