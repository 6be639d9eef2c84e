"""The input columns of results.csv taken from the book's own bytes, when the book is already written as they
would be.

results.csv starts each row with the book's cells as read. Arrow's writer writes a text cell in quotes, an empty
cell as nothing and a comma between cells; a book written that way (as carerules' own files, the bundled sample
and many systems' exports are) already holds, row by row, the very bytes the writer would make of its cells. Then
there is nothing to turn into text: each block's rows are read back from the file when results.csv is written.

The file is taken as it is only when a scan of its bytes proves it (``as_read``; anything else and the cells are
turned into text as before, ``csv_out.leading_text``):

- read as UTF-8 and comma-separated, every column read (``books.read`` gives a ``CsvSource`` only then), and not
  changed since (its size, time and inode, checked again before each block is read back);
- every quote opens or closes a quoted cell (none doubled, so no cell is ``""`` or holds a quote), and outside the
  quotes there is nothing but commas and line feeds (no carriage return, no unquoted cell text);
- no line feed inside a quoted cell, and as many rows (line feeds, or the end of the file) as the book has rows;
- the cells' bytes, their quotes, commas and line ends add up to the rows' bytes;
- a block of rows with a cell that would be neutralised (``safe.is_formula_like``) is turned into text as before.

Then each row's bytes parse (RFC 4180, as Arrow's reader read them) into exactly the cells the table holds, and the
writer writes those cells back as exactly those bytes. The scan is a few vector passes over 4 MiB at a time (the
quotes' parity within 64-bit words by shifts, across words by one running xor): a fifth of the time that turning
the cells into text takes, and nothing held but where each row ends.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from engine.audit.books.book import CsvSource
from engine.audit.books.csv_ahead import stat_identity
from engine.audit.outputs.csv_out import CSV_BLOCK_ROWS, HeldText, Leading, leading_text
from engine.audit.outputs.safe import FULL_WIDTH, is_formula_like, text_offsets

__all__ = ["AsRead", "as_read", "input_text", "same_cells"]

SCAN_BYTES = 1 << 22  # the file is scanned 4 MiB at a time
_QUOTE, _LINE_FEED, _COMMA = ord('"'), ord("\n"), ord(",")
_WORD = 64  # bits in a word of the scan's masks
_ONE, _TOP = np.uint64(1), np.uint64(_WORD - 1)
_ALL = ~np.uint64(0)
_SHIFTS = tuple(np.uint64(1 << k) for k in range(_WORD.bit_length() - 1))  # 1, 2, 4 ... 32: a word's prefix xor
# the first bytes that may begin a formula, as ranges (a superset of safe.FORMULA_FIRST's and FULL_WIDTH's)
_LOW_UP_TO = np.uint8(ord("\r"))  # NUL, tab, line feed, carriage return and the control bytes among them
_SIGNS, _SIGNS_SPAN = np.uint8(ord("+")), ord("-") - ord("+")  # + , -
_EQUALS, _EQUALS_SPAN = np.uint8(ord("=")), ord("@") - ord("=")  # = > ? @
_FULL_WIDTH_FROM = np.uint8(min(character.encode()[0] for character in FULL_WIDTH))


def input_text(table: pa.Table, source: CsvSource | None) -> Leading:
    """The input columns' text for results.csv: the book's own rows when its bytes are theirs (``as_read``), else
    the cells turned into text (``leading_text``)."""
    taken = as_read(source, table) if source is not None else None
    return taken if taken is not None else leading_text(table)


def same_cells(table: pa.Table, read: pa.Table) -> bool:
    """Whether ``table`` holds exactly ``read``'s columns, in order (renamed or not): the same Arrow buffers."""

    def buffers(column: pa.ChunkedArray) -> list[tuple[int, int, list[int | None]]]:
        return [(c.offset, len(c), [b.address if b is not None else None for b in c.buffers()]) for c in column.chunks]

    return table.num_columns == read.num_columns and all(
        buffers(mine) == buffers(theirs) for mine, theirs in zip(table.columns, read.columns)
    )


@dataclass(frozen=True)
class AsRead:
    """One block's rows as the file holds them: from byte ``offset``, ``size`` bytes, each row's line end at
    ``ends`` (from the block's start; the last may be the file's end, with no line feed)."""

    path: os.PathLike[str] | str
    identity: tuple[object, ...]
    offset: int
    size: int
    ends: np.ndarray

    @property
    def rows(self) -> int:
        return len(self.ends)

    def unpacked(self) -> pa.Array | None:
        """The block's rows, one value each: its cells and a comma in place of its line end (as
        ``csv_out.Packed.unpacked``); None if the file is no longer the one read."""
        text = np.empty(self.size, np.uint8)
        try:
            with open(self.path, "rb", buffering=0) as handle:
                if not _unchanged(handle, self.identity):
                    return None
                handle.seek(self.offset)
                got = 0
                while got < self.size and (more := handle.readinto(text[got:].data)):
                    got += more
        except OSError:  # gone or unreadable since the scan
            return None
        if got not in (self.size, self.size - 1) or (got == self.size - 1 and self.ends[-1] != got):
            return None  # shorter than when scanned (a last row without a line feed: one byte short)
        text[self.ends] = _COMMA
        offsets = np.empty(self.rows + 1, np.int64)
        offsets[0] = 0
        offsets[1:] = self.ends + 1
        return pa.Array.from_buffers(pa.large_binary(), self.rows, [None, pa.py_buffer(offsets), pa.py_buffer(text)])


def as_read(source: CsvSource, table: pa.Table) -> Leading | None:
    """``table``'s text (its cells, read from ``source``) a block of rows at a time, taken from the file; None when
    the file is not proved to hold exactly that text (see the module's docstring)."""
    try:
        with open(source.path, "rb", buffering=0) as handle:
            if not _unchanged(handle, source.identity):
                return None
            scanned = _scan(handle, source.start)
            if scanned is None:
                return None
            ends, size, openers = scanned
            n = table.num_rows
            if len(ends) != n or size != _cells_bytes(table) or n == 0:
                return None
            written = _neutralised_blocks(handle, openers, ends)
    except OSError:
        return None
    starts = np.empty(n, np.int64)
    starts[0], starts[1:] = source.start, ends[:-1] + 1
    blocks: list[HeldText | None] = []
    for first in range(0, n, CSV_BLOCK_ROWS):
        last = min(first + CSV_BLOCK_ROWS, n) - 1
        offset = int(starts[first])
        if first // CSV_BLOCK_ROWS in written:
            blocks.append(None)  # a cell to neutralise: turned into text as before
            continue
        blocks.append(
            AsRead(source.path, source.identity, offset, int(ends[last]) + 1 - offset, ends[first : last + 1] - offset)
        )
    return Leading(tuple(table.column_names), n, CSV_BLOCK_ROWS, blocks)


def _unchanged(handle: io.FileIO, identity: tuple[object, ...]) -> bool:
    """Whether the open file is the one read: its size, time and inode as ``csv_ahead.file_identity`` gave them."""
    return stat_identity(os.fstat(handle.fileno())) == identity[1:]


def _cells_bytes(table: pa.Table) -> int:
    """The bytes of the table's rows as Arrow's writer writes them, cells not neutralised: each cell's text in
    quotes (an empty cell, null, nothing), a comma between cells and a line feed after each row."""
    total = int(table.num_rows) * int(table.num_columns)  # the commas and line ends
    for column in table.columns:
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            return -1
        for chunk in column.chunks:
            if len(chunk) == 0:
                continue
            offsets = text_offsets(chunk)
            total += int(offsets[-1]) - int(offsets[0]) + 2 * (len(chunk) - chunk.null_count)
    return total


def _words(mask: np.ndarray) -> np.ndarray:
    """A byte mask as 64-bit words, byte ``8w + k``'s bit at bit ``k`` of word ``w``."""
    return np.packbits(mask, bitorder="little").view(np.uint64)


def _scan(handle: io.FileIO, start: int) -> tuple[np.ndarray, int, np.ndarray] | None:
    """Each row's line end (the file's end for a last row without one), the rows' bytes and the positions of the
    quotes opening a cell whose first byte may begin a formula; None unless every quote opens or closes a cell, no
    two are side by side, only commas and line feeds are outside them and no line feed is inside."""
    handle.seek(start)
    data = np.zeros(SCAN_BYTES, np.uint8)
    ends: list[np.ndarray] = []
    openers: list[np.ndarray] = []
    inside = last_quote = last_opener = 0  # carried from one piece to the next
    at = start
    while (got := handle.readinto(data.data) or 0) > 0:
        if got < SCAN_BYTES:
            data[got:] = _COMMA  # what is past the end: allowed outside, checked by the count below
        quotes = _words(data == _QUOTE)
        is_feed = data == _LINE_FEED  # also where each row ends, below
        feeds = _words(is_feed)
        parity = quotes.copy()  # each byte's count of quotes up to it within its word, odd or even
        for shift in _SHIFTS:
            parity ^= parity << np.uint64(shift)
        odd = (parity >> _TOP).astype(np.uint8)  # each word's quotes, odd or even
        before = np.bitwise_xor.accumulate(odd) ^ odd ^ np.uint8(inside)  # inside a quoted cell as each word begins
        parity ^= before.astype(np.uint64) * _ALL  # inside a quoted cell after each byte
        within = parity ^ quotes  # inside before each byte: a quote there closes a cell
        previous = np.empty_like(quotes)  # each word's bits moved up one byte, the last byte before it first
        previous[0], previous[1:] = last_quote, quotes[:-1] >> _TOP
        if (quotes & ((quotes << _ONE) | previous)).any() or (feeds & within).any():
            return None
        if (~within & ~quotes & ~feeds & ~_words(data == _COMMA)).any():
            return None  # outside the quotes, something but a comma or a line feed
        opening = quotes & ~within
        previous[0], previous[1:] = last_opener, opening[:-1] >> _TOP
        first = ((opening << _ONE) | previous) & _words(_risky(data))
        if first.any():
            openers.append(_set_bits(first) + at - 1)
        ends.append(np.flatnonzero(is_feed[:got]) + at)
        word, end_bit = divmod(got - 1, _WORD)
        inside = int((parity[word] >> np.uint64(end_bit)) & _ONE)
        last_quote = int((quotes[word] >> np.uint64(end_bit)) & _ONE)
        last_opener = int((opening[word] >> np.uint64(end_bit)) & _ONE)
        at += got
        if got < SCAN_BYTES:
            break
    if inside:
        return None
    size = at - start
    rows = np.concatenate(ends) if ends else np.zeros(0, np.int64)
    if size and (len(rows) == 0 or rows[-1] != at - 1):
        rows = np.append(rows, at)  # a last row without a line feed ends with the file
        size += 1  # its line end, written
    found = np.concatenate(openers) if openers else np.zeros(0, np.int64)
    return rows, size, found


def _set_bits(words: np.ndarray) -> np.ndarray:
    """The positions of the set bits of a few words among many (ascending)."""
    found = np.flatnonzero(words)
    bits = np.unpackbits(words[found].view(np.uint8), bitorder="little").reshape(len(found), _WORD)
    word, bit = np.nonzero(bits)
    return found[word] * _WORD + bit


def _risky(data: np.ndarray) -> np.ndarray:
    """The bytes that may begin a formula or a control character (a superset of ``safe.FORMULA_FIRST``'s first
    bytes: every byte up to a carriage return, ``+ , -``, ``= > ? @`` and from 0xEF up): in range tests."""
    signs, equals = (data - _SIGNS) <= _SIGNS_SPAN, (data - _EQUALS) <= _EQUALS_SPAN  # wrapping below: large
    return (data <= _LOW_UP_TO) | signs | equals | (data >= _FULL_WIDTH_FROM)


def _neutralised_blocks(handle: io.FileIO, openers: np.ndarray, ends: np.ndarray) -> set[int]:
    """The blocks of rows with a cell that would be neutralised: each cell whose first byte may begin a formula is
    read (from the file scanned) and tested."""
    blocks: set[int] = set()
    rows = np.searchsorted(ends, openers)
    for opener, row in zip(openers.tolist(), rows.tolist()):
        block = row // CSV_BLOCK_ROWS
        if block in blocks:
            continue
        handle.seek(opener + 1)
        cell = (handle.read(int(ends[row]) - opener) or b"").split(b'"', 1)[0]
        if is_formula_like(cell.decode("utf-8", errors="replace")):
            blocks.add(block)
    return blocks
