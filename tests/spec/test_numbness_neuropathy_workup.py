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


# Review 2026-11 round 2: B12 and HbA1c under the names laboratories export, and active B12
# (holotranscobalamin), which NICE NG239 (2024) accepts beside total B12 as the first-line B12 test.
# Each patient has the other test by LOINC. Methylmalonic acid is a second-line test, not a B12 result.
NAMED_WORKUP = {
    "B01": ("b12", "Vitamin B12, serum", "350", "ng/L"),
    "B02": ("b12", "Vitamin B12 (Cobalamin)", "350", "ng/L"),
    "B03": ("b12", "B12 level", "350", "ng/L"),
    "B04": ("b12", "Active B12", "60", "pmol/L"),
    "B05": ("b12", "Holotranscobalamin", "60", "pmol/L"),
    "B06": ("b12", "Active B12 (holotranscobalamin)", "60", "pmol/L"),
    "B07": ("glucose", "HbA1c - IFCC", "48", "mmol/mol"),
    "B08": ("glucose", "HbA1c%", "6.0", "%"),
    "B09": ("glucose", "Fasting plasma glucose level", "5.6", "mmol/L"),
    "B10": ("b12", "Methylmalonic acid", "0.25", "umol/L"),
}
OTHER_TEST = {"b12": "4548-4 | | 5.6 | %", "glucose": "2132-9 | | 350 | ng/L"}
NAMED_WORKUP_TABLES = {
    "diagnoses": table(
        "patient_id | code | code_system | recorded_at | resolved_at\n"
        + "\n".join(f"{p} | R20.2 | ICD-10-CM | 2026-06-01 |" for p in NAMED_WORKUP)
    ),
    "labs": table(
        "patient_id | collected_at | loinc_code | test_name | value | unit\n"
        + "\n".join(
            f"{p} | 2026-05-01 | {OTHER_TEST[test]}\n{p} | 2026-05-01 | | {name} | {value} | {unit}"
            for p, (test, name, value, unit) in NAMED_WORKUP.items()
        )
    ),
}


def test_b12_active_b12_and_hba1c_named_as_laboratories_export_them_count(tmp_path):
    expected = {p: None for p in NAMED_WORKUP} | {"B10": "normal"}
    reason = {"B10": "...with no vitamin B12 result in the 365 days to 2026-11-20"}
    check_spec(tmp_path, CHECK, AS_OF, NAMED_WORKUP_TABLES, expected, reason=reason)


# Review 2026-11 round 2: diabetic neuropathy, unspecified, mono- and polyneuropathy (E08-E13 .40-.42) are in
# the population; autonomic neuropathy (.43), amyotrophy (.44) and "other" (.49) stay out by design.
# WHO ICD-10's 4-character "with neurological complications" (E10-E14 .4, as unspecific as CM's .40) is
# in, written as WHO ICD-10 (with or without the dagger) or as an ICD-10-CM code of exactly 4 characters;
# CM's .43/.44/.49 stay out although they start with E11.4 (SOURCES.md, WHO ICD-10 rows).
DIABETIC_DIAGNOSES = table("""
patient_id | code   | code_system | recorded_at | resolved_at
D01        | E11.40 | ICD-10-CM   | 2026-06-01  |
D02        | E10.41 | ICD-10-CM   | 2026-06-01  |
D03        | E13.42 | ICD-10-CM   | 2026-06-01  |
D04        | E11.43 | ICD-10-CM   | 2026-06-01  |
D05        | E11.44 | ICD-10-CM   | 2026-06-01  |
D06        | E11.49 | ICD-10-CM   | 2026-06-01  |
D07        | E11.4  | ICD10WHO    | 2026-06-01  |
D08        | E14.4† | ICD-10-WHO  | 2026-06-01  |
D09        | E11.4  | ICD-10-CM   | 2026-06-01  |
D10        | G63.2* | ICD10WHO    | 2026-06-01  |
D11        | E11.9  | ICD10WHO    | 2026-06-01  |
""")


def test_diabetic_neuropathy_in_and_other_neurological_complications_out(tmp_path):
    expected = {"D01": "high", "D02": "high", "D03": "high", "D04": OUT, "D05": OUT, "D06": OUT}
    expected |= {"D07": "high", "D08": "high", "D09": "high", "D10": "high", "D11": OUT}
    check_spec(tmp_path, CHECK, AS_OF, {"diagnoses": DIABETIC_DIAGNOSES}, expected)
