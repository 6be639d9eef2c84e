"""run_audit(DataFrame): the cell-by-cell conversion it had (engine.audit.books.read.table_from_rows) against the
Arrow one it has (engine.audit.books.arrow_in.table_from_frame), on a sample book's rows, both as object columns and as
pandas' string columns (``pd.read_csv(dtype=str)``). Best and median of 3. Usage:
``.venv/bin/python scripts/bench_frame_conversion.py [rows]``."""

from __future__ import annotations

import io
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from engine.audit.books.arrow_in import table_from_frame
from engine.audit.books.read import check_header, table_from_rows
from engine.audit.books.sample import sample_book
from engine.audit.run import run_audit


def cell_by_cell(frame: pd.DataFrame) -> Any:
    header = [str(name) for name in frame.columns]
    check_header(header)
    return table_from_rows(header, frame.itertuples(index=False, name=None))


def timed(make: Callable[[], Any]) -> tuple[float, float, Any]:
    times, out = [], None
    for _ in range(3):
        start = time.perf_counter()
        out = make()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), out


def main(rows: int) -> None:
    objects = sample_book(rows, 2026).to_pandas()
    objects = objects.astype(object).where(objects.notna(), None)
    text = io.StringIO()
    objects.to_csv(text, index=False)
    text.seek(0)
    strings = pd.read_csv(text, dtype=str, keep_default_na=False, na_values=[""])
    print(f"{rows:,} rows, {objects.shape[1]} columns")
    for name, frame in [("object columns", objects), ("read_csv(dtype=str)", strings)]:
        old, new = timed(lambda f=frame: cell_by_cell(f)), timed(lambda f=frame: table_from_frame(f))
        assert old[2].equals(new[2]), "the conversions differ"
        print(f"{name}: cell by cell {old[0]:.3f} s (median {old[1]:.3f}), Arrow {new[0]:.4f} s (median {new[1]:.4f})")
    old, new = timed(lambda: run_audit(cell_by_cell(objects))), timed(lambda: run_audit(objects))
    print(f"run_audit, object columns: converted cell by cell {old[0]:.2f} s, through Arrow {new[0]:.2f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
