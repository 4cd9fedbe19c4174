"""Spec: refractory_neuropathic_pain, as of 2026-11-20 (24-month window starts 2024-11-20)."""

from __future__ import annotations

from datetime import date
from functools import partial

from tests.helpers import table
from tests.spec.harness import OUT, check_spec

AS_OF = date(2026, 11, 20)
CHECK = "refractory_neuropathic_pain"

PRESCRIPTIONS = table("""
patient_id | drug_name                        | rxnorm_code | atc_code | start_date | end_date   | days_supply
# three classes in turn
R01        | gabapentin 300 mg capsule        | 25480       | N02BF01  | 2025-01-01 | 2025-06-01 |
R01        | duloxetine 60 mg capsule         | 72625       | N06AX21  | 2025-07-01 | 2026-01-01 |
R01        | amitriptyline 10 mg tablet       | 704         | N06AA09  | 2026-02-01 |            |
# first trial started exactly 730 days before as-of: counts
R02        | gabapentin 300 mg capsule        | 25480       | N02BF01  | 2024-11-20 | 2025-06-01 |
R02        | carbamazepine 200 mg tablet      | 2002        | N03AF01  | 2025-07-01 | 2026-01-01 |
R02        | capsaicin 0.075% cream           | 1992        | M02AB01  | 2026-02-01 |            |
# first trial started 731 days before as-of: does not
R03        | amitriptyline 10 mg tablet       | 704         | N06AA09  | 2024-11-19 | 2025-06-01 |
R03        | pregabalin 75 mg capsule         | 187832      | N02BF02  | 2025-07-01 | 2026-01-01 |
R03        | duloxetine 60 mg capsule         | 72625       | N06AX21  | 2026-02-01 |            |
# the same drug restarted counts once
R04        | gabapentin 300 mg capsule        | 25480       | N02BF01  | 2025-01-01 | 2025-06-01 |
R04        | duloxetine 60 mg capsule         | 72625       | N06AX21  | 2025-07-01 | 2026-01-01 |
R04        | gabapentin 600 mg tablet         | 25480       | N02BF01  | 2026-02-01 |            |
# gabapentin and pregabalin are two drugs
R05        | gabapentin 300 mg capsule        | 25480       | N02BF01  | 2025-01-01 | 2025-06-01 |
R05        | pregabalin 75 mg capsule         | 187832      | N02BF02  | 2025-07-01 | 2026-01-01 |
R05        | duloxetine 60 mg capsule         | 72625       | N06AX21  | 2026-02-01 |            |
# topical lidocaine patch is a trial
R06        | pregabalin 75 mg capsule         | 187832      | N02BF02  | 2025-01-01 | 2025-06-01 |
R06        | nortriptyline 25 mg capsule      | 7531        | N06AA10  | 2025-07-01 | 2026-01-01 |
R06        | lidocaine 5% patch               | 6387        | N01BB02  | 2026-02-01 |            |
# injected lidocaine (same codes) is not
R07        | pregabalin 75 mg capsule         | 187832      | N02BF02  | 2025-01-01 | 2025-06-01 |
R07        | nortriptyline 25 mg capsule      | 7531        | N06AA10  | 2025-07-01 | 2026-01-01 |
R07        | lidocaine 1% injection 5 mL      | 6387        | N01BB02  | 2026-02-01 | 2026-02-01 |
# brand names only
R08        | Lyrica 75 mg                     |             |          | 2025-01-01 | 2025-06-01 |
R08        | Cymbalta 30 mg                   |             |          | 2025-07-01 | 2026-01-01 |
R08        | Elavil 10 mg                     |             |          | 2026-02-01 |            |
# by RxNorm code only, by ATC code only, and capsaicin by name
R09        | capsule (see pharmacy)           | 25480       |          | 2025-01-01 | 2025-06-01 |
R09        | XYZ 25mg                         |             | N06AA10  | 2025-07-01 | 2026-01-01 |
R09        | Zostrix cream                    |             |          | 2026-02-01 |            |
# four drugs: high priority
R10        | gabapentin 300 mg capsule        | 25480       | N02BF01  | 2025-01-01 | 2025-03-01 |
R10        | pregabalin 75 mg capsule         | 187832      | N02BF02  | 2025-04-01 | 2025-06-01 |
R10        | duloxetine 60 mg capsule         | 72625       | N06AX21  | 2025-07-01 | 2026-01-01 |
R10        | amitriptyline 10 mg tablet       | 704         | N06AA09  | 2026-02-01 |            |
# the third drug starts the day after as-of
R11        | gabapentin 300 mg capsule        | 25480       | N02BF01  | 2025-01-01 | 2025-06-01 |
R11        | duloxetine 60 mg capsule         | 72625       | N06AX21  | 2025-07-01 | 2026-01-01 |
R11        | amitriptyline 10 mg tablet       | 704         | N06AA09  | 2026-11-21 |            |
# topical lidocaine brand
R12        | Lidoderm 5% patch                |             |          | 2025-01-01 | 2025-06-01 |
R12        | venlafaxine 75 mg capsule        | 39786       | N06AX16  | 2025-07-01 | 2026-01-01 |
R12        | imipramine 25 mg tablet          | 5691        | N06AA02  | 2026-02-01 |            |
# oxcarbazepine is not counted
R13        | oxcarbazepine 300 mg tablet      |             | N03AF02  | 2025-01-01 | 2025-06-01 |
R13        | duloxetine 60 mg capsule         | 72625       | N06AX21  | 2025-07-01 | 2026-01-01 |
R13        | amitriptyline 10 mg tablet       | 704         | N06AA09  | 2026-02-01 |            |
# legacy and current ATC codes of pregabalin are one drug
R14        | pregabalin 75 mg capsule         |             | N03AX16  | 2025-01-01 | 2025-06-01 |
R14        | pregabalin 150 mg capsule        | 187832      | N02BF02  | 2025-07-01 | 2026-01-01 |
R14        | duloxetine 60 mg capsule         | 72625       | N06AX21  | 2026-02-01 |            |
# a drug started before the window and still taken is not a new trial
R15        | amitriptyline 10 mg tablet       | 704         | N06AA09  | 2023-01-01 |            |
R15        | gabapentin 300 mg capsule        | 25480       | N02BF01  | 2025-07-01 | 2026-01-01 |
R15        | duloxetine 60 mg capsule         | 72625       | N06AX21  | 2026-02-01 |            |
# three drugs, no diagnosis at all: no neuropathic pain indication, not in the population
R16        | gabapentin 300 mg capsule        | 25480       | N02BF01  | 2025-01-01 | 2025-06-01 |
R16        | duloxetine 60 mg capsule         | 72625       | N06AX21  | 2025-07-01 | 2026-01-01 |
R16        | amitriptyline 10 mg tablet       | 704         | N06AA09  | 2026-02-01 |            |
# indication recorded the day after as-of: not yet an indication
R17        | gabapentin 300 mg capsule        | 25480       | N02BF01  | 2025-01-01 | 2025-06-01 |
R17        | duloxetine 60 mg capsule         | 72625       | N06AX21  | 2025-07-01 | 2026-01-01 |
R17        | amitriptyline 10 mg tablet       | 704         | N06AA09  | 2026-02-01 |            |
# indication recorded after the drugs started, before as-of: counts
R18        | gabapentin 300 mg capsule        | 25480       | N02BF01  | 2025-01-01 | 2025-06-01 |
R18        | duloxetine 60 mg capsule         | 72625       | N06AX21  | 2025-07-01 | 2026-01-01 |
R18        | amitriptyline 10 mg tablet       | 704         | N06AA09  | 2026-02-01 |            |
# depression and epilepsy are not neuropathic pain indications
R19        | duloxetine 60 mg capsule         | 72625       | N06AX21  | 2025-01-01 | 2025-06-01 |
R19        | venlafaxine 75 mg capsule        | 39786       | N06AX16  | 2025-07-01 | 2026-01-01 |
R19        | amitriptyline 10 mg tablet       | 704         | N06AA09  | 2026-02-01 |            |
R27        | carbamazepine 200 mg tablet      | 2002        | N03AF01  | 2025-01-01 | 2025-06-01 |
R27        | gabapentin 300 mg capsule        | 25480       | N02BF01  | 2025-07-01 | 2026-01-01 |
R27        | pregabalin 75 mg capsule         | 187832      | N02BF02  | 2026-02-01 |            |
# gabapentin first started before the window and renewed in it: a renewal is not a new start
R20        | gabapentin 300 mg capsule        | 25480       | N02BF01  | 2024-06-01 | 2024-12-31 |
R20        | gabapentin 300 mg capsule        | 25480       | N02BF01  | 2025-01-01 | 2025-06-01 |
R20        | duloxetine 60 mg capsule         | 72625       | N06AX21  | 2025-07-01 | 2026-01-01 |
R20        | amitriptyline 10 mg tablet       | 704         | N06AA09  | 2026-02-01 |            |
# first started on the window's first day, renewed twice: one trial, it counts
R21        | pregabalin 75 mg capsule         | 187832      | N02BF02  | 2024-11-20 |            | 28
R21        | pregabalin 75 mg capsule         | 187832      | N02BF02  | 2024-12-18 |            | 28
R21        | Lyrica 150 mg                    |             |          | 2025-01-15 | 2025-05-01 |
R21        | duloxetine 60 mg capsule         | 72625       | N06AX21  | 2025-07-01 | 2026-01-01 |
R21        | nortriptyline 25 mg capsule      | 7531        | N06AA10  | 2026-02-01 |            |
# first started the day before the window, renewed on its first day: not a new start
R22        | pregabalin 75 mg capsule         | 187832      | N02BF02  | 2024-11-19 |            | 1
R22        | pregabalin 75 mg capsule         | 187832      | N02BF02  | 2024-11-20 | 2025-05-01 |
R22        | duloxetine 60 mg capsule         | 72625       | N06AX21  | 2025-07-01 | 2026-01-01 |
R22        | nortriptyline 25 mg capsule      | 7531        | N06AA10  | 2026-02-01 |            |
# SNOMED CT post-herpetic neuralgia; capsaicin patch and topical lidocaine
R23        | gabapentin 300 mg capsule        | 25480       | N02BF01  | 2025-01-01 | 2025-06-01 |
R23        | Qutenza 179 mg patch             |             | N01BX04  | 2025-07-01 | 2025-07-01 |
R23        | Versatis 5% medicated plaster    |             |          | 2026-02-01 |            |
# ICD-9-CM radiculitis written without its dot
R24        | gabapentin 300 mg capsule        | 25480       | N02BF01  | 2025-01-01 | 2025-06-01 |
R24        | duloxetine 60 mg capsule         | 72625       | N06AX21  | 2025-07-01 | 2026-01-01 |
R24        | amitriptyline 10 mg tablet       | 704         | N06AA09  | 2026-02-01 |            |
# indication recorded on the as-of date: counts
R25        | gabapentin 300 mg capsule        | 25480       | N02BF01  | 2025-01-01 | 2025-06-01 |
R25        | duloxetine 60 mg capsule         | 72625       | N06AX21  | 2025-07-01 | 2026-01-01 |
R25        | amitriptyline 10 mg tablet       | 704         | N06AA09  | 2026-02-01 |            |
# trigeminal neuralgia: carbamazepine is the first-line trial
R26        | carbamazepine 200 mg tablet      | 2002        | N03AF01  | 2025-01-01 | 2025-06-01 |
R26        | gabapentin 300 mg capsule        | 25480       | N02BF01  | 2025-07-01 | 2026-01-01 |
R26        | pregabalin 75 mg capsule         | 187832      | N02BF02  | 2026-02-01 |            |
# lumbar radiculopathy (a subcode of M54.1) and sciatica by SNOMED CT
R28        | gabapentin 300 mg capsule        | 25480       | N02BF01  | 2025-01-01 | 2025-06-01 |
R28        | duloxetine 60 mg capsule         | 72625       | N06AX21  | 2025-07-01 | 2026-01-01 |
R28        | amitriptyline 10 mg tablet       | 704         | N06AA09  | 2026-02-01 |            |
# antidepressant switches years after a sciatica resolved: no indication
R29        | duloxetine 60 mg capsule         | 72625       | N06AX21  | 2025-02-01 | 2025-06-01 |
R29        | venlafaxine 75 mg capsule        | 39786       | N06AX16  | 2025-06-01 | 2026-01-01 |
R29        | amitriptyline 10 mg tablet       | 704         | N06AA09  | 2026-01-01 |            |
# a neuropathy resolved on its record day (the record's end, not a resolution): counts
R30        | gabapentin 300 mg capsule        | 25480       | N02BF01  | 2025-01-01 | 2025-06-01 |
R30        | duloxetine 60 mg capsule         | 72625       | N06AX21  | 2025-07-01 | 2026-01-01 |
R30        | amitriptyline 10 mg tablet       | 704         | N06AA09  | 2026-02-01 |            |
# resolved on the first trial's start day: not the indication; the day after: it is
R31        | gabapentin 300 mg capsule        | 25480       | N02BF01  | 2025-01-01 | 2025-06-01 |
R31        | duloxetine 60 mg capsule         | 72625       | N06AX21  | 2025-07-01 | 2026-01-01 |
R31        | amitriptyline 10 mg tablet       | 704         | N06AA09  | 2026-02-01 |            |
R32        | gabapentin 300 mg capsule        | 25480       | N02BF01  | 2025-01-01 | 2025-06-01 |
R32        | duloxetine 60 mg capsule         | 72625       | N06AX21  | 2025-07-01 | 2026-01-01 |
R32        | amitriptyline 10 mg tablet       | 704         | N06AA09  | 2026-02-01 |            |
""")

# Every patient but those in NO_INDICATION has a neuropathic pain indication recorded by as-of.
DIAGNOSES = table("""
patient_id | code            | code_system | recorded_at | resolved_at
R01        | E11.42          | ICD-10-CM   | 2024-06-01  |
R02        | G62.9           | ICD-10-CM   | 2024-06-01  |
R03        | G629            | ICD-10-CM   | 2024-06-01  |
R04        | B02.22          | ICD-10-CM   | 2024-06-01  |
R05        | M54.16          | ICD-10-CM   | 2024-06-01  |
R06        | 2177002         | SNOMED-CT   | 2024-06-01  |
R07        | 2177002         | SNOMED-CT   | 2024-06-01  |
R08        | 230572002       | SNOMED-CT   | 2024-06-01  |
R09        | 357.2           | ICD-9-CM    | 2014-06-01  |
R10        | M79.2           | ICD-10-CM   | 2024-06-01  |
R11        | G57.10          | ICD-10-CM   | 2024-06-01  |
R12        | G56.01          | ICD-10-CM   | 2024-06-01  |
R13        | G90.511         | ICD-10-CM   | 2024-06-01  |
R14        | R20.2           | ICD-10-CM   | 2024-06-01  |
R15        | 23056005        | SNOMED-CT   | 2024-06-01  |
R17        | G62.9           | ICD-10-CM   | 2026-11-21  |
R18        | E11.42          | ICD-10-CM   | 2026-06-01  |
R19        | F32.9           | ICD-10-CM   | 2024-06-01  |
R20        | G62.9           | ICD-10-CM   | 2024-06-01  |
R21        | G62.9           | ICD-10-CM   | 2024-06-01  |
R22        | G62.9           | ICD-10-CM   | 2024-06-01  |
R23        | 2177002         | SNOMED-CT   | 2024-12-01  | 2026-06-01
R24        | 7244            | ICD-9-CM    | 2014-06-01  |
R25        | G62.9           | ICD-10-CM   | 2026-11-20  |
R26        | G50.0           | ICD-10-CM   | 2024-12-01  |
R27        | G40.909         | ICD-10-CM   | 2010-01-01  |
R28        | M54.16          | ICD-10-CM   | 2024-06-01  |
R28        | 23056005        | SNOMED-CT   | 2024-07-01  |
R29        | M54.3           | ICD-10-CM   | 2012-01-10  | 2012-03-01
R29        | F33.1           | ICD-10-CM   | 2024-01-01  |
R30        | G62.9           | ICD-10-CM   | 2024-06-01  | 2024-06-01
R31        | G62.9           | ICD-10-CM   | 2024-06-01  | 2025-01-01
R32        | G62.9           | ICD-10-CM   | 2024-06-01  | 2025-01-02
""")

TABLES = {"prescriptions": PRESCRIPTIONS, "diagnoses": DIAGNOSES}

EXPECTED = {
    "R01": "normal",  # three classes in turn
    "R02": "normal",  # first trial exactly 730 days before as-of
    "R03": None,  # first trial 731 days before as-of
    "R04": None,  # the same drug restarted counts once
    "R05": "normal",  # gabapentin and pregabalin are two drugs
    "R06": "normal",  # a topical lidocaine patch is a trial
    "R07": None,  # injected lidocaine is not
    "R08": "normal",  # brand names only
    "R09": "normal",  # by RxNorm code, ATC code, and capsaicin by name
    "R10": "high",  # four drugs
    "R11": None,  # the third drug starts the day after as-of
    "R12": "normal",  # topical lidocaine brand
    "R13": None,  # oxcarbazepine is not counted
    "R14": None,  # legacy and current ATC codes of pregabalin are one drug
    "R15": None,  # a drug started before the window is not a new trial
    "R16": OUT,  # no diagnosis at all: no indication
    "R17": OUT,  # indication recorded the day after as-of
    "R18": "normal",  # indication recorded after the drugs started, before as-of
    "R19": OUT,  # depression is not a neuropathic pain indication
    "R20": None,  # gabapentin first started before the window, renewed in it
    "R21": "normal",  # first started on the window's first day, renewed twice
    "R22": None,  # first started the day before the window
    "R23": "normal",  # SNOMED CT post-herpetic neuralgia
    "R24": "normal",  # ICD-9-CM radiculitis without its dot
    "R25": "normal",  # indication recorded on the as-of date
    "R26": "normal",  # trigeminal neuralgia with carbamazepine
    "R27": OUT,  # epilepsy is not a neuropathic pain indication
    "R28": "normal",  # lumbar radiculopathy and sciatica
    "R29": OUT,  # sciatica resolved years before the drugs: no indication of them
    "R30": "normal",  # resolved on its record day: the record's end
    "R31": OUT,  # resolved on the day the first trial started
    "R32": "normal",  # resolved the day after: the first trial was for it
}
NO_INDICATION = {"R16", "R17", "R19", "R27", "R29", "R31"}
spec = partial(check_spec, check=CHECK, as_of=AS_OF, tables=TABLES, expected=EXPECTED)


def test_flags_exactly_the_expected_patients(tmp_path):
    spec(tmp_path)


def test_reason_evidence_and_priority(tmp_path):
    spec(
        tmp_path,
        reason={
            "R05": "3 neuropathic pain drugs started in the 730 days to 2026-11-20: gabapentin (2025-01-01); "
            "pregabalin (2025-07-01); duloxetine (2026-02-01); neuropathic pain indication: M54.16 (ICD-10-CM)"
        },
        evidence={"R02": {"trial_count": 3, "first_trial_at": "2024-11-20", "last_trial_at": "2026-02-01"}},
    )


def test_a_renewal_is_not_a_new_start_and_the_indication_is_shown(tmp_path):
    # three prescriptions of pregabalin (two generic, one brand) are one trial, dated by the first
    spec(
        tmp_path,
        evidence={
            "R21": {
                "trial_count": 3,
                "first_trial_at": "2024-11-20",
                "trials": "pregabalin (2024-11-20); duloxetine (2025-07-01); nortriptyline (2026-02-01)",
            },
            "R28": {
                "indications": "23056005 (SNOMED-CT); M54.16 (ICD-10-CM)",
                "indication_since": "2024-06-01",
            },
            "R18": {"indication_since": "2026-06-01"},
        },
    )


def test_with_two_trials_the_renewed_drug_is_still_not_counted(tmp_path):
    # gabapentin (R20) and pregabalin (R22) were first started before the window: renewals only;
    # without an indication a patient is still out, however many trials
    expected = {pid: OUT if pid in NO_INDICATION else True for pid in EXPECTED}
    evidence = {
        "R20": {"trials": "duloxetine (2025-07-01); amitriptyline (2026-02-01)"},
        "R22": {"trials": "duloxetine (2025-07-01); nortriptyline (2026-02-01)"},
    }
    spec(tmp_path, expected=expected, params={"min_trials": 2}, evidence=evidence)


# Issue 15, round 2: dm+d writes the lidocaine plaster as "Lidocaine 700mg medicated plasters"; the
# plural is now a topical dose form, so it is a topical lidocaine trial. Injected lidocaine is not.
PLASTER_PRESCRIPTIONS = table("""
patient_id | drug_name                                  | rxnorm_code | atc_code | start_date | end_date   | days_supply
P51        | pregabalin 75 mg capsule                   | 187832      | N02BF02  | 2025-01-01 | 2025-06-01 |
P51        | amitriptyline 10 mg tablet                 | 704         | N06AA09  | 2025-07-01 | 2026-01-01 |
P51        | Lidocaine 700mg medicated plasters         | 6387        | N01BB02  | 2026-02-01 |            |
P52        | pregabalin 75 mg capsule                   | 187832      | N02BF02  | 2025-01-01 | 2025-06-01 |
P52        | amitriptyline 10 mg tablet                 | 704         | N06AA09  | 2025-07-01 | 2026-01-01 |
P52        | Lidocaine 1% solution for injection ampoules | 6387      | N01BB02  | 2026-02-01 |            |
""")

PLASTER_DIAGNOSES = table("""
patient_id | code  | code_system | recorded_at | resolved_at
P51        | G62.9 | ICD-10-CM   | 2024-06-01  |
P52        | G62.9 | ICD-10-CM   | 2024-06-01  |
""")


def test_lidocaine_medicated_plasters_count_as_a_topical_trial(tmp_path):
    tables = {"prescriptions": PLASTER_PRESCRIPTIONS, "diagnoses": PLASTER_DIAGNOSES}
    check_spec(
        tmp_path, CHECK, AS_OF, tables, {"P51": True, "P52": None}, evidence={"P51": {"trial_count": 3}}
    )


# Review 2026-11: lidocaine counts as a neuropathic pain trial only in a form for the skin (plaster,
# patch, cream, ointment; Versatis; ATC D04AB01). Eye drops, urethral and catheter gels, mucosal,
# viscous, dental and throat products and pre-venepuncture creams are local anaesthesia, not a trial.
# Everyone has gabapentin and amitriptyline started in the window, and the lidocaine item named.
LIDOCAINE_FORMS = {
    "K01": ("Minims lidocaine and fluorescein eye drops", ""),
    "K02": ("Instillagel lidocaine 2% gel", ""),
    "K03": ("Lidocaine 2% and chlorhexidine urethral gel (catheter)", ""),
    "K04": ("Lidocaine 10% cutaneous spray", ""),
    "K05": ("Lidocaine 2% viscous oral solution", ""),
    "K06": ("Lidocaine 5% ointment dental", ""),
    "K07": ("Lidocaine 2.5% and prilocaine 2.5% cream", ""),
    "K08": ("Lidocaine ophthalmic gel 3.5%", "S01HA07"),
    "K09": ("Lidocaine 5% medicated plaster", ""),
    "K10": ("Versatis 700mg medicated plaster", ""),
    "K11": ("Lidocaine 4% cream", ""),
    "K12": ("lidocaine topical", "D04AB01"),
    # GP review 2026-12-03: catheter and wound gels named by their other ingredients or brand are
    # procedural too; RxNorm's 5% plaster ('0.05 MG/MG') is lidocaine alone and counts
    "K13": ("Lidocaine 2% / Chlorhexidine gluconate 0.25% gel 11ml pre-filled syringes", ""),
    "K14": ("Cathejell Lidocaine C 2% gel", ""),
    "K15": ("Lidocaine 4% / Adrenaline 0.1% / Tetracaine 0.5% gel", ""),
    "K16": ("lidocaine 0.05 MG/MG Medicated Patch", ""),
}
LIDOCAINE_PRESCRIPTIONS = table(
    "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
    + "\n".join(
        f"{p} | gabapentin 300 mg capsule | 25480 | N02BF01 | 2026-01-01 | |\n"
        f"{p} | amitriptyline 10 mg tablet | 704 | N06AA09 | 2026-03-01 | |\n"
        f"{p} | {name} | | {atc} | 2026-05-01 | |"
        for p, (name, atc) in LIDOCAINE_FORMS.items()
    )
)
LIDOCAINE_DIAGNOSES = table(
    "patient_id | code | code_system | recorded_at | resolved_at\n"
    + "\n".join(f"{p} | G62.9 | ICD-10-CM | 2025-01-01 |" for p in LIDOCAINE_FORMS)
)


def test_lidocaine_counts_only_for_the_skin_not_eye_mucosa_or_procedures(tmp_path):
    skin = {"K04", "K09", "K10", "K11", "K12", "K16"}
    expected = {p: p in skin for p in LIDOCAINE_FORMS}
    tables = {"prescriptions": LIDOCAINE_PRESCRIPTIONS, "diagnoses": LIDOCAINE_DIAGNOSES}
    evidence = {p: {"trial_count": 3} for p in skin} | {"K09": {"trials": "...; lidocaine (2026-05-01)"}}
    check_spec(tmp_path, CHECK, AS_OF, tables, expected, evidence=evidence)
