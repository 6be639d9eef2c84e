"""Parquet files out (``carerules audit --format parquet``): the results, the lists, the errors and the what-if
changes as a warehouse or DuckDB reads them.

The tables are written as the audit holds them: money as ``decimal(18,2)`` pounds (exact, as in results.csv;
never a float), hours and miles as ``decimal(18,4)``, counts as integers, dates as dates, the input columns as
the text they were read as. Text is not neutralised for Excel (no spreadsheet opens Parquet), so a cell is
exactly what was read. Compressed with zstd, a row group per block of rows, so ``written`` (a progress bar) is
told as each block is written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

PARQUET_BLOCK_ROWS = 131_072  # rows in a row group: a block written at a time


def write_parquet(table: pa.Table, path: Path, written: Callable[[int], None] | None = None) -> None:
    import pyarrow.parquet as pq  # here: a CSV audit does not import Parquet's writer

    with pq.ParquetWriter(path, table.schema, compression="zstd") as writer:
        for start in range(0, max(table.num_rows, 1), PARQUET_BLOCK_ROWS):
            part = table.slice(start, PARQUET_BLOCK_ROWS)
            writer.write_table(part, row_group_size=PARQUET_BLOCK_ROWS)
            if written is not None:
                written(part.num_rows)
