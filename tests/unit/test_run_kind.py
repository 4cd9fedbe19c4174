"""Scheduled or ad hoc (#18): which options make a run ad hoc, and when freshness is judged."""

from __future__ import annotations

from datetime import date

from pipelines.run_kind import AD_HOC, SCHEDULED, decide

DAY = date(2026, 11, 20)


def test_the_nightly_as_configured_is_scheduled_and_judges_freshness():
    for configured in (None, DAY):
        kind = decide(configured, None, None, {}, ad_hoc=False, scheduled=False)
        assert (kind.kind, kind.reasons, kind.judge_freshness) == (SCHEDULED, (), True)


def test_an_as_of_equal_to_the_configured_one_changes_nothing():
    assert decide(DAY, DAY, None, {}, False, False).kind == SCHEDULED


def test_each_ad_hoc_option_is_named_as_a_reason():
    kind = decide(
        None, date(2026, 6, 30), ("nsaid_kidney_disease",), {"a": {"lookback_days": "90"}}, True, False
    )
    assert kind.kind == AD_HOC and kind.ad_hoc
    assert kind.reasons == (
        "--as-of 2026-06-30",
        "--checks nsaid_kidney_disease",
        "--param a.lookback_days=90",
        "--ad-hoc",
    )
    assert not kind.judge_freshness  # an analyst's explicit date is not tonight's export


def test_scheduled_overrides_the_options_for_a_backfilled_night():
    kind = decide(None, date(2026, 11, 19), None, {}, False, scheduled=True)
    assert kind.kind == SCHEDULED and kind.reasons == ()


def test_latest_and_per_patient_are_never_judged_for_freshness():
    for mode in ("latest", "per-patient"):
        assert decide(mode, None, None, {}, False, False).judge_freshness is False
        assert decide(None, mode, None, {}, False, False).kind == AD_HOC


def test_an_as_of_of_today_is_the_nightly_when_nothing_is_configured():
    """`--as-of $(date +%F)` in a crontab is tonight's audit, not an analyst's question."""
    assert decide(None, DAY, None, {}, False, False, today=DAY).kind == SCHEDULED
    assert decide(None, DAY, None, {}, False, False, today=date(2026, 11, 21)).kind == AD_HOC
    assert (
        decide(date(2026, 11, 19), DAY, None, {}, False, False, today=DAY).kind == AD_HOC
    )  # configured wins
