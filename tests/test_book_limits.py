"""A book's longest cell, read off the text columns' offsets, is the longest cell's bytes: chunks, slices, nulls
and characters of more than one byte included."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from engine.audit.books.read import _longest_bytes

CELLS = st.lists(st.none() | st.text(max_size=12), min_size=0, max_size=8)


@given(st.lists(CELLS, min_size=1, max_size=4), st.integers(0, 3), st.booleans())
def test_longest_cell_bytes_as_each_cell_counts_them(chunks: list[list[str | None]], cut: int, large: bool) -> None:
    arrays = [pa.array(cells, pa.large_string() if large else pa.string())[cut:] for cells in chunks]
    column = pa.chunked_array(arrays, pa.large_string() if large else pa.string())
    cells = [cell for array in arrays for cell in array.to_pylist() if cell is not None]
    assert _longest_bytes(column) == (max(len(cell.encode()) for cell in cells) if cells else None)
