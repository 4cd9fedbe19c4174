"""The export contract is declared once (pipelines/contract.py) and everything else follows it.

A column added in one place only fails here: the storage schema (a fresh database from
pipelines/sql/schema.sql), the staging SQL (stage_<table>.sql run on a one-row export), the
validation rules (compiled against the staged rows), docs/schema.md and the README's file table.
"""

from __future__ import annotations

import re
from datetime import date

import ibis
import pytest

from pipelines import db, ingest
from pipelines.contract import CONTRACTS, TableContract
from pipelines.formats import generic
from tests.conftest import ROOT
from tests.helpers import write_export

SCHEMA_DOC = (ROOT / "docs" / "schema.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
IDS = [c.table for c in CONTRACTS]

# One plausible row per table, written with the generic export's real headers.
ROWS = {
    "patients": {"patient_id": "P1", "birth_date": "1950-03-04", "sex": "F", "deceased": "no"},
    "labs": {
        "patient_id": "P1",
        "collected_at": "2026-01-02T08:00:00",
        "loinc_code": "2823-3",
        "test_name": "Potassium",
        "value": "<3.0",
        "unit": "mmol/L",
    },
    "prescriptions": {
        "patient_id": "P1",
        "drug_name": "furosemide 40 mg tablet",
        "rxnorm_code": "4603",
        "atc_code": "C03CA01",
        "start_date": "2026-01-01",
        "days_supply": "28",
    },
    "diagnoses": {
        "patient_id": "P1",
        "code": "K70.30",
        "code_system": "ICD-10-CM",
        "recorded_at": "2025-05-06",
    },
}


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """A fresh database with a one-row export of every table staged: (connection, columns by relation)."""
    tmp = tmp_path_factory.mktemp("contract")
    export = write_export(tmp / "export", **{table: [row] for table, row in ROWS.items()})
    con = db.connect(tmp / "audit.duckdb")
    for source in generic.sources(export):
        ingest._stage(con, source)

    def columns(relation: str) -> list[str]:
        return [row[0] for row in con.execute(f"DESCRIBE {relation}").fetchall()]

    yield con, columns
    con.close()


def _ticked(cell: str) -> list[str]:
    """The identifiers written in backticks in a markdown cell."""
    return re.findall(r"`(\w+)`", cell)


def test_every_table_is_declared_once_and_consistently():
    assert [c.table for c in CONTRACTS] == ["patients", "labs", "prescriptions", "diagnoses"]
    for c in CONTRACTS:
        assert len(set(c.columns)) == len(c.columns), c.table
        assert set(c.one_of) <= set(c.optional), c.table
        assert set(c.text) <= set(c.columns), c.table
        assert set(c.derived) <= set(c.stored), c.table
        assert set(c.computed) <= set(c.stored), c.table
        assert c.identity_date in c.identity, c.table


@pytest.mark.parametrize("contract", CONTRACTS, ids=IDS)
def test_stored_columns_are_the_storage_table_columns(staged, contract: TableContract):
    _, columns = staged
    bookkeeping = {"_run_id", "_superseded"} if contract.supersedes else {"_run_id"}
    assert set(columns(contract.storage_table)) - bookkeeping == set(contract.stored)


@pytest.mark.parametrize("contract", CONTRACTS, ids=IDS)
def test_staging_sql_yields_every_text_and_stored_column(staged, contract: TableContract):
    con, columns = staged
    typed = columns(f"typed_{contract.table}")
    for column in contract.columns:
        assert contract.text_column(column) in typed, f"stage_{contract.table}.sql: {column}"
    numbered = columns(f"numbered_{contract.table}")
    assert set(contract.stored) <= set(numbered), f"stage_{contract.table}.sql"
    # The one good row stages with every column it was given: the text columns really hold it.
    written = ROWS[contract.table]
    row = con.execute(f"SELECT * FROM typed_{contract.table}").fetchdf().iloc[0]
    for column, value in written.items():
        assert row[contract.text_column(column)] in {value, value.upper()}, column


@pytest.mark.parametrize("contract", CONTRACTS, ids=IDS)
def test_every_rule_judges_a_declared_column_of_the_staged_rows(staged, contract: TableContract):
    con, _ = staged
    checked = ibis.duckdb.from_connection(con).table(f"checked_{contract.table}", database="temp")
    rules = contract.rules(date(2026, 11, 20))
    assert rules
    for rule in rules:
        assert rule.column in contract.columns, rule.key
        assert set(rule.clears) <= set(contract.stored), rule.key
        assert con.execute(ibis.to_sql(checked.select(ok=rule.passes(checked)))).fetchall() == [(True,)], (
            rule.key  # each rule compiles against the staged columns, and the good row passes it
        )


def _contract_rows() -> dict[str, list[str]]:
    """The cells of docs/schema.md's export contract table, by export table."""
    section = SCHEMA_DOC.split("## The export contract", 1)[1].split("\n## ", 1)[0]
    cells = [
        line.strip().strip("|").split("|") for line in section.splitlines() if re.match(r"\| \w+ \|", line)
    ]
    return {row[0].strip(): row[1:] for row in cells}


@pytest.mark.parametrize("contract", CONTRACTS, ids=IDS)
def test_schema_doc_states_the_contract(contract: TableContract):
    rows = _contract_rows()
    assert set(rows) == set(IDS)
    file, required, optional, stored_in, identity = rows[contract.table]
    assert f"`{contract.file}`" in file
    assert ("optional" in file) == (not contract.mandatory_file)
    assert _ticked(required) == list(contract.required)
    assert _ticked(optional) == list(contract.optional)
    assert _ticked(stored_in) == [contract.storage_table]
    assert _ticked(identity) == list(contract.identity)


@pytest.mark.parametrize("contract", CONTRACTS, ids=IDS)
def test_schema_doc_lists_exactly_the_stored_columns(contract: TableContract):
    row = re.search(rf"^\| `{contract.storage_table}` \| [^|]+ \| (.+) \|$", SCHEMA_DOC, re.M)
    assert row, contract.storage_table
    assert set(_ticked(row.group(1))) - {"_superseded"} == set(contract.stored)


@pytest.mark.parametrize("contract", CONTRACTS, ids=IDS)
def test_readme_file_table_names_every_contract_column(contract: TableContract):
    row = re.search(rf"^\| `{re.escape(contract.file)}`[^|]*\| ([^|]+) \|", README, re.M)
    assert row, contract.file
    named = set(re.findall(r"\w+", row.group(1)))
    assert set(contract.columns) <= named


ALIGNED_SQL = (ROOT / "checks" / "sql" / "_aligned.sql").read_text(encoding="utf-8")
# else src_<table>; the patients' state is a table the view src_patient_state reads (_sources.sql)
SOURCE_VIEW = {"patients": "patient_state_now", "labs": "src_labs"}


@pytest.mark.parametrize("contract", CONTRACTS, ids=IDS)
def test_dates_declared_are_the_stored_date_columns(staged, contract: TableContract):
    """`dates` lists every stored DATE/TIMESTAMP column (what --as-of per-patient must move), and the
    event date is one of them."""
    con, _ = staged
    typed = con.execute(f"DESCRIBE {contract.storage_table}").fetchall()
    stored_dates = {name for name, kind, *_ in typed if kind.startswith(("DATE", "TIMESTAMP"))}
    assert set(contract.dates) == stored_dates, contract.table
    assert contract.event_date is None or contract.event_date in contract.dates


@pytest.mark.parametrize("contract", CONTRACTS, ids=IDS)
def test_per_patient_alignment_moves_exactly_the_declared_dates(contract: TableContract):
    """checks/sql/_aligned.sql moves each source view's dates by the patient's shift: every declared
    date, no other column; and the shift is measured from every table's event date."""
    view = SOURCE_VIEW.get(contract.table, f"src_{contract.table}")
    block = re.split(rf"(?:VIEW|TABLE) {view} AS", ALIGNED_SQL, maxsplit=1)[1].split(";", 1)[0]
    moved = set(re.findall(r"\+ (?:to_days\()?(?:coalesce\()?s\.shift_days(?:, 0)?\)? AS (\w+)", block))
    assert moved == set(contract.dates), view
    shift = ALIGNED_SQL.split("TABLE patient_shift AS", 1)[1].split(";", 1)[0]
    if contract.event_date:
        assert f"max({contract.event_date})" in shift and f"FROM {contract.current} " in shift


def test_the_sample_clinic_writes_the_contract_columns():
    """sample_data/clinic/shared.py's file headers are contract columns, each required one included."""
    import sys

    sys.path.insert(0, str(ROOT / "sample_data"))
    try:
        from clinic.shared import HEADERS
    finally:
        sys.path.remove(str(ROOT / "sample_data"))
    by_file = {c.file: c for c in CONTRACTS}
    assert set(HEADERS) == set(by_file)
    for file, header in HEADERS.items():
        assert set(by_file[file].required) <= set(header) <= set(by_file[file].columns), file
