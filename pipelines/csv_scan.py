"""Count a CSV file's records independently of DuckDB, and mend the files DuckDB would misread.

DuckDB's CSV reader loses or misplaces records on a few shapes of file without saying so: a line of
32 MiB or more is dropped without a reject, an unterminated quote swallows the rest of the file into
one rejected record, a bare carriage return (a stray one in a field, CR CR LF line ends, a file
ending in CR) stops the reader with an error, and blank lines (a blank first line included) shift
every later line number. So every record-numbered CSV is first scanned here, in one pass over its
bytes: a clean file (none of those shapes, and no newline inside a quoted field) is read by DuckDB
as it is, and `Layout.records` is the number of records it must account for. Any other file is
rewritten by `mend` into a clean copy (one record per line, blank lines dropped, line ends LF,
re-encoded to UTF-8 when the export says it is not), with the file's own line of each record kept,
and the records it cannot pass on (an unterminated quote, a record too long, a stray CR, bytes not
valid in the file's encoding) listed by line to be quarantined; the rest of the file is read on.
"""

from __future__ import annotations

import codecs
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import BinaryIO

import numpy as np

from pipelines.csv_tables import MAX_RECORD_BYTES, open_bytes
from pipelines.errors import InputError

CHUNK = 8 << 20


def scratch_folder(scratch: Path | None) -> tempfile.TemporaryDirectory:
    """A private folder (0700) for one file's working copy (a mended copy: patient rows), in
    `scratch`: a run's folder beside the database (pipelines.db.scratch_beside), which the next run
    removes if a kill left it; None (outside a run: a benchmark, a test) the system's temp folder."""
    return tempfile.TemporaryDirectory(dir=scratch)


# A quoted field still open after this many lines is taken as an unterminated quote: its first line
# is quarantined and reading resumes on the next line (a real multi-line field is a few lines).
MAX_RECORD_LINES = 1000
SHOWN_BYTES = 4096  # of a left-out record's first line, kept as its original text in quarantine
QUOTE = ord('"')
NEWLINE = ord("\n")
CARRIAGE_RETURN = ord("\r")
# What bytes.strip() removes: a line of nothing else is blank (mend drops it; layout sends it there;
# the FHIR reader's SQL judges NDJSON lines by it too, formats/fhir.py).
BLANK_BYTES = b" \t\n\r\x0b\x0c"
NOT_WHITESPACE = np.ones(256, dtype=np.int32)
NOT_WHITESPACE[list(BLANK_BYTES)] = 0


@dataclass(frozen=True)
class Layout:
    """What one pass over the bytes found: whether DuckDB can read the file as it is, and then how
    many data records (header excluded) it holds."""

    clean: bool
    records: int = 0


def layout(path: Path, delimiter: str) -> Layout:
    """Scan the file: clean (LF or CRLF line ends, no blank line, no newline inside quotes, quotes
    balanced, no NUL byte, no record near CHUNK bytes) with its record count, or not clean.
    `delimiter`: the one the reader splits the file at (its caller's: a profile may read a file at a
    delimiter its header does not suggest, MIMIC-IV always at a comma), deciding where a field starts.

    One pass in 8 MiB chunks with numpy (about 0.2 s per 160 MiB; bytes.find of a two-byte pattern
    took ten times that)."""
    newlines, inside, tail, open_blank, quote_open, ends = 0, False, b"\n", True, False, 0
    edge = field_edge(delimiter.encode())
    with open_bytes(path) as handle:
        while read := handle.read(CHUNK):
            chunk = read.removeprefix(codecs.BOM_UTF8) if tail == b"\n" and not newlines else read
            if b"\x00" in chunk:
                return Layout(False)  # binary data (or UTF-16 text)
            data = np.frombuffer(chunk, dtype=np.uint8)
            breaks = np.flatnonzero(data == NEWLINE)
            if len(read) == CHUNK and not len(breaks):
                return Layout(False)  # a record of 8 MiB or more
            if b"\r" in chunk and not _crs_end_lines(data):
                return Layout(False)
            ends |= _line_ends(chunk, len(breaks))
            if ends == BOTH_LINE_ENDS:
                return Layout(False)  # LF and CRLF in one file: the reader takes the first it meets
            blank, open_blank = _blank_line(data, breaks, open_blank)
            if blank:
                return Layout(False)  # a blank line (a blank first line included)
            if quote_open and len(data) and not edge[data[0]]:
                return Layout(False)  # the last chunk's final quote stood inside a field
            quote_open = False
            if b'"' in chunk or inside:  # (a quoted field open across a chunk with no quote)
                stray, quote_open = _stray_quote(data, tail, inside, edge)
                inside, quoted = _quoted_newlines(data, breaks, inside)
                if quoted or stray:
                    return Layout(False)
            newlines += len(breaks)
            tail = chunk[-1:] or tail
    if inside:
        return Layout(False)  # an unterminated quote
    if open_blank and tail != b"\n":
        return Layout(False)  # a last line of spaces without a line end
    return Layout(True, max(newlines + (tail != b"\n") - 1, 0))


def _crs_end_lines(data: np.ndarray) -> bool:
    """Whether every CR in the chunk is followed by an LF (a CR ending the chunk counts as not)."""
    after = np.flatnonzero(data == CARRIAGE_RETURN) + 1
    return bool(len(after) == 0 or (after[-1] < len(data) and (data[after] == NEWLINE).all()))


LF_END, CRLF_END = 1, 2  # the line ends a chunk holds, as bits
BOTH_LINE_ENDS = LF_END | CRLF_END


def _line_ends(chunk: bytes, lines: int) -> int:
    """Which line ends end the chunk's `lines` lines (LF_END, CRLF_END, both or none), once
    _crs_end_lines has found that every CR in it is followed by an LF. DuckDB's reader stops with an
    error at a CRLF in a file it began reading as LF-ended, and the other way round, so a file with
    both is mended (one record per LF line)."""
    crlf = chunk.count(b"\r") if b"\r" in chunk else 0
    return (LF_END if lines > crlf else 0) | (CRLF_END if crlf else 0)


def _blank_line(data: np.ndarray, breaks: np.ndarray, open_blank: bool) -> tuple[bool, bool]:
    """(whether a line ending in this chunk is blank, whether the line still open at its end is so
    far). Blank is what mending drops (`bytes.strip()` leaves nothing: empty, a lone CR, spaces or
    tabs only): DuckDB would read a line of spaces as a record of too few fields, or as the header.
    `open_blank`: whether the line the chunk continues is blank so far (true at a line's start).

    Only a line starting with a blank byte can be blank, and such lines are rare: the chunk is
    counted byte by byte only when one starts in it."""
    starts = breaks + 1 if not open_blank else np.concatenate(([0], breaks + 1))
    starts = starts[starts < len(data)]
    if not len(starts) or NOT_WHITESPACE[data[starts]].all():
        return False, bool(len(breaks) and breaks[-1] == len(data) - 1) or (open_blank and not len(data))
    text = np.cumsum(NOT_WHITESPACE[data], dtype=np.int32)  # non-blank bytes so far (< CHUNK)
    if not len(breaks):
        return False, bool(open_blank and not text[-1])
    ends = text[breaks]
    blank = ends == np.concatenate(([0], ends[:-1]))
    blank[0] &= open_blank
    return bool(blank.any()), bool(text[-1] == ends[-1])


def count_records(path: Path, delimiter: str, scratch: Path | None = None) -> int:
    """The file's data records, as a run reading it at `delimiter` would read them (mended when it
    must be, in `scratch` (scratch_folder), left-out records counted); one pass over a clean file."""
    found = layout(path, delimiter)
    if found.clean:
        return found.records
    with scratch_folder(scratch) as folder:
        mended = mend(path, Path(folder) / "mended.csv", delimiter)
    return mended.records + len(mended.rejects)


def _quoted_newlines(data: np.ndarray, breaks: np.ndarray, inside: bool) -> tuple[bool, int]:
    """(whether the chunk ends inside quotes, how many of its newlines are inside quotes)."""
    quotes = np.flatnonzero(data == QUOTE)
    parity = (np.searchsorted(quotes, breaks) + int(inside)) % 2
    return bool((len(quotes) + int(inside)) % 2), int(parity.sum())


@cache
def field_edge(delimiter: bytes) -> np.ndarray:
    """Bytes beside a quote that starts or ends a field, or is half of an escaped one: the delimiter,
    line ends and the quote itself."""
    edge = np.zeros(256, dtype=bool)
    edge[list(delimiter + b'\r\n"')] = True
    return edge


def _stray_quote(data: np.ndarray, before: bytes, inside: bool, edge: np.ndarray) -> tuple[bool, bool]:
    """(whether a quote in the chunk is out of place, whether the chunk ends with a quote whose next
    byte, in the next chunk, decides it). Out of place: a quote that would open a quoted field (no
    quote open before it, by the count) but follows no delimiter or line end ('5" tube', 'Tube 5",':
    the reader takes it as a character), or one that would close a field but is followed by text
    ('""P3', '"abc"x': an error the reader recovers from with a row of its own beside the reject).
    Counted as quotes, such quotes also make quoted line breaks look paired when they are not; a
    file holding one is mended (csv_scan._records) instead.
    `before`: the byte before the chunk (the last chunk's last, a line end at the file's start), so
    that the verdict does not depend on where chunks end; `inside`: a quote open at the chunk's start;
    `edge`: field_edge of the file's delimiter."""
    extended = np.concatenate((np.frombuffer(before, dtype=np.uint8), data))
    quotes = np.flatnonzero(extended == QUOTE)
    quotes = quotes[quotes > 0]
    # by the count they alternate: a quote opens a field, the next closes it (or is half of an escape)
    opening, closing = (quotes[1::2], quotes[::2]) if inside else (quotes[::2], quotes[1::2])
    at_end = bool(len(closing) and closing[-1] == len(extended) - 1)
    closing = closing[:-1] if at_end else closing
    stray = not (edge[extended[opening - 1]].all() and edge[extended[closing + 1]].all())
    return stray, at_end


@dataclass
class Mended:
    """A clean copy of a file: `lines[i]` is the file's line of the copy's line i + 1 (the header
    first); `rejects` the (line, error type, text of that line, cut at SHOWN_BYTES) of records left out."""

    path: Path
    lines: list[int] = field(default_factory=list)
    rejects: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def records(self) -> int:
        """Data records in the copy (its header excluded)."""
        return max(len(self.lines) - 1, 0)


def mend(source: Path, target: Path, delimiter: str, encoding: str = "utf-8") -> Mended:
    """Write `target`: the records of `source`, one per line, blank lines dropped, in UTF-8; its
    fields split at `delimiter`, the one the reader uses (a quote beside another is a character)."""
    mended = Mended(target)
    decoder = None if codecs.lookup(encoding).name == "utf-8" else encoding
    left_out: list[tuple[int, str, bytes]] = []
    with target.open("wb") as out:
        for line, record in _records(_physical_lines(source), left_out, delimiter.encode()):
            if b"\r" in record or b"\x00" in record:
                left_out.append((line, "STRAY CARRIAGE RETURN" if b"\r" in record else "NUL BYTE", record))
                continue
            if decoder is not None:
                try:
                    record = record.decode(decoder).encode("utf-8")
                except UnicodeDecodeError:
                    left_out.append((line, "INVALID ENCODING", record))
                    continue
            out.write(record + b"\n")
            mended.lines.append(line)
    mended.rejects = sorted(
        (line, kind, shown_text(text).decode(decoder or "utf-8", "replace")) for line, kind, text in left_out
    )
    _header_kept(source, mended)
    return mended


def shown_text(record: bytes) -> bytes:
    """A left-out record's original text as kept in quarantine: its first SHOWN_BYTES, NUL bytes
    removed. A block of NULs (a disk's zero-filled pages after a crash, a preallocated file) is no
    text, and ahead of a record it pushed the record's fields past the cut: a patients row so left out
    lost its patient id, and the patient (perhaps dead) was audited (RawSource.patient_of)."""
    return record.replace(b"\x00", b"")[:SHOWN_BYTES]


def _header_kept(source: Path, mended: Mended) -> None:
    """An InputError when the file's first record, its header, was left out: the copy's first record
    would be read as the header, and that data record lost without a word."""
    if mended.rejects and (not mended.lines or mended.rejects[0][0] < mended.lines[0]):
        line, kind, _ = mended.rejects[0]
        raise InputError(
            f"{source}: line {line}, the header, cannot be read ({kind.lower()}: a misplaced quote, a "
            "stray line end or bytes that are not text); nothing was loaded"
        )


def _physical_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, text without its line end) for each line; LF, CRLF, CR CR LF and (in a file
    with no LF at all) CR end a line."""
    with open_bytes(path) as handle:
        head = handle.read(CHUNK)
    cr_only = b"\n" not in head and b"\r" in head
    with open_bytes(path) as handle:
        number = 0
        for raw in _without_bom(handle):
            parts = raw.split(b"\r") if cr_only else [raw.rstrip(b"\n").rstrip(b"\r")]
            if cr_only and parts and parts[-1] == b"":
                parts.pop()
            for part in parts:
                number += 1
                yield number, part


def _without_bom(handle: BinaryIO) -> Iterator[bytes]:
    """The file's lines, a byte-order mark at its start dropped (alone on a line, the line is blank)."""
    lines = iter(handle)
    first = next(lines, None)
    if first is not None:
        yield first.removeprefix(codecs.BOM_UTF8)
    yield from lines


def _records(
    lines: Iterator[tuple[int, bytes]], rejects: list[tuple[int, str, bytes]], delimiter: bytes
) -> Iterator[tuple[int, bytes]]:
    """(first line, text) of each record: lines are joined while a quoted field is open as the reader
    reads them (_still_quoted, line by line: an inch mark in free text, '5" tube', opens none,
    on a record's first line or after a quoted line break closed); a record too long, or a quote
    still open after MAX_RECORD_LINES lines or at the end, is rejected by its first line and the
    lines after that first one are read again."""
    pending: list[tuple[int, bytes]] = []
    queue: list[tuple[int, bytes]] = []
    source = iter(lines)
    quoted, size = False, 0  # at the end of the pending record's lines so far; its bytes
    while True:
        if queue:
            number, text = queue.pop(0)
        else:
            item = next(source, None)
            if item is None:
                if not pending:
                    return
                rejects.append((*pending[0][:1], "UNTERMINATED QUOTE", pending[0][1]))
                queue, pending = pending[1:], []
                continue
            number, text = item
        if not pending and not text.strip():
            continue  # a blank line is no record
        quoted, broken = _still_quoted(text, bool(pending) and quoted, delimiter)
        size = size + 1 + len(text) if pending else len(text)
        pending.append((number, text))
        if broken:
            # a quote closed a field with text after it: the reader rejects the record but may
            # also make a row of it, and where a record spanning lines ends is anyone's guess, so
            # the mending leaves its first line out and reads the lines after it again
            kind = "UNTERMINATED QUOTE" if len(pending) > 1 else "UNQUOTED VALUE"
            rejects.append((pending[0][0], kind, pending[0][1]))
            queue, pending = pending[1:] + queue, []
        elif size > MAX_RECORD_BYTES:
            kind = "RECORD TOO LONG" if len(pending) == 1 else "UNTERMINATED QUOTE"
            rejects.append((pending[0][0], kind, pending[0][1]))
            queue, pending = pending[1:] + queue, []
        elif not quoted:
            yield pending[0][0], b"\n".join(t for _, t in pending)
            pending = []
        elif len(pending) > MAX_RECORD_LINES:
            rejects.append((pending[0][0], "UNTERMINATED QUOTE", pending[0][1]))
            queue, pending = pending[1:] + queue, []


def _field_start(text: bytes, at: int, delimiter: int) -> bool:
    """Whether the quote at `at` starts a field as DuckDB's reader sees one: at the record's start or
    after a delimiter, and also after exactly one space there (', "Potas' opens a quoted field; after
    two spaces the quote is a character)."""
    if at == 0 or text[at - 1] == delimiter:
        return True
    return text[at - 1] == ord(" ") and (at == 1 or text[at - 2] == delimiter)


@cache
def _closed(delimiter: bytes) -> re.Pattern[bytes]:
    """What the reader accepts after a quote closing a quoted field: spaces, then the delimiter or the
    line's end."""
    return re.compile(rb" *(?:" + re.escape(delimiter) + rb"|$)")


def _still_quoted(text: bytes, quoted: bool, delimiter: bytes) -> tuple[bool, bool]:
    """(whether a quoted field is open at the end of one line of a record, whether a quote closed one
    and something other than spaces and a delimiter followed it), `quoted` telling whether one was
    open at the line's start (a quoted line break).

    As DuckDB's reader (and RFC 4180) reads it: a quote opens a field only at the field's start; a
    quote inside an unquoted field ('5" tube') is a character, also on the line that closes a quoted
    line break ('sium",4.4,mmol"L'). Counting such a quote joined the lines up to the next one into a
    record the reader then read as several: exit 3, nothing loaded, or a record split in two. A quote
    closing a field with text after it ('"abc"x') is an error for the reader (UNQUOTED VALUE).
    """
    broken = False
    at = text.find(b'"')
    while at != -1:
        if quoted and text[at + 1 : at + 2] == b'"':
            at += 1  # an escaped quote inside a quoted field
        elif quoted:
            quoted = False
            broken = broken or not _closed(delimiter).match(text, at + 1)
        elif _field_start(text, at, delimiter[0]):
            quoted = True
        at = text.find(b'"', at + 1)
    return quoted, broken
