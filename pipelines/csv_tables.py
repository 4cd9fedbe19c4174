"""CSV files whose columns a format names (Synthea, OMOP CDM), read as text by format profiles.

Each file's header is read first (delimiter sniffed: tab or comma), so a missing file or column is an
InputError naming it before the database is touched; DuckDB then reads every column as text with the
header's own names, without sniffing; an empty field is NULL, and so is a field reading exactly as
one of the profile's own null markers (OMOP: `\\N`, PostgreSQL COPY's). Structural faults of a
table's main file land in `rejects_<table>` with their line (quarantined like the generic CSV's);
those of a lookup file (OMOP `concept`, `death`; Synthea `encounters`) land in `rejects_lookup_<name>`,
which stop the run naming the file and line (ingest._refuse_unread_lookups).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pipelines.errors import READ_ERRORS, InputError, file_fault

# A record longer than this is quarantined by number (DuckDB rejects lines over its max_line_size,
# and silently drops lines of 32 MiB and more); Python's csv module takes fields this long too.
MAX_RECORD_BYTES = 8 << 20


@dataclass(frozen=True)
class CsvFile:
    """One export CSV: its path, delimiter and header names (as written, in order), and the texts
    besides the empty field that mean "no value" in it (`nulls`)."""

    path: Path
    delimiter: str
    names: tuple[str, ...]
    nulls: tuple[str, ...] = ()
    quoted: bool = True  # false: a quote is a character like any other (OMOP's tab-separated files)

    @property
    def label(self) -> str:
        """The name quarantined rows and run results give as their file."""
        return self.path.name

    @property
    def columns(self) -> dict[str, str]:
        """Header names by lower case (the first of duplicates wins), for case-insensitive lookups."""
        found: dict[str, str] = {}
        for name in self.names:
            found.setdefault(name.lower(), name)
        return found

    def require(self, *required: str) -> CsvFile:
        """This file, or an InputError naming it and the first required column its header lacks."""
        for column in required:
            if column.lower() not in self.columns:
                raise InputError(f"{self.path}: required column '{column}' is missing from the header")
        return self

    def column(self, name: str, alias: str = "") -> str:
        """The column as a quoted SQL identifier (prefixed by a table alias), or NULL when absent."""
        real = self.columns.get(name.lower())
        return f'{alias}"{real}"' if real else "NULL::VARCHAR"

    def field_reader(self, name: str) -> Callable[[str], str | None] | None:
        """`field_of` the column `name` (any case) in this file's records; None when it has no such column."""
        real = self.columns.get(name.lower())
        return (
            field_of(self.names.index(real), len(self.names), self.delimiter, self.quoted) if real else None
        )

    def reader(self, param: str, rejects: str) -> str:
        """A read_csv over the path bound as `$param`, columns bound as `$param_columns`, all text.

        The delimiter is one of three literals, never text from the file; null markers are bound
        as `$param_nullstr`.
        """
        delim = {"\t": "\\t", ";": ";"}.get(self.delimiter, ",")
        nullstr = f"nullstr = ${param}_nullstr, " if self.nulls else ""
        quote = "'\"'" if self.quoted else "''"
        return (
            f"read_csv(${param}, header = true, auto_detect = false, delim = '{delim}', quote = {quote}, "
            f"escape = {quote}, columns = ${param}_columns, {nullstr}strict_mode = true, "
            f"store_rejects = true, rejects_table = '{rejects}', rejects_scan = 'reject_scans_{rejects}')"
        )

    def params(self, param: str) -> dict[str, object]:
        """The values `reader(param)` binds: the path, every header column typed as text, and the null
        markers (the empty field among them) when there are any."""
        nulls = {f"{param}_nullstr": ["", *self.nulls]} if self.nulls else {}
        return {param: str(self.path), f"{param}_columns": {n: "VARCHAR" for n in self.names}} | nulls


# Names an export file may have (every format's): an entry so named that is no regular file is refused.
EXPORT_SUFFIXES = (".csv", ".tsv", ".txt", ".gz", ".ndjson")
# DuckDB's readers take a path as a glob pattern: 'labs[1].csv' reads labs1.csv, 'Observation*.ndjson'
# every Observation file again. A path holding one is refused rather than read as another file.
WILDCARDS = "*?["


def files_in(folder: Path) -> list[Path]:
    """The folder's regular files (a symlink to one included); an InputError naming any entry with an
    export file's name that is not one (a folder, device, pipe, socket, a link to nothing), which would
    otherwise pass for an absent file (an optional one silently) or never finish reading, or whose
    path DuckDB would misread (a wildcard, bytes that are not UTF-8)."""
    found = []
    for path in folder.iterdir():
        if not path.name.lower().endswith(EXPORT_SUFFIXES):
            if path.is_file():
                found.append(path)
            continue
        if not _utf8(str(path)):  # DuckDB takes paths as UTF-8: 'not valid UTF-8 text' would blame the file
            shown = os.fsencode(path).decode("utf-8", "backslashreplace")
            raise InputError(f"{shown}: the file or folder name is not valid UTF-8; rename it")
        if any(c in str(path) for c in WILDCARDS):
            raise InputError(
                f"{path}: the path holds a wildcard ({WILDCARDS}) that DuckDB's reader would expand to other "
                "files (or none); rename the file or folder"
            )
        refuse_unless_regular([path])
        found.append(path)
    return found


def field_of(
    index: int, width: int, delimiter: str = ",", quoted: bool = True
) -> Callable[[str], str | None]:
    """A reader of field `index` (0-based) of one CSV record's text, in a file of `width` columns, or
    None when the field cannot be trusted whole.

    Why: a record the reader could not read (a truncated line, a stray quote) is quarantined whole,
    but its first fields, the patient id among them, are usually intact; a patient whose row was
    lost must be known (pipelines/ingest.py _track_unreadable), not audited as if nothing were said.
    A field is whole when a delimiter follows it, or when it ends a line of the file's full width; a
    line cut inside it ('P123' cut to 'P1') would name another patient, or none. When the quotes
    themselves are broken (a quote never closed, text after a closing quote), the line is split at
    every delimiter instead, unless two loose quotes come up to the id's end (a quoted field holding
    a delimiter would move it: which field is the id's is not known); the id's quotes are dropped.
    """

    def whole(fields: list[str]) -> str | None:
        if index < len(fields) - 1 or index == len(fields) - 1 == width - 1:
            return fields[index] if "\n" not in fields[index] else None
        return None

    def split(text: str, **dialect: object) -> list[str]:
        # (DuckDB's text of a CRLF file's line starts with the LF before it)
        return next(csv.reader(io.StringIO(text.strip("\r\n")), delimiter=delimiter, **dialect), [])

    def read(text: str) -> str | None:
        try:
            if quoted:
                return whole(split(text, quotechar='"', strict=True))
            return whole(split(text, quoting=csv.QUOTE_NONE))
        except csv.Error:  # quotes broken (or a field past csv's limit): split at every delimiter
            try:
                fields = split(text, quoting=csv.QUOTE_NONE)
            except csv.Error:
                return None
        if sum(_loose_quotes(field) for field in fields[: index + 1]) > 1:  # a pair may hold a delimiter
            return None
        found = whole(fields)
        return found.strip('"') if found is not None else None

    return read


def _loose_quotes(field: str) -> int:
    """The quotes of a field split at every delimiter that are not its own pair ('"Ann"': none)."""
    return 0 if len(field) > 1 and field[0] == field[-1] == '"' else field.count('"')


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a name's undecodable bytes, kept as surrogates
        return False
    return True


def plain_or_gz(file: str) -> tuple[str, str]:
    """The names an export's file may have: as written, or gzip-compressed (`labs.csv.gz`), as
    nightly exports often travel; a .gz file is read as it is (open_bytes, DuckDB)."""
    return file, f"{file}.gz"


def find_optional(export_dir: Path, names: tuple[str, ...]) -> Path | None:
    """The one of `names` present in the folder (names match case-insensitively), if any; two
    (`measurement.csv` beside `MEASUREMENT.csv`, or `.csv.gz` of a partial `gunzip -k`) are an
    InputError (one_file)."""
    wanted = {n.lower() for n in names}
    return one_file([p for p in files_in(export_dir) if p.name.lower() in wanted], export_dir / names[0])


def one_file(candidates: list[Path], table: Path) -> Path | None:
    """The export's file for `table` among the files that could be it; None when there is none.
    Two or more are an InputError (exit 3) naming them: which one the exporter meant is anyone's
    guess, and the one a listing happens to give first would be read without a word."""
    if len(candidates) > 1:
        shown = ", ".join(str(p) for p in sorted(candidates))
        raise InputError(
            f"{table}: {len(candidates)} files could be this table's ({shown}); keep one in the export"
        )
    return candidates[0] if candidates else None


def find_file(export_dir: Path, names: tuple[str, ...]) -> Path:
    """The first of `names` present in the folder; an InputError naming the first when none is."""
    path = find_optional(export_dir, names)
    if path is None:
        raise InputError(f"{export_dir / names[0]}: required file is missing")
    return path


NOT_REGULAR = "not a regular file (a folder, device, pipe, socket or broken link)"


def open_regular(path: Path) -> BinaryIO:
    """The export file opened for reading, only if it is (still) a regular file: one swapped for a
    named pipe after the run's first look would block its open for ever, holding the database lock
    through SIGTERM (opened without waiting, checked, then read as any file). An InputError (exit
    3) naming it otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | os.O_CLOEXEC)
    except IsADirectoryError:
        raise InputError(f"{path}: {NOT_REGULAR}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError(f"{path}: {NOT_REGULAR}")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def refuse_unless_regular(paths: Iterable[Path]) -> None:
    """Each file still a regular file, checked just before DuckDB's reader opens it: that open waits
    on a named pipe for ever, and no signal stops it (a file swapped for one after the run's first
    look, with no Python read of it before: a FHIR file, or a CSV after its scan). An InputError
    (exit 3) naming it otherwise, as the run's first look (files_in) does; a file gone (no entry at
    all) is left to the reader's own error, but a link to nothing is refused."""
    for path in paths:
        if not path.is_file() and (path.is_symlink() or path.exists()):
            raise InputError(f"{path}: {NOT_REGULAR}")


def open_bytes(path: Path) -> BinaryIO:
    """The file's bytes; decompressed when it is named .gz (MIMIC-IV ships .csv.gz), so that the
    header, the scan (csv_scan) and DuckDB's reader all see the same text."""
    handle = open_regular(path)
    return _OwnGzip(handle) if path.name.lower().endswith(".gz") else handle


class _OwnGzip(gzip.GzipFile):
    """A .gz read from a file this module opened, which closes with it (a GzipFile given a file
    object leaves it open)."""

    def __init__(self, handle: BinaryIO) -> None:
        super().__init__(fileobj=handle, mode="rb")
        self._handle = handle

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._handle.close()


# UTF-16 (a SQL Server or Excel "Unicode" export) and UTF-32 store each character in two or four
# bytes: the byte-level record scan cannot read them, and their header read as bytes named no
# column ("required column 'patient_id' is missing"). Said as it is, exit 3.
WIDE_TEXT = "the file is UTF-16 or UTF-32 text"
AS_UTF8 = "export or save it as UTF-8 (Excel: 'CSV UTF-8'; SQL Server: code page 65001)"


def wide_text(head: bytes) -> str | None:
    """Why the bytes a file starts with are UTF-16 or UTF-32 text, or None when they are not."""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return f"{WIDE_TEXT}, which starts with its byte-order mark"
    if head[:2].count(b"\x00") == 1 and head[:64].count(b"\x00") * 3 >= len(head[:64]):
        return f"{WIDE_TEXT} (every other byte is NUL)"
    return None


GZIP_MAGIC = b"\x1f\x8b"


def unnamed_gzip(path: Path, head: bytes) -> str | None:
    """Why a file whose name does not end in .gz cannot be read: it is gzip-compressed data (a bulk
    export downloaded with gzip transfer encoding, or a .gz renamed), or None when it is not. Read
    as text it would fail as binary data, or as lines ending in carriage returns, saying nothing of
    the cause."""
    if path.name.lower().endswith(".gz") or not head.startswith(GZIP_MAGIC):
        return None
    return f"the file is gzip-compressed but its name does not end in .gz: rename it {path.name}.gz"


def header_line(path: Path, expected: str = "") -> str:
    """The file's first non-blank line as text (a BOM dropped; LF, CRLF or CR line ends), or an
    InputError naming the file (blank lines before the header are dropped when the file is read).
    With delimiter_of it is the one place a file's delimiter is decided; the scan is handed it."""
    try:
        with open_bytes(path) as handle:
            head = handle.read(1 << 20)
    except READ_ERRORS as error:
        raise InputError(f"{path}: cannot be read ({file_fault(error)})") from None
    packed = unnamed_gzip(path, head)
    if packed:
        raise InputError(f"{path}: {packed}")
    wide = wide_text(head)
    if wide:
        raise InputError(f"{path}: {wide}; {AS_UTF8}")
    head = head.removeprefix(codecs.BOM_UTF8)  # a BOM alone on a blank first line: still blank
    first = next((line for line in re.split(rb"\r\n|\r|\n", head) if line.strip()), b"")
    if not first.strip():
        hint = f" ({expected})" if expected else ""
        raise InputError(f"{path}: file is empty; expected a header row{hint}")
    try:
        return first.decode("utf-8-sig")
    except UnicodeDecodeError:  # a spreadsheet's Windows-1252: its names are matched, not loaded;
        return first.decode("cp1252", "replace")  # the rows are read in the `encoding` setting


def delimiter_of(header: str) -> str:
    """The delimiter a header line uses: comma, or tab or semicolon (a spreadsheet's CSV in a locale
    writing decimal commas) when the line holds more of that."""
    return max((",", "\t", ";"), key=header.count)


def open_csv(path: Path, nulls: tuple[str, ...] = (), tabs_unquoted: bool = False) -> CsvFile:
    """The file's header: delimiter (delimiter_of) and names; `nulls` are the texts besides the empty
    field that read as NULL (none unless a profile says so); `tabs_unquoted`: a tab-separated file
    whose header quotes nothing quotes no field either, so a `"` is part of its field (Athena's
    vocabulary files and PostgreSQL's text COPY are so written: a concept name may start with one)."""
    text = header_line(path)
    delimiter = delimiter_of(text)
    quoted = not (tabs_unquoted and delimiter == "\t" and '"' not in text)
    names = [n.strip() for n in next(csv.reader([text], delimiter=delimiter))]
    unique = [n if names.index(n) == i else f"{n}_{i}" for i, n in enumerate(names)]
    return CsvFile(path, delimiter, tuple(unique), nulls, quoted)
