"""An Excel sheet's cells to the book's text columns (``excel_in._book``): a column of text cells is taken in one
call and any other column cell by cell, and a row is skipped only when every cell is empty. Each is checked
against ``cell_text`` applied to every cell, which is what the book's text means."""

from __future__ import annotations

import random
from datetime import date, datetime

import pyarrow as pa

from engine.audit.books.columns import column_map
from engine.audit.books.excel_in import DATE_FIELDS, _book, _serial
from engine.audit.books.read import cell_text

HEADER = ["person_id", "service", "start_date", "age", "core_weekly_fee", "dementia"]
CELLS = ["", None, 0, 0.0, False, True, 17, 985.5, 1092.0000000000002, float("nan"), " ", "x", "0", "false",
         date(2026, 4, 1), datetime(2026, 4, 1, 12, 30), 46113, 46113.5]  # fmt: skip


def _expected(rows: list[list[object]]) -> tuple[dict[str, list[str | None]], list[int]]:
    columns = column_map()
    width = len(HEADER)
    kept = [
        (index + 1, (row[:width] + [""] * width)[:width])
        for index, row in enumerate(rows)
        if index > 0 and any(cell != "" and cell is not None for cell in row[:width])
    ]
    dates = [columns.field(title) in DATE_FIELDS for title in HEADER]
    text = {
        title: [cell_text(_serial(row[k]) if dates[k] else row[k]) for _, row in kept] for k, title in enumerate(HEADER)
    }
    return text, [number for number, _ in kept]


def test_cells_become_the_text_a_csv_holds_and_empty_rows_are_skipped() -> None:
    chosen = random.Random(29)
    rows: list[list[object]] = [list(HEADER)]
    for n in range(400):
        if n % 7 == 0:
            rows.append([""] * len(HEADER))  # empty: skipped
        elif n % 11 == 0:
            rows.append([0] + [""] * (len(HEADER) + 2))  # only a 0 (and cells past the header): kept
        elif n % 13 == 0:
            rows.append([None, False])  # short, only a false: kept
        elif n % 5 == 0:
            rows.append([chosen.choice(CELLS) for _ in range(chosen.randint(0, len(HEADER) + 3))])
        else:  # text cells only in most columns, as a book exported as text
            rows.append([f"P{n:05d}", chosen.choice(["care_home", ""]), "01/04/2026", str(n % 90), "900.00", ""])
    text, numbers = _expected(rows)
    book = _book(rows, 0, "Placements", column_map(), ["Placements"])
    assert book.table.column_names == HEADER
    assert book.row_numbers.tolist() == numbers
    assert all(book.table.column(title).type == pa.string() for title in HEADER)
    assert {title: book.table.column(title).to_pylist() for title in HEADER} == text
    assert 0 < len(numbers) < len(rows) - 1  # some rows kept, some skipped
