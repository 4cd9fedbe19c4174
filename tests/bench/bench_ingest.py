"""Benchmark: ingest + validation of a large labs.csv against the floor (DuckDB alone, typed load).

Usage:  python -m tests.bench.bench_ingest --rows 10000000 [--repeat 5]

Prints, for the same generated file: wall time, rows/second and peak memory (VmHWM of a fresh
child process) for (1) the floor: DuckDB reading the CSV into a typed table in a new database file
(unparsable rows set aside with store_rejects, as the floor for "bad rows do not stop the load"),
and (2) clinic-audit's ingest of that file (staging, pandera validation, quarantine, de-duplication,
load) into a new database; then their ratio. Figures only; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOOR = """
import duckdb, sys
con = duckdb.connect(sys.argv[2])
con.execute(
    "CREATE TABLE labs AS SELECT * FROM read_csv($p, header = true, columns = {"
    "'patient_id': 'VARCHAR', 'collected_at': 'TIMESTAMP', 'loinc_code': 'VARCHAR',"
    "'test_name': 'VARCHAR', 'value': 'DOUBLE', 'unit': 'VARCHAR'}, store_rejects = true)",
    {"p": sys.argv[1]},
)
con.close()
"""

PIPELINE = """
import sys
from datetime import date
from pathlib import Path
from pipelines.db import connect, memory_limit_bytes
from pipelines.ingest import StagingBudget, ingest_file, preflight
con = connect(Path(sys.argv[2]))
con.begin()
budget = StagingBudget(memory_limit_bytes(con))  # staged where a run would stage it
for source in preflight(Path(sys.argv[1]).parent):
    ingest_file(con, source, "bench", date(2026, 11, 24), budget)
con.commit()
con.close()
"""


def generate(folder: Path, rows: int, patients: int, bad_every: int) -> Path:
    """A labs.csv in the generic format with realistic mix, plus empty companion files."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "prescriptions.csv").write_text(
        "patient_id,drug_name,rxnorm_code,atc_code,start_date,end_date,days_supply\n"
    )
    (folder / "diagnoses.csv").write_text("patient_id,code,code_system,recorded_at,resolved_at\n")
    path = folder / "labs.csv"
    with duckdb.connect() as con:
        con.execute(
            f"""
            COPY (
                SELECT printf('P%07d', i % {int(patients)}) AS patient_id,
                       strftime(TIMESTAMP '2024-01-01' + to_minutes(CAST(i * 7 % 1000000 AS BIGINT)),
                                '%Y-%m-%dT%H:%M:%S') AS collected_at,
                       ['2823-3', '2951-2', '19123-9', '2160-0', '4548-4', '2345-7'][i % 6 + 1] AS loinc_code,
                       ['Potassium', 'Sodium', 'Magnesium', 'Creatinine', 'HbA1c', 'Glucose'][i % 6 + 1]
                           AS test_name,
                       CASE WHEN i % {int(bad_every)} = 0 THEN 'n/a'
                            ELSE CAST([4.1, 139, 0.8, 80, 6.1, 5.5][i % 6 + 1] + (i % 7) / 10 AS VARCHAR)
                       END AS value,
                       ['mmol/L', 'mmol/L', 'mmol/L', 'umol/L', '%', 'mmol/L'][i % 6 + 1] AS unit
                FROM range({int(rows)}) t(i)
            ) TO '{path}' (HEADER)
            """
        )
    return path


def measure(script: str, csv_path: Path, db_path: Path) -> dict:
    """Run one load in a fresh interpreter; wall time and that child's peak RSS."""
    probe = (
        "import resource, runpy, sys, time\n"
        "t = time.perf_counter()\n"
        f"exec(compile({script!r}, 'bench', 'exec'))\n"
        # VmHWM, not ru_maxrss: Linux carries the parent's ru_maxrss into a forked child.
        "hwm = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
        "print(time.perf_counter() - t, hwm)\n"
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", probe, str(csv_path), str(db_path)], capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"benchmark step failed:\n{done.stderr}")
    wall = time.perf_counter() - started
    inner, rss_kb = done.stdout.split()[-2:]  # last line: earlier ones may be progress output
    figures = {"seconds": float(inner), "process_seconds": wall, "peak_mb": int(rss_kb) / 1024}
    for line in done.stdout.splitlines():  # a script may say when its imports were done
        if line.startswith("imported "):
            figures["imports_seconds"] = float(line.split()[1])
    return figures


def measure_pairs(csv_path: Path, work: Path, repeat: int) -> list[tuple[dict, dict]]:
    """Floor and clinic-audit, alternately, `repeat` times.

    On a shared, noisy machine one pair is luck; alternating keeps a slow spell from landing on one
    side only.
    """
    pairs = []
    for i in range(repeat):
        floor = measure(FLOOR, csv_path, work / f"floor{i}.duckdb")
        ours = measure(PIPELINE, csv_path, work / f"audit{i}.duckdb")
        for db in work.glob(f"*{i}.duckdb*"):
            db.unlink()
        pairs.append((floor, ours))
    return pairs


def file_arguments(doc: str) -> argparse.ArgumentParser:
    """The command line shared by the ingest benchmarks: the generated file's size and mix."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--patients", type=int, default=300_000)
    parser.add_argument("--bad-every", type=int, default=10_000, help="one non-numeric value per N rows")
    return parser


def main() -> None:
    """Generate, measure the floor and the pipeline, print figures and ratios."""
    parser = file_arguments(__doc__)
    parser.add_argument("--repeat", type=int, default=1, help="measure N pairs; report the median ratio")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = generate(Path(tmp) / "export", args.rows, args.patients, args.bad_every)
        size_mb = csv_path.stat().st_size / 1e6
        pairs = measure_pairs(csv_path, Path(tmp), max(args.repeat, 1))
    ratios = [ours["seconds"] / floor["seconds"] for floor, ours in pairs]
    floor, ours = pairs[ratios.index(statistics.median_low(ratios))]  # a pair at the median
    figures = {
        "rows": args.rows,
        "csv_mb": round(size_mb, 1),
        "floor": floor,
        "clinic_audit": ours,
        "floor_rows_per_s": round(args.rows / floor["seconds"]),
        "clinic_audit_rows_per_s": round(args.rows / ours["seconds"]),
        "time_ratio": round(statistics.median(ratios), 2),
        "time_ratios": [round(r, 2) for r in ratios],
        "memory_ratio": round(ours["peak_mb"] / floor["peak_mb"], 2),
        "peak_mb_max": round(max(o["peak_mb"] for _, o in pairs)),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"labs.csv: {args.rows:,} rows, {size_mb:,.0f} MB; {len(pairs)} pair(s), a middle pair shown")
    for name, f in (("DuckDB typed load (floor)", floor), ("clinic-audit ingest", ours)):
        rate = args.rows / f["seconds"]
        print(f"  {name:<28} {f['seconds']:7.2f} s  {rate:>12,.0f} rows/s  peak {f['peak_mb']:7.0f} MB")
    spread = f" (each pair: {', '.join(f'{r:.2f}' for r in ratios)})" if len(ratios) > 1 else ""
    print(
        f"  ratio clinic-audit / floor: time {figures['time_ratio']}x{spread}, "
        f"memory {figures['memory_ratio']}x; highest peak {figures['peak_mb_max']} MB"
    )


if __name__ == "__main__":
    main()
