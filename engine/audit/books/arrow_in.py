"""Typed tables in (a DataFrame, an Arrow table, a Parquet file): every column turned into the text a CSV would
hold, column by column with Arrow's kernels, not cell by cell.

The text is what ``engine.audit.books.book.cell_text`` gives for each cell (a test holds them equal): whole numbers
without a decimal point, ``true``/``false``, dates as ``YYYY-MM-DD``, a timestamp at midnight as its date,
decimals as written (``1040.00``), floats as Excel shows them (15 significant digits). A column Arrow cannot
type (a pandas object column mixing numbers and text) is turned into text cell by cell, as before.

Parquet: a float column that a field reads as money (``pence``) is refused — a float cannot hold every amount of
pence exactly, and the book would be audited on figures it does not state. Cast it to a decimal (DuckDB:
``CAST(weekly_fee AS DECIMAL(12,2))``) or write it as text. The row count, the columns and the size of the
row groups once decompressed are read from the file's footer and checked against the limits before any column is
read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from engine.audit.books.book import Book, BookError, Limits, cell_text, check_header
from engine.audit.books.columns import ColumnMap
from engine.validate.batch import SPECS

WHOLE_FLOATS = 1e15  # a float below this that is a whole number is written without a decimal point (cell_text)
_NULL_TEXT = pa.scalar(None, pa.string())


def _cells(values: list[Any]) -> pa.Array:
    return pa.array([cell_text(value) for value in values], pa.string())


def _float_text(array: pa.Array) -> pa.Array:
    """Floats as ``cell_text`` writes them: whole numbers as integers, the rest to 15 significant digits."""
    values = array.to_numpy(zero_copy_only=False).astype(np.float64)
    finite = ~np.isnan(values)
    whole = finite & (np.floor(values) == values) & (np.abs(values) < WHOLE_FLOATS)
    text = pc.cast(pa.array(np.where(whole, values, 0).astype(np.int64)), pa.string())
    if bool(whole[finite].all()):
        return pc.if_else(pa.array(whole), text, _NULL_TEXT)
    others = np.flatnonzero(finite & ~whole)  # the rare float that is not whole: Python's own formatting
    shown = np.array(text.to_pylist(), dtype=object)
    shown[others] = [f"{value:.15g}" for value in values[others]]
    shown[~finite] = None
    return pa.array(shown.tolist(), pa.string())


def text_array(array: pa.Array) -> pa.Array:
    """One typed Arrow column as text cells (see the module's docstring); empty text is null."""
    kind = array.type
    if pa.types.is_dictionary(kind):
        return text_array(array.dictionary_decode())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = array.cast(pa.string())
        return pc.if_else(pc.equal(text, ""), _NULL_TEXT, text)
    if pa.types.is_null(kind):
        return pa.nulls(len(array), pa.string())
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_date(kind):
        return pc.cast(array, pa.string())  # 1040, true/false, 2025-04-01: as cell_text writes them
    if pa.types.is_decimal(kind):
        return pc.cast(array, pa.string()) if kind.scale >= 0 else _cells(array.to_pylist())
    if pa.types.is_floating(kind):
        return _float_text(array)
    if pa.types.is_timestamp(kind) and kind.tz is None:
        midnight = pc.equal(pc.floor_temporal(array, unit="day"), array)
        if array.null_count == len(array) or pc.all(midnight).as_py():  # dates held as timestamps
            return pc.cast(pc.cast(array, pa.date32()), pa.string())
    return _cells(array.to_pylist())  # times of day, zones, lists, binary: cell by cell, as before


def text_table(table: pa.Table) -> pa.Table:
    """Every column of a typed table as text cells (see ``text_array``)."""
    header = [str(name) for name in table.column_names]
    check_header(header)
    columns = [text_array(column.combine_chunks()) for column in table.columns]
    return pa.table(dict(zip(header, columns))) if columns else pa.table({})


def _column_array(series: pd.Series) -> pa.Array:
    try:
        return pa.Array.from_pandas(series)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError):
        return _cells(series.tolist())  # mixed types in an object column: cell by cell


def table_from_frame(frame: pd.DataFrame) -> pa.Table:
    """A DataFrame as text cells, each column converted by Arrow (``pa.Array.from_pandas``) and then to text by
    Arrow's kernels; a column Arrow cannot type is converted cell by cell."""
    header = [str(name) for name in frame.columns]
    check_header(header)
    columns = [text_array(_column_array(frame.iloc[:, k])) for k in range(frame.shape[1])]
    return pa.table(dict(zip(header, columns)))


def read_parquet(path: Path, columns: ColumnMap, limits: Limits) -> Book:
    """A Parquet book: the row count checked from the footer, money columns checked not to be floats, then every
    column as text cells."""
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        rows = parquet.metadata.num_rows
        schema = parquet.schema_arrow
    except (pa.ArrowException, OSError) as exc:
        raise BookError(f"{path}: cannot read as Parquet: {str(exc).splitlines()[0]}") from None
    if rows > limits.max_rows:
        raise BookError(f"{path}: the book has {rows:,} rows, over the limit of {limits.max_rows:,} rows")
    size = sum(parquet.metadata.row_group(k).total_byte_size for k in range(parquet.metadata.num_row_groups))
    if size > limits.max_xlsx_bytes:  # the row groups' sizes uncompressed, as the footer declares them
        raise BookError(
            f"{path}: the book holds {size:,} bytes once decompressed, over the limit of {limits.max_xlsx_bytes:,} "
            "bytes"
        )
    if len(schema) > limits.max_columns:
        raise BookError(
            f"{path}: the book has {len(schema):,} columns, over the limit of {limits.max_columns:,} columns"
        )
    for name, kind in zip(schema.names, schema.types):
        known = columns.field(str(name))
        if known is not None and SPECS[known].kind == "pence" and pa.types.is_floating(kind):
            raise BookError(
                f"{path}: column {name!r} ({known}) is a {kind} float column: money must be a decimal or text, as "
                f"a float cannot hold every amount of pence exactly (cast it, e.g. CAST({name} AS DECIMAL(12,2)))"
            )
    try:
        table = parquet.read()
    except (pa.ArrowException, OSError) as exc:
        raise BookError(f"{path}: cannot read as Parquet: {str(exc).splitlines()[0]}") from None
    text = text_table(table)
    notes = [f"read as Parquet: {table.num_rows:,} rows, {table.num_columns} columns"]
    return Book(text, np.arange(2, text.num_rows + 2, dtype=np.int64), notes)
