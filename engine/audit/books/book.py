"""A placement book as read: its cells as text with the spreadsheet's row numbers, the limits it is read within,
and the error for a book that cannot be used. Both readers (CSV, ``read``; Excel, ``excel_in``) make one."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from engine.audit.books.columns import Matched, duplicates
from engine.audit.books.limits import HEADER_SEARCH_ROWS as HEADER_SEARCH_ROWS
from engine.audit.books.limits import BookError as BookError
from engine.audit.books.limits import Limits as Limits


@dataclass(frozen=True)
class CsvSource:
    """Where a CSV book's cells were read from: the file as it was read (``identity``: its resolved path, size, time
    and inode, ``csv_ahead.file_identity``) and the byte its first row of cells begins at. A reader gives one only
    for a UTF-8, comma-separated file with every column read (``engine/audit/outputs/csv_as_read.py`` may then take
    the rows' text as read)."""

    path: Path
    identity: tuple[Any, ...]
    start: int


@dataclass
class Book:
    """The cells as text, the spreadsheet's own row number for each row, and what the reading noticed; ``source``:
    the CSV file they were read from, when a reader gives it."""

    table: pa.Table
    row_numbers: np.ndarray  # int64, as the spreadsheet numbers its rows (header and title rows included)
    notes: list[str] = field(default_factory=list)
    matched: Matched | None = None
    source: CsvSource | None = None


def cell_text(value: Any) -> str | None:
    """One cell as the text a CSV would hold: None for empty; no float noise, no exponent for whole numbers."""
    if type(value) is str:  # the common case first
        return value or None
    if value is None or value is _nat() or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):  # as Excel shows it: 15 significant digits (1092.0000000000002 → 1092)
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.15g}"
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return text if text != "" else None


def _nat() -> Any:
    """pandas' missing time (``pd.NaT``), or None when pandas is not imported (then no cell can be one): pandas is
    imported by what uses it, not by every read."""
    pandas = sys.modules.get("pandas")
    return getattr(pandas, "NaT", None)  # (None too while pandas is still being imported)


def check_header(header: list[str]) -> None:
    if not header or all(not name.strip() for name in header):
        raise BookError("the file has no header row of column names")
    twice = duplicates(header)
    if twice:
        shown = ", ".join(repr(name) for name in twice[:10]) + (
            f" and {len(twice) - 10} more" if len(twice) > 10 else ""
        )
        raise BookError(f"the header names a column more than once: {shown}")
