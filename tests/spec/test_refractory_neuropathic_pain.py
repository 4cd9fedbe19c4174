"""Spec: refractory_neuropathic_pain, as of 2026-11-20 (24-month window starts 2024-11-20)."""

from __future__ import annotations

import json
from datetime import date

from tests.helpers import findings, run_pipeline, table

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
""")

EXPECTED = {"R01", "R02", "R05", "R06", "R08", "R09", "R10", "R12"}
POPULATION = EXPECTED | {"R03", "R04", "R07", "R11", "R13", "R14", "R15"}


def test_flags_exactly_the_expected_patients(tmp_path):
    outcome = run_pipeline(tmp_path, AS_OF, (CHECK,), prescriptions=PRESCRIPTIONS)
    assert {f["patient_id"] for f in findings(tmp_path / "audit.duckdb")} == EXPECTED
    (result,) = outcome.checks
    assert (result.denominator, result.flagged) == (len(POPULATION), len(EXPECTED))


def test_reason_evidence_and_priority(tmp_path):
    run_pipeline(tmp_path, AS_OF, (CHECK,), prescriptions=PRESCRIPTIONS)
    by_id = {f["patient_id"]: f for f in findings(tmp_path / "audit.duckdb")}
    assert by_id["R05"]["reason"] == (
        "3 neuropathic pain drugs started in the 730 days to 2026-11-20: gabapentin (2025-01-01); "
        "pregabalin (2025-07-01); duloxetine (2026-02-01)"
    )
    assert by_id["R05"]["priority"] == "normal"
    assert by_id["R10"]["priority"] == "high"
    evidence = json.loads(by_id["R02"]["evidence"])
    assert evidence["trial_count"] == 3 and evidence["first_trial_at"] == "2024-11-20"
    assert evidence["last_trial_at"] == "2026-02-01"
