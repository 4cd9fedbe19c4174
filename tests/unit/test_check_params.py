"""Parameter.coerce: a check parameter takes a number of its own kind, in a range a run can use, or the
command stops with exit 2 naming it (checks/framework.py); nothing is silently changed."""

from __future__ import annotations

import re

import pytest

from checks.framework import CheckConfigError, Parameter, days, lookback

LOOKBACK = lookback(365, "a result")
LOW = Parameter("potassium_low", 3.5, "mmol/L", "Low.")
FLAG = Parameter("require_renal", 0, "0/1", "Flag.")
AGE = Parameter("min_age", 65, "years", "Age.")
COUNT = Parameter("min_trials", 3, "drugs", "Count.")


@pytest.mark.parametrize("param", [LOOKBACK, LOW, FLAG, AGE, COUNT], ids=lambda p: p.name)
@pytest.mark.parametrize("raw", [True, False])
def test_a_boolean_is_no_number(param, raw):
    """TOML `lookback_days = true` was taken as 1 (bool is an int in Python) and changed the findings."""
    with pytest.raises(
        CheckConfigError, match=re.escape(f"checks.x.{param.name}: expected a number, got {raw!r}")
    ):
        param.coerce("x", raw)


@pytest.mark.parametrize("raw", [365.9, 0.5, "365.9"])
def test_a_whole_number_parameter_refuses_a_fraction(raw):
    """365.9 was truncated to 365 without a word."""
    with pytest.raises(CheckConfigError, match=re.escape("checks.x.lookback_days: expected a whole number")):
        LOOKBACK.coerce("x", raw)


def test_a_whole_float_is_the_whole_number():
    assert LOOKBACK.coerce("x", 180.0) == 180 and isinstance(LOOKBACK.coerce("x", 180.0), int)


@pytest.mark.parametrize(
    ("param", "largest"),
    [(LOOKBACK, 36500), (days("max_gap_days", 7, "Gap."), 36500), (AGE, 150), (FLAG, 1), (COUNT, 1_000_000)],
    ids=lambda p: getattr(p, "name", str(p)),
)
def test_whole_numbers_have_an_upper_bound_by_unit(param, largest):
    """99999999999 days passed and then crashed the check mid-run (DuckDB ConversionException, exit 1)."""
    assert param.coerce("x", largest) == largest
    assert param.coerce("x", str(largest)) == largest
    for raw in (largest + 1, 99999999999, str(2**70)):
        with pytest.raises(CheckConfigError, match=re.escape(f"checks.x.{param.name}: at most {largest}")):
            param.coerce("x", raw)


def test_a_decimal_parameter_takes_whole_and_decimal_numbers():
    assert LOW.coerce("x", 3) == 3.0 and LOW.coerce("x", "3.2") == 3.2
