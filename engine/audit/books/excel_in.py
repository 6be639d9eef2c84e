"""Excel books in (python-calamine): the header row found below title rows, cells read as values (date cells,
numbers, serial dates in date columns, cached formula results), with the .xlsx's decompressed size and each
sheet's used range bounded before the sheet is parsed."""

from __future__ import annotations

import html
import re
import zipfile
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.audit.books.book import HEADER_SEARCH_ROWS, Book, BookError, Limits, cell_text, check_header
from engine.audit.books.columns import ColumnMap, header_names
from engine.audit.outputs.xlsx import EXCEL_EPOCH
from engine.validate.batch import SPECS

LAST_SERIAL = 2_958_465  # 9999-12-31
DATE_FIELDS = frozenset(name for name, spec in SPECS.items() if spec.kind == "day")
CHUNK = 1 << 20
OVERLAP = 64  # longer than any cell reference attribute (r="XFD1048576"), so none is cut by a chunk's end
DIMENSION = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?dimension\b[^>]*?\bref="([^"]*)"')
SPACE = b" \t\n\r"
REFERENCE = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})")


def check_workbook(path: Path, limits: Limits) -> None:
    """Refuse an .xlsx before calamine loads it, in one pass over its parts:

    - its parts hold more than ``limits.max_xlsx_bytes`` once decompressed (the sizes the zip declares are
      checked first, then counted while inflating, so no more than the limit is ever inflated);
    - a sheet's used range reaches past the row limit (plus the title rows a header may sit below) or the column
      limit: calamine builds the whole grid from A1 to the last cell, so one cell at XFD12000 costs 16,384 ×
      12,000 cells (7.6 GB). The sheet's declared dimension is read, and its cells' references are scanned as
      bytes (only a reference long enough to be over a limit is looked at closely), building nothing.
    """
    limit = limits.max_xlsx_bytes
    most_rows = limits.max_rows + HEADER_SEARCH_ROWS + 1
    letters = min(len(column_letters(limits.max_columns)), 3)  # XFD, Excel's last column, has three letters
    digits = min(len(str(most_rows)), 7)  # 1,048,576, Excel's last row, has seven digits
    # A reference with as many letters as the last column allowed, or as many digits as the last row allowed:
    # rare in a book within the limits (a 1,000-column limit: only columns of three letters).
    long_reference = re.compile(rb'r="(?:[A-Za-z]{%d,3}[0-9]{1,7}|[A-Za-z]{1,3}[0-9]{%d,7})"' % (letters, digits))
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            declared = sum(member.file_size for member in members)
            if declared > limit:
                raise BookError(_too_big(path, declared, limit))
            sheets = _worksheet_names(archive)
            total = 0
            for member in members:
                sheet = sheets.get(member.filename)
                with archive.open(member) as part:
                    tail = b""
                    while chunk := part.read(CHUNK):
                        total += len(chunk)
                        if total > limit:
                            raise BookError(_too_big(path, total, limit))
                        if sheet is None:
                            continue
                        if not tail and (dimension := DIMENSION.search(chunk)):
                            extent = dimension.group(1).decode("ascii", "replace")
                            what = f"declares its used range as {extent}"
                            _check_reference(path, sheet, extent.split(":")[-1], what, limits, most_rows)
                        text = tail + chunk  # a reference cut by the last chunk's end is whole here
                        for found in long_reference.finditer(text):
                            if found.start() and text[found.start() - 1] not in SPACE:
                                continue  # the end of another attribute (sqref="…")
                            reference = found.group(0)[3:-1].decode("ascii")
                            _check_reference(path, sheet, reference, f"has a cell at {reference}", limits, most_rows)
                        tail = text[-OVERLAP:]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise BookError(f"{path}: cannot read as {_kind(path)}: {exc}") from None


def _too_big(path: Path, size: int, limit: int) -> str:
    return (
        f"{path}: the workbook holds {'over ' if size > limit else ''}{size:,} bytes once decompressed, over the "
        f"limit of {limit:,} bytes"
    )


def _check_reference(path: Path, sheet: str, reference: str, what: str, limits: Limits, most_rows: int) -> None:
    matched = REFERENCE.fullmatch(reference)
    if matched is None:
        return  # not a cell reference (calamine says so in its own words, if it matters)
    column, row = column_number(matched.group(1)), int(matched.group(2))
    if column > limits.max_columns:
        raise BookError(
            f"{path}: sheet {sheet!r} {what}, column {column:,}: over the limit of {limits.max_columns:,} columns "
            f"(up to column {column_letters(limits.max_columns)}); the sheet was not loaded"
        )
    if row > most_rows:
        raise BookError(
            f"{path}: sheet {sheet!r} {what}, row {row:,}: over the limit of {limits.max_rows:,} rows; the sheet "
            "was not loaded"
        )


SHEET = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?sheet\b[^>]*>")
RELATIONSHIP = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?Relationship\b[^>]*>")
NAME = re.compile(rb'\bname="([^"]*)"')
SHEET_ID = re.compile(rb'\b[A-Za-z_][\w.-]*:id="([^"]*)"')
REL_ID = re.compile(rb'\bId="([^"]*)"')
TARGET = re.compile(rb'\bTarget="([^"]*)"')
WORKBOOK_BYTES = 10_000_000  # a workbook.xml listing sheets is kilobytes; a bigger one is not read for names


def _worksheet_names(archive: zipfile.ZipFile) -> dict[str, str]:
    """Each worksheet part with its sheet's name as the workbook lists it: the parts the workbook names (wherever
    they are) and every part under xl/worksheets/, named by its file when the workbook does not name it."""
    parts = [item.filename for item in archive.infolist() if re.fullmatch(r"xl/worksheets/[^/]+\.xml", item.filename)]
    names: dict[str, str] = {}
    try:
        workbook = _small_part(archive, "xl/workbook.xml")
        rels = _small_part(archive, "xl/_rels/workbook.xml.rels")
    except KeyError:
        workbook = rels = b""
    targets: dict[bytes, str] = {}
    for tag in RELATIONSHIP.findall(rels):
        rel_id, target = REL_ID.search(tag), TARGET.search(tag)
        if rel_id and target:
            text = target.group(1).decode("utf-8", "replace")
            targets[rel_id.group(1)] = text.lstrip("/") if text.startswith(("/", "xl/")) else "xl/" + text
    for tag in SHEET.findall(workbook):
        name, sheet_id = NAME.search(tag), SHEET_ID.search(tag)
        if name and sheet_id and sheet_id.group(1) in targets:
            names[targets[sheet_id.group(1)]] = html.unescape(name.group(1).decode("utf-8", "replace"))
    return {part: names.get(part, part.rsplit("/", 1)[-1]) for part in [*parts, *names]}


def _small_part(archive: zipfile.ZipFile, name: str) -> bytes:
    if archive.getinfo(name).file_size > WORKBOOK_BYTES:
        return b""
    with archive.open(name) as part:
        return part.read(WORKBOOK_BYTES)


def column_number(letters: str) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def column_letters(number: int) -> str:
    """1 → A, 27 → AA, 16,384 → XFD."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _sheet_rows(sheet: Any, nrows: int | None = None) -> list[list[Any]]:
    rows: list[list[Any]] = sheet.to_python(skip_empty_area=False, nrows=nrows)
    return rows


def header_at(rows: Sequence[Sequence[Any]], columns: ColumnMap) -> int | None:
    """The index of the header row among the first ``HEADER_SEARCH_ROWS`` (of a sheet, or of a CSV file): the
    first that names at least two known columns (rows above it are titles and notes); None when none does."""
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if columns.known_count(row) >= 2:
            return index
    return None


def skipped_note(above: Sequence[Sequence[Any]], header_row: int) -> str:
    """The note that rows above the header were skipped (``header_row``: the header's row number, from 1)."""
    skipped = [cell_text(cell) for row in above for cell in row if cell_text(cell)]
    shown = f" ({'; '.join(str(s) for s in skipped[:3])[:120]})" if skipped else ""
    return f"rows 1–{header_row - 1} above the header skipped{shown}; the header is row {header_row}"


def _serial(value: Any) -> Any:
    """A number in a date column is an Excel serial date (a whole number of days; a time part is kept)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= LAST_SERIAL:
        return value
    whole = int(value)
    if value == whole:
        return EXCEL_EPOCH + timedelta(days=whole)
    return datetime.combine(EXCEL_EPOCH, datetime.min.time()) + timedelta(days=float(value))


def read_excel(path: Path, columns: ColumnMap, sheet: str | None, limits: Limits) -> Book:
    from python_calamine import CalamineWorkbook

    if path.suffix.lower() == ".xls":
        from engine.audit.books.other_books import check_xls

        check_xls(path, limits)
    else:
        check_workbook(path, limits)  # .ods and .xlsb are zip packages too: their decompressed size is bounded
    if path.suffix.lower() == ".xlsb":
        from engine.audit.books.other_books import check_xlsb

        check_xlsb(path, limits)
    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for a damaged or non-Excel file
        raise BookError(f"{path}: cannot read as {_kind(path)}: {exc}") from None
    names = list(workbook.sheet_names)
    if sheet is not None and sheet not in names:
        raise BookError(f"{path}: no sheet named {sheet!r}; the sheets are {', '.join(map(repr, names))}")
    found: tuple[str, int, list[list[Any]]] | None = None
    try:
        for name in [sheet] if sheet is not None else names:
            loaded = workbook.get_sheet_by_name(name)  # parses the sheet's XML: once
            height = loaded.height
            if loaded.width > limits.max_columns:
                raise BookError(
                    f"{path}: sheet {name!r} has {loaded.width:,} columns, over the limit of {limits.max_columns:,} "
                    "columns"
                )
            if height - 1 > limits.max_rows + HEADER_SEARCH_ROWS:
                raise BookError(
                    f"{path}: sheet {name!r} has {height:,} rows, over the limit of {limits.max_rows:,} rows"
                )
            rows = _sheet_rows(loaded)
            at = header_at(rows, columns)
            if at is not None:
                found = (name, at, rows)
                break
        if found is None:
            where = f"sheet {sheet!r}" if sheet is not None else "any sheet"
            first = _sheet_rows(workbook.get_sheet_by_name(names[0]), 1) if names and sheet is None else []
            header = [cell_text(cell) or "" for cell in (first[0] if first else [])]
            raise BookError(
                f"{path}: no header row found in the first {HEADER_SEARCH_ROWS} rows of {where} (a header row "
                f"names at least two known columns such as {', '.join(columns.examples)})"
                + (f"; the first row holds {', '.join(repr(h) for h in header[:20] if h)}" if any(header) else "")
            )
        name, at, rows = found
        if len(rows) - at - 1 > limits.max_rows:
            raise BookError(
                f"{path}: sheet {name!r} has {len(rows) - at - 1:,} rows, over the limit of {limits.max_rows:,} rows"
            )
    except (BookError, MemoryError):
        raise
    except Exception as exc:
        raise BookError(f"{path}: cannot read as {_kind(path)}: {exc}") from None
    return _book(rows, at, name, columns, names)


def _kind(path: Path) -> str:
    return "OpenDocument" if path.suffix.lower() == ".ods" else "Excel"


def _column_text(cells: Sequence[Any], dates: bool) -> pa.Array:
    """One column's cells as the text a CSV would hold (``cell_text``); a column of text cells only, the common
    case, is taken as it is, empty cells made null."""
    if set(map(type, cells)) <= {str}:
        text = pa.array(cells, pa.string())
        return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    if dates:
        cells = [_serial(cell) for cell in cells]
    return pa.array(list(map(cell_text, cells)), pa.string())


def _book(rows: list[list[Any]], at: int, name: str, columns: ColumnMap, names: list[str]) -> Book:
    header = header_names([cell_text(cell) or "" for cell in rows[at]])
    check_header(header)
    width = len(header)
    body, numbers = [], []
    for index in range(at + 1, len(rows)):
        row = rows[index][:width]
        if row.count("") + row.count(None) < len(row):  # a row with something in it (C-speed scans)
            body.append(row + [""] * (width - len(row)))
            numbers.append(index + 1)
    cells_by_column = list(zip(*body)) if body else [() for _ in header]
    arrays = {
        title: _column_text(cells_by_column[k], columns.field(title) in DATE_FIELDS) for k, title in enumerate(header)
    }
    table = pa.table(arrays) if arrays else pa.table({})
    notes = [f"read sheet {name!r}" + (f" of {len(names)}" if len(names) > 1 else "")]
    if at:
        notes.append(skipped_note(rows[:at], at + 1))
    return Book(table, np.asarray(numbers, dtype=np.int64), notes)
