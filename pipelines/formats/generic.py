"""The generic CSV export (the contract in README): one file per table, read by DuckDB in order.

Because each file is read as it is, record n is line n+1, so quarantined rows keep their line.
"""

from __future__ import annotations

import csv
from pathlib import Path

from pipelines.contract import CONTRACTS, TableContract
from pipelines.csv_tables import delimiter_of, field_of, find_optional, header_line, plain_or_gz
from pipelines.errors import InputError
from pipelines.ingest import RawSource

NAME = "generic"
# A field of exactly NULL or \N is no value: SQL Server Management Studio's "Save Results As" CSV
# writes a NULL as the text NULL, PostgreSQL's COPY as \N (the OMOP profile reads them so too).
NULLS = ["", "NULL", "\\N"]
# Why a record of empty fields (',,,,,,,') is left out: a spreadsheet saves every row of its used
# range, so cells once formatted or cleared below the data end the file in such lines. No data: a
# blank line, skipped (counted) rather than quarantined three times over.
EMPTY_ROW = "a row of empty fields (a spreadsheet's rows after the data)"


def detect(export_dir: Path) -> bool:
    """A folder with labs.csv, prescriptions.csv or diagnoses.csv (any case) is a generic export, or
    with labs.csv.gz or diagnoses.csv.gz: prescriptions.csv.gz alone is no sign, as MIMIC-IV's
    folder holds one."""
    names = {p.name.lower() for p in export_dir.iterdir() if p.is_file()}
    return bool(names & {"labs.csv", "prescriptions.csv", "diagnoses.csv", "labs.csv.gz", "diagnoses.csv.gz"})


def locate_files(
    export_dir: Path, specs: tuple[TableContract, ...] = CONTRACTS
) -> list[tuple[TableContract, Path]]:
    """Find each expected file (names match case-insensitively, plain or .gz); a missing mandatory
    one is fatal, and a table with both (`labs.csv` beside `labs.csv.gz`) is an error (one_file)."""
    if not export_dir.is_dir():
        raise InputError(f"{export_dir}: export folder not found")
    found = []
    for spec in specs:
        path = find_optional(export_dir, plain_or_gz(spec.file))
        if path is None and spec.mandatory_file:
            raise InputError(f"{export_dir / spec.file}: required file is missing")
        if path is not None:
            found.append((spec, path))
    return found


def read_header(path: Path, spec: TableContract) -> dict[str, int]:
    """Map each contract column to its position in the file's header, or say what is missing."""
    text = header_line(path, ", ".join(spec.required))
    names = next(csv.reader([text], delimiter=delimiter_of(text)))
    positions: dict[str, int] = {}
    for index, name in enumerate(names):
        key = name.strip().lower()
        if key in positions and key in spec.columns:  # which of the two holds the data is anyone's guess
            raise InputError(
                f"{path}: column '{key}' appears twice in the header (fields {positions[key] + 1} and "
                f"{index + 1}); keep one"
            )
        positions.setdefault(key, index)
    for column in spec.required:
        if column not in positions:
            raise InputError(f"{path}: required column '{column}' is missing from the header")
    if spec.one_of and not any(c in positions for c in spec.one_of):
        raise InputError(f"{path}: needs at least one of the columns {', '.join(spec.one_of)}")
    return {c: positions[c] for c in spec.columns if c in positions} | {"__width__": len(names)}


def sources(export_dir: Path) -> list[RawSource]:
    """One ordered CSV source per file present; headers checked against the contract first."""
    return [
        _source(spec, path, read_header(path, spec), delimiter_of(header_line(path)))
        for spec, path in locate_files(export_dir)
    ]


def _source(spec: TableContract, path: Path, header: dict[str, int], delimiter: str = ",") -> RawSource:
    """Every column read as text (typing is the staging SQL's job) and mapped to contract names;
    fields split at the header's delimiter (a semicolon in a spreadsheet's CSV: delimiter_of). In a
    semicolon-separated file a lab value's or a days supply's comma is its decimal point ('4,1',
    '28,0'), as the spreadsheet's locale wrote it (macro decimal_comma); in a comma-separated one
    '4,5' stays a typing error."""
    width = header.pop("__width__")

    def field(column: str) -> str:
        text = f"c{header[column]}"
        numbers = {("labs", "value"), ("prescriptions", "days_supply")}
        return f"decimal_comma({text})" if delimiter == ";" and (spec.table, column) in numbers else text

    aliases = ", ".join(
        f"{field(c)} AS {c}" if c in header else f"NULL::VARCHAR AS {c}" for c in spec.columns
    )
    # every field empty or blank, tested field by field: a row's first field settles it for nearly
    # every row (concatenating every field first doubled the cost of reading a 10 M-row labs.csv),
    # and a field starting with a printable ASCII character is not blank without trimming it
    empty = " AND ".join(
        f"(c{i} IS NULL OR (NOT ascii(c{i}) BETWEEN 33 AND 126 AND trim(c{i}) = ''))" for i in range(width)
    )
    select = (
        f"SELECT {aliases}, CASE WHEN {empty} THEN $empty_row END "  # noqa: S608
        "AS _skip FROM read_csv($path, header = true, auto_detect = false, delim = $delim, "
        "quote = '\"', escape = '\"', columns = $columns, nullstr = $nulls, strict_mode = true, "
        f"store_rejects = true, rejects_table = 'rejects_{spec.table}', "
        f"rejects_scan = 'reject_scans_{spec.table}')"
    )
    return RawSource(
        spec=spec,
        label=path.name,
        paths=(path,),
        select=select,
        params={
            "path": str(path),
            "delim": delimiter,
            "columns": {f"c{i}": "VARCHAR" for i in range(width)},
            "nulls": NULLS,
            "empty_row": EMPTY_ROW,
        },
        order=tuple(c for _, c in sorted((i, c) for c, i in header.items())),
        lines=True,
        reject_columns={f"c{i}": c for c, i in header.items()},
        delimiter=delimiter,
        skips=True,
        patient_of=field_of(header["patient_id"], width, delimiter),
    )
