"""Excel books in (python-calamine): the header row found below title rows, cells read as values (date cells,
numbers, serial dates in date columns, cached formula results), with the .xlsx's decompressed size and each
sheet's used range bounded before the sheet is parsed (``engine.audit.books.excel_ahead``, which also parses a
book ahead while the command line starts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.audit.books.book import HEADER_SEARCH_ROWS, Book, BookError, Limits, cell_text, check_header
from engine.audit.books.columns import ColumnMap, header_names
from engine.audit.books.excel_ahead import _kind, check_workbook, taken
from engine.audit.books.excel_ahead import column_letters as column_letters
from engine.audit.books.excel_ahead import column_number as column_number
from engine.audit.outputs.xlsx import EXCEL_EPOCH
from engine.validate.batch import SPECS

LAST_SERIAL = 2_958_465  # 9999-12-31
DATE_FIELDS = frozenset(name for name, spec in SPECS.items() if spec.kind == "day")


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
    ahead = None if path.suffix.lower() == ".xls" else taken(path, sheet, limits)  # checked and parsed already
    if ahead is None and path.suffix.lower() != ".xls":
        check_workbook(path, limits)  # .ods and .xlsb are zip packages too: their decompressed size is bounded
    if path.suffix.lower() == ".xlsb":
        from engine.audit.books.other_books import check_xlsb

        check_xlsb(path, limits)
    try:
        workbook = ahead.workbook if ahead is not None else CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for a damaged or non-Excel file
        raise BookError(f"{path}: cannot read as {_kind(path)}: {exc}") from None
    names = list(workbook.sheet_names)
    if sheet is not None and sheet not in names:
        raise BookError(f"{path}: no sheet named {sheet!r}; the sheets are {', '.join(map(repr, names))}")
    found: tuple[str, int, list[list[Any]]] | None = None
    try:
        for name in [sheet] if sheet is not None else names:
            parsed = ahead if ahead is not None and ahead.name == name else None
            loaded = parsed.sheet if parsed else workbook.get_sheet_by_name(name)  # parses the sheet's XML: once
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
            rows = parsed.rows if parsed and parsed.rows is not None else _sheet_rows(loaded)
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


def _column_text(cells: Sequence[Any], dates: bool) -> pa.Array:
    """One column's cells as the text a CSV would hold (``cell_text``); a column of text and empty cells only, the
    common case, is taken as it is in one call (Arrow refuses any other type of cell), empty cells made null."""
    try:
        text = pa.array(cells, pa.string())
    except pa.ArrowTypeError:  # numbers, dates, booleans: cell by cell
        pass
    else:
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
        row = rows[index]
        if len(row) != width:
            row = row[:width] + [""] * (width - len(row))
        # a row with something in it: a cell that is true (most rows, at their first cell), else one that is
        # neither empty nor None (a 0 or a false); C-speed scans
        if any(row) or row.count("") + row.count(None) < width:
            body.append(row)
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
