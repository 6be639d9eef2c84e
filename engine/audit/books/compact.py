"""A big book's input columns held in less memory once they are parsed: a low-cardinality column (flags, names,
dates, small whole numbers) as a dictionary of its distinct texts with one narrow index a row (int8 or int16)
instead of Arrow's text with its 32-bit offset a row: on a 1,000,000-row book about a quarter of the input
table's memory instead of all of it for those columns. The cells are the same: taking rows and ``to_pylist``
give the same texts; ``as_text`` gives the text columns back wherever the columns are written out.
"""

from __future__ import annotations

import pyarrow as pa


def compact(table: pa.Table, encoded: dict[str, pa.Array]) -> pa.Table:
    """``table`` with these columns in place of its own (each the same cells: a dictionary form from
    ``parse_columns``, or a text column the parsed book holds in one piece)."""
    for name, array in encoded.items():
        if name in table.column_names and len(array) == table.num_rows:
            index = table.column_names.index(name)
            table = table.set_column(index, table.field(index).with_type(array.type), pa.chunked_array([array]))
    return table


def as_text(table: pa.Table) -> pa.Table:
    """``table`` with every dictionary column decoded back to text (the same table when it has none)."""
    for index, kind in enumerate(table.schema.types):
        if pa.types.is_dictionary(kind):
            column = table.column(index)
            decoded = pa.chunked_array([chunk.dictionary_decode() for chunk in column.chunks], kind.value_type)
            table = table.set_column(index, table.field(index).with_type(kind.value_type), decoded)
    return table
