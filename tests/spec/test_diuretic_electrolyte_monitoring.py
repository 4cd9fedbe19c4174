"""Spec: diuretic_electrolyte_monitoring, as of 2026-11-20 (window starts 2025-11-20)."""

from __future__ import annotations

import json
from datetime import date

from tests.helpers import findings, run_pipeline, table

AS_OF = date(2026, 11, 20)
CHECK = "diuretic_electrolyte_monitoring"

PRESCRIPTIONS = table("""
patient_id | drug_name                                   | rxnorm_code | atc_code | start_date | end_date   | days_supply
# ongoing (no end, no supply); labs exactly 365 days before as-of: monitored
D01        | furosemide 40 mg tablet                     | 4603        | C03CA01  | 2024-01-01 |            |
# ongoing; labs 366 days before as-of: flagged
D02        | furosemide 40 mg tablet                     | 4603        | C03CA01  | 2024-01-01 |            |
# ended the day before as-of: not in the population
D03        | bendroflumethiazide 2.5 mg                  |             | C03AA01  | 2025-01-01 | 2026-11-19 |
# ends on as-of: in the population
D04        | indapamide 1.5 mg                           | 5764        | C03BA11  | 2025-01-01 | 2026-11-20 |
# only days_supply, still running on as-of
D05        | spironolactone 25 mg                        | 9997        | C03DA01  | 2026-11-01 |            | 30
# only days_supply, ran out before as-of
D06        | spironolactone 25 mg                        | 9997        | C03DA01  | 2026-09-01 |            | 30
# starts after as-of
D07        | furosemide 20 mg                            | 4603        | C03CA01  | 2026-11-21 |            |
# combination product recognised by its ATC code and name
D08        | lisinopril / hydrochlorothiazide 20/12.5 mg |             | C09BA03  | 2025-06-01 |            |
# brand name only, no codes
D09        | Lasix 40 mg tablet                          |             |          | 2025-06-01 |            |
# potassium present, sodium missing
D10        | chlorthalidone 25 mg                        | 2409        | C03BA04  | 2025-06-01 |            |
# urine electrolytes only
D11        | amiloride 5 mg                              | 644         | C03DB01  | 2025-06-01 |            |
# recognised by RxNorm code alone
D12        | tablet (see pharmacy)                       | 9997        |          | 2025-06-01 |            |
# recognised by ATC code alone
D13        | XYZ 25mg                                    |             | C03DA01  | 2025-06-01 |            |
# not a diuretic
D14        | lisinopril 10 mg                            | 29046       | C09AA03  | 2025-06-01 |            |
# labs without LOINC, named only: monitored
D15        | torsemide 10 mg                             | 38413       | C03CA04  | 2025-06-01 |            |
# results only after as-of do not count
D16        | metolazone 2.5 mg                           | 6916        | C03BA08  | 2025-06-01 |            |
# tests done but without a numeric result do not count
D17        | furosemide 40 mg tablet                     | 4603        | C03CA01  | 2025-06-01 |            |
""")

LABS = table("""
patient_id | collected_at        | loinc_code | test_name        | value | unit
D01        | 2025-11-20          | 2823-3     |                  | 4.2   | mmol/L
D01        | 2025-11-20T08:30:00 | 2951-2     |                  | 139   | mmol/L
D02        | 2025-11-19          | 2823-3     |                  | 4.0   | mmol/L
D02        | 2025-11-19          | 2951-2     |                  | 140   | mmol/L
D10        | 2026-10-01          | 2823-3     |                  | 3.9   | mEq/L
D11        | 2026-10-01          | 2828-2     |                  | 40    | mmol/L
D11        | 2026-10-01          |            | Urine sodium     | 80    | mmol/L
D15        | 2026-03-01          |            | Potassium        | 4.4   | mmol/L
D15        | 2026-03-01          |            | Sodium           | 138   | mmol/L
D16        | 2026-11-22          | 2823-3     |                  | 4.4   | mmol/L
D16        | 2026-11-22          | 2951-2     |                  | 138   | mmol/L
D17        | 2026-10-01          | 2823-3     |                  |       |
D17        | 2026-10-01          | 2951-2     |                  |       |
""")

EXPECTED = {"D02", "D04", "D05", "D08", "D09", "D10", "D11", "D12", "D13", "D16", "D17"}
POPULATION = EXPECTED | {"D01", "D15"}


def test_flags_exactly_the_expected_patients(tmp_path):
    outcome = run_pipeline(tmp_path, AS_OF, (CHECK,), prescriptions=PRESCRIPTIONS, labs=LABS)
    flagged = {f["patient_id"] for f in findings(tmp_path / "audit.duckdb")}
    assert flagged == EXPECTED
    (result,) = outcome.checks
    assert (result.denominator, result.flagged) == (len(POPULATION), len(EXPECTED))


def test_reason_names_the_missing_test_and_evidence_shows_last_results(tmp_path):
    run_pipeline(tmp_path, AS_OF, (CHECK,), prescriptions=PRESCRIPTIONS, labs=LABS)
    by_id = {f["patient_id"]: f for f in findings(tmp_path / "audit.duckdb")}
    assert by_id["D10"]["reason"] == "on a diuretic with no sodium result in the 365 days to 2026-11-20"
    assert by_id["D10"]["priority"] == "normal"
    evidence = json.loads(by_id["D10"]["evidence"])
    assert evidence["last_potassium_at"] == "2026-10-01" and evidence["last_potassium"] == "3.9"
    assert evidence["last_sodium_at"] is None
    assert evidence["diuretics"] == "chlorthalidone 25 mg" and evidence["diuretic_since"] == "2025-06-01"
    assert "no potassium or sodium" in by_id["D02"]["reason"] and by_id["D02"]["priority"] == "high"
    assert json.loads(by_id["D02"]["evidence"])["last_potassium_at"] == "2025-11-19"


def test_lookback_is_a_parameter(tmp_path):
    settings_params = {CHECK: {"lookback_days": 366}}
    from datetime import datetime

    from pipelines.run import execute_run
    from pipelines.settings import Settings
    from tests.helpers import write_export

    export = write_export(tmp_path / "export", prescriptions=PRESCRIPTIONS, labs=LABS)
    settings = Settings(
        exports=export,
        out=tmp_path / "out",
        db=tmp_path / "audit.duckdb",
        as_of=AS_OF,
        checks=(CHECK,),
        check_params=settings_params,
    )
    outcome = execute_run(settings, datetime(2026, 11, 24))
    flagged = {f["patient_id"] for f in findings(tmp_path / "audit.duckdb")}
    assert flagged == EXPECTED - {"D02"}
    assert outcome.checks[0].parameters["lookback_days"] == 366
