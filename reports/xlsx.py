"""Worklists and the call list as XLSX (openpyxl): a frozen header row, filters on every column,
widths fitted to the content, written owner-only and whole or not at all (reports/files.py).

Text a spreadsheet would run as a formula (`=HYPERLINK(...)` typed as a drug name) is stored as a
string cell, never as a formula; numbers stay numbers; a control character XML cannot hold is
replaced (U+FFFD).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from reports.files import open_private

MAX_WIDTH = 60  # characters; longer cells wrap
HEADER_FILL = PatternFill("solid", fgColor="F2F4F7")


def _cell_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    # A control character XML cannot hold (a vertical tab pasted into a drug name) would stop the
    # whole workbook: it is shown as U+FFFD, the rest of the text as it is.
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", str(value))


def write_xlsx(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]], title: str = "worklist"
) -> Path:
    """One sheet: bold frozen header, an autofilter over the whole table, fitted column widths."""
    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]  # Excel's limit on sheet names
    sheet.append(list(header))
    widths = [len(str(h)) for h in header]
    count = 0
    for count, row in enumerate(rows, 1):
        for column, value in enumerate(row, 1):
            cell = sheet.cell(row=count + 1, column=column, value=_cell_value(value))
            if isinstance(cell.value, str):
                cell.data_type = "s"  # a leading '=' stays text, never a formula
                widths[column - 1] = max(widths[column - 1], len(cell.value))
            elif cell.value is not None:
                widths[column - 1] = max(widths[column - 1], len(str(cell.value)))
    for column, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(column)].width = min(width + 2, MAX_WIDTH)
        sheet.cell(row=1, column=column).font = Font(bold=True)
        sheet.cell(row=1, column=column).fill = HEADER_FILL
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            cell.alignment = Alignment(
                vertical="top", wrap_text=isinstance(cell.value, str) and len(cell.value) > MAX_WIDTH
            )
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(header))}{count + 1}"
    with open_private(path, "wb", encoding=None, newline=None) as handle:
        book.save(handle)
    return path
