"""The coverage diagnostic: what the codelists may have missed in this clinic's data.

Lab tests whose name mentions an audited analyte but map to none, drug names holding (or nearly
holding) a word of an audited ingredient or brand but matching no drug codelist, and ICD codes in
the category of listed codes but not listed (sql/unmatched.sql). Counts of rows and patients only:
no patient identifier. A run stores its list (`run_unmatched`) with the versions of the codelists it
read (`run_codelists`), so a report re-rendered later shows that run's list.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import duckdb

from pipelines.codelists import CodelistFile, paths_of
from pipelines.db import REFERENCE_DIR, load_lab_codelists, refresh_lab_concepts, sql_file, transaction

KINDS = ("labs", "drugs", "diagnoses")
STORED_PER_KIND = 200  # candidates kept with a run, per kind, most rows first
SNOMED_NOTE = (
    "SNOMED CT codes are not judged: the exports carry no descriptions and SNOMED has no hierarchy "
    "here, so nothing says which unlisted concept is related."
)
COLUMNS = "kind, rank, code_system, code, name, related_to, note, rows, patients"


@dataclass(frozen=True)
class Candidate:
    """A code or name in the data that matched no codelist but looks related to one."""

    kind: str  # labs | drugs | diagnoses
    rank: int  # 1 = most rows, within the kind
    code_system: str | None
    code: str | None
    name: str | None
    related_to: str
    note: str
    rows: int
    patients: int


def find(con: duckdb.DuckDBPyConnection) -> None:
    """Build the temp table `unmatched`; needs checks.evaluate.prepare() and a fresh lab_concepts."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE analyte_terms AS "
        "SELECT trim(analyte) AS analyte, lower(trim(term)) AS term, trim(match) AS match "
        "FROM read_csv($p, all_varchar = true)",
        {"p": str(REFERENCE_DIR / "analyte_terms.csv")},
    )
    con.execute(sql_file("unmatched.sql"))


def record(con: duckdb.DuckDBPyConnection, run_id: str, files: Sequence[CodelistFile]) -> None:
    """Store the run's codelist versions and its top candidates per kind (after `find`)."""
    for f in files:
        con.execute(
            "INSERT INTO run_codelists (run_id, codelist, source, file, sha256, rows) "
            "VALUES ($run, $codelist, $source, $file, $sha, $rows)",
            {
                "run": run_id,
                "codelist": f.codelist,
                "source": f.source,
                "file": str(f.path),
                "sha": f.sha256,
                "rows": f.rows,
            },
        )
    con.execute(
        f"INSERT INTO run_unmatched (run_id, {COLUMNS}) SELECT $run, {COLUMNS} FROM unmatched "  # noqa: S608
        "WHERE rank <= $n ORDER BY kind, rank",
        {"run": run_id, "n": STORED_PER_KIND},
    )


def live(con: duckdb.DuckDBPyConnection, files: Sequence[CodelistFile]) -> list[Candidate]:
    """The candidates in the database now, under the given codelists; nothing is written (the lab
    mapping is refreshed inside a transaction that is rolled back)."""
    from checks.evaluate import prepare

    load_lab_codelists(con, paths_of(files, "lab_tests"))
    with transaction(con, keep=False):
        refresh_lab_concepts(con)
        prepare(con, None, paths_of(files))
        find(con)
        return _candidates(con, f"SELECT {COLUMNS} FROM unmatched ORDER BY kind, rank", {})  # noqa: S608


def stored(con: duckdb.DuckDBPyConnection, run_id: str) -> list[Candidate]:
    """The candidates a run recorded."""
    return _candidates(
        con,
        f"SELECT {COLUMNS} FROM run_unmatched WHERE run_id = $r ORDER BY kind, rank",  # noqa: S608
        {"r": run_id},
    )


def _candidates(con: duckdb.DuckDBPyConnection, query: str, params: dict) -> list[Candidate]:
    return [Candidate(*row) for row in con.execute(query, params).fetchall()]


def top(candidates: Sequence[Candidate], limit: int | None) -> dict[str, list[Candidate]]:
    """Candidates per kind (labs, drugs, diagnoses), the first `limit` of each."""
    return {kind: [c for c in candidates if c.kind == kind][:limit] for kind in KINDS}


def as_json(candidates: Sequence[Candidate], limit: int | None, files: Sequence[CodelistFile]) -> str:
    """The diagnostic as JSON: candidates per kind, the SNOMED note, the local codelists used."""
    per_kind = {kind: [_plain(c) for c in found] for kind, found in top(candidates, limit).items()}
    local = [
        {"codelist": f.codelist, "file": str(f.path), "sha256": f.sha256, "rows": f.rows}
        for f in files
        if f.source == "local"
    ]
    return json.dumps({**per_kind, "notes": [SNOMED_NOTE], "local_codelists": local}, indent=2)


def _plain(candidate: Candidate) -> dict:
    record = asdict(candidate)
    del record["kind"]
    return record


def as_text(candidates: Sequence[Candidate], limit: int | None, files: Sequence[CodelistFile]) -> str:
    """The diagnostic for a terminal: per kind, most rows first."""
    lines = []
    local = [f for f in files if f.source == "local"]
    lines.append(
        f"Codelists: {sum(f.source == 'shipped' for f in files)} shipped files"
        + (
            "; local additions: " + ", ".join(f"{f.path.name} ({f.rows} rows)" for f in local)
            if local
            else "; no local additions"
        )
    )
    for kind, found in top(candidates, limit).items():
        total = sum(c.kind == kind for c in candidates)
        lines += [
            "",
            f"{kind}: {total} unmatched but related"
            + (f" (first {len(found)})" if total > len(found) else ""),
        ]
        for c in found:
            code = f"{c.code_system} {c.code}" if c.code else ""
            label = " · ".join(part for part in (c.name, code) if part)
            lines.append(f"  {c.rows:>7} rows {c.patients:>6} patients  {label}  -> {c.related_to}")
            lines.append(f"  {'':>28}{c.note}")
    lines += ["", SNOMED_NOTE]
    return "\n".join(lines) + "\n"
