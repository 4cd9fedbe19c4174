"""Errors of the reports layer, with the exit code the CLI returns for each (README "Exit codes").

Reports import nothing from pipelines; pipelines re-exports these beside its own errors.
"""

from __future__ import annotations


class EmailError(Exception):
    """The summary email could not be sent (connection refused, login failed, bad settings).

    The run itself succeeded and its outputs are written; only the delivery failed.
    """

    exit_code = 4
