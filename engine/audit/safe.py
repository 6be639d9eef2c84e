"""No spreadsheet formula reaches an output: a text cell beginning with ``=``, ``+``, ``-`` or ``@`` is written
with a leading ``'`` in every CSV and Excel file (a negative number written as text, ``-5`` or ``-1040.00``,
is a number and stays as it is). Every writer passes its table through ``neutralise_table``."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

FORMULA_START = r"^[=+\-@]"
NEGATIVE_NUMBER = r"^-[0-9]+(\.[0-9]+)?$"


def neutralise(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A text column with every formula-looking cell prefixed by ``'``; other types unchanged."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return column
    risky = pc.fill_null(pc.match_substring_regex(column, FORMULA_START), False)
    if not pc.any(risky).as_py():
        return column
    risky = pc.and_(risky, pc.invert(pc.fill_null(pc.match_substring_regex(column, NEGATIVE_NUMBER), False)))
    return pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)


def neutralise_table(table: pa.Table) -> pa.Table:
    for index, name in enumerate(table.column_names):
        column = table.column(index)
        safe = neutralise(column)
        if safe is not column:
            table = table.set_column(index, name, safe)
    return table
