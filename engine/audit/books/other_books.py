"""Bounds for the spreadsheets calamine reads besides .xlsx, checked before it loads them.

- ``.xls`` (Excel 97–2003, a compound file, not compressed): its size on disk is bounded like an .xlsx's parts
  once decompressed; a sheet holds at most 65,536 rows by 256 columns, so the grid calamine builds is bounded.
- ``.xlsb`` (Excel binary, a zip package): its decompressed size is bounded by ``check_workbook``; each sheet's
  declared used range (its ``BrtWsDim`` record, MS-XLSB §2.4.821) is read here and checked against the row and
  column limits before the sheet is loaded.
- ``.ods`` (OpenDocument, a zip package): its decompressed size is bounded by ``check_workbook``.

A loaded sheet's height and width are checked again in ``read_excel`` before its cells are turned into rows.
"""

from __future__ import annotations

import re
import struct
import zipfile
from pathlib import Path

from engine.audit.books.book import HEADER_SEARCH_ROWS, BookError, Limits

BRT_WS_DIM = 0x94  # MS-XLSB §2.4.821: rwFirst, rwLast, colFirst, colLast (zero-based, 4 bytes each)
BRT_BEGIN_SHEET_DATA = 0x91  # the cells start here: a dimension comes before, or not at all
HEAD_RECORDS = 64  # the records read from a sheet's start looking for its dimension
SHEET_PART = re.compile(r"xl/worksheets/[^/]+\.bin")


def check_xls(path: Path, limits: Limits) -> None:
    size = path.stat().st_size
    if size > limits.max_xlsx_bytes:
        raise BookError(f"{path}: the workbook is {size:,} bytes, over the limit of {limits.max_xlsx_bytes:,} bytes")


def _number(data: bytes, at: int, most: int) -> tuple[int, int]:
    """A record's type or size: up to ``most`` bytes of 7 bits each, low first, the top bit saying another follows
    (MS-XLSB §2.1.4)."""
    value = 0
    for k in range(most):
        if at >= len(data):
            raise ValueError("cut short")
        byte = data[at]
        value |= (byte & 0x7F) << (7 * k)
        at += 1
        if not byte & 0x80:
            break
    return value, at


def declared_range(head: bytes) -> tuple[int, int] | None:
    """The last row and column (from 1) a sheet part's head declares, or None when it declares none."""
    at = 0
    for _ in range(HEAD_RECORDS):
        try:
            kind, at = _number(head, at, 2)
            size, at = _number(head, at, 4)
        except ValueError:
            return None
        if kind == BRT_WS_DIM and size >= 16 and at + 16 <= len(head):
            _, last_row, _, last_column = struct.unpack_from("<4I", head, at)
            return last_row + 1, last_column + 1
        if kind == BRT_BEGIN_SHEET_DATA:
            return None
        at += size
    return None


def check_xlsb(path: Path, limits: Limits) -> None:

    most_rows = limits.max_rows + HEADER_SEARCH_ROWS + 1  # the header row and the title rows above it
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                if not SHEET_PART.fullmatch(member.filename):
                    continue
                with archive.open(member) as part:
                    found = declared_range(part.read(1 << 12))
                if found is None:
                    continue
                rows, columns = found
                name = member.filename.rsplit("/", 1)[-1]
                if columns > limits.max_columns:
                    raise BookError(
                        f"{path}: sheet {name!r} declares {columns:,} columns, over the limit of "
                        f"{limits.max_columns:,} columns; the sheet was not loaded"
                    )
                if rows > most_rows:
                    raise BookError(
                        f"{path}: sheet {name!r} declares {rows:,} rows, over the limit of {limits.max_rows:,} rows; "
                        "the sheet was not loaded"
                    )
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise BookError(f"{path}: cannot read as Excel: {exc}") from None
