"""CSV files out: every formula-looking text cell neutralised, always the bytes of one pass of Arrow's CSV
writer over the neutralised table (strings quoted, nulls empty, ``\\n`` line ends), after UTF-8's byte order
mark, so that Excel, opening the file with a double click, reads it as UTF-8 (``£`` and accented names intact).

A big table is turned into text a block of rows at a time, two blocks at once (Arrow's writer releases the
GIL), and written in order. The columns a table starts with can be turned into text ahead (``leading_text``:
an audit does this for its input columns on the other core before the rows are evaluated), held compressed
(lz4: about a third of the text) until its block is written; the rest of each row is then joined to them. A block
whose text has a line break inside a cell is simply written in one pass.

Several files of rows of one table (an audit's lists: a placement is often in more than one) are written from one
text of each row (``write_csv_subsets``): each row's cells are turned into text once, a block of rows at a time on
two threads, and every file takes the text of its rows; the same bytes as ``write_csv`` of each file's own table.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from engine.audit.books.compact import as_text
from engine.audit.outputs.safe import neutralise_table

BOM = b"\xef\xbb\xbf"  # UTF-8's byte order mark: Excel opens the file as UTF-8 (£, accents), not the ANSI code page
CSV_BLOCK_ROWS = 65_536  # a big table is turned into text a block at a time, two blocks at once
# the rows Arrow's writer turns into text at once (its default, 1,024, spends about a sixth of the time again on
# each batch's setup); the same bytes whatever the number
CSV_BATCH_ROWS = 16_384
BLOCKS_AHEAD = 3  # several files of one table's rows (write_csv_subsets): blocks made ahead of the one written
_LINE_END, _COMMA = ord("\n"), ord(",")
_HELD = pa.Codec("lz4")  # the text made ahead is held compressed until written: lossless, the same bytes back


def _text(table: pa.Table, header: bool) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    options = pa_csv.WriteOptions(include_header=header, quoting_style="needed", batch_size=CSV_BATCH_ROWS)
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
    text held compressed as the writer made it (each row's line end in place of its comma: no copy of the text
    to put the commas in): ``unpacked`` gives the values back, commas put in the decompressed text."""

    rows: int
    offsets: pa.Buffer
    size: int
    text: bytes  # exactly its compressed size (Arrow's own buffer for it keeps the room it was given)

    @staticmethod
    def of(values: pa.Array) -> Packed:
        text = values.buffers()[2]
        return Packed(len(values), values.buffers()[1], text.size, _HELD.compress(text, asbytes=True))

    def unpacked(self) -> pa.Array:
        text = _HELD.decompress(self.text, self.size, asbytes=False)  # a fresh buffer of its own: writable
        ends = np.frombuffer(self.offsets, np.int64)[1 : self.rows + 1] - 1
        np.frombuffer(text, np.uint8)[ends] = _COMMA  # each row's line end (every one is one) made its comma
        return pa.Array.from_buffers(pa.large_binary(), self.rows, [None, self.offsets, text])


class HeldText(Protocol):
    """A block's text of the first columns, one value a row, given back when its block is written (``Packed``; or
    ``csv_as_read.AsRead``, read back from the book's file: None if the file has changed since)."""

    @property
    def rows(self) -> int: ...

    def unpacked(self) -> pa.Array | None: ...


@dataclass(frozen=True)
class Leading:
    """The first columns of a table as CSV text, a block of ``CSV_BLOCK_ROWS`` rows at a time: per row, its
    cells and the comma after them, held compressed (None for a block with a line break in a cell).
    ``write_csv`` lets go of each block once it is written (None then), so the text is held no longer than
    needed."""

    names: tuple[str, ...]
    rows: int
    block_rows: int
    blocks: list[HeldText | None]


def leading_text(table: pa.Table) -> Leading:
    """These columns as text now, for a table that will have more columns when it is written."""
    blocks: list[HeldText | None] = []
    for start in range(0, table.num_rows, CSV_BLOCK_ROWS):
        part = table.slice(start, CSV_BLOCK_ROWS)
        values = _rows(_text(part, header=False), part.num_rows, comma=False)  # the commas: when unpacked
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
    values = first.unpacked() if leading is not None and first is not None else None
    if leading is not None and values is not None:
        others = part.select(range(len(leading.names), part.num_columns))
        rest = _rows(_text(others, header=False), part.num_rows, comma=False)
        if rest is not None:
            return _joined(values, rest)
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


def _taken(values: pa.Array, at: np.ndarray) -> pa.Buffer:
    """The text of the rows at ``at`` (sorted positions) of a block's per-row text, one after the other."""
    if len(at) == len(values):
        whole: pa.Buffer = values.buffers()[2]
        return whole
    taken = pc.take(values, pa.array(at, pa.int64()))
    end = int(np.frombuffer(taken.buffers()[1], np.int64)[len(taken)])
    return taken.buffers()[2][:end] if end else pa.py_buffer(b"")


def _subset_texts(
    make: Callable[[np.ndarray], pa.Table], rows: np.ndarray, masks: Sequence[np.ndarray]
) -> tuple[list[str], list[tuple[int, pa.Buffer]]]:
    """One block: its table (``make(rows)``) turned into text once, then each mask's rows of it (their count and
    text). A block with a line break in a cell: each mask's rows of it in one pass."""
    table = make(rows)
    text = _text(table, header=False)
    values = _rows(text, len(rows), comma=False)
    parts = []
    for mask in masks:
        at = np.flatnonzero(mask[rows])
        if values is not None:
            parts.append((len(at), _taken(values, at)))
        else:
            parts.append((len(at), _text(table.take(pa.array(at, pa.int64())), header=False)))
    return list(table.column_names), parts


def write_csv_subsets(
    make: Callable[[np.ndarray], pa.Table],
    masks: dict[Path, np.ndarray],
    written: Callable[[int], None] | None = None,
) -> None:
    """A CSV file of each mask's rows of one table, whose rows (an index of each, ascending) ``make`` makes: the
    same bytes as ``write_csv(make(np.flatnonzero(mask)), path)`` for each. A row in several masks is made and
    turned into text once (the rows of any mask, a block of ``CSV_BLOCK_ROWS`` at a time on two threads), and
    every file takes its rows' text, written in order. ``make`` is called from two threads at once. ``written``
    is told the rows of each block of each file once written."""
    paths, chosen = list(masks), list(masks.values())
    rows = np.flatnonzero(np.logical_or.reduce(chosen)) if chosen else np.zeros(0, np.int64)
    starts = range(0, max(len(rows), 1), CSV_BLOCK_ROWS)  # no row: one empty block gives the column names
    with ThreadPoolExecutor(max_workers=2) as pool, contextlib.ExitStack() as files:
        handles = [files.enter_context(open(path, "wb")) for path in paths]
        ahead: deque[Future[tuple[list[str], list[tuple[int, pa.Buffer]]]]] = deque()
        following = iter(starts)
        for start in following:
            ahead.append(pool.submit(_subset_texts, make, rows[start : start + CSV_BLOCK_ROWS], chosen))
            if len(ahead) == BLOCKS_AHEAD:
                break
        first = True
        while ahead:
            names, parts = ahead.popleft().result()
            more = next(following, None)
            if more is not None:
                ahead.append(pool.submit(_subset_texts, make, rows[more : more + CSV_BLOCK_ROWS], chosen))
            if first:
                header, first = header_text(names), False
                for handle in handles:
                    handle.write(header)
            for handle, (count, text) in zip(handles, parts):
                handle.write(text)
                if written is not None and count:
                    written(count)
