"""Past runs: list them, re-render one's report from the database, prune old runs' results.

`runs` rows are kept by `prune` (they are small and record what ran, when, with which settings);
a pruned run shows as such in `clinic-audit runs`. Data tables are never touched by `prune`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from checks.evaluate import all_checks
from pipelines.db import connect, transaction
from pipelines.outputs import write_outputs
from pipelines.settings import ConfigError, Settings

# Tables holding per-run results that `prune` removes for old runs, with the column naming the run.
PRUNED_TABLES = (
    "findings",
    "check_results",
    "check_exclusions",
    "quarantine",
    "row_notes",
    "run_files",
    "run_unmatched",
    "run_codelists",
    "review_outcomes",  # each run's verdict on its reviewed flags; `reviews` themselves are kept
    "due_soon",
)


@dataclass(frozen=True)
class RunRow:
    """One past run as `clinic-audit runs` lists it."""

    seq: int
    run_id: str
    started_at: datetime
    as_of: date
    rows_read: int | None
    rows_loaded: int | None
    rows_rejected: int | None
    flags: int | None
    outcome: str
    kind: str = "scheduled"  # or "ad hoc": outside the nightly lifecycle and trends
    checks: tuple[str, ...] = ()  # the checks the run evaluated (empty: pruned)
    parameters: tuple[str, ...] = ()  # "check.name=value" overrides given for the run (--param, [checks.*])


def open_existing(db: Path, memory_limit: str = "1GB", threads: int = 0) -> duckdb.DuckDBPyConnection:
    """Connect to a database that must already exist (history commands never create one)."""
    if not db.exists():
        raise ConfigError(f"{db}: no database here (set --db or CLINIC_AUDIT_DB)")
    return connect(db, memory_limit, threads)


def list_runs(con: duckdb.DuckDBPyConnection, limit: int | None = None) -> list[RunRow]:
    """Runs newest first, with their row and flag totals; pruned runs have no totals."""
    rows = con.execute(
        """
        SELECT r.seq, r.run_id, r.started_at, r.as_of,
               f.rows_read, f.rows_loaded, f.rows_rejected, c.flags,
               r.status || CASE WHEN f.run_id IS NULL THEN ' (pruned)' ELSE '' END AS outcome,
               coalesce(r.kind, 'scheduled') AS kind, coalesce(c.checks, []) AS checks,
               r.settings->>'check_params' AS params
        FROM runs r
        LEFT JOIN (SELECT run_id, sum(rows_read)::BIGINT AS rows_read,
                          sum(rows_loaded)::BIGINT AS rows_loaded,
                          sum(rows_rejected)::BIGINT AS rows_rejected
                   FROM run_files GROUP BY run_id) f USING (run_id)
        LEFT JOIN (SELECT run_id, sum(flagged)::BIGINT AS flags, list(check_id ORDER BY check_id) AS checks
                   FROM check_results GROUP BY run_id) c
            USING (run_id)
        ORDER BY r.seq DESC LIMIT $n
        """,
        {"n": limit if limit is not None else 2**62},
    ).fetchall()
    return [RunRow(*row[:-2], tuple(row[-2]), _parameters(row[-1])) for row in rows]


def _parameters(stored: str | None) -> tuple[str, ...]:
    """runs.settings' check_params ({check: {name: value}}) as sorted "check.name=value" strings."""
    params = json.loads(stored or "{}")
    return tuple(sorted(f"{c}.{n}={v}" for c, values in params.items() for n, v in values.items()))


def resolve_run(con: duckdb.DuckDBPyConnection, run_id: str | None) -> str:
    """The run asked for (a full id, or a unique prefix), or when none is named the latest scheduled
    run (the nightly's outputs; an ad-hoc run is named with --run), else the latest run."""
    if run_id is None:
        rows = con.execute(
            "SELECT run_id FROM runs "
            "ORDER BY coalesce(kind, 'scheduled') = 'scheduled' DESC, seq DESC LIMIT 1"
        ).fetchall()
        if not rows:
            raise ConfigError("the database holds no runs yet")
        return rows[0][0]
    rows = con.execute(
        "SELECT run_id FROM runs WHERE starts_with(run_id, $p) ORDER BY seq", {"p": run_id}
    ).fetchall()
    if len(rows) != 1:
        problem = "no run" if not rows else f"{len(rows)} runs"
        raise ConfigError(f"--run {run_id}: {problem} with this id (see clinic-audit runs)")
    return rows[0][0]


def run_kind(con: duckdb.DuckDBPyConnection, run_id: str) -> str:
    """'scheduled' or 'ad hoc' (runs.kind)."""
    row = con.execute("SELECT coalesce(kind, 'scheduled') FROM runs WHERE run_id = $r", {"r": run_id})
    return row.fetchall()[0][0]


def rerender(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str, now: datetime):
    """Write a past run's findings.csv, report.html, email.html and worklists into `settings.out`,
    as a set (pipelines/outputs.py): this also repairs an OUT a killed run left marked stale."""
    evaluated = {
        r[0]
        for r in con.execute("SELECT check_id FROM check_results WHERE run_id = $r", {"r": run_id}).fetchall()
    }
    if not evaluated:
        raise ConfigError(f"run {run_id} was pruned: its results are no longer in the database")
    selected = tuple(c for c in all_checks() if c.id in evaluated)
    return write_outputs(con, settings, run_id, selected, now)


def prune(con: duckdb.DuckDBPyConnection, keep_runs: int) -> dict[str, int]:
    """Delete the results of all but the newest `keep_runs` nightly (scheduled) runs, in one
    transaction; of the ad-hoc runs, those among the newest `keep_runs` ad-hoc runs and no older
    than the oldest nightly kept stay. So `--keep-runs 400` keeps 400 nights however many ad-hoc
    runs analysts made between them.

    Returns the rows removed per table. Quarantine rows belong to the run that first saw them.
    """
    if keep_runs < 1:
        raise ConfigError("--keep-runs must be at least 1")
    with transaction(con):
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE pruned_runs AS
            WITH ranked AS (
                SELECT run_id, seq, coalesce(kind, 'scheduled') = 'scheduled' AS nightly,
                       row_number() OVER (PARTITION BY coalesce(kind, 'scheduled') ORDER BY seq DESC) AS n
                FROM runs
            ),
            oldest_kept AS (SELECT min(seq) AS seq FROM ranked WHERE nightly AND n <= $n)
            SELECT r.run_id FROM ranked r, oldest_kept o
            WHERE r.n > $n OR (NOT r.nightly AND r.seq < o.seq)
            """,
            {"n": keep_runs},
        )
        _keep_flag_origins(con)
        removed = {}
        for table in PRUNED_TABLES:
            removed[table] = con.execute(
                f"DELETE FROM {table} WHERE run_id IN (SELECT run_id FROM pruned_runs)"  # noqa: S608
            ).fetchall()[0][0]
        # A pruned run's evaluation of a month goes once no kept run can see it: a later evaluation
        # (not an ad-hoc run's private one) by a run up to the oldest kept one supersedes it for every
        # kept run's measures_of; until then it stays (also for a month that has left the window).
        # A pruned run's private evaluations were its own: they go.
        removed["measures"] = con.execute(
            """
            DELETE FROM measures m WHERE run_id IN (SELECT run_id FROM pruned_runs)
            AND (coalesce(private, false) OR EXISTS (
                SELECT 1 FROM measures e JOIN runs re ON re.run_id = e.run_id
                WHERE e.check_id = m.check_id AND e.month_end = m.month_end
                  AND NOT coalesce(e.private, false)
                  AND re.seq > (SELECT seq FROM runs WHERE run_id = m.run_id)
                  AND re.seq <= (SELECT min(seq) FROM runs
                                 WHERE run_id NOT IN (SELECT run_id FROM pruned_runs))))
            """
        ).fetchall()[0][0]
    return removed


def _keep_flag_origins(con: duckdb.DuckDBPyConnection) -> None:
    """Before `pruned_runs` go: for every flag standing at the oldest kept run of its check and
    raised before it, where it began (flag_origins), so its flagged_since, run count and status
    ('persisting', not 'new') outlive the runs that raised it. Computed from flag_episodes, which
    already reads the origins an earlier prune kept; those whose kept run goes now are replaced."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE new_origins AS
        WITH kept_first AS (
            SELECT check_id, arg_min(run_id, check_run_no) AS run_id, min(check_run_no) AS check_run_no
            FROM check_runs WHERE run_id NOT IN (SELECT run_id FROM pruned_runs) GROUP BY check_id
        )
        SELECT e.check_id, e.patient_id, k.run_id AS kept_from_run_id, e.first_run_id, e.first_seq,
               e.first_as_of, k.check_run_no - e.first_check_run_no + e.runs_before AS runs_before
        FROM flag_episodes e JOIN kept_first k USING (check_id)
        WHERE e.first_check_run_no < k.check_run_no AND k.check_run_no <= e.last_check_run_no
        """
    )
    # an origin whose kept run stays is still current: no series of its check starts before that run
    con.execute("DELETE FROM flag_origins WHERE kept_from_run_id IN (SELECT run_id FROM pruned_runs)")
    con.execute("INSERT INTO flag_origins BY NAME SELECT * FROM new_origins; DROP TABLE new_origins")
