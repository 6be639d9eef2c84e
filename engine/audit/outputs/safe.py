"""Text cells that are safe to write and to read back.

- No spreadsheet formula reaches an output: a text cell beginning with ``=``, ``+``, ``-`` or ``@``, with a tab,
  carriage return, line feed or NUL (OWASP's CSV injection list; spreadsheets skip leading white space before a
  formula), or with a full-width ``＝ ＋ － ＠`` (which some spreadsheets in East Asian locales read as their
  ASCII forms) is written with a leading ``'`` in every CSV and Excel file (a negative number written as text,
  ``-5`` or ``-1040.00``, is a number and stays as it is). Every writer passes its table through
  ``neutralise_table``; other cells are written byte for byte as before.
- Control characters are looked for in a column's raw bytes first (two vector reductions), so a clean
  million-row book costs milliseconds; only a column that may hold one is searched cell by cell.

Both work on the Arrow buffers directly: the first byte of every cell, or all of a column's bytes.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

FORMULA_FIRST = "=+-@\t\r\n\0"
FULL_WIDTH = "\uff1d\uff0b\uff0d\uff20"  # ＝ ＋ － ＠: their UTF-8 begins with the byte 0xEF
FORMULA_FIRST_BYTE = np.zeros(256, bool)
FORMULA_FIRST_BYTE[np.frombuffer(FORMULA_FIRST.encode() + b"\xef", np.uint8)] = True
NEGATIVE_NUMBER = re.compile(r"-[0-9]+(\.[0-9]+)?")


def is_formula_like(text: str | None) -> bool:
    """A cell a spreadsheet could take for a formula (see the module's docstring)."""
    if not text:
        return False
    first = text[0]
    if first == "-":
        return not NEGATIVE_NUMBER.fullmatch(text)
    return first in FORMULA_FIRST or first in FULL_WIDTH


def _is_text(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _chunks(column: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return list(column.chunks) if isinstance(column, pa.ChunkedArray) else [column]


def text_offsets(chunk: pa.Array) -> np.ndarray:
    """A text chunk's offsets (int32, or int64 for large strings), from its first cell to one past its last."""
    kind = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    return np.frombuffer(chunk.buffers()[1], kind)[chunk.offset : chunk.offset + len(chunk) + 1]


def _bytes(chunk: pa.Array) -> np.ndarray:
    data = chunk.buffers()[2]
    if data is None or len(chunk) == 0:
        return np.zeros(0, np.uint8)
    offsets = text_offsets(chunk)
    return np.frombuffer(data, np.uint8)[int(offsets[0]) : int(offsets[-1])]


def may_hold_control_characters(column: pa.Array | pa.ChunkedArray) -> bool:
    """False when no byte of any cell is below 0x20 or is DEL (a quick test before a cell-by-cell search)."""
    return _is_text(column.type) and any(
        data.size and (int(data.min()) < 0x20 or bool((data == 0x7F).any())) for data in map(_bytes, _chunks(column))
    )


def _may_be_formulas(chunk: pa.Array) -> np.ndarray:
    """The cells whose first byte may begin a formula (and some null cells and other characters whose UTF-8
    begins with 0xEF: the caller checks)."""
    offsets = text_offsets(chunk)
    data = chunk.buffers()[2]
    if data is None or len(chunk) == 0 or offsets[-1] == offsets[0]:
        return np.zeros(0, np.int64)
    starts = offsets[:-1]
    first = np.frombuffer(data, np.uint8)[: int(offsets[-1])].take(starts, mode="clip")  # an empty cell: any byte
    risky = FORMULA_FIRST_BYTE.take(first)
    if not risky.any():  # most columns: no cell can be a formula
        return np.zeros(0, np.int64)
    return np.flatnonzero(risky & (offsets[1:] > starts))


def _neutralise_chunk(chunk: pa.Array) -> pa.Array | None:
    risky = _may_be_formulas(chunk)
    if len(risky) == 0:
        return None
    texts = chunk.take(pa.array(risky, pa.int64())).to_pylist()
    fix = np.zeros(len(chunk), bool)
    fix[risky] = [is_formula_like(text) for text in texts]
    if not fix.any():
        return None
    mark, nothing = pa.scalar("'", chunk.type), pa.scalar("", chunk.type)  # a large_string column's own type
    return pc.if_else(pa.array(fix), pc.binary_join_element_wise(mark, chunk, nothing), chunk)


def neutralise(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A text column with every formula-looking cell prefixed by ``'``; other types unchanged."""
    if not _is_text(column.type):
        return column
    chunks = _chunks(column)
    fixed = [_neutralise_chunk(chunk) for chunk in chunks]
    if all(chunk is None for chunk in fixed):
        return column
    out = [new if new is not None else old for old, new in zip(chunks, fixed)]
    return pa.chunked_array(out, column.type) if isinstance(column, pa.ChunkedArray) else out[0]


def neutralise_table(table: pa.Table) -> pa.Table:
    for index, name in enumerate(table.column_names):
        column = table.column(index)
        safe = neutralise(column)
        if safe is not column:
            table = table.set_column(index, name, safe)
    return table
