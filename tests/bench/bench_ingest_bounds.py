"""Benchmark: what any design of the labs ingest could reach with DuckDB's CSV reader (issue #21).

Usage:  python -m tests.bench.bench_ingest_bounds --rows 10000000 [--repeat 2]

The issue asks for the ingest at 1.25x the floor (DuckDB alone loading the file into a typed
table), keeping exact line numbers and pandera's rules for every row, and to say, with the
measurement, if DuckDB's CSV reader lacks what that needs (a record-number column: DuckDB 2.0.1's
read_csv has none; `file_row_number` is Parquet's). This times, each in a fresh interpreter on the
same generated file (tests/bench/bench_ingest.py's), alternating rounds:

- floor: the typed load (bench_ingest's);
- one statement: the real staging projection (`ingest.staging_query`: the generic reader, every
  field read as text, typed and cleaned by pipelines/sql/stage_labs.sql), the columns a run stores
  (`LABS.stored`) written straight into a table of the database file: a design that evaluated the
  rules for free and kept no line numbers could be no faster;
- numbered: the same with `row_number() OVER ()` as the record number, the one way to number a
  CSV's records in a statement (a streaming window, in the scan's order);
- staged: today's shape without validation: every staged column in memory (the record number
  from the staged table's rowid, as `ingest._stage` takes it), then the stored columns written;
- clinic-audit: the real ingest (bench_ingest's).

Each figure is a bound for a design, not a design: the rules, quarantine and idempotent insert are
left out of the middle three, which open the database as a run does (`pipelines.db.connect`: the
schema, the macros the staging reads, memory_limit 1.25 GB; the floor's `duckdb.connect` does none of
it), as any design of this tool would. Their imports (pipelines.ingest: pandas, pandera, ibis) are
the tool's, so the fair comparison is the second figure, after the imports; clinic-audit's also
imports, before it says so, what its ingest would import lazily (ibis's SQL compilers, pandera's ibis
checks). Figures only; nothing here asserts a time.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from tests.bench.bench_ingest import FLOOR, PIPELINE, file_arguments, generate, measure

# Each script says when its imports are done (`t`: the probe's start, bench_ingest.measure), so the
# statements' own time is shown beside the whole process's: clinic-audit's imports (pandera, ibis,
# pandas) are about a second, which the floor's `import duckdb` is not.
_IMPORTED = "print('imported', time.perf_counter() - t)\n"


def _after(script: str, line: str, also: str = "") -> str:
    """`script` saying when its imports are done, after `line` (its last import) and `also`."""
    assert line in script, line
    return script.replace(line, line + also + _IMPORTED)


_LOAD = (
    """
import sys
from datetime import date
from pathlib import Path
from pipelines.db import connect
from pipelines.ingest import preflight, staging_query
"""
    + _IMPORTED
    + """con = connect(Path(sys.argv[2]))
source = next(s for s in preflight(Path(sys.argv[1]).parent) if s.spec.table == "labs")
con.execute("SET VARIABLE date_order = $o", {"o": source.date_order})
# what a run stores of each row (pipelines/contract.py: LABS.stored, value_comparator computed)
spec = source.spec
stored = ", ".join(f"{spec.computed.get(c, c)} AS {c}" for c in spec.stored)
query = f"SELECT {stored} FROM ({staging_query(source)})"
"""
)

ONE_STATEMENT = (
    _LOAD
    + """
con.execute("CREATE TABLE loaded AS " + query, dict(source.params))
con.close()
"""
)

NUMBERED = (
    _LOAD
    + """
numbered = "SELECT row_number() OVER () AS _rec, * FROM (" + query + ")"
con.execute("CREATE TABLE loaded AS " + numbered, dict(source.params))
con.close()
"""
)

STAGED = (
    _LOAD
    + """
con.begin()
con.execute("CREATE TEMP TABLE typed AS " + staging_query(source), dict(source.params))
first = con.execute("SELECT min(rowid) FROM typed").fetchone()[0]  # from 2**55 in a transaction
con.execute(f"CREATE TABLE loaded AS SELECT rowid - $f + 1 AS _rec, {stored} FROM typed", {"f": first})
con.commit()
con.close()
"""
)

DESIGNS = {
    "floor": _after(FLOOR, "import duckdb, sys\n"),
    "one statement": ONE_STATEMENT,
    "numbered": NUMBERED,
    "staged": STAGED,
    "clinic-audit": _after(
        PIPELINE,
        "from pipelines.ingest import StagingBudget, ingest_file, preflight\n",
        "import ibis.backends.sql.compilers, pandera.backends.ibis.builtin_checks  # ingest_file's, lazily\n",
    ),
}


def measure_rounds(csv_path: Path, work: Path, repeat: int) -> dict[str, list[dict]]:
    """Every design once per round, in order, `repeat` rounds: a slow spell lands on all of them."""
    found: dict[str, list[dict]] = {name: [] for name in DESIGNS}
    for round_ in range(repeat):
        for i, (name, script) in enumerate(DESIGNS.items()):
            db = work / f"d{round_}_{i}.duckdb"
            found[name].append(measure(script, csv_path, db))
            for path in work.glob(f"{db.name}*"):
                path.unlink()
    return found


def main() -> None:
    parser = file_arguments(__doc__)
    parser.add_argument("--repeat", type=int, default=2, help="rounds; each design's median is shown")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = generate(Path(tmp) / "export", args.rows, args.patients, args.bad_every)
        size_mb = csv_path.stat().st_size / 1e6
        rounds = measure_rounds(csv_path, Path(tmp), max(args.repeat, 1))
    floors = [f["seconds"] for f in rounds["floor"]]
    print(f"labs.csv: {args.rows:,} rows, {size_mb:,.0f} MB; {len(floors)} round(s), medians shown")
    for name, figures in rounds.items():
        seconds = statistics.median(f["seconds"] for f in figures)
        # each round's design against that round's floor, then the median of those ratios
        ratio = statistics.median(f["seconds"] / floor for f, floor in zip(figures, floors, strict=True))
        peak = max(f["peak_mb"] for f in figures)
        # after the imports: the statements alone, against the floor's statement alone
        own = statistics.median(
            (f["seconds"] - f["imports_seconds"]) / (floor["seconds"] - floor["imports_seconds"])
            for f, floor in zip(figures, rounds["floor"], strict=True)
        )
        imports = statistics.median(f["imports_seconds"] for f in figures)
        print(
            f"  {name:<14} {seconds:7.2f} s  {ratio:5.2f}x the floor  (imports {imports:4.2f} s; "
            f"after them {own:5.2f}x the floor's)  peak {peak:6.0f} MB"
        )


if __name__ == "__main__":
    main()
