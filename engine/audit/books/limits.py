"""What a book may hold before it is refused unread, and the error for a book that cannot be used: kept apart from
``engine.audit.books.book`` (which re-exports them) so that a workbook can be checked and parsed ahead on a thread
(``engine.audit.books.excel_ahead``) before the engine's heavier modules are imported."""

from __future__ import annotations

from dataclasses import dataclass

HEADER_SEARCH_ROWS = 20  # the header is the first of the first 20 rows naming two known columns (SPEC §11)


class BookError(ValueError):
    """A placement book that cannot be used at all (missing, unreadable, empty, over a limit, no known column)."""


@dataclass(frozen=True)
class Limits:
    """What a book may hold before it is refused unread (the API passes tighter ones)."""

    max_rows: int = 5_000_000
    max_cell_chars: int = 32_767  # Excel's own limit for a cell
    max_xlsx_bytes: int = 2_000_000_000  # an .xlsx's parts once decompressed
    max_columns: int = 1_000  # an Excel sheet's used range, checked before the sheet is loaded (excel_in.py)
