"""The DuckDB database: opening it, its schema, and the reference tables a run joins against."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

import checks

SQL_DIR = Path(__file__).parent / "sql"
REFERENCE_DIR = Path(__file__).parent / "reference"
CODELIST_DIR = Path(checks.__file__).parent / "codelists"
SCHEMA_VERSION = 1


def sql_file(name: str) -> str:
    """The text of one of the package's SQL files."""
    return (SQL_DIR / name).read_text(encoding="utf-8")


def connect(path: Path, memory_limit: str = "1.25GB") -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the database file, owner-only, with the schema in place.

    DuckDB's memory limit bounds the working set of a big load; past it, work spills to a temp
    folder beside the database instead of growing the process.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = not path.exists()
    con = duckdb.connect(str(path), config={"memory_limit": memory_limit})
    if fresh:
        os.chmod(path, 0o600)
    con.execute("SET TimeZone = 'UTC'")
    _apply_schema(con)
    con.execute(sql_file("views.sql"))
    _load_reference(con)
    return con


def _apply_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(sql_file("schema.sql"))
    if scalar(con, "SELECT count(*) FROM schema_version") == 0:
        con.execute("INSERT INTO schema_version VALUES ($v)", {"v": SCHEMA_VERSION})


def _load_reference(con: duckdb.DuckDBPyConnection) -> None:
    """Temp tables for lab mapping and unit conversion, read fresh from the package each run."""
    con.execute(sql_file("macros.sql"))
    lab_tests = str(CODELIST_DIR / "lab_tests.csv")
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE ref_lab_codes AS
        SELECT DISTINCT ON (code) upper(trim(code)) AS code, analyte, specimen
        FROM read_csv($p, all_varchar = true) WHERE system = 'LOINC' ORDER BY code
        """,
        {"p": lab_tests},
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE ref_lab_names AS
        SELECT DISTINCT ON (name) lower(trim(code)) AS name, analyte, specimen
        FROM read_csv($p, all_varchar = true) WHERE system = 'name' ORDER BY name
        """,
        {"p": lab_tests},
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE ref_analytes AS
        SELECT analyte, canonical_unit, plausible_low::DOUBLE AS plausible_low,
               plausible_high::DOUBLE AS plausible_high
        FROM read_csv($p, all_varchar = true)
        """,
        {"p": str(REFERENCE_DIR / "analytes.csv")},
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE ref_unit_conversions AS
        SELECT analyte, unit_key(unit) AS unit, factor::DOUBLE AS factor
        FROM read_csv($p, all_varchar = true)
        """,
        {"p": str(REFERENCE_DIR / "unit_conversions.csv")},
    )


def scalar(con: duckdb.DuckDBPyConnection, query: str, params: dict | None = None) -> object:
    """The single value a query returns (fully consumed, as DuckDB 2 requires before the next call)."""
    rows = con.execute(query, params or {}).fetchall()
    return rows[0][0] if rows else None
