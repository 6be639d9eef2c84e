"""CSV files out: every formula-looking text cell neutralised, always the bytes of one pass of Arrow's CSV
writer over the neutralised table (strings quoted, nulls empty, ``\\n`` line ends), after UTF-8's byte order
mark, so that Excel, opening the file with a double click, reads it as UTF-8 (``£`` and accented names intact).

A big table is turned into text a block of rows at a time, two blocks at once (Arrow's writer releases the
GIL), and written in order. The columns a table starts with can be turned into text ahead (``leading_text``:
an audit does this for its input columns on the other core before the rows are evaluated), held compressed
(lz4: about a third of the text) until its block is written; the rest of each row is then joined to them. A block
whose text has a line break inside a cell is simply written in one pass.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from engine.audit.books.compact import as_text
from engine.audit.outputs.safe import neutralise_table

BOM = b"\xef\xbb\xbf"  # UTF-8's byte order mark: Excel opens the file as UTF-8 (£, accents), not the ANSI code page
CSV_BLOCK_ROWS = 65_536  # a big table is turned into text a block at a time, two blocks at once
_LINE_END, _COMMA = ord("\n"), ord(",")
_HELD = pa.Codec("lz4")  # the text made ahead is held compressed until written: lossless, the same bytes back


def _text(table: pa.Table, header: bool) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    options = pa_csv.WriteOptions(include_header=header, quoting_style="needed")
    pa_csv.write_csv(neutralise_table(table), sink, write_options=options)
    return sink.getvalue()


def _rows(text: pa.Buffer, rows: int, comma: bool) -> pa.Array | None:
    """A block's text (no header) as one binary value per row, each ending in its line end, or in a comma in
    its place (``comma``: more cells follow). None when a cell holds a line break: then the text has more line
    ends than rows and the rows cannot be told apart this way."""
    data = np.frombuffer(text, np.uint8)
    ends = np.flatnonzero(data == _LINE_END)
    if len(ends) != rows:
        return None
    if comma:
        data = data.copy()
        data[ends] = _COMMA
    offsets = np.zeros(rows + 1, np.int64)
    offsets[1:] = ends + 1
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(data) if comma else text]
    return pa.Array.from_buffers(pa.large_binary(), rows, buffers)


@dataclass(frozen=True)
class Packed:
    """One block's text of the first columns, one value a row (its cells and the comma after them), with the
    text held compressed: ``unpacked`` gives the values back."""

    rows: int
    offsets: pa.Buffer
    size: int
    text: bytes  # exactly its compressed size (Arrow's own buffer for it keeps the room it was given)

    @staticmethod
    def of(values: pa.Array) -> Packed:
        text = values.buffers()[2]
        return Packed(len(values), values.buffers()[1], text.size, _HELD.compress(text, asbytes=True))

    def unpacked(self) -> pa.Array:
        text = _HELD.decompress(self.text, self.size, asbytes=False)
        return pa.Array.from_buffers(pa.large_binary(), self.rows, [None, self.offsets, text])


@dataclass(frozen=True)
class Leading:
    """The first columns of a table as CSV text, a block of ``CSV_BLOCK_ROWS`` rows at a time: per row, its
    cells and the comma after them, held compressed (None for a block with a line break in a cell).
    ``write_csv`` lets go of each block once it is written (None then), so the text is held no longer than
    needed."""

    names: tuple[str, ...]
    rows: int
    block_rows: int
    blocks: list[Packed | None]


def leading_text(table: pa.Table) -> Leading:
    """These columns as text now, for a table that will have more columns when it is written."""
    blocks: list[Packed | None] = []
    for start in range(0, table.num_rows, CSV_BLOCK_ROWS):
        part = table.slice(start, CSV_BLOCK_ROWS)
        values = _rows(_text(part, header=False), part.num_rows, comma=True)
        blocks.append(None if values is None else Packed.of(values))
    return Leading(tuple(table.column_names), table.num_rows, CSV_BLOCK_ROWS, blocks)


def _joined(first: pa.Array, rest: pa.Array) -> pa.Buffer:
    """Each row's first cells then the rest of its cells: the block's text."""
    joined = pc.binary_join_element_wise(first, rest, pa.scalar(b"", pa.large_binary()))
    end = int(np.frombuffer(joined.buffers()[1], np.int64)[joined.offset + len(joined)])
    return joined.buffers()[2][:end]


def header_text(names: list[str]) -> bytes:
    """The start of a CSV file with these column names: the UTF-8 byte order mark, then the header line."""
    line: bytes = _text(pa.schema([(name, pa.string()) for name in names]).empty_table(), header=True).to_pybytes()
    return BOM + line


def usable(leading: Leading | None, names: list[str], rows: int) -> Leading | None:
    """``leading`` if it is the text of the first columns (not all) of a table with these column names and rows,
    in this module's blocks; else None."""
    if leading is None or (
        leading.rows != rows
        or leading.block_rows != CSV_BLOCK_ROWS
        or not 0 < len(leading.names) < len(names)
        or leading.names != tuple(names[: len(leading.names)])
    ):
        return None
    return leading


def block_text(part: pa.Table, start: int, leading: Leading | None) -> pa.Buffer:
    """The text (no header) of the block of rows from ``start``: ``part``, with every column. ``leading``: the
    text of its first columns, made ahead (taken from ``leading``, which then lets go of it)."""
    first = None
    if leading is not None:
        first, leading.blocks[start // CSV_BLOCK_ROWS] = leading.blocks[start // CSV_BLOCK_ROWS], None
    if leading is not None and first is not None:
        others = part.select(range(len(leading.names), part.num_columns))
        rest = _rows(_text(others, header=False), part.num_rows, comma=False)
        if rest is not None:
            return _joined(first.unpacked(), rest)
    return _text(as_text(part), header=False)  # an input table held as dictionaries (books/compact.py): as text


def write_csv(
    table: pa.Table, path: Path, leading: Leading | None = None, written: Callable[[int], None] | None = None
) -> None:
    """A CSV with every formula-looking text cell neutralised. A big table's blocks of rows are turned into text
    on two threads and written in order: the same bytes as one pass. ``leading``: ``leading_text`` of the
    table's first columns (used when it matches the table's columns, rows and blocks). ``written`` is told the
    rows of each block once it is written (a progress bar)."""
    if table.num_rows <= CSV_BLOCK_ROWS:
        with open(path, "wb") as small:
            small.write(BOM)
            small.write(_text(table, header=True))
        if written is not None:
            written(table.num_rows)
        return
    leading = usable(leading, table.column_names, table.num_rows)
    starts = range(0, table.num_rows, CSV_BLOCK_ROWS)
    with ThreadPoolExecutor(max_workers=2) as pool, open(path, "wb") as handle:
        handle.write(header_text(table.column_names))
        blocks = deque(pool.submit(block_text, table.slice(start, CSV_BLOCK_ROWS), start, leading) for start in starts)
        for start in starts:
            handle.write(blocks.popleft().result())
            if written is not None:
                written(min(CSV_BLOCK_ROWS, table.num_rows - start))
