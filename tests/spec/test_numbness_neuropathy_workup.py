"""Spec: numbness_neuropathy_workup, as of 2026-11-20 (both windows start 2025-11-20)."""

from __future__ import annotations

from datetime import date
from functools import partial

from tests.helpers import table
from tests.spec.harness import OUT, check_spec

AS_OF = date(2026, 11, 20)
CHECK = "numbness_neuropathy_workup"

DIAGNOSES = table("""
patient_id | code      | code_system | recorded_at | resolved_at
# paraesthesia with the dot, glucose and B12 in the window: worked up
N01        | R20.2     | ICD-10-CM   | 2026-06-01  |
# without the dot, glucose only: B12 missing
N02        | R202      | ICD-10-CM   | 2026-06-01  |
# polyneuropathy recorded exactly 365 days before as-of, no tests: in, both missing
N03        | G62.9     | ICD-10-CM   | 2025-11-20  |
# recorded 366 days before as-of: outside the lookback
N04        | G62.9     | ICD-10-CM   | 2025-11-19  |
# ICD-9-CM polyneuropathy, worked up by HbA1c and B12
N05        | 356.9     | ICD-9-CM    | 2026-03-01  |
# SNOMED-CT numbness, B12 only: glucose/HbA1c missing
N06        | 44077006  | SNOMED-CT   | 2026-03-01  |
# diabetic polyneuropathy; HbA1c exactly 365 days back counts, B12 366 days back does not
N07        | E11.42    | ICD-10-CM   | 2026-03-01  |
# recorded after as-of: not in the population
N08        | R20.2     | ICD-10-CM   | 2026-11-21  |
# hyperaesthesia is not numbness
N09        | R20.3     | ICD-10-CM   | 2026-06-01  |
# SNOMED paresthesia; labs named only (no LOINC): worked up
N10        | 91019004  | SNOMED-CT   | 2026-06-01  |
# a resolved symptom still counts by its recorded date
N11        | R20.0     | ICD-10-CM   | 2026-06-01  | 2026-07-01
# results only after as-of do not count
N12        | G57.91    | ICD-10-CM   | 2026-06-01  |
# results on the as-of date (late in the day) count; ICD-9 782.0
N13        | 782.0     | ICD-9-CM    | 2026-06-01  |
# an old numbness outside the lookback and a recent unrelated code: not in the population
N14        | R20.2     | ICD-10-CM   | 2024-01-01  |
N14        | I10       | ICD-10-CM   | 2026-06-01  |
""")

LABS = table("""
patient_id | collected_at        | loinc_code | test_name     | value | unit
N01        | 2026-05-01          | 2345-7     |               | 5.4   | mmol/L
N01        | 2026-05-01          | 2132-9     |               | 320   | pmol/L
N02        | 2026-05-01          | 2345-7     |               | 5.4   | mmol/L
N05        | 2026-02-01          | 4548-4     |               | 6.1   | %
N05        | 2026-02-01          | 2132-9     |               | 300   | pmol/L
N06        | 2026-02-01          | 2132-9     |               | 250   | pmol/L
N07        | 2025-11-20          | 4548-4     |               | 7.2   | %
N07        | 2025-11-19          | 2132-9     |               | 280   | pmol/L
N10        | 2026-06-02          |            | Glucose       | 5.1   | mmol/L
N10        | 2026-06-02          |            | Vitamin B12   | 310   | pmol/L
N12        | 2026-11-21          | 2345-7     |               | 5.4   | mmol/L
N12        | 2026-11-21          | 2132-9     |               | 320   | pmol/L
N13        | 2026-11-20T23:30:00 | 4548-4     |               | 5.6   | %
N13        | 2026-11-20T23:30:00 | 14685-2    |               | 300   | pmol/L
""")

TABLES = {"diagnoses": DIAGNOSES, "labs": LABS}

EXPECTED = {
    "N01": None,  # glucose and B12 in the window
    "N02": "normal",  # glucose only: B12 missing
    "N03": "high",  # 365 days before as-of, no tests: both missing
    "N04": OUT,  # 366 days before as-of: outside the lookback
    "N05": None,  # worked up by HbA1c and B12
    "N06": "normal",  # B12 only
    "N07": "normal",  # HbA1c 365 days back counts, B12 366 days back does not
    "N08": OUT,  # recorded after as-of
    "N09": OUT,  # hyperaesthesia is not numbness
    "N10": None,  # labs named only: worked up
    "N11": "high",  # a resolved symptom counts by its recorded date
    "N12": "high",  # results only after as-of
    "N13": None,  # results on the as-of date, late in the day
    "N14": OUT,  # an old numbness and a recent unrelated code
}
spec = partial(check_spec, check=CHECK, as_of=AS_OF, tables=TABLES, expected=EXPECTED)


def test_flags_exactly_the_expected_patients(tmp_path):
    spec(tmp_path)


def test_reason_and_priority_say_what_is_missing(tmp_path):
    spec(
        tmp_path,
        reason={
            "N02": "numbness or neuropathy recorded 2026-06-01 with no vitamin B12 result in the 365 days to 2026-11-20",
            "N06": "...no glucose or HbA1c result...",
            "N03": "...no glucose or HbA1c, and no vitamin B12...",
        },
        evidence={
            "N07": {
                "last_b12_at": "2025-11-19",
                "last_b12": "280.0",
                "last_glucose_or_hba1c_at": "2025-11-20",
                "numbness_codes": "E11.42 (ICD-10-CM)",
            }
        },
    )


def test_workup_window_is_a_parameter(tmp_path):
    run = spec(tmp_path, expected={**EXPECTED, "N07": None}, params={"workup_days": 366})
    assert run.result.parameters["workup_days"] == 366


# Issue 15, round 2: SNOMED CT numbness and paraesthesia by body site and neuropathy subtypes (OpenSAFELY
# peripheral-neuropathy symptom codelist). Radiculopathy is deliberately out: the guideline sends it
# down another path. No labs, so everyone in the population is flagged.
SITE_DIAGNOSES = table("""
patient_id | code              | code_system | recorded_at | resolved_at
N51        | 309538000         | SNOMED-CT   | 2026-06-01  |
N52        | 15634791000119106 | SNOMED-CT   | 2026-06-01  |
N53        | 57406009          | SNOMED-CT   | 2026-06-01  |
N54        | 709489006         | SNOMED-CT   | 2026-06-01  |
N55        | 54404000          | SNOMED-CT   | 2026-06-01  |
""")


def test_snomed_numbness_by_site_and_neuropathy_subtypes_are_seen(tmp_path):
    expected = {
        "N51": True,
        "N52": True,
        "N53": True,
        "N54": True,
        "N55": OUT,
    }  # N55: deliberately not in the codelist
    check_spec(tmp_path, CHECK, AS_OF, {"diagnoses": SITE_DIAGNOSES}, expected)
