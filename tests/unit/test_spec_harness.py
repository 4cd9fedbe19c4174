"""check_spec's comparisons (tests/spec/harness.py): what counts as a difference, without a pipeline."""

from __future__ import annotations

import pytest

from tests.spec.harness import OUT, SpecRun, flag_differences, population_differences, text_matches

FINDINGS = {
    "P1": {"priority": "high", "reason": "low potassium 3.2 on 2026-10-01"},
    "P2": {"priority": "normal", "reason": "no sodium result"},
}


@pytest.mark.parametrize(
    ("want", "ok"),
    [
        ("low potassium 3.2 on 2026-10-01", True),
        ("low potassium 3.2", False),  # whole string unless elided
        ("low potassium...", True),
        ("...on 2026-10-01", True),
        ("...potassium 3.2...", True),
        ("...sodium...", False),
        ("...on 2026-10-02", False),
    ],
)
def test_text_matches_whole_or_elided(want, ok):
    assert text_matches(want, FINDINGS["P1"]["reason"]) is ok


def test_text_never_matches_a_missing_value():
    assert not text_matches("...", None)


def test_every_expectation_kind():
    expected = {"P1": "high", "P2": True, "P3": None, "P4": OUT, "P5": False}
    assert flag_differences(FINDINGS, expected) == []


def test_differences_name_the_patient_and_both_sides():
    lines = flag_differences(FINDINGS, {"P1": "normal", "P3": "high"})
    assert lines == [
        "P1: expected normal, got high (low potassium 3.2 on 2026-10-01)",
        "P2: flagged but not in the expectation: normal (no sodium result)",
        "P3: expected high, got not flagged",
    ]
    assert flag_differences(FINDINGS, {"P1": OUT, "P2": True}) == [
        "P1: expected not flagged (out), got high (low potassium 3.2 on 2026-10-01)"
    ]


def spec_run_of(population: dict[str, bool]) -> SpecRun:
    """A SpecRun with FINDINGS and a population, as spec_run would read them."""
    return SpecRun(FINDINGS, None, None, population)  # type: ignore[arg-type]


def test_a_population_swap_is_a_difference_though_the_total_agrees():
    run = spec_run_of({"P1": True, "P2": True, "P3": False})
    assert population_differences(run, {"P1": "high", "P2": True, "P3": None, "P4": OUT}) == []
    # P3 out and P4 in: the same denominator, a different population
    assert population_differences(run, {"P1": "high", "P2": True, "P3": OUT, "P4": None}) == [
        "P3: expected out of the population, got in it (not flagged)",
        "P4: expected in the population, got out of it",
    ]


def test_a_patient_in_the_population_without_an_expectation_is_a_difference():
    run = spec_run_of({"P1": True, "P2": True, "P9": False})
    assert population_differences(run, {"P1": "high", "P2": True}) == [
        "P9: expected out of the population, got in it (not flagged)"
    ]


def test_the_re_evaluation_must_flag_what_the_run_found():
    run = spec_run_of({"P1": True, "P2": False})
    assert population_differences(run, {"P1": "high", "P2": None})[-1] == (
        "evaluated again, the check flags ['P1']; the run found ['P1', 'P2']"
    )
