"""Spec: numbness_neuropathy_workup and vitamin B12 replacement (review 2026-12). A patient with
known pernicious anaemia on hydroxocobalamin injections every three months who reports numbness has
had the deficiency the B12 test looks for found and treated; the BSH guideline (2014) advises
against re-testing serum B12 once injections have started. Replacement taken in the work-up window
stands for the B12 result when it was started before the numbness; the glucose or HbA1c is still
required. As of 2026-11-20 (the window
starts 2025-11-20)."""

from __future__ import annotations

from datetime import date

from tests.helpers import table
from tests.spec.harness import check_spec

AS_OF = date(2026, 11, 20)
IDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09", "B10", "B11", "B12")

DIAGNOSES = table(
    "patient_id | code | code_system | recorded_at | resolved_at\n"
    + "\n".join(f"{p} | R20.2 | ICD-10-CM | 2026-06-01 |" for p in IDS)
)
PRESCRIPTIONS = table("""
patient_id | drug_name                                              | rxnorm_code | atc_code | start_date | end_date   | days_supply
# hydroxocobalamin injections every three months, each a one-day supply, the last in August
B01        | Hydroxocobalamin 1mg/1ml solution for injection ampoules |           |          | 2026-02-10 |            | 1
B01        | Hydroxocobalamin 1mg/1ml solution for injection ampoules |           |          | 2026-05-12 |            | 1
B01        | Hydroxocobalamin 1mg/1ml solution for injection ampoules |           |          | 2026-08-11 |            | 1
# a UK brand, undated: one injection interval (b12_course_days, 90) from its start, before the numbness
B02        | Neo-Cytamen 1000micrograms/1ml solution for injection ampoules | |          | 2026-04-01 |            |
# oral cyanocobalamin coded by ATC only
B03        | B12 tablets                                            |             | B03BA01  | 2026-03-01 |            | 90
# B12 replacement but no glucose or HbA1c: still flagged for the glucose (normal priority)
B04        | Cyanocobalamin 1mg tablets                             |             |          | 2026-03-01 |            | 90
# a course that ended before the work-up window: no longer counts
B05        | Hydroxocobalamin 1mg/1ml solution for injection ampoules |           |          | 2024-01-10 | 2025-06-30 |
# a vitamin B complex is no B12 replacement
B06        | Vitamin B compound strong tablets                      |             | A11EA    | 2026-03-01 |            | 90
# a single undated issue years ago is no current treatment
B08        | Neo-Cytamen 1000micrograms/1ml solution for injection ampoules | |          | 2019-03-01 |            |
# B12 started for the numbness itself, without a level: the B12 result is still due
B09        | Mecobalamin 500microgram tablets                       |             |          | 2026-07-01 |            | 90
# an RxNorm multivitamin naming cyanocobalamin is no replacement
B10        | ascorbic acid 60 MG / cyanocobalamin 0.006 MG / folic acid 0.4 MG Oral Tablet | | | 2026-01-01 | | 90
# injections named as RxNorm (Synthea, OMOP) and dm+d write them: a strength per millilitre is one
# drug's, not a combination (GP review 2026-12-03)
B11        | hydroxocobalamin 1 MG/ML Injectable Solution           |             |          | 2026-05-01 |            | 1
B11        | hydroxocobalamin 1 MG/ML Injectable Solution           |             |          | 2026-08-01 |            | 1
B12        | Cyanocobalamin 1000micrograms/ml solution for injection |            |          | 2026-05-01 |            | 1
""")
LABS = table("""
patient_id | collected_at | loinc_code | test_name | value | unit
B01        | 2026-06-03   | 4548-4     | HbA1c     | 5.4   | %
B02        | 2026-06-03   | 2345-7     | Glucose   | 5.1   | mmol/L
B03        | 2026-06-03   | 2345-7     | Glucose   | 5.1   | mmol/L
B05        | 2026-06-03   | 2345-7     | Glucose   | 5.1   | mmol/L
B06        | 2026-06-03   | 2345-7     | Glucose   | 5.1   | mmol/L
B07        | 2026-06-03   | 2345-7     | Glucose   | 5.1   | mmol/L
B08        | 2026-06-03   | 2345-7     | Glucose   | 5.1   | mmol/L
B09        | 2026-06-03   | 2345-7     | Glucose   | 5.1   | mmol/L
B10        | 2026-06-03   | 2345-7     | Glucose   | 5.1   | mmol/L
B11        | 2026-06-03   | 2345-7     | Glucose   | 5.1   | mmol/L
B12        | 2026-06-03   | 2345-7     | Glucose   | 5.1   | mmol/L
""")


def test_vitamin_b12_replacement_stands_for_the_b12_result(tmp_path):
    tables = {"diagnoses": DIAGNOSES, "prescriptions": PRESCRIPTIONS, "labs": LABS}
    expected = {
        "B01": None,
        "B02": None,
        "B03": None,
        "B04": "normal",
        "B05": "normal",
        "B06": "normal",
        "B07": "normal",
        "B08": "normal",
        "B09": "normal",
        "B10": "normal",
        "B11": None,
        "B12": None,
    }
    reason = {
        "B04": "numbness or neuropathy recorded 2026-06-01 with no glucose or HbA1c result in the "
        "365 days to 2026-11-20"
    }
    evidence = {
        "B04": {"b12_replacement": "Cyanocobalamin 1mg tablets"},
        "B05": {"b12_replacement": None},
        "B08": {"b12_replacement": None},
        "B09": {"b12_replacement": "Mecobalamin 500microgram tablets"},
        "B10": {"b12_replacement": None},
    }
    check_spec(
        tmp_path, "numbness_neuropathy_workup", AS_OF, tables, expected, reason=reason, evidence=evidence
    )


# GP review 2026-12-03: b12_since is when the current course of B12 began, not the first B12 ever
# prescribed. A course that ended long before the numbness does not make B12 started for the
# numbness itself, without a level, count as treatment found before it.
COURSES = table(
    """
patient_id | drug_name                                                | rxnorm_code | atc_code | start_date | end_date   | days_supply
# a month of oral B12 in 2019; mecobalamin started for the numbness in July: the B12 result is due
B13        | Cyanocobalamin 50microgram tablets                       |             |          | 2019-03-01 |            | 28
B13        | Mecobalamin 500microgram tablets                         |             |          | 2026-07-01 |            | 90
# injections every three months from 2024, stopped after January 2025, started again in August
B15        | Hydroxocobalamin 1mg/1ml solution for injection ampoules |             |          | 2024-01-15 |            | 1
B15        | Hydroxocobalamin 1mg/1ml solution for injection ampoules |             |          | 2024-04-16 |            | 1
B15        | Hydroxocobalamin 1mg/1ml solution for injection ampoules |             |          | 2024-07-16 |            | 1
B15        | Hydroxocobalamin 1mg/1ml solution for injection ampoules |             |          | 2024-10-15 |            | 1
B15        | Hydroxocobalamin 1mg/1ml solution for injection ampoules |             |          | 2025-01-14 |            | 1
B15        | Hydroxocobalamin 1mg/1ml solution for injection ampoules |             |          | 2026-08-11 |            | 1
"""
    + "\n".join(  # injections every three months since 2024, each a one-day supply, a few 92 days apart
        f"B14 | Hydroxocobalamin 1mg/1ml solution for injection ampoules | | | {d} | | 1"
        for d in (
            "2024-01-15",
            "2024-04-16",
            "2024-07-16",
            "2024-10-15",
            "2025-01-14",
            "2025-04-15",
            "2025-07-15",
            "2025-10-14",
            "2026-01-13",
            "2026-04-14",
            "2026-07-14",
            "2026-10-13",
        )
    )
)


def test_b12_counts_from_the_start_of_its_current_course(tmp_path):
    ids = ("B13", "B14", "B15")
    tables = {
        "diagnoses": table(
            "patient_id | code | code_system | recorded_at | resolved_at\n"
            + "\n".join(f"{p} | R20.2 | ICD-10-CM | 2026-06-01 |" for p in ids)
        ),
        "prescriptions": COURSES,
        "labs": table(
            "patient_id | collected_at | loinc_code | test_name | value | unit\n"
            + "\n".join(f"{p} | 2026-06-03 | 2345-7 | Glucose | 5.1 | mmol/L" for p in ids)
        ),
    }
    expected = {"B13": "normal", "B14": None, "B15": "normal"}
    reason = {
        "B15": "numbness or neuropathy recorded 2026-06-01 with no vitamin B12 result in the 365 days "
        "to 2026-11-20"
    }
    check_spec(tmp_path, "numbness_neuropathy_workup", AS_OF, tables, expected, reason=reason)
