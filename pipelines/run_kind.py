"""Scheduled or ad hoc: which runs make the nightly record.

The scheduled run is the nightly as configured (the as-of date of the config or environment, else
today; every configured check; the configured parameters). A run given another as-of date, a subset
of checks or a parameter on the command line, or `--ad-hoc`, is ad hoc: stored and listed, but
kept out of the flag lifecycle, the trends and the nightly outputs (it writes to <out>/adhoc/<run id>/
unless --out is given). `--scheduled` says a run with such options is the nightly all the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

SCHEDULED = "scheduled"
AD_HOC = "ad hoc"


@dataclass(frozen=True)
class RunKind:
    """What kind of run this is, why, and whether the export's freshness is judged."""

    kind: str = SCHEDULED
    reasons: tuple[str, ...] = ()  # why ad hoc, as the options were given
    judge_freshness: bool = False  # the nightly against its own as-of date (guards.freshness_warnings)
    out_per_run: bool = False  # outputs into OUT/adhoc/<run id>/ (an ad-hoc run without --out)
    # checks this run evaluates with its own --param: their monthly measures are its own (ad hoc)
    private_checks: frozenset[str] = frozenset()

    @property
    def ad_hoc(self) -> bool:
        """True for an ad-hoc run."""
        return self.kind == AD_HOC


def decide(
    configured_as_of: date | str | None,
    cli_as_of: date | str | None,
    cli_checks: Sequence[str] | None,
    cli_params: Mapping[str, Mapping[str, Any]],
    ad_hoc: bool,
    scheduled: bool,
    today: date | None = None,
) -> RunKind:
    """The run's kind from the options given on the command line beside the configured ones.

    `cli_as_of` is the --as-of value as parsed (None when not given); an --as-of equal to the
    configured one (else to `today`, what the nightly audits when nothing is configured) changes
    nothing: `--as-of $(date +%F)` in a crontab is the nightly. The freshness of the export is judged
    only for a scheduled run whose as-of date is a day (today or configured), not `latest` or
    `per-patient`.
    """
    reasons = []
    nightly_as_of = configured_as_of if configured_as_of is not None else (today or date.today())
    if cli_as_of is not None and cli_as_of != nightly_as_of:
        reasons.append(f"--as-of {cli_as_of}")
    if cli_checks:
        reasons.append(f"--checks {','.join(cli_checks)}")
    reasons += [f"--param {c}.{n}={v}" for c, values in sorted(cli_params.items()) for n, v in values.items()]
    if ad_hoc:
        reasons.append("--ad-hoc")
    if scheduled:  # the operator says this is the nightly (e.g. a backfill of a missed night)
        return RunKind(SCHEDULED, (), not isinstance(cli_as_of or configured_as_of, str))
    if reasons:
        return RunKind(AD_HOC, tuple(reasons), False, private_checks=frozenset(cli_params))
    return RunKind(SCHEDULED, (), not isinstance(configured_as_of, str))
