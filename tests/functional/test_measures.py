"""Monthly measures (issue #19): back-calculated on the first night, equal to the check run as of each
month-end, breakdowns summing to the totals, recomputed only where the data changed."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from checks.evaluate import all_checks, compute, prepare
from checks.measures import evaluate_months, month_ends, sources_of_patients_in
from tests.conftest import SAMPLE_EXPORT
from tests.helpers import cli, night, read_csv_rows, run_args, write_export

AS_OF = date(2026, 11, 20)  # run_args' as-of date


@pytest.fixture(scope="module")
def first_night(tmp_path_factory) -> Path:
    """The sample clinic's first run, into a new database."""
    tmp = tmp_path_factory.mktemp("measures")
    assert cli(*run_args(tmp, SAMPLE_EXPORT, "--scheduled")) == 0
    return tmp / "audit.duckdb"


def rows(db: Path, sql: str, params: dict | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or {}).fetchall()


def test_month_ends_are_the_last_days_up_to_as_of():
    assert month_ends(date(2026, 11, 20), 3) == (date(2026, 8, 31), date(2026, 9, 30), date(2026, 10, 31))
    assert month_ends(date(2026, 10, 31), 2) == (date(2026, 9, 30), date(2026, 10, 31))  # as-of is one
    assert month_ends(date(2024, 3, 15), 1) == (date(2024, 2, 29),)
    assert month_ends(date(2026, 1, 5), 0) == ()


def test_first_night_has_24_months_of_every_check(first_night):
    counted = dict(
        rows(
            first_night,
            "SELECT check_id, count(DISTINCT month_end) FROM measures WHERE breakdown = 'total' GROUP BY 1",
        )
    )
    assert counted == {c.id: 24 for c in all_checks()}
    months = [r[0] for r in rows(first_night, "SELECT DISTINCT month_end FROM measures ORDER BY 1")]
    assert months == list(month_ends(AS_OF, 24))
    assert months[0] == date(2024, 11, 30) and months[-1] == date(2026, 10, 31)
    # not all empty: the sample clinic has flagged patients in earlier months too
    assert rows(first_night, "SELECT count(DISTINCT month_end) FROM measures WHERE flagged > 0")[0][0] >= 12


@pytest.mark.parametrize("month_end", ["2025-01-31", "2025-12-31", "2026-06-30", "2026-10-31"])
def test_each_month_equals_a_run_as_of_that_month_end(first_night, tmp_path, month_end):
    """The judged test: a separate run with --as-of <month-end> into its own database reports, for every
    check, the population and flagged count the first night stored for that month."""
    args = run_args(tmp_path, SAMPLE_EXPORT)
    args[args.index("--as-of") + 1] = month_end
    assert cli(*args) == 0  # an ad-hoc run (another as-of): its measures stay out of the nightly record
    single = rows(
        tmp_path / "audit.duckdb", "SELECT check_id, denominator, flagged FROM check_results ORDER BY 1"
    )
    stored = rows(
        first_night,
        "SELECT check_id, population, flagged FROM measures "
        "WHERE month_end = $m AND breakdown = 'total' ORDER BY 1",
        {"m": date.fromisoformat(month_end)},
    )
    assert len(single) == len(all_checks())
    assert stored == single


def test_every_month_of_every_check_equals_the_single_date_evaluation(first_night, tmp_path):
    """All 24 months of all checks: the one-statement evaluation (months joined in) row for row
    against the single-date evaluation month by month (evaluate.compute), on a copy of the database."""
    db = tmp_path / "copy.duckdb"
    shutil.copy(first_night, db)
    months = month_ends(AS_OF, 24)
    with duckdb.connect(str(db)) as con:
        con.execute("SET TimeZone = 'UTC'")
        prepare(con)
        for definition in all_checks():
            with sources_of_patients_in(con, definition.population_codelists):  # narrowed, as a run does
                evaluate_months(con, definition, months, {}, one_statement=True)
            joined = con.execute("SELECT * FROM measure_rows ORDER BY ALL").fetchall()
            # what was computed once for all the months (measures._keep_once) is not left behind
            assert not con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'measure_once_%'"
            ).fetchall()
            evaluate_months(con, definition, months, {}, one_statement=False)
            assert joined == con.execute("SELECT * FROM measure_rows ORDER BY ALL").fetchall(), definition.id
            table, _ = compute(con, definition, months[-1], {})  # and the last month against the run's own
            last = con.execute(f"SELECT count(*), count(*) FILTER (flagged) FROM {table}").fetchone()
            assert last == (
                sum(1 for r in joined if r[0] == months[-1]),
                sum(r[2] for r in joined if r[0] == months[-1]),
            )


def test_breakdowns_sum_to_the_totals(first_night):
    mismatched = rows(
        first_night,
        """
        SELECT b.check_id, b.month_end, b.breakdown
        FROM measures b JOIN measures t
          ON t.check_id = b.check_id AND t.month_end = b.month_end AND t.breakdown = 'total'
        WHERE b.breakdown <> 'total'
        GROUP BY b.check_id, b.month_end, b.breakdown, t.population, t.flagged
        HAVING sum(b.population) <> t.population OR sum(b.flagged) <> t.flagged
        """,
    )
    assert mismatched == []
    breakdowns = {r[0] for r in rows(first_night, "SELECT DISTINCT breakdown FROM measures")}
    assert {"total", "age_band", "sex"} <= breakdowns
    # every populated month of every check has its age and sex breakdown
    assert rows(
        first_night,
        "SELECT count(*) FROM measures t WHERE breakdown = 'total' AND population > 0 AND NOT EXISTS "
        "(SELECT 1 FROM measures b WHERE b.check_id = t.check_id AND b.month_end = t.month_end "
        "AND b.breakdown = 'sex')",
    ) == [(0,)]
    bands = {
        r[0]
        for r in rows(first_night, "SELECT DISTINCT group_value FROM measures WHERE breakdown = 'age_band'")
    }
    assert bands <= {"0-17", "18-39", "40-64", "65-74", "75-84", "85+", "unknown"} and len(bands) >= 3


def recomputed_by(db: Path, run_id: str) -> dict[str, list[date]]:
    """Per check, the months a run evaluated (measure_fingerprints.run_id)."""
    found: dict[str, list[date]] = {}
    for check_id, month in rows(
        db,
        "SELECT check_id, month_end FROM measure_fingerprints WHERE run_id = $r ORDER BY 1, 2",
        {"r": run_id},
    ):
        found.setdefault(check_id, []).append(month)
    return found


def latest_run(db: Path) -> str:
    return rows(db, "SELECT run_id FROM runs ORDER BY seq DESC LIMIT 1")[0][0]


def export_with(tmp: Path, lab_line: str) -> Path:
    """The sample export with one more lab result line."""
    export = tmp / "export"
    shutil.copytree(SAMPLE_EXPORT, export)
    with (export / "labs.csv").open("a", encoding="utf-8") as labs:
        labs.write(lab_line + "\n")
    return export


@pytest.fixture
def second_night(first_night, tmp_path):
    """A copy of the first night's database, for a second scheduled run on it."""
    shutil.copy(first_night, tmp_path / "audit.duckdb")
    return tmp_path


def test_a_second_night_on_the_same_data_evaluates_no_month(second_night):
    assert cli(*run_args(second_night, SAMPLE_EXPORT, "--scheduled")) == 0
    db = second_night / "audit.duckdb"
    assert recomputed_by(db, latest_run(db)) == {}
    assert rows(db, "SELECT count(DISTINCT month_end) FROM measures")[0][0] == 24


def test_a_late_result_recomputes_its_month_and_the_later_ones_only(second_night, first_night):
    """A potassium result dated 2026-03-14, arriving late: months before March 2026 are kept as
    they were, March to October are evaluated again, for every check (the data fingerprint is shared)."""
    export = export_with(second_night, "P0001,2026-03-14,2823-3,Potassium,5.9,mmol/L")
    args = run_args(second_night, export, "--scheduled")
    assert cli(*args) == 0
    db = second_night / "audit.duckdb"
    expected = [m for m in month_ends(AS_OF, 24) if m >= date(2026, 3, 31)]
    assert recomputed_by(db, latest_run(db)) == {c.id: expected for c in all_checks()}
    before = "SELECT * EXCLUDE (run_id) FROM measures WHERE month_end < '2026-03-01' ORDER BY ALL"
    assert rows(db, before) == rows(first_night, before)


def test_a_result_after_the_last_month_end_evaluates_no_month(second_night):
    export = export_with(second_night, "P0001,2026-11-10,2823-3,Potassium,5.9,mmol/L")
    assert cli(*run_args(second_night, export, "--scheduled")) == 0
    db = second_night / "audit.duckdb"
    assert recomputed_by(db, latest_run(db)) == {}


def test_a_parameter_change_recomputes_that_check_only(second_night):
    args = run_args(
        second_night, SAMPLE_EXPORT, "--scheduled", "--param", "nsaid_kidney_disease.egfr_threshold=45"
    )
    assert cli(*args) == 0
    db = second_night / "audit.duckdb"
    assert recomputed_by(db, latest_run(db)) == {"nsaid_kidney_disease": list(month_ends(AS_OF, 24))}


def test_measures_files_and_the_report_chart(first_night):
    out = first_night.parent / "out"
    exact = read_csv_rows(out / "measures.csv")
    shared = read_csv_rows(out / "measures_shared.csv")
    stored = rows(first_night, "SELECT count(*) FROM measures")[0][0]
    assert len(exact) == len(shared) == stored
    assert {r["month_end"] for r in exact} == {m.isoformat() for m in month_ends(AS_OF, 24)}
    for r in shared:
        if r["suppressed"] == "false":
            assert int(r["population"]) % 5 == 0 and int(r["flagged"]) % 5 == 0
        else:
            assert r["population"] == r["flagged"] == ""
    by_row: dict[tuple, list[dict]] = {}
    for r in shared:
        by_row.setdefault((r["check_id"], r["month_end"], r["breakdown"]), []).append(r)
    for (check_id, month_end, breakdown), cells in by_row.items():
        hidden = sum(c["suppressed"] == "true" for c in cells)
        total_hidden = by_row[(check_id, month_end, "total")][0]["suppressed"] == "true"
        assert breakdown == "total" or total_hidden or hidden != 1, (check_id, month_end, breakdown)
    report = (out / "report.html").read_text(encoding="utf-8")
    assert report.count('<svg class="chart"') == len(all_checks())
    assert "<h3>By month</h3>" in report and "Oct 26</text>" in report and "<script" not in report


def test_an_ad_hoc_first_run_shows_measures_that_never_enter_the_nightly_record(tmp_path):
    """The README's first command is ad hoc (an explicit --as-of): its report still shows 24 months,
    evaluated with the nightly's parameters, so the nightly reuses them. An ad-hoc run with another
    parameter shows its own figures, and the nightly's stay its own."""
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == 0  # ad hoc, first run on a new database
    first = read_csv_rows(tmp_path / "out" / "measures.csv")
    assert {r["month_end"] for r in first if r["check_id"] == "cramps_cirrhosis"} == {
        m.isoformat() for m in month_ends(AS_OF, 24)
    }
    db = tmp_path / "audit.duckdb"
    assert rows(db, "SELECT count(*) FROM current_measures")[0][0] == 0  # no nightly yet
    # with the nightly's parameters its months are anyone's: the nightly then evaluates nothing again
    assert rows(db, "SELECT count(*) FROM measure_fingerprints")[0][0] == 24 * len(all_checks())

    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--scheduled")) == 0
    nightly = rows(db, "SELECT * EXCLUDE (run_id) FROM current_measures ORDER BY ALL")
    assert len(nightly) == rows(db, "SELECT count(*) FROM measures")[0][0]  # reused, not evaluated again
    assert nightly == rows(
        db, "SELECT * EXCLUDE (run_id) FROM measures_of((SELECT arg_max(run_id, seq) FROM runs)) ORDER BY ALL"
    )
    param = "diuretic_electrolyte_monitoring.lookback_days=90"
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--param", param, "--out", str(tmp_path / "adhoc"))) == 0
    adhoc = read_csv_rows(tmp_path / "adhoc" / "measures.csv")
    assert rows(db, "SELECT * EXCLUDE (run_id) FROM current_measures ORDER BY ALL") == nightly
    total = [
        r for r in first if r["check_id"] == "diuretic_electrolyte_monitoring" and r["breakdown"] == "total"
    ]
    total_90 = [
        r for r in adhoc if r["check_id"] == "diuretic_electrolyte_monitoring" and r["breakdown"] == "total"
    ]
    assert total != total_90  # the ad-hoc report shows its own parameters' figures
    assert rows(db, "SELECT DISTINCT check_id FROM measures WHERE private") == [
        ("diuretic_electrolyte_monitoring",)
    ]

    # a database written before schema 9 knew its private rows only by the run's --param reasons:
    # the migration marks them, or the next nightly would pick up the ad-hoc 90-day figures
    with duckdb.connect(str(db)) as con:
        con.execute("DROP VIEW current_measures; DROP MACRO TABLE measures_of")  # they read the column
        con.execute("ALTER TABLE measures DROP COLUMN private; UPDATE schema_version SET version = 8")
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--scheduled")) == 0
    assert rows(db, "SELECT * EXCLUDE (run_id) FROM current_measures ORDER BY ALL") == nightly
    assert rows(db, "SELECT DISTINCT check_id FROM measures WHERE private") == [
        ("diuretic_electrolyte_monitoring",)
    ]
    assert rows(db, "SELECT count(*) FROM measures WHERE private IS NULL") == [(0,)]


def test_current_measures_shows_the_latest_nightlys_window(tmp_path):
    """current_measures is the nightly's window: after the window is cut from three months to two,
    the month that left it is no longer current, but stays in `measures` for the first run's report."""
    config = tmp_path / "audit.toml"
    config.write_text("[run]\nmeasures_months = 3\n", encoding="utf-8")
    db = tmp_path / "audit.duckdb"
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--scheduled", "--config", str(config))) == 0
    current = "SELECT DISTINCT month_end FROM current_measures ORDER BY 1"
    assert [m for (m,) in rows(db, current)] == list(month_ends(AS_OF, 3))

    config.write_text("[run]\nmeasures_months = 2\n", encoding="utf-8")
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--scheduled", "--config", str(config))) == 0
    assert [m for (m,) in rows(db, current)] == list(month_ends(AS_OF, 2))
    first = "SELECT DISTINCT month_end FROM measures_of((SELECT min_by(run_id, seq) FROM runs)) ORDER BY 1"
    assert [m for (m,) in rows(db, first)] == list(month_ends(AS_OF, 3))


def test_a_run_of_some_checks_shows_only_their_measures(second_night):
    """An ad-hoc `--checks x` run's measures.csv (and a nightly's record) has x's months only: the
    other checks' figures are earlier runs' evaluations, on other data, and were shown as this run's."""
    out = second_night / "only"
    assert cli(*run_args(second_night, SAMPLE_EXPORT, "--checks", "cramps_cirrhosis", "--out", str(out))) == 0
    assert {r["check_id"] for r in read_csv_rows(out / "measures.csv")} == {"cramps_cirrhosis"}
    assert {r["check_id"] for r in read_csv_rows(out / "measures_shared.csv")} == {"cramps_cirrhosis"}
    assert cli(*run_args(second_night, SAMPLE_EXPORT, "--scheduled", "--checks", "nsaid_kidney_disease")) == 0
    assert rows(second_night / "audit.duckdb", "SELECT DISTINCT check_id FROM current_measures") == [
        ("nsaid_kidney_disease",)
    ]


def test_the_deaths_that_end_exposures_are_the_as_of_dates_again_after_the_months(first_night, tmp_path):
    """A check's months end exposures at the deaths after its first month-end; after the
    measures the run's own as-of rule is back (whatever runs next and reads prescription_periods)."""
    from checks.measures import compute_measures

    db = tmp_path / "copy.duckdb"
    shutil.copy(first_night, db)
    check = next(c for c in all_checks() if c.id == "diuretic_electrolyte_monitoring")
    with duckdb.connect(str(db)) as con:
        con.execute("SET TimeZone = 'UTC'")
        prepare(con)
        first_month = month_ends(AS_OF, 24)[0]
        deaths = "SELECT * FROM exposure_deaths_after($d) ORDER BY ALL"
        at_as_of = con.execute(deaths, {"d": AS_OF}).fetchall()
        assert con.execute(deaths, {"d": first_month}).fetchall() != at_as_of  # else nothing to see
        con.execute("DELETE FROM measure_fingerprints")
        run_id = con.execute("SELECT arg_max(run_id, seq) FROM runs").fetchone()[0]
        compute_measures(con, run_id, AS_OF, [check], {}, 24, private=frozenset({check.id}))
        assert con.execute("SELECT * FROM exposure_deaths ORDER BY ALL").fetchall() == at_as_of


def test_a_corrected_result_recomputes_its_months_once(tmp_path):
    """A result corrected under its result_id changes the data of its month and the later ones; the
    next night, which sends the corrected version again (its _run_id moves to that night), changes
    no data, and evaluates no month."""
    header = "patient_id,collected_at,loinc_code,test_name,value,unit,result_id\n"

    def export(name: str, potassium: str, extra: str = "") -> Path:
        labs = f"{header}P1,2026-03-14T09:00:00,2823-3,Potassium,{potassium},mmol/L,R1\n{extra}"
        return write_export(tmp_path / name, labs=labs)

    db = tmp_path / "audit.duckdb"
    night(tmp_path, "2026-11-02", export("n1", "2.9"))
    night(tmp_path, "2026-11-03", export("n2", "4.3"))
    changed = [m for m in month_ends(date(2026, 11, 3), 24) if m >= date(2026, 3, 31)]
    assert recomputed_by(db, latest_run(db)) == {c.id: changed for c in all_checks()}
    # the same results again, in a file that is not byte-identical (a result after the last month-end)
    later = "P2,2026-11-03T09:00:00,2823-3,Potassium,4.0,mmol/L,\n"
    night(tmp_path, "2026-11-04", export("n3", "4.3", later))
    assert recomputed_by(db, latest_run(db)) == {}


@pytest.mark.parametrize("above", [False, True])
def test_the_data_is_narrowed_only_when_the_population_is_a_small_share(
    first_night, tmp_path, monkeypatch, above
):
    """A population of more than NARROW_UP_TO of the patients (the share of patients, not of rows)
    reads the whole data (copying most of the records costs more than it saves); the months are the
    same either way, and the pool is gone after."""
    import checks.measures

    db = tmp_path / "copy.duckdb"
    shutil.copy(first_night, db)
    definition = next(d for d in all_checks() if d.id == "diuretic_electrolyte_monitoring")
    months = month_ends(AS_OF, 3)
    with duckdb.connect(str(db)) as con:
        con.execute("SET TimeZone = 'UTC'")
        prepare(con)
        labs, patients = con.execute(
            "SELECT (SELECT count(*) FROM src_labs), (SELECT count(*) FROM src_patient_state)"
        ).fetchone()
        monkeypatch.setattr(checks.measures, "NARROW_UP_TO", 1.0)
        with sources_of_patients_in(con, definition.population_codelists):
            share = con.execute("SELECT count(*) FROM src_patient_state").fetchone()[0] / patients
        assert 0 < share < 1
        # just under the population's share of the patients: not narrowed; at it: narrowed
        monkeypatch.setattr(checks.measures, "NARROW_UP_TO", share * (0.999 if above else 1))
        with sources_of_patients_in(con, definition.population_codelists):
            inside = con.execute("SELECT count(*) FROM src_labs").fetchone()[0]
            evaluate_months(con, definition, months, {})
        assert (inside < labs) is not above
        assert con.execute("SELECT count(*) FROM src_labs").fetchone()[0] == labs
        assert not con.execute("SELECT * FROM duckdb_tables() WHERE table_name = 'measure_pool'").fetchall()
        rows = con.execute("SELECT * FROM measure_rows ORDER BY ALL").fetchall()
        evaluate_months(con, definition, months, {}, one_statement=False)
        assert rows and rows == con.execute("SELECT * FROM measure_rows ORDER BY ALL").fetchall()
