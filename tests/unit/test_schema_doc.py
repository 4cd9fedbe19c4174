"""docs/schema.md: every documented table and view exists, and every example query runs."""

from __future__ import annotations

import re

import duckdb
import pytest

from tests.conftest import ROOT, SAMPLE_EXPORT
from tests.helpers import cli, run_args

DOC = (ROOT / "docs" / "schema.md").read_text(encoding="utf-8")
QUERIES = re.findall(r"```sql\n(.*?)```", DOC, re.S)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("schema")
    assert cli(*run_args(tmp, SAMPLE_EXPORT)) == 0
    assert cli(*run_args(tmp, SAMPLE_EXPORT)) == 0
    return tmp / "audit.duckdb"


def test_documented_tables_and_views_exist_with_their_columns(db):
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| (.+) \|$", DOC, re.M)
    assert len(rows) >= 13
    with duckdb.connect(str(db), read_only=True) as con:
        for name, columns in rows:
            actual = {r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()}
            for column in re.findall(r"`(\w+)`", columns):
                assert column in actual, f"{name}.{column}"


@pytest.mark.parametrize("query", QUERIES, ids=[f"query{i}" for i in range(len(QUERIES))])
def test_example_queries_run(db, query):
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute(query).fetchall()
