"""Every check declares the evidence fields that name the clinical facts behind its flags (#20
review 5): a review re-opens when one of them changes, so none may move with time alone."""

from __future__ import annotations

import json
from datetime import date

import pytest

from checks.evaluate import all_checks
from pipelines.reviews import fingerprint, review_state

DAY = date(2026, 11, 25)

# Evidence that moves with the as-of date or the window, not with the patient's record.
TIME_DEPENDENT = {
    "age",
    "monitoring",
    "due_on",
    "missing_groups",
    "problems",
    "potassium_results",
    "low_potassium",
    "potassium_falls",
    "trials",
    "trial_count",
    "first_trial_at",
    "cramp_dates",
    "active_drug_count",
}


@pytest.mark.parametrize("check", all_checks(), ids=lambda c: c.id)
def test_each_check_declares_its_facts_from_its_evidence(check):
    assert check.fingerprint, f"{check.id} declares no fingerprint fields"
    assert set(check.fingerprint) <= set(check.evidence)
    assert not set(check.fingerprint) & TIME_DEPENDENT


def test_only_the_declared_facts_count():
    fields = ("diuretics", "diuretic_since")
    night1 = {"monitoring": "baseline tests due", "diuretics": "furosemide", "diuretic_since": "2026-10-25"}
    night2 = night1 | {"monitoring": "overdue", "due_on": "2026-11-08"}
    stored = fingerprint(night1, fields)
    assert review_state(json.dumps(night2), stored, None, DAY, fields) == "applies"
    changed = night2 | {"diuretics": "furosemide; spironolactone"}
    assert review_state(json.dumps(changed), stored, None, DAY, fields) == "re-opened"


def test_a_review_stored_with_the_whole_evidence_still_applies_while_it_is_unchanged():
    night1 = {"monitoring": "overdue", "diuretics": "furosemide", "diuretic_since": "2026-10-25"}
    legacy = fingerprint(night1)
    assert review_state(json.dumps(night1), legacy, None, DAY, ("diuretics",)) == "applies"
