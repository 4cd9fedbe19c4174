"""Benchmark: the full nightly pipeline on a large synthetic clinic, against the floor and pandas.

Usage:  python -m tests.bench.bench_pipeline --patients 100000 [--patients 1000000] [--repeat 3] [--json]

For each size: generate a seeded clinic (tests/bench/synthetic_clinic.py: about 30 labs, 5
prescriptions and 5 diagnoses per patient) with its planted truth, then measure, each in a fresh
child process (wall time inside the child; peak memory = that child's high-water RSS, VmHWM):

- the floor: DuckDB alone loading the four files into typed tables in a new database;
- the full pipeline (`execute_run`: ingest + validation, all checks, findings, reports) into a new
  database, with per-stage times from wrappers around the stages (peak memory is the child's
  high-water mark at the end of each stage); the two core checks' flags are compared with the
  planted truth (MATCH/MISMATCH);
- the two core checks alone on that already-loaded database (`run_checks` inside a transaction that
  is rolled back: codelist mapping, evaluation, pandera output validation, storing the findings);
- the peer: tests/bench/pandas_peer.py (pandas load, pandera validation, both checks);
- a second night whose export overlaps the first by 99%, run on the first night's database, against
  a first load of the same files into a new database.

- the Polars peer: tests/bench/polars_peer.py (the two core checks from the CSVs, lazy scans);
- with `--repeat N`, N - 1 more floor/pipeline pairs measured alternately; the ratios to the floor
  are also given as the median over the pairs (on a shared machine, one pair is luck).

Then once: the reports for a clinic of `--report-patients` patients all flagged by the diuretic
check (report.html shows the top `report_max_rows` per check). With two sizes, the growth of the
per-patient cost. Figures only; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from pipelines.settings import Settings
from tests.bench.synthetic_clinic import ALL_UNMONITORED, AS_OF, Clinic, generate

ROOT = Path(__file__).resolve().parents[2]
CORE = ("diuretic_electrolyte_monitoring", "cramps_cirrhosis")
NOW = datetime.combine(AS_OF + timedelta(days=1), datetime.min.time()).replace(hour=6)  # the night after

# Peak memory: VmHWM, the high-water RSS of this process's own address space. Not ru_maxrss: on
# Linux a child's ru_maxrss starts from its parent's peak at fork (kept across exec), so every
# child would report at least the generator's memory.
PROBE = """
import json, resource, sys, time
def peak_mb():
    try:
        with open("/proc/self/status") as status:
            return next(int(l.split()[1]) for l in status if l.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

FLOOR = (
    PROBE
    + """
import duckdb
TYPES = {
    "patients": {"patient_id": "VARCHAR", "birth_date": "DATE", "sex": "VARCHAR"},
    "labs": {"patient_id": "VARCHAR", "collected_at": "TIMESTAMP", "loinc_code": "VARCHAR",
             "test_name": "VARCHAR", "value": "DOUBLE", "unit": "VARCHAR"},
    "prescriptions": {"patient_id": "VARCHAR", "drug_name": "VARCHAR", "rxnorm_code": "VARCHAR",
                      "atc_code": "VARCHAR", "start_date": "DATE", "end_date": "DATE",
                      "days_supply": "INTEGER"},
    "diagnoses": {"patient_id": "VARCHAR", "code": "VARCHAR", "code_system": "VARCHAR",
                  "recorded_at": "DATE", "resolved_at": "DATE"},
}
started = time.perf_counter()
con = duckdb.connect(sys.argv[2])
for table, columns in TYPES.items():
    con.execute(
        f"CREATE TABLE {table} AS SELECT * FROM read_csv($p, header = true, columns = $c, "
        "store_rejects = true)",
        {"p": f"{sys.argv[1]}/{table}.csv", "c": columns},
    )
con.close()
print(json.dumps({"seconds": time.perf_counter() - started, "peak_mb": peak_mb()}))
"""
)

PIPELINE = (
    PROBE
    + """
from datetime import date, datetime
from pathlib import Path
import pipelines.run as run
from pipelines.settings import Settings
stages = []
def timed(label, function):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        result = function(*args, **kwargs)
        name = label(args) if callable(label) else label
        stages.append({"stage": name, "seconds": time.perf_counter() - started, "peak_mb": peak_mb()})
        return result
    return wrapper
import pipelines.load as load
import reports.render as render
load.ingest_file = timed(lambda args: "ingest " + args[1].spec.table, load.ingest_file)
run.run_checks = timed("checks (all)", run.run_checks)
run.compute_measures = timed("measures (months)", run.compute_measures)
render.write_findings = timed("findings.csv", render.write_findings)
render.write_reports = timed("reports", render.write_reports)  # findings.csv included
run.preflight = timed("preflight", run.preflight)
run.volume_guard = timed("volume guard", run.volume_guard)
run.date_guards = timed("as-of and coverage guards", run.date_guards)
run.data_range = timed("data date range", run.data_range)
run.refresh_lab_concepts = timed("lab concepts refresh", run.refresh_lab_concepts)
run.record_run = timed("record run", run.record_run)
from contextlib import contextmanager
untimed_transaction = run.transaction
@contextmanager
def timed_transaction(con, keep=True):
    started = time.perf_counter()
    with untimed_transaction(con, keep):
        yield
    stages.append({"stage": "transaction", "seconds": time.perf_counter() - started, "peak_mb": peak_mb()})
run.transaction = timed_transaction
exports, db, out, as_of, now, memory_limit = sys.argv[1:7]
settings = Settings(exports=Path(exports), db=Path(db), out=Path(out), as_of=date.fromisoformat(as_of),
                    export_format="generic", clinic_name="Synthetic clinic", memory_limit=memory_limit)
started = time.perf_counter()
outcome = run.execute_run(settings, datetime.fromisoformat(now))
seconds = time.perf_counter() - started
files = {f.table: {"rows_read": f.rows_read, "rows_loaded": f.rows_loaded, "rows_duplicate": f.rows_duplicate,
                   "rows_rejected": f.rows_rejected, "skipped_unchanged": f.skipped_unchanged}
         for f in outcome.files}
checks = {c.check_id: c.flagged for c in outcome.checks}
figures = {"seconds": seconds, "peak_mb": peak_mb(), "stages": stages, "files": files, "checks": checks}
print(json.dumps(figures))
"""
)

CHECKS_ONLY = (
    PROBE
    + """
from datetime import date
from pathlib import Path
from checks.evaluate import run_checks, select_checks
from pipelines.db import connect
con = connect(Path(sys.argv[1]))
selected = select_checks(sys.argv[3].split(","))
started = time.perf_counter()
con.begin()
results = run_checks(con, "bench-checks-only", date.fromisoformat(sys.argv[2]), selected, {})
con.rollback()
seconds = time.perf_counter() - started
con.close()
flagged = {r.check_id: r.flagged for r in results}
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(), "flagged": flagged}))
"""
)


def child(args: list[str]) -> dict:
    """Run a measurement in a fresh interpreter; its last stdout line is JSON with seconds and peak_mb."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"benchmark step failed: {args[:2]}\n{done.stderr[-4000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["process_seconds"] = time.perf_counter() - started  # with interpreter start and imports
    return figures


MEMORY_LIMIT = [Settings().memory_limit]  # --memory-limit replaces it
REPEAT = [1]  # --repeat: floor/pipeline pairs per size, measured alternately


def pipeline(exports: Path, db: Path, out: Path, as_of: date, now: datetime) -> dict:
    """The full nightly run (execute_run) in a fresh process; the commit is derived from the stages."""
    figures = child(
        ["-c", PIPELINE, str(exports), str(db), str(out), as_of.isoformat(), now.isoformat(), MEMORY_LIMIT[0]]
    )
    stages = {s["stage"]: s for s in figures["stages"]}
    inside = [s for s in figures["stages"] if s["stage"].startswith("ingest ")]
    inside += [
        stages[n]
        for n in (
            "lab concepts refresh",
            "data date range",
            "as-of and coverage guards",
            "checks (all)",
            "measures (months)",
            "record run",
        )
        if n in stages
    ]
    transaction = figures["stages"].pop(
        next(i for i, s in enumerate(figures["stages"]) if s["stage"] == "transaction")
    )
    commit = transaction["seconds"] - sum(s["seconds"] for s in inside)
    figures["stages"].append(
        {"stage": "commit (derived)", "seconds": commit, "peak_mb": transaction["peak_mb"]}
    )
    return figures


def flagged_sets(path: Path, check_column: str = "check_id") -> dict[str, dict[str, str]]:
    """{check_id: {patient_id: priority}} for the core checks from a findings-like CSV."""
    found: dict[str, dict[str, str]] = {c: {} for c in CORE}
    with path.open(encoding="utf-8-sig", newline="") as handle:  # findings.csv has a BOM
        for row in csv.DictReader(handle):
            if row[check_column] in found:
                found[row[check_column]][row["patient_id"]] = row["priority"]
    return found


def compare(clinic: Clinic, found: dict[str, dict[str, str]]) -> dict[str, dict]:
    """MATCH when the flagged set (and, for the diuretic check, each priority) equals the truth."""
    verdicts = {}
    for check_id in CORE:
        expected, got = clinic.expected[check_id], found[check_id]
        missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
        wrong = [
            p for p in expected if p in got and expected[p] is not None and (expected[p] or "") != got[p]
        ]
        verdicts[check_id] = {
            "verdict": "MATCH" if not (missing or extra or wrong) else "MISMATCH",
            "expected": len(expected),
            "flagged": len(got),
            "missing": len(missing),
            "extra": len(extra),
            "wrong_priority": len(wrong),
            "examples": (missing + extra + wrong)[:5],
        }
    return verdicts


def measure_size(patients: int, seed: int, work: Path) -> dict:
    """Every figure for one clinic size."""
    clinic = generate(work / "night1", patients, seed, night2=work / "night2")
    rows = sum(clinic.rows.values())
    figures: dict = {"patients": patients, "rows": clinic.rows, "generate_seconds": clinic.seconds}
    figures["csv_mb"] = round(sum(p.stat().st_size for p in clinic.export.glob("*.csv")) / 1e6, 1)
    figures["floor"] = child(["-c", FLOOR, str(clinic.export), str(work / "floor.duckdb")])
    db = work / "audit.duckdb"
    full = pipeline(clinic.export, db, work / "out1", AS_OF, NOW)
    figures["pipeline"] = full
    for stage in full["stages"]:  # rows/s where the stage reads rows: a file's ingest, the checks
        table = stage["stage"].removeprefix("ingest ")
        count = full["files"][table]["rows_read"] if table in full["files"] else rows
        if stage["seconds"] and (table in full["files"] or stage["stage"] == "checks (all)"):
            stage["rows_per_s"] = round(count / stage["seconds"])
    figures["pipeline_rows_per_s"] = round(rows / full["seconds"])
    figures["correctness"] = compare(clinic, flagged_sets(work / "out1" / "findings.csv"))
    figures["checks_only"] = child(["-c", CHECKS_ONLY, str(db), AS_OF.isoformat(), ",".join(CORE)])
    peer_flags = work / "peer_flags.csv"
    figures["pandas_peer"] = child(
        ["-m", "tests.bench.pandas_peer", str(clinic.export), AS_OF.isoformat(), str(peer_flags)]
    )
    figures["pandas_peer"]["correctness"] = {
        c: v["verdict"] for c, v in compare(clinic, flagged_sets(peer_flags)).items()
    }
    figures["polars_peer"] = polars_peer(clinic, work)
    figures["pairs"] = pairs(clinic.export, work, figures)
    as_of2, now2 = AS_OF + timedelta(days=1), NOW + timedelta(days=1)
    figures["night2"] = pipeline(work / "night2", db, work / "out2", as_of2, now2)
    figures["night2_first_load"] = pipeline(
        work / "night2", work / "fresh2.duckdb", work / "out3", as_of2, now2
    )
    figures["ratios"] = ratios(figures)
    return figures


def pairs(export: Path, work: Path, figures: dict) -> list[dict]:
    """The first floor/pipeline pair's ratios, then those of `--repeat` - 1 more pairs measured
    alternately (floor, then the full run into a new database), each pair's ratios from its own two
    runs: on a shared machine one pair is luck, the median of several is the figure."""
    found = [_pair_ratios(figures["floor"], figures["pipeline"])]
    for i in range(1, REPEAT[0]):
        floor = child(["-c", FLOOR, str(export), str(work / f"floor{i}.duckdb")])
        run = pipeline(export, work / f"pair{i}.duckdb", work / f"pair_out{i}", AS_OF, NOW)
        found.append(_pair_ratios(floor, run))
        for name in (f"floor{i}.duckdb", f"pair{i}.duckdb"):
            (work / name).unlink(missing_ok=True)
    return found


def _pair_ratios(floor: dict, run: dict) -> dict:
    f = {"floor": floor, "pipeline": run}
    return {
        "floor_seconds": round(floor["seconds"], 2),
        "pipeline_seconds": round(run["seconds"], 2),
        "pipeline_vs_floor_time": round(run["seconds"] / floor["seconds"], 2),
        "ingest_vs_floor_time": round(_ingest_seconds(run) / floor["seconds"], 2),
        "after_ingest_vs_floor_time": _after_ingest(f),
        "measures_vs_checks_time": _stage_ratio(run, "measures (months)", "checks (all)"),
    }


def _median(values: list[float | None]) -> float | None:
    known = sorted(v for v in values if v is not None)
    return known[(len(known) - 1) // 2] if known else None


def polars_peer(clinic: Clinic, work: Path) -> dict | None:
    """The Polars peer (tests/bench/polars_peer.py: the two core checks from the CSVs, lazy scans),
    or None when polars is not installed (the `bench` extra)."""
    try:
        import polars  # noqa: F401 - only asked whether it is there
    except ImportError:
        return None
    flags = work / "polars_flags.csv"
    figures = child(["-m", "tests.bench.polars_peer", str(clinic.export), AS_OF.isoformat(), str(flags)])
    figures["correctness"] = {c: v["verdict"] for c, v in compare(clinic, flagged_sets(flags)).items()}
    return figures


def ratios(f: dict) -> dict:
    """The ratios the issue asks for, from one size's figures."""
    peer, ours = f["pandas_peer"], f["checks_only"]
    paired = {  # the median over the alternating pairs (one pair without --repeat)
        f"{name}_median": _median([p[name] for p in f.get("pairs", [])])
        for name in ("pipeline_vs_floor_time", "ingest_vs_floor_time", "after_ingest_vs_floor_time")
    }
    return paired | {
        "pipeline_vs_floor_time": round(f["pipeline"]["seconds"] / f["floor"]["seconds"], 2),
        "pipeline_vs_floor_memory": round(f["pipeline"]["peak_mb"] / f["floor"]["peak_mb"], 2),
        "pandas_vs_checks_time": round(peer["seconds"] / ours["seconds"], 1),
        "checks_vs_pandas_memory": round(ours["peak_mb"] / peer["peak_mb"], 2),
        "pandas_compute_only_vs_checks_time": round(peer["checks"] / ours["seconds"], 2),
        "pandas_vs_pipeline_time": round(peer["seconds"] / f["pipeline"]["seconds"], 2),
        # issue 21, scope for scope: two checks on a loaded database vs the same two from the CSVs,
        # and the full night (load, validation, ten checks, measures, reports) vs that script
        "polars_vs_checks_time": _ratio(f.get("polars_peer"), ours),
        "pipeline_vs_polars_time": _ratio(f["pipeline"], f.get("polars_peer")),
        "after_ingest_vs_floor_time": _after_ingest(f),
        "ingest_vs_floor_time": round(_ingest_seconds(f["pipeline"]) / f["floor"]["seconds"], 2),
        "night2_vs_first_load_time": round(f["night2"]["seconds"] / f["night2_first_load"]["seconds"], 2),
        # issue 19: 24 months of measures with breakdowns against the nightly checks, first night and next
        "measures_vs_checks_time": _stage_ratio(f["pipeline"], "measures (months)", "checks (all)"),
        "night2_measures_vs_checks_time": _stage_ratio(f["night2"], "measures (months)", "checks (all)"),
    }


def _ratio(numerator: dict | None, denominator: dict | None) -> float | None:
    if not numerator or not denominator or not denominator["seconds"]:
        return None
    return round(numerator["seconds"] / denominator["seconds"], 2)


def _ingest_seconds(run: dict) -> float:
    return sum(s["seconds"] for s in run["stages"] if s["stage"].startswith("ingest "))


def _after_ingest(f: dict) -> float:
    """Everything the run does after loading the files (checks, measures, guards, record, commit,
    outputs), as a share of the floor: the full run less its ingest stages."""
    return round((f["pipeline"]["seconds"] - _ingest_seconds(f["pipeline"])) / f["floor"]["seconds"], 2)


def _stage_ratio(run: dict, numerator: str, denominator: str) -> float | None:
    seconds = {s["stage"]: s["seconds"] for s in run["stages"]}
    if numerator not in seconds or not seconds.get(denominator):
        return None
    return round(seconds[numerator] / seconds[denominator], 2)


def measure_report(patients: int, seed: int, work: Path) -> dict:
    """Reports for a clinic where every patient is flagged (on a diuretic, never monitored)."""
    clinic = generate(work / "export", patients, seed, diuretic_mix=ALL_UNMONITORED, cirrhosis_mix={})
    run = pipeline(clinic.export, work / "report.duckdb", work / "out", AS_OF, NOW)
    html = work / "out" / "report.html"
    stage = next(s for s in run["stages"] if s["stage"] == "reports")
    return {
        "patients": patients,
        "flagged_total": sum(run["checks"].values()),
        "flagged_diuretic": run["checks"]["diuretic_electrolyte_monitoring"],
        "reports_seconds": stage["seconds"],
        "report_html_mb": round(html.stat().st_size / 1e6, 2),
        "outputs_mb": round(sum(p.stat().st_size for p in (work / "out").rglob("*") if p.is_file()) / 1e6, 1),
        "pipeline_peak_mb": run["peak_mb"],
        "report_max_rows": Settings().report_max_rows,
    }


def growth(sizes: list[dict]) -> dict | None:
    """Per-patient cost of the largest size ÷ that of the smallest (1.0 = linear)."""
    if len(sizes) < 2:
        return None
    small, large = sizes[0], sizes[-1]

    def per_patient(f: dict, key: str) -> float:
        return f[key]["seconds"] / f["patients"]

    return {
        "from": small["patients"],
        "to": large["patients"],
        "pipeline_time_per_patient": round(
            per_patient(large, "pipeline") / per_patient(small, "pipeline"), 2
        ),
        "floor_time_per_patient": round(per_patient(large, "floor") / per_patient(small, "floor"), 2),
        "checks_time_per_patient": round(
            per_patient(large, "checks_only") / per_patient(small, "checks_only"), 2
        ),
        "pipeline_peak_memory": round(large["pipeline"]["peak_mb"] / small["pipeline"]["peak_mb"], 2),
    }


def print_size(f: dict) -> None:
    """One size's figures as readable lines."""
    rows = f["rows"]
    print(
        f"\n== {f['patients']:,} patients: "
        + ", ".join(f"{t} {n:,}" for t, n in rows.items())
        + f" rows ({f['csv_mb']:,} MB CSV; generated in {f['generate_seconds']:.1f} s)"
    )
    line = "  {:<34} {:>8.2f} s  {:>12}  peak {:>6.0f} MB"
    fl = f["floor"]
    print(
        line.format(
            "floor: DuckDB typed load",
            fl["seconds"],
            f"{sum(rows.values()) / fl['seconds']:,.0f} r/s",
            fl["peak_mb"],
        )
    )
    p = f["pipeline"]
    print(
        line.format(
            "full pipeline (execute_run)", p["seconds"], f"{f['pipeline_rows_per_s']:,} r/s", p["peak_mb"]
        )
    )
    for s in p["stages"]:
        rate = f"{s['rows_per_s']:,} r/s" if s.get("rows_per_s") else ""
        print(line.format("  " + s["stage"], s["seconds"], rate, s["peak_mb"]))
    other = p["seconds"] - sum(s["seconds"] for s in p["stages"])
    print(f"  {'  other (settings, summary.json)':<34} {other:>8.2f} s")
    print(f"  {'(process incl. imports)':<34} {p['process_seconds']:>8.2f} s")
    c = f["checks_only"]
    print(line.format("two core checks, loaded db", c["seconds"], "", c["peak_mb"]))
    q = f["pandas_peer"]
    print(line.format("pandas + pandera peer", q["seconds"], "", q["peak_mb"]))
    print(
        f"    load {q['load']:.2f} s, validate {q['validate']:.2f} s, checks {q['checks']:.2f} s; "
        f"peer vs truth: {q['correctness']}"
    )
    pol = f.get("polars_peer")
    if pol:
        print(line.format("polars peer (2 checks from CSV)", pol["seconds"], "", pol["peak_mb"]))
        print(f"    peer vs truth: {pol['correctness']}")
    n2, n2f = f["night2"], f["night2_first_load"]
    print(line.format("night 2 (99% overlap) on night-1 db", n2["seconds"], "", n2["peak_mb"]))
    print(line.format("same files, first load (new db)", n2f["seconds"], "", n2f["peak_mb"]))
    for check_id, v in f["correctness"].items():
        print(
            f"  {v['verdict']}: {check_id}: expected {v['expected']:,}, flagged {v['flagged']:,}, "
            f"missing {v['missing']}, extra {v['extra']}, wrong priority {v['wrong_priority']}"
        )
    r = f["ratios"]
    print(
        f"  ratio 1: pipeline / floor = {r['pipeline_vs_floor_time']}x time (target <= 1.6), "
        f"{r['pipeline_vs_floor_memory']}x memory"
    )
    print(
        f"  ratio 2: pandas peer / core checks = {r['pandas_vs_checks_time']}x time (target >= 5); "
        f"checks / peer memory = {r['checks_vs_pandas_memory']} (target <= 0.33); "
        f"peer compute-only / checks = {r['pandas_compute_only_vs_checks_time']}x; "
        f"peer / full pipeline = {r['pandas_vs_pipeline_time']}x"
    )
    print(
        f"  ingest / floor = {r['ingest_vs_floor_time']}x (target <= 1.25); after ingest / floor = "
        f"{r['after_ingest_vs_floor_time']}x (target <= 0.3)"
    )
    if len(f.get("pairs", [])) > 1:
        print(
            f"  median of {len(f['pairs'])} alternating pairs: pipeline / floor "
            f"{r['pipeline_vs_floor_time_median']}x, ingest / floor {r['ingest_vs_floor_time_median']}x, "
            f"after ingest / floor {r['after_ingest_vs_floor_time_median']}x; pairs: "
            + ", ".join(str(p["pipeline_vs_floor_time"]) for p in f["pairs"])
        )
    if pol:
        print(
            f"  polars (2 checks from CSV) / our 2 checks on the loaded db = {r['polars_vs_checks_time']}x; "
            f"full night / polars 2-check script = {r['pipeline_vs_polars_time']}x (target <= 1)"
        )
    print(f"  night 2 / first load = {r['night2_vs_first_load_time']}x (target <= 1.3)", flush=True)
    print(
        f"  measures / checks = {r['measures_vs_checks_time']}x time on the first night (24 months, "
        f"breakdowns; target <= 1), {r['night2_measures_vs_checks_time']}x on night 2 (incremental)",
        flush=True,
    )


def print_rest(figures: dict) -> None:
    """The report and growth figures, after the sizes."""
    rep = figures["report"]
    print(
        f"\nreports with {rep['flagged_total']:,} flagged patients "
        f"({rep['flagged_diuretic']:,} by the diuretic check, {rep['patients']:,}-patient clinic): "
        f"rendered in {rep['reports_seconds']:.2f} s; "
        f"report.html {rep['report_html_mb']} MB (top {rep['report_max_rows']} rows per check), "
        f"all outputs {rep['outputs_mb']} MB"
    )
    g = figures["growth"]
    if g:
        print(
            f"growth {g['from']:,} -> {g['to']:,} patients (per-patient cost, 1.0 = linear): pipeline "
            f"{g['pipeline_time_per_patient']}x, floor {g['floor_time_per_patient']}x, core checks "
            f"{g['checks_time_per_patient']}x; pipeline peak memory {g['pipeline_peak_memory']}x"
        )


def machine() -> str:
    """Cores and memory of this machine, for the record."""
    import os

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {memory:.0f} GiB, Python {sys.version.split()[0]}"


def run_benchmark(sizes: list[int], seed: int, report_patients: int, work: Path, show=lambda _: None) -> dict:
    """Every measurement, each size in its own folder (removed once measured); `show` each size."""
    import shutil

    figures: dict = {
        "machine": machine(),
        "as_of": AS_OF.isoformat(),
        "memory_limit": MEMORY_LIMIT[0],
        "sizes": [],
    }
    for patients in sorted(sizes):
        folder = work / f"n{patients}"
        figures["sizes"].append(measure_size(patients, seed, folder))
        show(figures["sizes"][-1])
        shutil.rmtree(folder, ignore_errors=True)
    figures["report"] = measure_report(report_patients, seed, work / "report")
    figures["growth"] = growth(figures["sizes"])
    return figures


def main(argv: list[str] | None = None) -> dict:
    """Parse the options, run every measurement, print the figures (text or JSON)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, action="append", help="clinic size (repeatable)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--report-patients", type=int, default=50_000, help="flagged patients for the report")
    parser.add_argument("--memory-limit", help="the pipeline's DuckDB memory_limit (default: the setting's)")
    parser.add_argument("--workdir", type=Path, help="where to write the files (default: a temp folder)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--repeat", type=int, default=1, help="floor/pipeline pairs per size, alternately (median reported)"
    )
    args = parser.parse_args(argv)
    sizes = args.patients or [100_000]
    if args.memory_limit:
        MEMORY_LIMIT[0] = args.memory_limit
    REPEAT[0] = max(args.repeat, 1)
    if not args.json:
        print(f"machine: {machine()}; pipeline memory_limit {MEMORY_LIMIT[0]}", flush=True)
    show = (lambda _: None) if args.json else print_size
    if args.workdir:  # a folder named for the files is made, not a traceback when it does not exist yet
        args.workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        figures = run_benchmark(sizes, args.seed, args.report_patients, Path(tmp), show)
    if args.json:
        print(json.dumps(figures, indent=2, default=str))
    else:
        print_rest(figures)
    return figures


if __name__ == "__main__":
    main()
