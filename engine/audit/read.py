"""Placement books in and results out: CSV and Excel as tables of text cells (pyarrow), no float money."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv


class BookError(ValueError):
    """A placement book that cannot be read at all (missing, unreadable, empty, not CSV/Excel)."""


def cell_text(value: Any) -> str | None:
    """One cell as the text a CSV would hold: None for empty; no float noise, no exponent for whole numbers."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return text if text != "" else None


def table_from_rows(header: list[str], rows: Iterable[Iterable[Any]]) -> pa.Table:
    columns: list[list[str | None]] = [[] for _ in header]
    for row in rows:
        cells = list(row)
        cells += [None] * (len(header) - len(cells))
        for column, value in zip(columns, cells):
            column.append(cell_text(value))
    return pa.table({name: pa.array(column, pa.string()) for name, column in zip(header, columns)})


def table_from_records(records: list[dict[str, Any]]) -> pa.Table:
    header = list(dict.fromkeys(key for record in records for key in record))
    return table_from_rows(header, ([record.get(key) for key in header] for record in records))


def table_from_frame(frame: pd.DataFrame) -> pa.Table:
    header = [str(name) for name in frame.columns]
    _check_header(header)
    return table_from_rows(header, frame.itertuples(index=False, name=None))


def _check_header(header: list[str]) -> None:
    if not header or all(not name.strip() for name in header):
        raise BookError("the file has no header row of column names")
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise BookError(f"the header names a column more than once: {', '.join(duplicates)}")


def read_book(path: Path | str) -> pa.Table:
    """Read a CSV or Excel placement book as text cells; raise BookError with a readable reason."""
    path = Path(path)
    if not path.exists():
        raise BookError(f"{path}: no such file")
    if path.is_dir():
        raise BookError(f"{path}: is a folder, not a CSV or Excel file")
    if path.stat().st_size == 0:
        raise BookError(f"{path}: the file is empty")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        table = _read_excel(path)
    elif suffix in (".csv", ".txt"):
        table = _read_csv(path)
    else:
        raise BookError(f"{path}: give a .csv or .xlsx file (got {suffix or 'no extension'})")
    if table.num_rows == 0:
        raise BookError(f"{path}: the file has a header but no placements")
    return table


def _read_csv(path: Path) -> pa.Table:
    try:
        with open(path, "rb") as handle:
            header_line = handle.readline().decode("utf-8-sig").strip()
        if not header_line:
            raise BookError(f"{path}: the first line is empty: expected a header row of column names")
        header: dict[str, Any] = next(
            iter(
                pa_csv.read_csv(
                    pa.py_buffer(header_line.encode() + b"\n"),
                    read_options=pa_csv.ReadOptions(autogenerate_column_names=True),
                ).to_pylist()
            ),
            {},
        )
        names = [str(value) for value in header.values()]
        _check_header(names)
        return pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(block_size=1 << 24),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                strings_can_be_null=True,
                null_values=[""],
                quoted_strings_can_be_null=True,
            ),
        )
    except UnicodeDecodeError:
        raise BookError(f"{path}: not a text CSV file (is it UTF-8?)") from None
    except pa.ArrowInvalid as exc:
        raise BookError(f"{path}: cannot read as CSV: {str(exc).splitlines()[0]}") from None


def _read_excel(path: Path) -> pa.Table:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or non-Excel file
        raise BookError(f"{path}: cannot read as Excel: {exc}") from None
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        first = next(rows, None)
        if first is None:
            raise BookError(f"{path}: the first sheet is empty")
        header = [cell_text(value) or "" for value in first]
        while header and not header[-1]:
            header.pop()
        _check_header(header)
        body = (row[: len(header)] for row in rows if any(value is not None for value in row))
        return table_from_rows(header, body)
    finally:
        workbook.close()


def decimal_array(values: Any, ok: Any, scale: int = 2) -> pa.Array:
    """int64 pence (or hundredths) → an exact decimal128 array, written as ``1040.00`` in CSV. No floats."""
    import numpy as np

    values = np.ascontiguousarray(values, dtype=np.int64)
    ok = np.asarray(ok, dtype=bool)
    data = np.empty(2 * len(values), np.int64)
    data[0::2], data[1::2] = values, values >> 63
    bitmap = np.packbits(ok, bitorder="little")
    return pa.Array.from_buffers(
        pa.decimal128(18, scale),
        len(values),
        [pa.py_buffer(bitmap.tobytes()), pa.py_buffer(data.tobytes())],
        null_count=int((~ok).sum()),
    )
