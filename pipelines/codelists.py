"""Which codelist files a run reads: the shipped ones, plus a clinic's own additions.

A clinic extends a shipped codelist without forking it: a folder named by the `local_codelists`
setting holds CSVs named after the codelist they extend (`diuretics.csv`, `lab_tests.csv`), with the
shipped file's columns. Their rows are appended to the shipped lists; a local file never removes a
shipped code, and (for lab_tests) never gives a shipped code another meaning. A local file that
would not do what its author means (an unknown codelist, a missing column, a code malformed in its
system) is a configuration error naming the file and line, before anything is loaded.

Each run records the version of every file it read (sha256 and rows) in `run_codelists`.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pipelines import db
from pipelines.settings import ConfigError

SYSTEMS = ("ICD-10-CM", "ICD-10", "ICD-9-CM", "SNOMED-CT", "LOINC", "ATC", "RxNorm", "name")
SPECIMENS = ("blood", "urine")


@dataclass(frozen=True)
class CodelistFile:
    """One codelist file a run reads, with its version."""

    codelist: str  # the file name without .csv: the codelist it is (shipped) or extends (local)
    source: str  # 'shipped' | 'local'
    path: Path
    sha256: str
    rows: int


def shipped_files() -> tuple[Path, ...]:
    """The codelists that ship with clinic-audit, by name (looked up on each call: tests point
    pipelines.db.CODELIST_DIR at a copy)."""
    return tuple(sorted(db.CODELIST_DIR.glob("*.csv")))


@cache
def _shipped_header(codelist: str) -> tuple[str, ...]:
    with (db.CODELIST_DIR / f"{codelist}.csv").open(encoding="utf-8", newline="") as handle:
        return tuple(next(csv.reader(handle)))


def codelist_files(local_dir: Path | None) -> tuple[CodelistFile, ...]:
    """Every shipped codelist file, then every valid local one; a bad local file is a ConfigError."""
    shipped = tuple(_version(path, "shipped", _data_rows(path)) for path in shipped_files())
    if local_dir is None:
        return shipped
    if not local_dir.is_dir():
        raise ConfigError(f"local_codelists: {local_dir} is not a folder")
    local = tuple(_version(path, "local", validate_local(path)) for path in sorted(local_dir.glob("*.csv")))
    return shipped + local


def paths_of(files: Iterable[CodelistFile], codelist: str | None = None) -> list[str]:
    """The files' paths as text (for DuckDB's read_csv), optionally only those of one codelist."""
    return [str(f.path) for f in files if codelist is None or f.codelist == codelist]


def _version(path: Path, source: str, rows: int) -> CodelistFile:
    return CodelistFile(path.stem, source, path, hashlib.sha256(path.read_bytes()).hexdigest(), rows)


def _data_rows(path: Path) -> int:
    """A shipped file's rows, each with as many fields as its header: a row with one more (an
    unquoted comma in a description) made DuckDB's reader guess another layout for the whole file,
    and the codelist then matched nothing, silently."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        width = len(next(reader, []))
        rows = 0
        for row in reader:
            if not row:
                continue
            if len(row) != width:
                raise ConfigError(
                    f"{path}, line {reader.line_num}: {len(row)} fields, the header has {width} "
                    "(a shipped codelist is damaged: reinstall clinic-audit)"
                )
            rows += 1
        return rows


def validate_local(path: Path) -> int:
    """Check a local codelist file against the shipped one it extends; returns its row count."""
    shipped = {p.stem for p in shipped_files()}
    if path.stem not in shipped:
        raise ConfigError(
            f"{path}: no shipped codelist is called '{path.stem}' (a local file is named after the "
            f"codelist it extends: {', '.join(sorted(shipped))})"
        )
    if not path.is_file():  # a folder, or a FIFO whose read would wait forever holding the lock
        raise ConfigError(f"{path}: not a regular file (a local codelist is a CSV file)")
    expected = _shipped_header(path.stem)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = [name.strip() for name in next(reader, [])]
            _check_header(path, header, expected)
            rows = 0
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                _check_row(path, reader.line_num, dict(zip(header, row, strict=False)), len(row), expected)
                rows += 1
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    return rows


def _check_header(path: Path, header: Sequence[str], expected: Sequence[str]) -> None:
    missing = [c for c in expected if c not in header]
    extra = [c for c in header if c not in expected]
    if missing or extra or len(set(header)) != len(header):
        problem = f"missing column '{missing[0]}'" if missing else f"unknown column '{extra[0]}'"
        if not missing and not extra:
            problem = "a column named twice"
        raise ConfigError(f"{path}, line 1: {problem}; the columns are {','.join(expected)}")


def _check_row(path: Path, line: int, row: dict[str, str], cells: int, expected: Sequence[str]) -> None:
    where = f"{path}, line {line}"
    if cells != len(expected):
        raise ConfigError(f"{where}: {cells} fields, the header has {len(expected)}")
    system, code = row["system"].strip(), row["code"].strip()
    if system not in SYSTEMS:
        raise ConfigError(f"{where}: unknown system '{system}' (one of {', '.join(SYSTEMS)})")
    if not code_ok(system, code, path.stem):
        raise ConfigError(f"{where}: '{code}' is not a valid {system} code{_HINTS.get(system, '')}")
    if path.stem == "lab_tests":
        _check_lab_row(where, system, code, row)


_HINTS = {
    "LOINC": " (digits, a hyphen and the right check digit, e.g. 2823-3)",
    "SNOMED-CT": " (a concept id with a valid Verhoeff check digit)",
    "ICD-10-CM": " (e.g. K74 or K74.60)",
    "ICD-10": " (WHO ICD-10, e.g. E11.4)",
    "ICD-9-CM": " (e.g. 356 or 356.4)",
    "ATC": " (e.g. C03 or C03CA01)",
    "RxNorm": " (an RxCUI: digits)",
    "name": " (a drug name is 1 to 3 words of letters and digits, e.g. 'co amilofruse')",
}


def _check_lab_row(where: str, system: str, code: str, row: dict[str, str]) -> None:
    analyte, specimen = row["analyte"].strip(), row["specimen"].strip()
    analytes = shipped_analytes()
    if analyte not in analytes:
        raise ConfigError(f"{where}: unknown analyte '{analyte}' (one of {', '.join(sorted(analytes))})")
    if specimen not in SPECIMENS:
        raise ConfigError(f"{where}: specimen must be blood or urine, not '{specimen}'")
    meaning = shipped_lab_meanings().get((system, normalised(system, code)))
    if meaning is not None and meaning != (analyte, specimen):
        raise ConfigError(
            f"{where}: {system} '{code}' is shipped as {meaning[0]} ({meaning[1]}); a local codelist "
            "adds codes, it cannot change what a shipped code means"
        )


@cache
def shipped_analytes() -> frozenset[str]:
    """The analytes the shipped lab_tests codelist knows."""
    return frozenset(meaning[0] for meaning in shipped_lab_meanings().values())


@cache
def shipped_lab_meanings() -> dict[tuple[str, str], tuple[str, str]]:
    """(system, normalised code) -> (analyte, specimen) in the shipped lab_tests.csv."""
    with (db.CODELIST_DIR / "lab_tests.csv").open(encoding="utf-8", newline="") as handle:
        return {
            (r["system"], normalised(r["system"], r["code"])): (r["analyte"], r["specimen"])
            for r in csv.DictReader(handle)
        }


def normalised(system: str, code: str) -> str:
    """A code as the matchers compare it (checks/sql/_codelists.sql): names lower case, codes upper
    case without a dot."""
    return code.strip().lower() if system == "name" else code.strip().upper().replace(".", "")


# --- code formats, from each system's published rules (tests/unit/test_codelists.py holds the
# shipped files to the same rules) ---------------------------------------------------------------


def code_ok(system: str, code: str, codelist: str) -> bool:
    """Whether a local code is well formed in its system. ICD and ATC codes may be written in any
    case and ICD codes with or without the dot, as clinics' own systems write them."""
    if system == "name":
        return name_ok(code.strip().lower(), codelist)
    text = code.strip().upper()
    if system in ("ICD-10-CM", "ICD-10"):
        return bool(re.fullmatch(r"[A-Z]\d[0-9A-Z](\.?[0-9A-Z]{1,4})?", text))
    if system == "ICD-9-CM":
        return bool(re.fullmatch(r"(\d{3}|V\d{2})(\.?\d{1,2})?|E\d{3}(\.?\d)?", text))
    if system == "ATC":
        return bool(re.fullmatch(r"[A-Z](\d\d([A-Z]([A-Z](\d\d)?)?)?)?", text))
    if system == "RxNorm":
        return bool(re.fullmatch(r"[1-9]\d{0,7}", text))
    if system == "LOINC":
        return loinc_ok(text)
    return snomed_ok(text)


def name_ok(name: str, codelist: str) -> bool:
    """Lab names match a whole test name; drug names match 1-3 whole words of the normalised drug
    name (checks/sql/_concepts.sql), so they are written as such words."""
    if codelist == "lab_tests":
        return name != "" and "  " not in name
    return bool(re.fullmatch(r"[a-z0-9]+( [a-z0-9]+){0,2}", name))


def loinc_ok(code: str) -> bool:
    """LOINC: up to 7 digits, a hyphen, and the mod-10 check digit of those digits."""
    match = re.fullmatch(r"(\d{1,7})-(\d)", code)
    if not match:
        return False
    total = 0
    for position, char in enumerate(reversed(match[1])):
        digit = int(char) * (2 if position % 2 == 0 else 1)
        total += digit // 10 + digit % 10
    return (10 - total % 10) % 10 == int(match[2])


# Verhoeff: the dihedral group D5 and the powers of the permutation (1 5 7 6 2 8 3 0 9 4).
_D5 = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
PERMUTATIONS = [list(range(10)), [1, 5, 7, 6, 2, 8, 3, 0, 9, 4]]
while len(PERMUTATIONS) < 8:
    PERMUTATIONS.append([PERMUTATIONS[-1][PERMUTATIONS[1][j]] for j in range(10)])


def verhoeff_ok(digits: str) -> bool:
    """The Verhoeff check digit (the last digit) of a string of digits is right."""
    check = 0
    for position, char in enumerate(reversed(digits)):
        check = _D5[check][PERMUTATIONS[position % 8][int(char)]]
    return check == 0


def snomed_ok(code: str) -> bool:
    """SNOMED CT concept id: 6-18 digits, no leading zero, a concept partition, Verhoeff check."""
    if not re.fullmatch(r"[1-9]\d{5,17}", code) or code[-3:-1] not in {"00", "10"}:
        return False
    return verhoeff_ok(code)
