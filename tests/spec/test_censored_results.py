"""Spec: censored results ('<2.5', '>60') and text-only results across the checks, and "latest"
meaning latest in time, as of 2026-11-20. Also the vocabulary macros (checks/sql/_results.sql)
on their own, on every boundary."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pytest

from checks.evaluate import SQL_DIR
from tests.helpers import table
from tests.spec.harness import check_spec

AS_OF = date(2026, 11, 20)


@pytest.fixture(scope="module")
def con():
    with duckdb.connect() as connection:
        connection.execute((SQL_DIR / "_results.sql").read_text(encoding="utf-8"))
        yield connection


@pytest.mark.parametrize(
    ("value", "comparator", "threshold", "below", "above"),
    [
        (3.4, None, 3.5, True, False),
        (3.5, None, 3.5, False, False),  # plain: strictly below / above
        (3.5, "<", 3.5, True, False),  # '<3.5' is below 3.5
        (2.5, "<", 3.5, True, False),
        (3.6, "<", 3.5, False, False),  # '<3.6' may be 3.55: not known to be below 3.5
        (3.5, "<=", 3.5, False, False),  # '<=3.5' may be 3.5
        (3.4, "<=", 3.5, True, False),
        (60.0, ">", 60.0, False, True),  # '>60' is not below 60; it is above 60
        (59.0, ">", 60.0, False, False),  # '>59' may be 59.5
        (60.0, ">=", 60.0, False, False),
        (61.0, ">=", 60.0, False, True),
        (2000.0, ">", 150.0, False, True),  # a B12 of '>2000' is not low
        (None, None, 3.5, None, None),  # no numeric result: neither
    ],
)
def test_result_below_and_above_are_certain(con, value, comparator, threshold, below, above):
    got = con.execute(
        "SELECT result_below($v, $c, $t), result_above($v, $c, $t)",
        {"v": value, "c": comparator, "t": threshold},
    ).fetchall()[0]
    assert got == (below, above)


@pytest.mark.parametrize(
    ("prev", "prev_comparator", "value", "comparator", "fell"),
    [
        (5.0, None, 4.0, None, True),  # exactly 1.0
        (4.5, None, 3.5, None, True),  # 1.0 despite floating point
        (5.0, None, 4.1, None, False),
        (5.5, "<", 4.0, None, False),  # '<5.5' may be 4.2: no known fall
        (5.0, None, 3.9, ">", False),  # '>3.9' may be 4.5
        (5.0, None, 4.0, "<", True),  # the later result is under 4.0: fell by more than 1.0
        (5.0, ">", 4.0, None, True),
        (5.0, ">=", 4.0, "<=", True),
        (5.0, "<=", 4.0, None, False),
        (5.0, None, 4.0, ">=", False),
    ],
)
def test_result_fell_is_certain(con, prev, prev_comparator, value, comparator, fell):
    got = con.execute(
        "SELECT result_fell($p, $pc, $v, $c, 1.0)",
        {"p": prev, "pc": prev_comparator, "v": value, "c": comparator},
    ).fetchall()[0][0]
    assert got is fell


@pytest.mark.parametrize(
    ("value", "comparator", "text"),
    [(3.2, None, "3.2"), (2.5, "<", "<2.5"), (2000.0, ">", ">2000.0"), (5.0, "<=", "<=5.0"),
     (0.8228, None, "0.82"), (0.004, "<", "<0.004"), (0.0, None, "0.0")],
)  # fmt: skip
def test_result_text_shows_the_comparator(con, value, comparator, text):
    assert con.execute("SELECT result_text($v, $c)", {"v": value, "c": comparator}).fetchall()[0][0] == text


def _latest(con, rows: list[tuple]) -> tuple:
    """(value, comparator) of the latest of rows (collected_at, value, comparator) by latest_key."""
    con.execute("CREATE OR REPLACE TEMP TABLE r (t TIMESTAMP, v DOUBLE, c VARCHAR)")
    con.executemany("INSERT INTO r VALUES (?, ?, ?)", rows)
    return con.execute("SELECT arg_max((v, c), latest_key(t, v, c)) FROM r").fetchall()[0][0]


def test_latest_key_orders_by_timestamp_then_lowest(con):
    same_day = [
        (datetime(2026, 10, 1, 4, 10), 3.9, None),
        (datetime(2026, 10, 1, 13, 17), 3.3, None),  # later the same day: the latest
        (datetime(2026, 9, 30, 23, 59), 2.0, None),
    ]
    assert _latest(con, same_day) == (3.3, None)
    # later in the day and higher: still the later one
    assert (
        _latest(con, [(datetime(2026, 10, 1, 8), 3.2, None), (datetime(2026, 10, 1, 18), 4.1, None)])[0]
        == 4.1
    )
    # one identical timestamp: the lowest value, and '<3.5' before a plain 3.5 before '>3.5'
    tie = datetime(2026, 10, 1, 8)
    assert _latest(con, [(tie, 4.0, None), (tie, 3.6, None)])[0] == 3.6
    assert _latest(con, [(tie, 3.5, None), (tie, 3.5, "<"), (tie, 3.5, ">")])[1] == "<"
    assert _latest(con, [(tie, 3.5, ">"), (tie, 3.5, None)])[1] is None


INSULIN = table("""
patient_id | drug_name                         | rxnorm_code | atc_code | start_date | end_date | days_supply
I01        | insulin glargine 100 units/mL pen | 274783      | A10AE04  | 2025-01-01 |          |
I02        | insulin glargine 100 units/mL pen | 274783      | A10AE04  | 2025-01-01 |          |
I03        | insulin glargine 100 units/mL pen | 274783      | A10AE04  | 2025-01-01 |          |
I04        | insulin glargine 100 units/mL pen | 274783      | A10AE04  | 2025-01-01 |          |
I05        | insulin glargine 100 units/mL pen | 274783      | A10AE04  | 2025-01-01 |          |
I06        | insulin glargine 100 units/mL pen | 274783      | A10AE04  | 2025-01-01 |          |
I07        | insulin glargine 100 units/mL pen | 274783      | A10AE04  | 2025-01-01 |          |
I08        | insulin glargine 100 units/mL pen | 274783      | A10AE04  | 2025-01-01 |          |
I09        | insulin glargine 100 units/mL pen | 274783      | A10AE04  | 2025-01-01 |          |
""")

POTASSIUM = table("""
patient_id | collected_at        | loinc_code | test_name | value      | unit
# two results on one day: 3.9 at 04:10, 3.3 at 13:17: the latest is 3.3, still low: high priority
I01        | 2026-10-01T04:10:00 | 2823-3     |           | 3.9        | mmol/L
I01        | 2026-10-01T13:17:00 | 2823-3     |           | 3.3        | mmol/L
# '<3.5' is below 3.5: flagged, and still low at the latest result: high
I02        | 2026-10-01          | 2823-3     |           | <3.5       | mmol/L
# '<= 3.5' may be 3.5: not low
I03        | 2026-10-01          | 2823-3     |           | <= 3.5     | mmol/L
# '<2.5' is below 3.0 (severe): high; the fall from 4.0 uses the bound (1.5)
I04        | 2026-10-01          | 2823-3     |           | 4.0        | mmol/L
I04        | 2026-10-02          | 2823-3     |           | <2.5       | mmol/L
# text only: no result, so neither low nor part of a fall
I05        | 2026-10-01          | 2823-3     |           | 4.6        | mmol/L
I05        | 2026-10-02          | 2823-3     |           | haemolysed | mmol/L
I05        | 2026-10-03          | 2823-3     |           | 4.4        | mmol/L
# '>3.0' is never known to be low
I06        | 2026-10-01          | 2823-3     |           | >3.0       | mmol/L
# low earlier, then a later result the same day back in range: flagged, normal priority
I07        | 2026-10-01T08:00:00 | 2823-3     |           | 3.2        | mmol/L
I07        | 2026-10-01T18:00:00 | 2823-3     |           | 4.1        | mmol/L
# '<5.0' then 3.9: may have been 4.2 -> 3.9; no known fall of 1.0
I08        | 2026-10-01          | 2823-3     |           | <5.0       | mmol/L
I08        | 2026-10-02          | 2823-3     |           | 3.9        | mmol/L
# 4.9 then '>3.8': may be 4.5; no known fall
I09        | 2026-10-01          | 2823-3     |           | 4.9        | mmol/L
I09        | 2026-10-02          | 2823-3     |           | >3.8       | mmol/L
""")


def test_insulin_potassium_censored_and_latest_by_time(tmp_path):
    expected = {
        "I01": "high",
        "I02": "high",
        "I03": None,
        "I04": "high",
        "I05": None,
        "I06": None,
        "I07": "normal",
        "I08": None,
        "I09": None,
    }
    evidence = {
        "I01": {
            "last_potassium": "3.3",
            "last_potassium_at": "2026-10-01",
            "potassium_results": "2026-10-01: 3.9; 2026-10-01: 3.3",  # in time order
        },
        "I02": {"low_potassium": "<3.5 on 2026-10-01", "last_potassium": "<3.5"},
        "I04": {
            "low_potassium": "<2.5 on 2026-10-02",
            "potassium_falls": "4.0 -> <2.5 (2026-10-01 -> 2026-10-02)",
        },
        "I07": {"last_potassium": "4.1"},
    }
    tables = {"prescriptions": INSULIN, "labs": POTASSIUM}
    check_spec(tmp_path, "insulin_potassium_drop", AS_OF, tables, expected, evidence=evidence)


# open-ended, started 80 days before as-of: inside the 90-day course of an undated NSAID (issue 15)
NSAIDS = table(
    "patient_id | drug_name | rxnorm_code | atc_code | start_date | end_date | days_supply\n"
    + "\n".join(f"K0{i} | ibuprofen 400 mg tablet | 5640 | M01AE01 | 2026-09-01 | |" for i in range(1, 8))
)

EGFR = table("""
patient_id | collected_at | loinc_code | test_name | value | unit
# '>60' is not below 60
K01        | 2026-10-01   | 33914-3    |           | >60   | mL/min/1.73m2
# plain 60 is not below 60 either
K02        | 2026-10-01   | 33914-3    |           | 60    | mL/min/1.73m2
# '<60' is below 60 (normal priority: not known to be below 30)
K03        | 2026-10-01   | 33914-3    |           | <60   | mL/min/1.73m2
# '<=60' may be 60
K04        | 2026-10-01   | 33914-3    |           | <=60  | mL/min/1.73m2
# '<15' is below 30: high
K05        | 2026-10-01   | 33914-3    |           | <15   | mL/min/1.73m2
# the latest is '>90' after an earlier 45: not flagged
K06        | 2026-09-01   | 33914-3    |           | 45    | mL/min/1.73m2
K06        | 2026-10-01   | 33914-3    |           | >90   | mL/min/1.73m2
# '<30' is below 30: the true value is under 30, so high
K07        | 2026-10-01   | 33914-3    |           | <30   | mL/min/1.73m2
""")


def test_nsaid_egfr_threshold_on_the_bound(tmp_path):
    expected = {
        "K01": None,
        "K02": None,
        "K03": "normal",
        "K04": None,
        "K05": "high",
        "K06": None,
        "K07": "high",
    }
    check_spec(
        tmp_path,
        "nsaid_kidney_disease",
        AS_OF,
        {"prescriptions": NSAIDS, "labs": EGFR},
        expected,
        reason={"K03": "...latest eGFR <60.0 on 2026-10-01"},
        evidence={"K05": {"latest_egfr": "<15.0"}},
    )


NUMBNESS = table("""
patient_id | code  | code_system | recorded_at | resolved_at
N01        | R20.2 | ICD-10-CM   | 2026-06-01  |
N02        | R20.2 | ICD-10-CM   | 2026-06-01  |
N03        | R20.2 | ICD-10-CM   | 2026-06-01  |
""")

WORKUP = table("""
patient_id | collected_at | loinc_code | test_name | value       | unit
# a B12 of '>2000' is a B12 result (and not low): worked up
N01        | 2026-05-01   | 2345-7     |           | 95          | mg/dL
N01        | 2026-05-01   | 2132-9     |           | >2000       | pmol/L
# a text-only B12 is no result: B12 missing
N02        | 2026-05-01   | 2345-7     |           | 95          | mg/dL
N02        | 2026-05-01   | 2132-9     |           | see comment | pmol/L
# '<= 5' glucose is a glucose result
N03        | 2026-05-01   | 2345-7     |           | <= 5        | mmol/L
N03        | 2026-05-01   | 2132-9     |           | 300         | pmol/L
""")


def test_numbness_workup_counts_censored_results_not_text(tmp_path):
    run = check_spec(
        tmp_path,
        "numbness_neuropathy_workup",
        AS_OF,
        {"diagnoses": NUMBNESS, "labs": WORKUP},
        {"N01": None, "N02": "normal", "N03": None},
        reason={"N02": "...vitamin B12..."},
    )
    with duckdb.connect(str(run.db), read_only=True) as con:
        b12 = con.execute(
            "SELECT patient_id, value, value_comparator FROM labs WHERE analyte = 'vitamin_b12' ORDER BY 1"
        ).fetchall()
    assert b12 == [("N01", 2000.0, ">"), ("N02", None, None), ("N03", 300.0, None)]


CIRRHOSIS = table("""
patient_id | code   | code_system | recorded_at | resolved_at
C01        | K70.30 | ICD-10-CM   | 2024-01-01  |
C01        | R25.2  | ICD-10-CM   | 2026-10-01  |
C02        | K70.30 | ICD-10-CM   | 2024-01-01  |
C02        | R25.2  | ICD-10-CM   | 2026-10-01  |
""")

ELECTROLYTES = table("""
patient_id | collected_at        | loinc_code | test_name | value | unit
# latest potassium '<3.5' (below range): high
C01        | 2026-10-02T08:00:00 | 2823-3     |           | 4.0   | mmol/L
C01        | 2026-10-02T16:00:00 | 2823-3     |           | <3.5  | mmol/L
C01        | 2026-10-02          | 2951-2     |           | 138   | mmol/L
# latest sodium '>130' is not below range: normal
C02        | 2026-10-02          | 2823-3     |           | 4.0   | mmol/L
C02        | 2026-10-02          | 2951-2     |           | >130  | mmol/L
""")


def test_cramps_cirrhosis_latest_censored_electrolyte(tmp_path):
    check_spec(
        tmp_path,
        "cramps_cirrhosis",
        AS_OF,
        {"diagnoses": CIRRHOSIS, "labs": ELECTROLYTES},
        {"C01": "high", "C02": "normal"},
        reason={"C01": "...below range..."},
        evidence={"C01": {"last_potassium": "<3.5"}, "C02": {"last_sodium": ">130.0"}},
    )
