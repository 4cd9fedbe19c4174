"""The pipeline benchmark at a tiny size: the core checks flag exactly the planted patients.

The MATCH is a correctness test (the generator's planted truth against the real pipeline, and
against the pandas peer); the figures are only checked for presence, never for their values.
"""

from __future__ import annotations

import json

import pytest

from tests.bench import bench_pipeline
from tests.bench.synthetic_clinic import generate

pytestmark = pytest.mark.slow  # spawns a dozen processes; about 20 s

SIZE_FIGURES = ("floor", "pipeline", "checks_only", "pandas_peer", "night2", "night2_first_load")
RATIOS = (
    "pipeline_vs_floor_time",
    "pipeline_vs_floor_memory",
    "pandas_vs_checks_time",
    "checks_vs_pandas_memory",
    "night2_vs_first_load_time",
    "ingest_vs_floor_time",
    "after_ingest_vs_floor_time",
)


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    """One benchmark run over two tiny sizes (so growth is measured too)."""
    work = tmp_path_factory.mktemp("bench")
    return bench_pipeline.run_benchmark([1_000, 2_000], seed=3, report_patients=500, work=work)


def test_core_checks_flag_exactly_the_planted_patients(figures):
    for size in figures["sizes"]:
        for check_id, verdict in size["correctness"].items():
            assert verdict["verdict"] == "MATCH", (size["patients"], check_id, verdict)
            assert verdict["expected"] > 0, check_id  # the tiny clinic still plants flags
        assert set(size["pandas_peer"]["correctness"].values()) == {"MATCH"}


def test_the_polars_peer_flags_exactly_the_planted_patients(figures):
    pytest.importorskip("polars")  # the `bench` extra
    for size in figures["sizes"]:
        assert set(size["polars_peer"]["correctness"].values()) == {"MATCH"}
        assert size["ratios"]["pipeline_vs_polars_time"] > 0


def test_every_figure_is_reported(figures):
    for size in figures["sizes"]:
        for name in SIZE_FIGURES:
            assert size[name]["seconds"] > 0 and size[name]["peak_mb"] > 0, name
        stages = {s["stage"] for s in size["pipeline"]["stages"]}
        assert {"ingest labs", "checks (all)", "reports"} <= stages
        assert set(RATIOS) <= set(size["ratios"])
    assert figures["report"]["flagged_diuretic"] == 500
    assert figures["report"]["report_html_mb"] > 0
    assert figures["growth"]["pipeline_time_per_patient"] > 0


def test_same_seed_same_clinic(tmp_path):
    first = generate(tmp_path / "a", 300, seed=5)
    second = generate(tmp_path / "b", 300, seed=5)
    for name in ("labs.csv", "prescriptions.csv", "diagnoses.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert first.expected == second.expected


def test_second_night_overlaps_the_first_by_99_percent(tmp_path):
    clinic = generate(tmp_path / "n1", 2_000, seed=5, night2=tmp_path / "n2")
    one = set((tmp_path / "n1" / "labs.csv").read_text().splitlines())
    two = set((tmp_path / "n2" / "labs.csv").read_text().splitlines())
    assert 0.98 < len(one & two) / len(one) < 1.0
    assert 0.005 < len(two - one) / clinic.rows["labs"] < 0.015


def test_ingest_benchmark_runs_and_reports_the_median_of_its_pairs(monkeypatch, capsys):
    from tests.bench import bench_ingest

    monkeypatch.setattr("sys.argv", ["bench_ingest", "--rows", "3000", "--repeat", "3", "--json"])
    bench_ingest.main()
    figures = json.loads(capsys.readouterr().out)
    assert len(figures["time_ratios"]) == 3
    assert figures["time_ratio"] == sorted(figures["time_ratios"])[1]
    assert figures["clinic_audit"]["seconds"] > 0 and figures["floor"]["peak_mb"] > 0


def test_measures_benchmark_reports_a_ratio_per_pair_and_every_check(tmp_path, capsys):
    from checks.evaluate import all_checks
    from tests.bench import bench_measures

    figures = bench_measures.main(
        ["--patients", "300", "--repeat", "2", "--months", "3", "--workdir", str(tmp_path)]
    )
    assert len(figures["ratios"]) == 2 and all(r > 0 for r in figures["ratios"])
    printed = capsys.readouterr().out
    assert "median ratio, measures / checks" in printed
    assert all(d.id in printed for d in all_checks())


def test_ingest_bounds_report_every_design_against_the_floor(monkeypatch, capsys):
    from tests.bench import bench_ingest_bounds

    monkeypatch.setattr("sys.argv", ["bench_ingest_bounds", "--rows", "3000", "--repeat", "1"])
    bench_ingest_bounds.main()
    printed = capsys.readouterr().out
    for name in bench_ingest_bounds.DESIGNS:
        line = next(line for line in printed.splitlines() if line.strip().startswith(name))
        assert "x the floor" in line and "after them" in line, line


@pytest.mark.parametrize("design", ["numbered", "staged"])
def test_the_designs_record_numbers_are_the_files(tmp_path, design):
    """The bounds stand for designs keeping exact line numbers only if their `_rec` is the record
    number. A file big enough for DuckDB to read in parallel (about 40 MB), each record's value its
    own number: every row's `_rec` must equal it."""
    import duckdb

    from tests.bench import bench_ingest, bench_ingest_bounds

    export = tmp_path / "export"
    bench_ingest.generate(export, 10, 5, 1000)  # the companion files
    with duckdb.connect() as con:
        con.execute(
            "COPY (SELECT printf('P%07d', i % 997) AS patient_id, '2025-01-02T03:04:05' AS collected_at,"
            " '2823-3' AS loinc_code, 'Potassium' AS test_name, CAST(i + 1 AS VARCHAR) AS value,"
            " 'mmol/L' AS unit FROM range(1000000) t(i)) TO '" + str(export / "labs.csv") + "' (HEADER)"
        )
    script = getattr(bench_ingest_bounds, design.upper())
    bench_ingest.measure(script, export / "labs.csv", tmp_path / "n.duckdb")
    with duckdb.connect(str(tmp_path / "n.duckdb"), read_only=True) as con:
        wrong = con.execute(
            "SELECT count(*) FILTER (_rec <> value_original), count(*) FROM loaded"
        ).fetchone()
    assert wrong == (0, 1_000_000)
