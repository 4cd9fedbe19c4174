"""`python -m pipelines` is the same as the `clinic-audit` command."""

from pipelines.cli import entry_point

entry_point()
