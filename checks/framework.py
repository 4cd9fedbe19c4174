"""What a check is, how its parameters are resolved, and the shape of its output.

A check module in this package defines `CHECK = CheckDefinition(...)`: the clinical definition a
reviewer reads (guideline sentence, population, flag condition, windows, parameters with units,
codelists, rationale) and the name of its SQL file in `checks/sql/`. The SQL returns one row per
patient in the population: `patient_id, flagged, priority, reason`, then evidence columns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

SQL_DIR = Path(__file__).parent / "sql"


class CheckConfigError(ValueError):
    """A check id or parameter given by the user does not exist or has a wrong value."""


@dataclass(frozen=True)
class Parameter:
    """A tunable value of a check; its default's type is the type overrides are coerced to."""

    name: str
    default: int | float | str
    unit: str
    description: str

    @property
    def maximum(self) -> int | None:
        """The largest value a whole-number parameter takes (by its unit); None for a decimal one."""
        if isinstance(self.default, bool) or not isinstance(self.default, int):
            return None
        return MAXIMUM_BY_UNIT.get(self.unit, MAXIMUM_WHOLE)

    def coerce(self, check_id: str, raw: Any) -> int | float | str:
        """Turn a config/CLI value into this parameter's type, naming the key when it cannot: a
        true/false is no number (Python would read it as 1/0), a whole-number parameter takes no
        fraction (365.9 is not truncated), and none goes past `maximum` (a window of 10^11 days
        would crash the check's date arithmetic mid-run)."""
        key = f"checks.{check_id}.{self.name}"
        kind = type(self.default)
        if isinstance(raw, bool) and kind is not str:
            raise CheckConfigError(f"{key}: expected a number, got {raw!r}")
        try:
            value = _read(kind, raw)
        except (TypeError, ValueError):
            raise CheckConfigError(f"{key}: expected {kind.__name__}, got {raw!r}") from None
        if isinstance(value, float) and not math.isfinite(value):  # 'nan' and 'inf' read as floats
            raise CheckConfigError(f"{key}: must be a finite number, got {raw!r}")
        if kind is int and isinstance(value, float):
            if not value.is_integer():
                raise CheckConfigError(f"{key}: expected a whole number of {self.unit}, got {raw!r}")
            value = int(value)
        if isinstance(value, int | float) and value < 0:
            raise CheckConfigError(f"{key}: must not be negative, got {raw!r}")
        if self.maximum is not None and value > self.maximum:
            raise CheckConfigError(f"{key}: at most {self.maximum} {self.unit}, got {raw!r}")
        return value


# The largest value of a whole-number parameter, by unit: a window up to 100 years, an age up to
# 150, a 0/1 switch 0 or 1; any other count (drugs) up to MAXIMUM_WHOLE. Far past any clinical use,
# and inside what the checks' SQL can compute with (dates, INTEGER casts).
MAXIMUM_BY_UNIT = {"days": 36500, "years": 150, "0/1": 1}
MAXIMUM_WHOLE = 1_000_000


def _read(kind: type, raw: Any) -> int | float | str:
    """`raw` as a number of `kind`; for a whole-number parameter a fraction is read as a float, so
    coerce can refuse it rather than int() truncating it (or failing on the text "365.9")."""
    if kind is not int or isinstance(raw, int | float):
        return raw if isinstance(raw, float) else kind(raw)
    try:
        return int(raw)
    except (TypeError, ValueError):
        return float(raw)


def lookback(default: int, what: str) -> Parameter:
    """The `lookback_days` parameter: how far back `what` (a cramp diagnosis, a drug start) counts."""
    return Parameter("lookback_days", default, "days", f"How far back {what} counts.")


def days(name: str, default: int, description: str) -> Parameter:
    """A window length in days."""
    return Parameter(name, default, "days", description)


def refill_gap(what: str) -> Parameter:
    """`refill_gap_days`: how long after a prescription's end its drug still counts as taken.

    One definition for every check that asks whether a repeat medicine is being taken: a days
    supply is an estimate and the next 28-day issue often comes a few days late, so a long-term user
    is not off the drug in the gap between two issues (the 30-day grace period pharmacoepidemiology
    commonly uses to join refills into continuous use). The SQL phrase taken_until caps the gap at
    the course's own length, so a short one-off course is not stretched by 30 days, and allows none
    after a prescription read as stopped: the export says so (`stopped`: FHIR status 'stopped', a
    GP system's discontinued flag), else its end date comes before start + days_supply - 1 (OMOP's
    convention for a supply run out), read as a stop rather than the end of an issue.
    """
    return days(
        "refill_gap_days",
        30,
        f"{what} up to this many days after a prescription ended still counts as on the drug: a days "
        "supply is an estimate and the next repeat often comes late (at most the course's length; 0: "
        "only the days it covers; none after a prescription read as stopped).",
    )


def low_limit(analyte: str, default: float, unit: str = "mmol/L", label: str = "") -> Parameter:
    """`<analyte>_low`: a result below this is low (judged with result_below, _results.sql)."""
    return Parameter(f"{analyte}_low", default, unit, f"{label or analyte.capitalize()} below this is low.")


# The lower reference limits in common UK/US laboratory use, shared by every check that judges them.
POTASSIUM_LOW = low_limit("potassium", 3.5)
SODIUM_LOW = low_limit("sodium", 135.0)
MAGNESIUM_LOW = low_limit("magnesium", 0.70)

# The cramp work-ups are for adults (NICE CKS "Leg cramps" covers adults; nocturnal leg cramps and
# "growing pains" in children are benign and not investigated with bloods): a patient younger than
# this on as-of is out of their populations; one of unknown birth date stays in.
CRAMPS_MIN_AGE = Parameter(
    "min_age", 18, "years", "Age on as-of from which a patient with a cramp is in the population."
)


def last_results(*analytes: str) -> tuple[str, ...]:
    """Evidence showing each analyte's last result: `last_<analyte>_at`, `last_<analyte>` per analyte."""
    return tuple(column for a in analytes for column in (f"last_{a}_at", f"last_{a}"))


@dataclass(frozen=True)
class CheckDefinition:
    """One audit check, readable as its clinical definition."""

    id: str
    title: str
    guideline: tuple[str, ...]  # the sentence(s) of the guideline it implements, verbatim
    population: str  # who is in the denominator
    flag: str  # when a patient in the population is flagged
    windows: str  # every time window, in words
    priority: str  # what makes a flag high priority
    evidence: tuple[str, ...]  # evidence columns the SQL returns, in display order
    codelists: tuple[str, ...]  # codelist file stems in checks/codelists/
    parameters: tuple[Parameter, ...] = ()
    rationale: str = ""  # clinical choices made where the guideline is silent
    clears: str = ""  # what would clear a flag, in words (shown by `clinic-audit explain`)
    source: str = "Management of Cramps and Numbness (shared/reference/cramps_numbness_guideline.txt)"
    sql_name: str = field(default="")
    # The evidence fields naming the clinical facts behind a flag (drugs and their start dates,
    # diagnosis codes and dates, results and their dates): a review re-opens when one changes. Never
    # status words, day counters or lists that slide with the window: time passing is no new fact.
    fingerprint: tuple[str, ...] = ()
    # Who can be in the population at any date: every patient in it has a drug or a diagnosis (at
    # some date) in one of these codelists. The monthly measures evaluate the check on those
    # patients' records only (checks/measures.py), which is exact when this holds; empty: everyone.
    population_codelists: tuple[str, ...] = ()
    # True when the SQL also reads every drug codelist whole (drug_concepts or drug_exposures without
    # naming codelists): a drug's identity (its ingredients) comes from whichever codelist knows it
    all_drug_codelists: bool = False

    @property
    def codelists_read(self) -> str:
        """The codelists the check reads, in words: those declared, and every drug codelist when the
        check reads them all (all_drug_codelists)."""
        every = ["every drug codelist's ingredients (to name drugs)"] if self.all_drug_codelists else []
        return ", ".join([*self.codelists, *every])

    @property
    def sql(self) -> str:
        """The check's query text; parameters are bound by name (`$as_of`, `$lookback_days`)."""
        return (SQL_DIR / f"{self.sql_name or self.id}.sql").read_text(encoding="utf-8")

    def resolve(self, overrides: Mapping[str, Any], as_of: date) -> dict[str, Any]:
        """Defaults overlaid with the user's values, plus the as-of date: the bound parameters."""
        known = {p.name: p for p in self.parameters}
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise CheckConfigError(
                f"checks.{self.id}.{unknown[0]}: unknown parameter "
                f"(known: {', '.join(sorted(known)) or 'none'})"
            )
        values: dict[str, Any] = {p.name: p.default for p in self.parameters}
        values.update({k: known[k].coerce(self.id, v) for k, v in overrides.items()})
        values["as_of"] = as_of
        return values
