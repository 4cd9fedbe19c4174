"""Spec: nsaid_kidney_disease, as of 2026-11-20.

Open-ended NSAIDs start on 2026-09-01, inside the 90-day course an undated NSAID is active for.
"""

from __future__ import annotations

from datetime import date
from functools import partial

from tests.helpers import table
from tests.spec.harness import OUT, check_spec

AS_OF = date(2026, 11, 20)
CHECK = "nsaid_kidney_disease"

PRESCRIPTIONS = table("""
patient_id | drug_name                          | rxnorm_code | atc_code | start_date | end_date   | days_supply
# CKD 3 with the dot
K01        | ibuprofen 400 mg tablet            | 5640        | M01AE01  | 2026-09-01 |            |
# CKD 4 without the dot
K02        | naproxen 500 mg tablet             | 7258        | M01AE02  | 2026-09-01 |            |
# ICD-9-CM CKD stage 3
K03        | diclofenac 50 mg tablet            | 3355        | M01AB05  | 2026-09-01 |            |
# SNOMED-CT CKD stage 3
K04        | ibuprofen 200 mg tablet            | 5640        | M01AE01  | 2026-09-01 |            |
# topical diclofenac: ingredient code matches, but it is a gel
K05        | diclofenac 1% gel                  | 3355        | M02AA15  | 2026-09-01 |            |
# topical brand, name only
K06        | Voltaren Gel 1%                    |             |          | 2026-09-01 |            |
# ended the day before as-of: still taken, in its refill gap
K07        | naproxen 500 mg tablet             | 7258        | M01AE02  | 2026-01-01 | 2026-11-19 |
# ends on as-of; low eGFR, no CKD code
K08        | naproxen 250 mg tablet             | 7258        | M01AE02  | 2026-01-01 | 2026-11-20 |
# only days_supply, still running; latest eGFR 25: high priority
K09        | ibuprofen 400 mg tablet            | 5640        | M01AE01  | 2026-11-01 |            | 30
# CKD stage 2 and a normal eGFR
K10        | ibuprofen 400 mg tablet            | 5640        | M01AE01  | 2026-09-01 |            |
# an earlier low eGFR, but the latest is normal
K11        | naproxen 500 mg tablet             | 7258        | M01AE02  | 2026-09-01 |            |
# CKD resolved before as-of
K12        | naproxen 500 mg tablet             | 7258        | M01AE02  | 2026-09-01 |            |
# starts after as-of
K13        | naproxen 500 mg tablet             | 7258        | M01AE02  | 2026-11-21 |            |
# brand name only; eGFR 59.9
K14        | Advil 200 mg                       |             |          | 2026-09-01 |            |
# eGFR exactly 60 is not below 60
K15        | ibuprofen 400 mg tablet            | 5640        | M01AE01  | 2026-09-01 |            |
# RxNorm code only
K16        | tablet (see pharmacy)              | 5640        |          | 2026-09-01 |            |
# "liquid gel" capsules are oral
K17        | ibuprofen 200 mg liquid gel capsule |            |          | 2026-09-01 |            |
# CKD recorded and eGFR collected only after as-of
K18        | ibuprofen 400 mg tablet            | 5640        | M01AE01  | 2026-09-01 |            |
# eGFR by test name only
K19        | meloxicam 7.5 mg tablet            | 41493       | M01AC06  | 2026-09-01 |            |
# CKD resolved only after as-of: still present on as-of
K20        | ibuprofen 400 mg tablet            | 5640        | M01AE01  | 2026-09-01 |            |
# combination product recognised by ATC
K21        | hydrocodone / ibuprofen 7.5/200 mg |             | N02AJ23  | 2026-09-01 |            |
# CKD but no NSAID
K22        | paracetamol 500 mg tablet          | 161         | N02BE01  | 2026-09-01 |            |
""")

DIAGNOSES = table("""
patient_id | code      | code_system | recorded_at | resolved_at
K01        | N18.30    | ICD-10-CM   | 2025-01-01  |
K02        | N184      | ICD-10-CM   | 2025-01-01  |
K03        | 585.3     | ICD-9-CM    | 2020-01-01  |
K04        | 433144002 | SNOMED-CT   | 2025-01-01  |
K05        | N18.30    | ICD-10-CM   | 2025-01-01  |
K06        | N18.30    | ICD-10-CM   | 2025-01-01  |
K07        | N18.4     | ICD-10-CM   | 2025-01-01  |
K10        | N18.2     | ICD-10-CM   | 2025-01-01  |
K12        | N18.30    | ICD-10-CM   | 2025-01-01  | 2026-01-01
K13        | N18.30    | ICD-10-CM   | 2025-01-01  |
K16        | N18.31    | ICD-10-CM   | 2025-01-01  |
K17        | N18.32    | ICD-10-CM   | 2025-01-01  |
K18        | N18.30    | ICD-10-CM   | 2026-11-21  |
K20        | N18.4     | ICD-10-CM   | 2025-01-01  | 2026-11-21
K21        | N18.5     | ICD-10-CM   | 2025-01-01  |
K22        | N18.30    | ICD-10-CM   | 2025-01-01  |
""")

LABS = table("""
patient_id | collected_at | loinc_code | test_name | value | unit
K08        | 2026-10-01   | 33914-3    |           | 45    | mL/min/1.73m2
K09        | 2026-06-01   | 33914-3    |           | 35    | mL/min/1.73m2
K09        | 2026-10-01   | 62238-1    |           | 25    | mL/min/1.73m2
K10        | 2026-10-01   | 33914-3    |           | 72    | mL/min/1.73m2
K11        | 2025-06-01   | 33914-3    |           | 55    | mL/min/1.73m2
K11        | 2026-06-01   | 33914-3    |           | 66    | mL/min/1.73m2
K14        | 2026-10-01   | 33914-3    |           | 59.9  | mL/min/1.73m2
K15        | 2026-10-01   | 33914-3    |           | 60    | mL/min/1.73m2
K18        | 2026-11-21   | 33914-3    |           | 40    | mL/min/1.73m2
K19        | 2020-03-01   |            | eGFR      | 40    | mL/min/1.73m2
""")

TABLES = {"prescriptions": PRESCRIPTIONS, "diagnoses": DIAGNOSES, "labs": LABS}

EXPECTED = {
    "K01": "normal",  # CKD 3 with the dot
    "K02": "high",  # CKD 4 without the dot
    "K03": "normal",  # ICD-9-CM CKD stage 3
    "K04": "normal",  # SNOMED-CT CKD stage 3
    "K05": OUT,  # topical diclofenac gel
    "K06": OUT,  # topical brand, name only
    "K07": "high",  # ended the day before as-of: still taken in its refill gap (review 2026-12-03)
    "K08": "normal",  # ends on as-of; eGFR 45, no CKD code
    "K09": "high",  # days_supply still running; latest eGFR 25
    "K10": None,  # CKD stage 2 and a normal eGFR
    "K11": None,  # an earlier low eGFR, the latest normal
    "K12": None,  # CKD resolved before as-of
    "K13": OUT,  # starts after as-of
    "K14": "normal",  # brand name only; eGFR 59.9
    "K15": None,  # eGFR exactly 60
    "K16": "normal",  # RxNorm code only
    "K17": "normal",  # "liquid gel" capsules are oral
    "K18": None,  # CKD and eGFR only after as-of
    "K19": "normal",  # eGFR by test name only
    "K20": "high",  # CKD resolved only after as-of
    "K21": "high",  # combination product by ATC; CKD stage 5
    "K22": OUT,  # CKD but no NSAID
}
spec = partial(check_spec, check=CHECK, as_of=AS_OF, tables=TABLES, expected=EXPECTED)


def test_flags_exactly_the_expected_patients(tmp_path):
    spec(tmp_path)


def test_reason_evidence_and_priority(tmp_path):
    # issue 15: CKD stage 4-5 coded (K21, K02) is high priority without an eGFR
    spec(
        tmp_path,
        reason={
            "K01": "on ibuprofen 400 mg tablet with CKD stage 3 or worse coded N18.30 (ICD-10-CM)",
            "K08": "on naproxen 250 mg tablet with latest eGFR 45.0 on 2026-10-01",
            "K21": "...with CKD stage 4-5, end-stage renal disease or dialysis coded N18.5 (ICD-10-CM)",
        },
        evidence={
            "K09": {
                "latest_egfr": "25.0",
                "latest_egfr_at": "2026-10-01",
                "nsaid_since": "2026-11-01",
                "ckd_codes": None,
            },
            "K02": {"ckd_codes": "N184 (ICD-10-CM)"},
        },
    )


# Issue 15, round 2: UK brands from the OpenSAFELY BNF 10.1.1/10.3.2 dm+d codelists. Oral brands are
# systemic NSAIDs; a topical-only brand or the dm+d plural "medicated plasters" is not, even when the
# row carries the systemic ingredient's RxNorm code or a systemic brand name.
UK_PRESCRIPTIONS = table("""
patient_id | drug_name                                                   | rxnorm_code | atc_code | start_date | end_date   | days_supply
U01        | Voltarol Retard 100mg tablets                               |             |          | 2026-09-01 |          |
# ketoprofen brand that also names a gel; the capsule is oral
U02        | Tiloket CR 200mg capsules                                   |             |          | 2026-09-01 |          |
U03        | Nurofen Joint & Muscular Pain Relief 200mg medicated plasters |           |          | 2026-09-01 |          |
U04        | Ibuleve Speed Relief 5% spray                               | 5640        |          | 2026-09-01 |          |
# ibuprofen lysine; other Feminax products are paracetamol/codeine
U05        | Feminax Express 342mg tablets                               |             |          | 2026-09-01 |          |
U06        | Flexin-75 Continus tablets                                  |             |          | 2026-09-01 |          |
# tolfenamic acid (BNF 4.7.4.1, migraine; not in the BNF 10.1.1 list) by name and by brand (GP review)
U07        | Tolfenamic acid 200mg tablets                               |             |          | 2026-09-01 |          |
U08        | Clotam Rapid 200mg tablets                                  |             |          | 2026-09-01 |          |
""")

UK_DIAGNOSES = table("""
patient_id | code  | code_system | recorded_at | resolved_at
U01        | N18.4 | ICD-10-CM   | 2025-01-01  |
U02        | N18.4 | ICD-10-CM   | 2025-01-01  |
U03        | N18.4 | ICD-10-CM   | 2025-01-01  |
U04        | N18.4 | ICD-10-CM   | 2025-01-01  |
U05        | N18.4 | ICD-10-CM   | 2025-01-01  |
U06        | N18.4 | ICD-10-CM   | 2025-01-01  |
U07        | N18.4 | ICD-10-CM   | 2025-01-01  |
U08        | N18.4 | ICD-10-CM   | 2025-01-01  |
""")


def test_uk_oral_brands_seen_and_topical_brands_and_plasters_not(tmp_path):
    expected = {"U01": True, "U02": True, "U03": OUT, "U04": OUT, "U05": True, "U06": True}
    expected |= {"U07": True, "U08": True}
    check_spec(
        tmp_path, CHECK, AS_OF, {"prescriptions": UK_PRESCRIPTIONS, "diagnoses": UK_DIAGNOSES}, expected
    )


# Issue 15: an NSAID with no end date and no days supply is a course active for open_course_days (90)
# from its start, as PINCER counts an NSAID "prescribed in the last 3 months"; CKD stage 4-5, ESRD and
# dialysis codes are high priority. Every patient here has an eGFR-free record.
COURSE_PRESCRIPTIONS = table("""
patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date   | days_supply
# started exactly 90 days before as-of, undated: still active
D01        | ibuprofen 400 mg tablet | 5640        | M01AE01  | 2026-08-22 |            |
# started 91 days before as-of, undated: the course is over
D02        | ibuprofen 400 mg tablet | 5640        | M01AE01  | 2026-08-21 |            |
# long ago, but an explicit end date after as-of: active
D03        | naproxen 500 mg tablet  | 7258        | M01AE02  | 2025-01-01 | 2026-12-31 |
# long ago with a year's days supply still running: active
D04        | naproxen 500 mg tablet  | 7258        | M01AE02  | 2026-01-01 |            | 365
# an old undated course and a recent renewal: the renewal is active
D05        | naproxen 500 mg tablet  | 7258        | M01AE02  | 2025-06-01 |            |
D05        | naproxen 500 mg tablet  | 7258        | M01AE02  | 2026-10-01 |            |
D06        | ibuprofen 400 mg tablet | 5640        | M01AE01  | 2026-10-01 |            |
D07        | ibuprofen 400 mg tablet | 5640        | M01AE01  | 2026-10-01 |            |
D08        | ibuprofen 400 mg tablet | 5640        | M01AE01  | 2026-10-01 |            |
D09        | ibuprofen 400 mg tablet | 5640        | M01AE01  | 2026-10-01 |            |
D10        | ibuprofen 400 mg tablet | 5640        | M01AE01  | 2026-10-01 |            |
D11        | ibuprofen 400 mg tablet | 5640        | M01AE01  | 2026-10-01 |            |
D12        | ibuprofen 400 mg tablet | 5640        | M01AE01  | 2026-10-01 |            |
D13        | ibuprofen 400 mg tablet | 5640        | M01AE01  | 2026-10-01 |            |
""")

COURSE_DIAGNOSES = table("""
patient_id | code      | code_system | recorded_at | resolved_at
D01        | N18.30    | ICD-10-CM   | 2025-01-01  |
D02        | N18.30    | ICD-10-CM   | 2025-01-01  |
D03        | N18.30    | ICD-10-CM   | 2025-01-01  |
D04        | N18.30    | ICD-10-CM   | 2025-01-01  |
D05        | N18.30    | ICD-10-CM   | 2025-01-01  |
# dialysis dependence alone: CKD stage 5, high
D06        | Z99.2     | ICD-10-CM   | 2025-01-01  |
# dialysis encounter without the dot
D07        | Z4931     | ICD-10-CM   | 2025-01-01  |
# ICD-9-CM renal dialysis status
D08        | V45.11    | ICD-9-CM    | 2020-01-01  |
# ICD-9-CM CKD stage IV
D09        | 585.4     | ICD-9-CM    | 2020-01-01  |
# SNOMED CT end stage renal failure on dialysis
D10        | 236435004 | SNOMED-CT   | 2025-01-01  |
# ESRD
D11        | N18.6     | ICD-10-CM   | 2025-01-01  |
# hypertensive CKD with stage 5 or ESRD
D12        | I12.0     | ICD-10-CM   | 2025-01-01  |
# CKD stage 3b: flagged, normal priority
D13        | N18.32    | ICD-10-CM   | 2025-01-01  |
""")

COURSE_TABLES = {"prescriptions": COURSE_PRESCRIPTIONS, "diagnoses": COURSE_DIAGNOSES}
COURSE_EXPECTED = {
    "D01": "normal",  # undated, started exactly 90 days before as-of
    "D02": OUT,  # undated, started 91 days before as-of: not on an NSAID
    "D03": "normal",  # an explicit end date after as-of
    "D04": "normal",  # a year's days supply still running
    "D05": "normal",  # the recent renewal is active
    **{f"D{n:02d}": "high" for n in range(6, 13)},  # CKD stage 4-5, ESRD or dialysis coded
    "D13": "normal",  # CKD stage 3b
}
course_spec = partial(check_spec, check=CHECK, as_of=AS_OF, tables=COURSE_TABLES, expected=COURSE_EXPECTED)


def test_undated_nsaid_is_a_course_not_forever(tmp_path):
    evidence = {"D05": {"nsaid_since": "2026-10-01"}}
    course_spec(
        tmp_path,
        evidence=evidence,
    )


def test_ckd_stage_4_5_esrd_and_dialysis_are_high_priority(tmp_path):
    reason = {
        "D06": "on ibuprofen 400 mg tablet with CKD stage 4-5, end-stage renal disease or dialysis coded "
        "Z99.2 (ICD-10-CM)",
        "D13": "...CKD stage 3 or worse coded N18.32 (ICD-10-CM)",
    }
    course_spec(tmp_path, reason=reason)


def test_open_course_days_is_a_parameter(tmp_path):
    # a 365-day course keeps D02 (started 2026-08-21) active; a 50-day one ends D01 (2026-08-22) but
    # keeps the courses started 2026-10-01 (exactly 50 days before as-of); a 49-day one ends them too
    check_spec(
        tmp_path, CHECK, AS_OF, COURSE_TABLES, {**COURSE_EXPECTED, "D02": True}, {"open_course_days": 365}
    )
    fifty = {**COURSE_EXPECTED, "D01": OUT}
    course_spec(tmp_path, expected=fifty, params={"open_course_days": 50})
    # an end date or a days supply is never replaced by the course
    short = {pid: want if pid in ("D03", "D04") else OUT for pid, want in COURSE_EXPECTED.items()}
    course_spec(tmp_path, expected=short, params={"open_course_days": 49})


def test_an_uncoded_name_in_capitals_with_a_turkish_dotted_capital_i_is_matched_on_every_engine(tmp_path):
    """'İBUPROFEN' (a Turkish keyboard's capital I) lowercases to ibuprofen in DuckDB and to
    'i' plus a combining dot in Java: the codelists a drug name belongs to are decided once, where
    the export was validated, so Spark finds the same drug (pipelines/engines/spark.py prepare)."""
    prescriptions = table("""
patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date | days_supply
T01        | İBUPROFEN 400 MG TABLET |             |          | 2026-11-01 |          |
T02        | IBUPROFEN 400 MG TABLET |             |          | 2026-11-01 |          |
""")
    diagnoses = table("""
patient_id | code  | code_system | recorded_at | resolved_at
T01        | N18.4 | ICD-10-CM   | 2026-01-01  |
T02        | N18.4 | ICD-10-CM   | 2026-01-01  |
""")
    check_spec(
        tmp_path,
        CHECK,
        AS_OF,
        {"prescriptions": prescriptions, "diagnoses": diagnoses},
        {"T01": "high", "T02": "high"},
    )


# Helper review 2026-11-30: a death after as-of (known when an older date is audited, or a month of the
# measures) must not change the prescription as written: an undated NSAID is still a 90-day course, not
# one running until the death. K91 started 2024-01-01 (course over in 2024), died after as-of: not on an
# NSAID. K92, the same with a recent start: still on one. K93 died on as-of: left out as deceased.
# (The deaths fall before the run's own date, 2026-11-24: a death date after it is no date at all, and
# its row is rejected, which leaves the patient out as unreadable.)
DEATH_PATIENTS = table("""
patient_id | birth_date | sex | death_date
K91        | 1950-01-01 | F   | 2026-11-23
K92        | 1950-01-01 | F   | 2026-11-23
""")
DEATH_PRESCRIPTIONS = table("""
patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date | days_supply
K91        | ibuprofen 400 mg tablet | 5640        | M01AE01  | 2024-01-01 |          |
K92        | ibuprofen 400 mg tablet | 5640        | M01AE01  | 2026-10-01 |          |
""")
DEATH_DIAGNOSES = table("""
patient_id | code   | code_system | recorded_at | resolved_at
K91        | N18.30 | ICD-10-CM   | 2025-01-01  |
K92        | N18.30 | ICD-10-CM   | 2025-01-01  |
""")


def test_a_death_after_as_of_does_not_make_an_undated_course_run_until_it(tmp_path):
    tables = {"patients": DEATH_PATIENTS, "prescriptions": DEATH_PRESCRIPTIONS, "diagnoses": DEATH_DIAGNOSES}
    check_spec(tmp_path, CHECK, AS_OF, tables, {"K91": OUT, "K92": "normal"})


# Review 2026-11-30: CKD stage 3-5 closed on the day it was recorded (a visit's record, as OMOP ETLs from
# claims write it) is still CKD; a later resolution date is a resolution.
LASTING_PRESCRIPTIONS = table("""
patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date | days_supply
L01        | ibuprofen 400 mg tablet | 5640        | M01AE01  | 2026-10-01 |          |
L02        | ibuprofen 400 mg tablet | 5640        | M01AE01  | 2026-10-01 |          |
""")
LASTING_DIAGNOSES = table("""
patient_id | code  | code_system | recorded_at | resolved_at
L01        | N18.4 | ICD-10-CM   | 2025-01-01  | 2025-01-01
L02        | N18.4 | ICD-10-CM   | 2025-01-01  | 2025-06-01
""")


def test_ckd_ended_the_day_it_was_recorded_is_still_ckd(tmp_path):
    tables = {"prescriptions": LASTING_PRESCRIPTIONS, "diagnoses": LASTING_DIAGNOSES}
    check_spec(tmp_path, CHECK, AS_OF, tables, {"L01": "high", "L02": None})


# Review 2026-12: exports without a laboratory's eGFR (MIMIC-IV, many US exports) carry the serum
# creatinine only. An NSAID user with a creatinine of 150 umol/L and no eGFR has CKD stage 3b kidney
# function: the eGFR is estimated from the creatinine by the race-free CKD-EPI 2021 equation (age on
# the day, sex), wherever no eGFR was reported from the same sample.
CREATININE_PATIENTS = table("""
patient_id | birth_date | sex
N01        | 1951-01-01 | F
N02        | 1951-01-01 | M
N03        | 1946-01-01 | M
N04        | 1986-01-01 | F
N05        | 1951-01-01 | F
N06        | 1966-01-01 | M
N07        | 1946-01-01 | U
N08        | 1951-01-01 | F
N09        | 1951-01-01 | F
N10        | 1951-01-01 | M
""")
CREATININE_PRESCRIPTIONS = table(
    "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
    + "\n".join(f"N{i:02d} | Naproxen 500mg tablets | | | 2026-09-01 | | 90" for i in range(1, 11))
)
CREATININE_LABS = table("""
patient_id | collected_at        | loinc_code | test_name  | value | unit
# 75, 150 umol/L: CKD-EPI 2021 gives 31 (woman)
N01        | 2026-10-15T09:00:00 | 14682-9    | Creatinine | 150   | umol/L
# 75, 1.7 mg/dL (150 umol/L): 42 (man)
N02        | 2026-10-15T09:00:00 | 2160-0     | Creatinine | 1.7   | mg/dL
# 80, 300 umol/L: 18, below 30 (high)
N03        | 2026-10-15T09:00:00 | 14682-9    | Creatinine | 300   | umol/L
# 40, 60 umol/L: 113
N04        | 2026-10-15T09:00:00 | 14682-9    | Creatinine | 60    | umol/L
# the laboratory's own eGFR from the same sample stands: 65, not low
N05        | 2026-10-15T09:00:00 | 14682-9    | Creatinine | 150   | umol/L
N05        | 2026-10-15T09:00:00 | 33914-3    | eGFR       | 65    | mL/min/1.73m2
# a low reported eGFR in January, a normal creatinine since (60, 70 umol/L: 105): the latest stands
N06        | 2026-01-10T09:00:00 | 33914-3    | eGFR       | 45    | mL/min/1.73m2
N06        | 2026-10-15T09:00:00 | 14682-9    | Creatinine | 70    | umol/L
# sex not recorded: 13 as a woman, 18 as a man, below 30 either way (the higher is shown)
N07        | 2026-10-15T09:00:00 | 14682-9    | Creatinine | 300   | umol/L
# one sample, the eGFR reported at 09:00 and the creatinine at 09:05: the laboratory's 58 stands
N08        | 2026-10-15T09:00:00 | 33914-3    | eGFR       | 58    | mL/min/1.73m2
N08        | 2026-10-15T09:05:00 | 14682-9    | Creatinine | 85    | umol/L
# a date-only eGFR beside a timed creatinine of the same day: the eGFR stands
N09        | 2026-10-15          | 33914-3    | eGFR       | 25    | mL/min/1.73m2
N09        | 2026-10-15T11:00:00 | 14682-9    | Creatinine | 130   | umol/L
# a creatinine in mg/dL exported without its unit (6.1 read as umol/L): no estimate, so the
# earlier reported eGFR of 25 stands (high)
N10        | 2026-03-01T09:00:00 | 33914-3    | eGFR       | 25    | mL/min/1.73m2
N10        | 2026-10-15T09:00:00 | 14682-9    | Creatinine | 6.1   |
""")


def test_an_egfr_is_estimated_from_a_creatinine_when_none_was_reported(tmp_path):
    tables = {
        "patients": CREATININE_PATIENTS,
        "prescriptions": CREATININE_PRESCRIPTIONS,
        "labs": CREATININE_LABS,
    }
    expected = {"N01": "normal", "N02": "normal", "N03": "high", "N04": None, "N05": None, "N06": None}
    expected |= {"N07": "high", "N08": "normal", "N09": "high", "N10": "high"}
    evidence = {
        "N01": {
            "latest_egfr": "31.0 (CKD-EPI 2021 from creatinine 150.0 umol/L)",
            "latest_egfr_at": "2026-10-15",
        },
        "N02": {"latest_egfr": "42.0 (CKD-EPI 2021 from creatinine 150.0 umol/L)"},
        "N03": {"latest_egfr": "18.0 (CKD-EPI 2021 from creatinine 300.0 umol/L)"},
        "N07": {"latest_egfr": "18.0 (CKD-EPI 2021 from creatinine 300.0 umol/L)"},
        "N08": {"latest_egfr": "58.0"},
        "N09": {"latest_egfr": "25.0"},
        "N10": {"latest_egfr": "25.0", "latest_egfr_at": "2026-03-01"},
    }
    check_spec(tmp_path, CHECK, AS_OF, tables, expected, evidence=evidence)


# GP review 2026-12-03: a repeat NSAID is taken between two issues, as every check reads a repeat
# medicine (refill_gap_days, 30, at most the course's own length, none after a stop). Everyone has
# CKD stage 3b and an eGFR of 38.
GAP_PRESCRIPTIONS = table("""
patient_id | drug_name                  | rxnorm_code | atc_code | start_date | end_date   | days_supply | stopped
# monthly naproxen, the last issue ran out 2026-11-18, two days before as-of: still taken
G01        | Naproxen 500mg tablets     |             | M01AE02  | 2026-07-01 |            | 28          |
G01        | Naproxen 500mg tablets     |             | M01AE02  | 2026-07-30 |            | 28          |
G01        | Naproxen 500mg tablets     |             | M01AE02  | 2026-08-28 |            | 28          |
G01        | Naproxen 500mg tablets     |             | M01AE02  | 2026-09-26 |            | 28          |
G01        | Naproxen 500mg tablets     |             | M01AE02  | 2026-10-22 |            | 28          |
# the same, last issue ran out 31 days before as-of: past the gap, no longer taken
G02        | Naproxen 500mg tablets     |             | M01AE02  | 2026-09-23 |            | 28          |
# a 7-day course that ended 10 days before as-of: the gap is at most its own length
G03        | Ibuprofen 400mg tablets    |             | M01AE01  | 2026-11-04 |            | 7           |
# the same course ended 6 days before: within its own length
G04        | Ibuprofen 400mg tablets    |             | M01AE01  | 2026-11-08 |            | 7           |
# 28 days stopped after 10: no gap after a stop
G05        | Naproxen 500mg tablets     |             | M01AE02  | 2026-10-20 | 2026-10-30 | 28          | yes
""")
GAP_PATIENTS = ("G01", "G02", "G03", "G04", "G05")


def ckd_3b(patients: tuple[str, ...]) -> dict[str, list[dict[str, str]]]:
    """CKD stage 3b coded in 2025 and an eGFR of 38 in September 2026 for each patient."""
    return {
        "diagnoses": table(
            "patient_id | code | code_system | recorded_at | resolved_at\n"
            + "\n".join(f"{p} | 700379002 | SNOMED-CT | 2025-01-10 |" for p in patients)
        ),
        "labs": table(
            "patient_id | collected_at | loinc_code | test_name | value | unit\n"
            + "\n".join(f"{p} | 2026-09-01 | 62238-1 | | 38 | mL/min/1.73m2" for p in patients)
        ),
    }


def test_a_repeat_nsaid_is_taken_between_two_issues(tmp_path):
    tables = {"prescriptions": GAP_PRESCRIPTIONS, **ckd_3b(GAP_PATIENTS)}
    expected = {"G01": True, "G02": OUT, "G03": OUT, "G04": True, "G05": OUT}
    check_spec(
        tmp_path, CHECK, AS_OF, tables, expected, evidence={"G01": {"nsaids": "Naproxen 500mg tablets"}}
    )


# GP review 2026-12-03: nsaid_since is when this course of NSAIDs started, not the oldest issue still
# running. With monthly repeats the oldest running issue moved every month, and with it due_on and the
# fingerprint a clinician's review is kept by: an exception recorded for a patient on long-term
# naproxen re-opened with each issue. Everyone has CKD stage 3b and an eGFR of 38.
COURSE_START_PRESCRIPTIONS = table("""
patient_id | drug_name                  | rxnorm_code | atc_code | start_date | end_date   | days_supply | stopped
# monthly naproxen since 2026-07-01, the issues a few days late: one course
C01        | Naproxen 500mg tablets     |             | M01AE02  | 2026-07-01 |            | 28          |
C01        | Naproxen 500mg tablets     |             | M01AE02  | 2026-08-01 |            | 28          |
C01        | Naproxen 500mg tablets     |             | M01AE02  | 2026-09-02 |            | 28          |
C01        | Naproxen 500mg tablets     |             | M01AE02  | 2026-10-01 |            | 28          |
C01        | Naproxen 500mg tablets     |             | M01AE02  | 2026-10-30 |            | 28          |
# naproxen in spring, stopped for the summer (a break of more than refill_gap_days), taken again
C02        | Naproxen 500mg tablets     |             | M01AE02  | 2026-03-01 |            | 28          |
C02        | Naproxen 500mg tablets     |             | M01AE02  | 2026-03-29 |            | 28          |
C02        | Naproxen 500mg tablets     |             | M01AE02  | 2026-10-15 |            | 56          |
# switched from naproxen to ibuprofen without a break: one course of NSAIDs
C03        | Naproxen 500mg tablets     |             | M01AE02  | 2026-06-01 | 2026-09-30 |             |
C03        | Ibuprofen 400mg tablets    |             | M01AE01  | 2026-10-01 |            | 56          |
# an undated one-off (a 90-day course) ended 2026-06-30, ibuprofen from 2026-07-20: within the gap
C04        | Diclofenac 50mg tablets    |             | M01AB05  | 2026-04-01 |            |             |
C04        | Ibuprofen 400mg tablets    |             | M01AE01  | 2026-07-20 | 2026-12-31 |             |
""")
COURSE_START_PATIENTS = ("C01", "C02", "C03", "C04")
COURSE_START_TABLES = {"prescriptions": COURSE_START_PRESCRIPTIONS, **ckd_3b(COURSE_START_PATIENTS)}
COURSE_STARTS = {"C01": "2026-07-01", "C02": "2026-10-15", "C03": "2026-06-01", "C04": "2026-04-01"}


def test_nsaid_since_is_the_start_of_the_course_not_of_the_latest_issue(tmp_path):
    check_spec(
        tmp_path,
        CHECK,
        AS_OF,
        COURSE_START_TABLES,
        dict.fromkeys(COURSE_START_PATIENTS, True),
        evidence={p: {"nsaid_since": since} for p, since in COURSE_STARTS.items()},
    )


def test_the_course_start_holds_from_one_month_to_the_next(tmp_path):
    # a month on, C01 has had one more issue (2026-11-28): the same course, the same start and due date
    tables = {
        **COURSE_START_TABLES,
        "prescriptions": COURSE_START_PRESCRIPTIONS
        + table("""
patient_id | drug_name              | rxnorm_code | atc_code | start_date | end_date | days_supply | stopped
C01        | Naproxen 500mg tablets |             | M01AE02  | 2026-11-28 |          | 28          |
"""),
    }
    evidence = {"C01": {"nsaid_since": "2026-07-01", "due_on": "2026-07-01"}}
    expected = dict.fromkeys(COURSE_START_PATIENTS, True)  # the others' courses run on too
    check_spec(tmp_path, CHECK, date(2026, 12, 20), tables, expected, evidence=evidence)


# A condition entered resolved after the fact (resolved_at before recorded_at, loaded as sent since
# 2026-12-07): "CKD 3, resolved 2019" entered in 2024 is resolved, not a lasting condition left open
# (only an end on its recorded day closes a visit's record, not the disease). An end on the recorded
# day still leaves the CKD current.
RESOLVED_TABLES = {
    "prescriptions": table("""
    patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date | days_supply
    R01        | ibuprofen 400 mg tablet | 5640        | M01AE01  | 2026-09-01 |          |
    R02        | ibuprofen 400 mg tablet | 5640        | M01AE01  | 2026-09-01 |          |
    """),
    "diagnoses": table("""
    patient_id | code  | code_system | recorded_at | resolved_at
    R01        | N18.3 | ICD-10-CM   | 2024-03-01  | 2019-06-01
    R02        | N18.3 | ICD-10-CM   | 2024-03-01  | 2024-03-01
    """),
}


def test_a_ckd_entered_as_resolved_years_before_is_not_current(tmp_path):
    check_spec(tmp_path, CHECK, AS_OF, RESOLVED_TABLES, {"R01": False, "R02": True})
