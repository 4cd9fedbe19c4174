"""Spec: the phrases of the check vocabulary (checks/sql/_phrases.sql), each on its boundaries, over
small stand-ins of the concept views they read (the views themselves, with death and date
alignment, are held by the spec tests of the checks)."""

from __future__ import annotations

import re
from datetime import date, datetime

import duckdb
import pytest

from checks.evaluate import SQL_DIR
from checks.translate import statements

AS_OF = date(2026, 11, 20)
# a stand-in row of drug_exposures; `stopped` (an early stop: no refill gap) is false unless given
INSERT_EXPOSURE = (
    "INSERT INTO drug_exposures (patient_id, drug_name, codelist, start_date, end_effective) VALUES"
)

STAND_INS = """
CREATE TABLE drug_exposures (patient_id VARCHAR, drug_name VARCHAR, codelist VARCHAR, start_date DATE,
                             end_effective DATE, stopped BOOLEAN DEFAULT false);
CREATE TABLE prescription_periods (patient_id VARCHAR, drug_name VARCHAR, start_date DATE,
                                   end_effective DATE);
CREATE TABLE coded_diagnoses (patient_id VARCHAR, code_original VARCHAR, code_system VARCHAR,
                              codelist VARCHAR, recorded_at DATE, resolved_at DATE);
CREATE TABLE topical_products (product_id INTEGER);
CREATE TABLE blood_results (patient_id VARCHAR, analyte VARCHAR, collected_at TIMESTAMP, value DOUBLE,
                            value_comparator VARCHAR);
"""


@pytest.fixture()
def con():
    with duckdb.connect() as connection:
        connection.execute(STAND_INS)
        connection.execute((SQL_DIR / "_results.sql").read_text(encoding="utf-8"))
        connection.execute((SQL_DIR / "_phrases.sql").read_text(encoding="utf-8"))
        yield connection


def ids(con, query: str, params: dict | None = None) -> list[str]:
    """The patient ids a query returns, sorted."""
    return sorted(r[0] for r in con.execute(query, params or {}).fetchall())


def test_window_start_and_in_window_include_both_ends(con):
    got = con.execute(
        "SELECT window_start($d, $n), in_window($d - 365, $d, $n), in_window($d - 366, $d, $n), "
        "in_window($d, $d, $n), in_window($d + 1, $d, $n), days_between($d - 7, $d), days_after($d, $n)",
        {"d": AS_OF, "n": 365},
    ).fetchall()[0]
    assert got == (date(2025, 11, 20), True, False, True, False, 7, date(2027, 11, 20))


def test_drugs_taken_on_a_day(con):
    """drugs_taken_on: the codelists' rows taken on the day (taken_on); gap 0 is active on it."""
    con.executemany(
        f"{INSERT_EXPOSURE} (?, 'furosemide', ?, ?, ?)",
        [
            ["open-ended", "diuretics", date(2026, 1, 1), None],
            ["ends on the day", "diuretics", date(2026, 1, 1), AS_OF],
            ["ended the day before", "diuretics", date(2026, 1, 1), date(2026, 11, 19)],
            ["ended 31 days before", "diuretics", date(2026, 1, 1), date(2026, 10, 20)],
            ["starts on the day", "diuretics", AS_OF, None],
            ["starts the day after", "diuretics", date(2026, 11, 21), None],
            ["other codelist", "statins", date(2026, 1, 1), None],
        ],
    )
    query = "SELECT patient_id FROM drugs_taken_on(['diuretics'], $d, $g)"
    active = ids(con, query, {"d": AS_OF, "g": 0})
    assert active == ["ends on the day", "open-ended", "starts on the day"]
    taken = ids(con, query, {"d": AS_OF, "g": 30})
    assert taken == ["ended the day before", "ends on the day", "open-ended", "starts on the day"]
    both = ids(con, "SELECT patient_id FROM drugs_taken_on(['diuretics', 'statins'], $d, 0)", {"d": AS_OF})
    assert "other codelist" in both


def test_a_repeat_medicine_is_still_taken_in_its_refill_gap(con):
    """still_taken / taken_on: ended up to gap_days before the day is still taken (the gap before a
    late repeat), the gap at most the course's own length; gap 0 is active_on; an open-ended
    prescription is taken from its start."""
    rows = [
        ["ended 30 days before", date(2026, 1, 1), date(2026, 10, 21)],
        ["ended 31 days before", date(2026, 1, 1), date(2026, 10, 20)],
        ["ends on the day", date(2026, 1, 1), AS_OF],
        ["open-ended", date(2026, 1, 1), None],
        ["starts the day after", date(2026, 11, 21), None],
        ["5-day course ended 5 days before", date(2026, 11, 10), date(2026, 11, 15)],
        ["5-day course ended 6 days before", date(2026, 11, 9), date(2026, 11, 14)],
    ]
    con.executemany(f"{INSERT_EXPOSURE} (?, 'furosemide', 'diuretics', ?, ?)", rows)
    # stopped by the prescriber 10 days before, before its supply ran out: no refill gap
    con.execute(
        "INSERT INTO drug_exposures VALUES ('stopped 10 days before', 'furosemide', 'diuretics', ?, ?, true)",
        [date(2026, 9, 1), date(2026, 11, 10)],
    )
    query = "SELECT patient_id FROM drug_exposures WHERE {}"
    gap = {"d": AS_OF, "g": 30}
    taken = ids(con, query.format("taken_on(start_date, end_effective, stopped, $d, $g)"), gap)
    assert taken == [
        "5-day course ended 5 days before",
        "ended 30 days before",
        "ends on the day",
        "open-ended",
    ]
    still = ids(con, query.format("still_taken(start_date, end_effective, stopped, $d, $g)"), gap)
    assert still == [*taken, "starts the day after"]
    until = con.execute(
        "SELECT taken_until(DATE '2026-01-01', DATE '2026-10-21', false, 30), taken_until(DATE '2026-11-10', "
        "DATE '2026-11-15', false, 30), taken_until(DATE '2026-01-01', NULL, false, 30), "
        "taken_until(DATE '2026-09-01', DATE '2026-11-10', true, 30)"
    ).fetchone()
    assert until == (AS_OF, date(2026, 11, 20), None, date(2026, 11, 10))
    no_gap = ids(con, query.format("taken_on(start_date, end_effective, stopped, $d, 0)"), {"d": AS_OF})
    assert no_gap == ids(con, query.format("active_on(start_date, end_effective, $d)"), {"d": AS_OF})
    assert no_gap == ["ends on the day", "open-ended"]


def test_a_course_begins_after_a_break_of_more_than_a_day(con):
    """The first prescription begins a course; one starting the day after the last day the earlier
    ones were taken continues it (a renewal); one starting two days after begins a new one."""
    begins = con.execute(
        "SELECT begins_course(s, p) FROM (VALUES (DATE '2026-03-01', CAST(NULL AS DATE)), "
        "(DATE '2026-03-02', DATE '2026-03-01'), (DATE '2026-03-01', DATE '2026-03-01'), "
        "(DATE '2026-03-03', DATE '2026-03-01'), (DATE '2026-02-01', DATE '2026-03-01')) AS t(s, p)"
    ).fetchall()
    assert [b for (b,) in begins] == [True, False, False, True, False]


def test_earlier_until_is_the_latest_end_of_the_earlier_prescriptions_of_one_course(con):
    """earlier_until: NULL for a course's first prescription; then the latest `until` of those before
    it in start order (not the last one's: an earlier long one can outlast a later short one), each
    course (patient, or patient and drug) on its own; ties broken by the order given."""
    rows = con.execute(
        "SELECT p, k, s, earlier_until(u, (p, k), (s, n)) FROM (VALUES "
        "('a', 'x', DATE '2026-01-01', 'x1', DATE '2026-06-01'), "
        "('a', 'x', DATE '2026-02-01', 'x2', DATE '2026-02-28'), "
        "('a', 'x', DATE '2026-03-01', 'x3', DATE '2026-03-31'), "
        "('a', 'y', DATE '2026-02-15', 'y1', DATE '2026-03-15'), "
        "('a', 'y', DATE '2026-02-15', 'y2', DATE '2026-04-15'), "
        "('b', 'x', DATE '2026-01-01', 'x1', NULL)"
        ") t(p, k, s, n, u) ORDER BY p, k, s, n"
    ).fetchall()
    assert [r[3] for r in rows] == [
        None,
        date(2026, 6, 1),
        date(2026, 6, 1),
        None,
        date(2026, 3, 15),
        None,
    ]


def test_an_undated_course_ends_days_after_its_start_or_at_a_death(con):
    """course_end: the planned end when there is one; else `days` from the start, unless the export
    says the drug is still taken (said_ongoing: no end); a death before either ends it
    (end_effective), a later one does not."""
    rows = con.execute(
        "SELECT course_end(s, p, o, e, 90) FROM (VALUES "
        "(DATE '2026-01-01', DATE '2026-03-01', false, DATE '2026-03-01'), "  # planned end
        "(DATE '2026-01-01', NULL, false, NULL), "  # undated: 90 days
        "(DATE '2026-01-01', NULL, false, DATE '2026-02-01'), "  # undated, died on 1 February
        "(DATE '2026-01-01', NULL, false, DATE '2026-12-01'), "  # undated, died after the course
        "(DATE '2026-01-01', DATE '2026-06-01', false, DATE '2026-02-01'), "  # planned, died before its end
        "(DATE '2026-01-01', NULL, true, NULL), "  # said still taken: no end
        "(DATE '2026-01-01', NULL, true, DATE '2026-12-01')"  # said still taken: to the death
        ") t(s, p, o, e)"
    ).fetchall()
    assert [r[0] for r in rows] == [
        date(2026, 3, 1),
        date(2026, 4, 1),
        date(2026, 2, 1),
        date(2026, 4, 1),
        date(2026, 2, 1),
        None,
        date(2026, 12, 1),
    ]


def test_drugs_active_in_a_window_and_started_by_a_day(con):
    con.executemany(
        f"{INSERT_EXPOSURE} (?, 'insulin glargine', 'insulins', ?, ?)",
        [
            ["ended on the first day", date(2026, 1, 1), date(2026, 8, 22)],  # window: 90 days to as-of
            ["ended the day before it", date(2026, 1, 1), date(2026, 8, 21)],
            ["open-ended", date(2020, 1, 1), None],
            ["starts after as-of", date(2026, 11, 21), None],
        ],
    )
    window = ids(
        con, "SELECT patient_id FROM drugs_active_in_window(['insulins'], $d, $n)", {"d": AS_OF, "n": 90}
    )
    assert window == ["ended on the first day", "open-ended"]
    started = ids(con, "SELECT patient_id FROM drugs_started_by(['insulins'], $d)", {"d": AS_OF})
    assert started == ["ended on the first day", "ended the day before it", "open-ended"]


def test_prescriptions_active_in_a_window_read_every_drug(con):
    con.execute(
        "INSERT INTO prescription_periods VALUES ('p1', 'an uncoded cream', $s, NULL), ('p2', 'old', $s, $s)",
        {"s": date(2026, 1, 1)},
    )
    assert ids(con, "SELECT patient_id FROM prescriptions_active_in_window($d, 14)", {"d": AS_OF}) == ["p1"]


def test_diagnoses_in_a_window_by_a_day_and_unresolved(con):
    con.executemany(
        "INSERT INTO coded_diagnoses VALUES (?, 'R25.2', 'ICD-10-CM', 'muscle_cramps', ?, ?)",
        [
            ["day 365", date(2025, 11, 20), None],
            ["day 366", date(2025, 11, 19), None],
            ["on as-of", AS_OF, None],
            ["after as-of", date(2026, 11, 21), None],
            ["resolved on as-of", date(2025, 1, 1), AS_OF],
            ["resolved after as-of", date(2025, 1, 1), date(2026, 11, 21)],
        ],
    )
    window = ids(
        con, "SELECT patient_id FROM diagnoses_in_window(['muscle_cramps'], $d, $n)", {"d": AS_OF, "n": 365}
    )
    assert window == ["day 365", "on as-of"]
    ever = ids(con, "SELECT patient_id FROM diagnoses_by(['muscle_cramps'], $d)", {"d": AS_OF})
    assert "after as-of" not in ever and len(ever) == 5
    unresolved = ids(
        con, "SELECT patient_id FROM diagnoses_unresolved_on(['muscle_cramps'], $d)", {"d": AS_OF}
    )
    assert unresolved == ["day 365", "day 366", "on as-of", "resolved after as-of"]


def test_a_lasting_condition_ended_the_day_it_was_recorded_is_unresolved(con):
    con.executemany(
        "INSERT INTO coded_diagnoses VALUES (?, 'K74.60', 'ICD-10-CM', 'cirrhosis', ?, ?)",
        [
            ["open", date(2025, 1, 1), None],
            ["ended the day recorded", date(2025, 1, 1), date(2025, 1, 1)],
            ["ended the next day", date(2025, 1, 1), date(2025, 1, 2)],
            ["ended after as-of", date(2025, 1, 1), date(2026, 11, 21)],
            ["recorded after as-of", date(2026, 11, 21), date(2026, 11, 21)],
        ],
    )
    lasting = ids(con, "SELECT patient_id FROM lasting_unresolved_on(['cirrhosis'], $d)", {"d": AS_OF})
    assert lasting == ["ended after as-of", "ended the day recorded", "open"]
    plain = ids(con, "SELECT patient_id FROM diagnoses_unresolved_on(['cirrhosis'], $d)", {"d": AS_OF})
    assert plain == ["ended after as-of", "open"]


def test_diagnosed_summarises_each_patient(con):
    con.executemany(
        "INSERT INTO coded_diagnoses VALUES ('p1', ?, ?, 'muscle_cramps', ?, NULL)",
        [
            ["R25.2", "ICD-10-CM", date(2026, 3, 1)],
            ["729.82", "ICD-9-CM", date(2026, 9, 1)],
            ["R25.2", "ICD-10-CM", date(2024, 1, 1)],  # outside the 365-day window
        ],
    )
    in_window = con.execute(
        "SELECT * FROM diagnosed_in_window(['muscle_cramps'], $d, 365)", {"d": AS_OF}
    ).fetchall()
    assert in_window == [("p1", "729.82 (ICD-9-CM); R25.2 (ICD-10-CM)", date(2026, 3, 1), date(2026, 9, 1))]
    ever = con.execute("SELECT first_at FROM diagnosed_by(['muscle_cramps'], $d)", {"d": AS_OF}).fetchall()
    assert ever == [(date(2024, 1, 1),)]


def test_results_by_a_day_and_the_last_by_time(con):
    con.executemany(
        "INSERT INTO blood_results VALUES ('p1', ?, ?, ?, ?)",
        [
            ["potassium", datetime(2026, 11, 19, 8), 4.1, None],
            ["potassium", datetime(2026, 11, 20, 9), 3.9, None],  # the last by time, a day later
            ["potassium", datetime(2026, 11, 20, 23, 59), 2.0, "<"],  # later still, same day: last
            ["potassium", datetime(2026, 11, 21, 0, 1), 5.0, None],  # after as-of: not read
            ["sodium", datetime(2026, 11, 20, 23, 59), 140.0, None],
        ],
    )
    last = con.execute(
        "SELECT max(day), result_text_of(arg_max(result, k)), count(*) FROM results_by(['potassium'], $d)",
        {"d": AS_OF},
    ).fetchall()
    assert last == [(AS_OF, "<2.0", 3)]


def test_code_labels_listed_and_words_or(con):
    got = con.execute(
        "SELECT code_labels(c, s), listed(c) FROM (VALUES ('R25.2', 'ICD-10-CM'), ('729.82', 'ICD-9-CM'), "
        "('R25.2', 'ICD-10-CM')) t(c, s)"
    ).fetchall()[0]
    assert got == ("729.82 (ICD-9-CM); R25.2 (ICD-10-CM)", "729.82; R25.2")
    words = con.execute("SELECT words_or(['a']), words_or(['a', 'b']), words_or(['a', 'b', 'c'])").fetchall()
    assert words == [("a", "a or b", "a, b or c")]


@pytest.mark.parametrize(
    ("flagged", "high", "priority"),
    [(True, True, "high"), (True, False, "normal"), (True, None, "normal"), (False, True, None)],
)
def test_flag_priority_and_reason(con, flagged, high, priority):
    got = con.execute(
        "SELECT flag_priority($f, $h), flag_reason($f, 'why')", {"f": flagged, "h": high}
    ).fetchall()[0]
    assert got == (priority, "why" if flagged else None)


def concept_macros() -> str:
    """The macros of _concepts.sql (the death and registration rules), without the views around them."""
    text = (SQL_DIR / "_concepts.sql").read_text(encoding="utf-8")
    return ";\n".join(s for s in statements(text) if re.search(r"\bTEMP\s+MACRO\b", s, re.I))


@pytest.fixture()
def deaths():
    with duckdb.connect() as connection:
        connection.execute(
            "CREATE TABLE deceased_patients AS SELECT * FROM (VALUES"
            " ('died the day before', DATE '2026-11-19'), ('died on as-of', DATE '2026-11-20'),"
            " ('died the day after', DATE '2026-11-21'),"
            " ('dead, no date', NULL::DATE)) t(patient_id, death_date)"
        )
        connection.execute(
            "CREATE TABLE deregistered_patients AS SELECT * FROM (VALUES"
            " ('left the day before', DATE '2026-11-19'), ('registered until as-of', DATE '2026-11-20'),"
            " ('left, no date', NULL::DATE), ('died on as-of', DATE '2026-01-01'))"
            " t(patient_id, registered_until)"
        )
        connection.execute(  # whose latest patients row could not be read (a dead one wins)
            "CREATE TABLE unreadable_patients AS SELECT * FROM (VALUES"
            " ('row unreadable', 'r1', 'patients.csv'), ('row unreadable', 'r1', 'patients.csv'),"
            " ('died on as-of', 'r1', 'patients.csv'), ('left, no date', 'r1', 'patients.csv'))"
            " t(patient_id, run_id, file)"
        )
        connection.execute(
            "CREATE TABLE src_patient_state AS SELECT * FROM (VALUES"
            " ('eighteen tomorrow', DATE '2008-11-21'), ('eighteen today', DATE '2008-11-20'),"
            " ('leap-day born', DATE '2008-02-29'), ('birth unknown', NULL::DATE)) t(patient_id, birth_date)"
        )
        connection.execute(concept_macros())
        yield connection


def test_dead_by_a_day_includes_the_day_and_an_undated_death(deaths):
    dead = ids(deaths, "SELECT patient_id FROM dead_by($d)", {"d": AS_OF})
    assert dead == ["dead, no date", "died on as-of", "died the day before"]
    assert ids(deaths, "SELECT patient_id FROM dead_by($d)", {"d": date(2000, 1, 1)}) == ["dead, no date"]


def test_exposures_end_at_the_deaths_after_the_day(deaths):
    after = ids(deaths, "SELECT patient_id FROM exposure_deaths_after($d)", {"d": AS_OF})
    assert after == ["died the day after"]  # the dead by as-of are left out instead (dead_by)
    every_dated = ids(deaths, "SELECT patient_id FROM exposure_deaths_after(NULL)")
    assert every_dated == ["died on as-of", "died the day after", "died the day before"]
    # together: every patient known dead is either left out as of the day or has exposures ended
    both = ids(
        deaths,
        "SELECT patient_id FROM dead_by($d) UNION ALL SELECT patient_id FROM exposure_deaths_after($d)",
        {"d": AS_OF},
    )
    assert both == ids(deaths, "SELECT patient_id FROM deceased_patients")


def test_left_out_by_a_day_keeps_the_last_registered_day_and_a_death_wins(deaths):
    rows = deaths.execute("SELECT * FROM left_out_by($d) ORDER BY patient_id", {"d": AS_OF}).fetchall()
    assert rows == [
        ("dead, no date", "deceased", None, None),
        ("died on as-of", "deceased", AS_OF, None),  # left too, but the death is why
        ("died the day before", "deceased", date(2026, 11, 19), None),
        ("left the day before", "deregistered", None, date(2026, 11, 19)),
        ("left, no date", "deregistered", None, None),
        ("row unreadable", "unreadable", None, None),  # once, whatever the date; the others' reasons win
    ]  # 'registered until as-of' is still registered on its last day
    early = ids(deaths, "SELECT patient_id FROM left_out_by($d)", {"d": date(2000, 1, 1)})
    assert early == ["dead, no date", "died on as-of", "left, no date", "row unreadable"]


def test_younger_on_a_day_leaves_out_a_birthday_on_it_and_an_unknown_birth(deaths):
    assert ids(deaths, "SELECT patient_id FROM younger_on(18, $d)", {"d": AS_OF}) == ["eighteen tomorrow"]
    # born 29 February 2008: 18 on 28 February 2026, as age_on counts it
    assert ids(deaths, "SELECT patient_id FROM younger_on(18, $d)", {"d": date(2026, 2, 27)}) == [
        "eighteen today",
        "eighteen tomorrow",
        "leap-day born",
    ]
    assert ids(deaths, "SELECT patient_id FROM younger_on(18, $d)", {"d": date(2026, 2, 28)}) == [
        "eighteen today",
        "eighteen tomorrow",
    ]


# is_topical: the one definition of a topical or local form, over the real codelists and concepts.
# Each row: drug_name, rxnorm_code, atc_code, whether topical. Names as exports write them.
TOPICAL_CASES = [
    ("diclofenac 1% gel", "3355", "M02AA15", True),  # ATC M02, and 'gel' in the name
    ("Voltaren Gel 1%", None, None, True),  # a topical NSAID brand (nsaids_topical), no codes
    ("Flector 1.3% patch", None, None, True),
    ("ketorolac 0.5% eye drops", None, "S01BC05", True),  # ophthalmic NSAID (nsaids_topical)
    ("hydrocortisone 1% cream", None, "D07AA02", True),  # the name and ATC D
    ("an emollient", None, "D02AB", True),  # ATC D alone
    ("Versatis 700 mg medicated plaster", None, "N01BB02", True),  # topical-only lidocaine brand
    ("Lidoderm", "6387", None, True),  # the brand alone, lidocaine's shared ingredient code
    ("ibuprofen 200 mg liquid gels", "5640", "M01AE01", False),  # a 'liquid gel' capsule is oral
    ("naproxen 220 mg gel caps", "7258", "M01AE02", False),
    ("ibuprofen 400 mg tablet", "5640", "M01AE01", False),
    ("lidocaine 1% injection", "6387", "N01BB02", False),  # local anaesthetic by injection
    # a patch of a drug that does not act locally is systemic (dose_forms_patch, acts_locally)
    ("fentanyl 25 mcg/hr transdermal patch", None, "N02AB03", False),
    ("lidocaine 5% patch", None, None, True),  # acts where it is put
]


@pytest.fixture(scope="module")
def concepts(tmp_path_factory: pytest.TempPathFactory):
    """The real schema and the real prepare() over prescriptions of TOPICAL_CASES."""
    from checks.evaluate import prepare
    from pipelines.db import connect

    connection = connect(tmp_path_factory.mktemp("topical") / "audit.duckdb")
    connection.executemany(
        "INSERT INTO prescriptions (patient_id, drug_name, rxnorm_code, atc_code, start_date, _run_id) "
        "VALUES ('p1', ?, ?, ?, DATE '2026-01-01', 'r')",
        [list(case[:3]) for case in TOPICAL_CASES],
    )
    prepare(connection)
    yield connection
    connection.close()


@pytest.mark.parametrize(("name", "rxnorm", "atc", "topical"), TOPICAL_CASES, ids=lambda v: str(v))
def test_is_topical(concepts, name, rxnorm, atc, topical):
    got = concepts.execute(
        "SELECT is_topical(product_id) FROM drug_products WHERE drug_name = $n "
        "AND rxnorm_code IS NOT DISTINCT FROM $r AND atc_code IS NOT DISTINCT FROM $a",
        {"n": name, "r": rxnorm, "a": atc},
    ).fetchall()
    assert got == [(topical,)]


def test_a_prescription_takes_the_concepts_of_its_own_descriptor_by_product(concepts):
    """drug_products numbers each distinct (name, RxNorm, ATC), a NULL code matching a NULL code: every
    prescription of TOPICAL_CASES (codes NULL in some) meets in drug_exposures exactly the codelists
    its own name and codes match, as the three-column join gave them, and only those."""
    by_product = concepts.execute(
        "SELECT drug_name, rxnorm_code, atc_code, codelist FROM drug_exposures ORDER BY ALL"
    ).fetchall()
    by_descriptor = concepts.execute(
        """SELECT p.drug_name, p.rxnorm_code, p.atc_code, c.codelist
        FROM prescriptions p JOIN drug_concepts c
          ON c.drug_name = p.drug_name AND c.rxnorm_code IS NOT DISTINCT FROM p.rxnorm_code
         AND c.atc_code IS NOT DISTINCT FROM p.atc_code
        ORDER BY ALL"""
    ).fetchall()
    assert by_product == by_descriptor
    assert {row[0] for row in by_product} >= {"Voltaren Gel 1%", "lidocaine 5% patch"}  # NULL codes joined
    products = concepts.execute("SELECT count(*), count(DISTINCT product_id) FROM drug_products").fetchone()
    assert products == (len(TOPICAL_CASES), len(TOPICAL_CASES))
    # the product join loses no prescription: prescription_periods (every drug, listed or not) keeps each
    periods = concepts.execute("SELECT count(*), count(product_id) FROM prescription_periods").fetchone()
    assert periods == (len(TOPICAL_CASES), len(TOPICAL_CASES))


# CKD-EPI 2021 (Inker et al. 2021): a creatinine of 1.0 mg/dL (88.42 umol/L) at 60 is 64 for a woman
# and 86 for a man, as the NKF's published calculator gives.
CKD_EPI_CASES = [
    (88.42, 60, "F", 64.0),
    (88.42, 60, "M", 86.0),
    (150.0, 75, "F", 31.0),
    (150.0, 75, "M", 42.0),
    (300.0, 80, "M", 18.0),
    (60.0, 40, "F", 113.0),
    (100.0, 17, "F", None),
    # sex unknown: the higher of the two estimates (13 for a woman, 18 for a man)
    (300.0, 80, "U", 18.0),
    (300.0, 80, None, 18.0),
    # under 20 umol/L: a mg/dL value exported without its unit, no estimate
    (6.1, 50, "F", None),
    (0.0, 50, "F", None),
]


@pytest.mark.parametrize(("creatinine", "age", "sex", "egfr"), CKD_EPI_CASES)
def test_ckd_epi_2021_estimates_an_egfr_from_a_creatinine(con, creatinine, age, sex, egfr):
    got = con.execute("SELECT ckd_epi_2021($c, $a, $s)", {"c": creatinine, "a": age, "s": sex}).fetchone()[0]
    assert got == egfr


COMBINATIONS = [
    ("acetaminophen 325 MG / oxycodone hydrochloride 10 MG Oral Tablet", True),  # RxNorm
    ("Co-amoxiclav 500mg/125mg tablets", False),  # one name: identified by its name, not split
    ("Paracetamol 500mg with codeine 8mg", True),
    ("Carbidopa & levodopa 25mg/100mg tablets", True),
    ("Nurofen plus tablets", True),
    ("Ferrous sulfate and folic acid", True),
    ("amlodipine 5 MG Oral Tablet", False),
    ("Oramorph 10mg/5ml oral solution", False),
    ("Hydroxocobalamin 1mg/1ml solution for injection ampoules", False),
    # a strength per unit is one drug's (GP review 2026-12-03: RxNorm's 'MG/ML' read as two drugs)
    ("hydroxocobalamin 1 MG/ML Injectable Solution", False),
    ("Cyanocobalamin 1000micrograms/ml solution for injection", False),
    ("insulin glargine 100 UNT/ML Injectable Solution", False),
    ("72 HR fentanyl 0.025 MG/HR Transdermal System", False),
    ("Salbutamol 100micrograms/dose inhaler CFC free", False),
    ("Sodium chloride 0.9% w/v infusion", False),
    ("lidocaine 0.05 MG/MG Medicated Patch", False),
    ("lidocaine 50 MG/GM Topical Ointment", False),
    ("nystatin 100000 UNT/GM Topical Cream", False),
    ("hydrocortisone 1% / miconazole 2% cream", True),
    ("Co-codamol 30mg/500mg tablets", False),
    ("fluticasone propionate 0.25 MG/ACTUAT / salmeterol 0.05 MG/ACTUAT Dry Powder Inhaler", True),
    ("Lidocaine 2% / Chlorhexidine gluconate 0.25% gel", True),
]


@pytest.mark.parametrize(("name", "combination"), COMBINATIONS, ids=[n for n, _ in COMBINATIONS])
def test_is_combination_reads_the_name(con, name, combination):
    assert con.execute("SELECT is_combination($n)", {"n": name}).fetchone()[0] is combination


DRUG_STEMS = [
    # RxNorm clinical drugs (Synthea, OMOP): one stem for every strength and release form
    ("amlodipine 2.5 MG Oral Tablet", "amlodipine"),
    ("amLODIPine 5 MG Oral Tablet", "amlodipine"),
    ("24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet", "metformin"),
    ("metformin hydrochloride 500 MG Oral Tablet", "metformin"),
    ("Abuse-Deterrent 12 HR oxycodone hydrochloride 10 MG Extended Release Oral Tablet", "oxycodone"),
    ("72 HR fentanyl 0.025 MG/HR Transdermal System", "fentanyl"),
    # leading quantities and an NDA number are not the drug
    ("120 ACTUAT fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler", "fluticasone propionate"),
    ("NDA020503 200 ACTUAT albuterol 0.09 MG/ACTUAT Metered Dose Inhaler", "albuterol"),
    ("1 ML medroxyprogesterone acetate 150 MG/ML Injection", "medroxyprogesterone"),
    ("{28 (norethindrone 0.35 MG Oral Tablet) } Pack [Errin 28 Day]", "norethindrone"),
    # dm+d and free text
    ("Amlodipine 10mg tablets", "amlodipine"),
    ("Co-codamol 30mg/500mg tablets", "co-codamol"),
    # a salt after the name is the same drug (a dose change written with and without it); a salt
    # that is the drug's first word stays
    ("Losartan potassium 50mg tablets", "losartan"),
    ("Amlodipine besilate 5mg tablets", "amlodipine"),
    ("Metoprolol succinate 47.5mg prolonged-release tablets", "metoprolol"),
    ("Levothyroxine sodium 50microgram tablets", "levothyroxine"),
    ("Potassium chloride 600mg modified-release tablets", "potassium chloride"),
    ("Potassium citrate 1.5g effervescent tablets", "potassium citrate"),
    ("Calcium carbonate 1.25g chewable tablets", "calcium carbonate"),
    ("Calcium acetate 1g tablets", "calcium acetate"),
    ("Sodium valproate 200mg gastro-resistant tablets", "sodium valproate"),
    # characters RE2 and Java read differently stay as DuckDB reads them (tests/spark)
    ("losartan\x0bpotassium 50 mg", "losartan\x0bpotassium"),
    ("losartan potassium\u2028", "losartan potassium\u2028"),
    ("losartan potassium\u0085", "losartan potassium\u0085"),
    ("Humulin M3", "humulin m"),
    # a name that starts with its strength, or has none, is kept whole
    ("0.9% sodium chloride", "0.9% sodium chloride"),
    ("5-fluorouracil cream", "5-fluorouracil cream"),
    ("Daily multivitamin", "daily multivitamin"),
]


@pytest.mark.parametrize(("name", "stem"), DRUG_STEMS, ids=[n for n, _ in DRUG_STEMS])
def test_drug_stem_drops_strength_form_and_leading_quantities(con, name, stem):
    assert con.execute("SELECT drug_stem($n)", {"n": name}).fetchone()[0] == stem


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [
        (date(1960, 5, 1), date(2025, 4, 30), 64),
        (date(1960, 5, 1), date(2025, 5, 1), 65),
        (date(1960, 2, 29), date(2025, 2, 27), 64),
        (date(1960, 2, 29), date(2025, 2, 28), 65),  # as birth_date + 65 years: 2025-02-28
        (date(1960, 2, 29), date(2028, 2, 28), 67),  # a leap year: the birthday is the 29th
        (date(1960, 2, 29), date(2028, 2, 29), 68),
        (date(1960, 12, 31), date(2026, 1, 1), 65),
    ],
)
def test_age_on_counts_whole_years_as_adding_years_to_the_birth_date(con, born, on, age):
    got, by_adding = con.execute(
        "SELECT age_on($b, $d), $b + to_years($n) <= $d", {"b": born, "d": on, "n": age}
    ).fetchall()[0]
    assert (got, by_adding) == (age, True)
