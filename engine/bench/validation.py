"""``carerules bench validate``: column-wise validation of a sample book written clean and written the way council
exports write it (``£1,040.00``, ``04/05/2026``, ``Care Home``, ``Yes``, ``82.0``). Both must give the same rows
valid and the same errors; the export style should cost little more, as its leniency is vectorised (or per
distinct value), never per row. Not run by the tests."""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from engine.bench.decisions import machine


def people_style(table: pa.Table) -> pa.Table:
    """The same book as an export writes it: £ and thousands commas, day-first dates, Title Case names,
    Yes/No, whole numbers as ``82.0``."""
    from engine.validate.batch import SPECS

    columns = {}
    for name in table.column_names:
        column, kind = table.column(name), SPECS[name].kind if name in SPECS else None
        if kind == "pence":
            thousands = pc.replace_substring_regex(column, r"^(\d{1,3})(\d{3})\.", r"\1,\2.")
            column = pc.binary_join_element_wise("£", thousands, "")
        elif kind == "day":
            column = pc.replace_substring_regex(column, r"^(\d{4})-(\d{2})-(\d{2})$", r"\3/\2/\1")
        elif kind == "enum":
            column = pc.utf8_title(pc.replace_substring(column, "_", " "))
        elif kind == "flag":
            column = pc.replace_substring_regex(pc.replace_substring_regex(column, "^true$", "Yes"), "^false$", "No")
        elif kind == "whole":
            column = pc.binary_join_element_wise(column, ".0", "")
        columns[name] = column
    return pa.table(columns)


def validation_benchmark(rows: int, repeats: int = 3) -> dict[str, Any]:
    from engine.audit.books.sample import sample_book
    from engine.rulebook.loader import load_rulebook
    from engine.validate.batch import parse_book

    rules = load_rulebook()
    clean = sample_book(rows, seed=rows)
    books = {"clean": clean, "as_exports_write_it": people_style(clean)}
    runs: dict[str, Any] = {}
    for label, table in books.items():
        best, parsed = float("inf"), None
        for _ in range(repeats):
            start = time.perf_counter()
            parsed = parse_book(table, rules)
            best = min(best, time.perf_counter() - start)
        assert parsed is not None
        runs[label] = {
            "validate_s": round(best, 3),
            "valid_rows": int(parsed.valid.sum()),
            "errors": len(parsed.errors),
        }
    return {
        "benchmark": "column-wise validation (engine.validate.batch.parse_book), best of "
        f"{repeats}, of a {rows:,}-row sample book written clean and as exports write it",
        "rows": rows,
        "runs": runs,
        "same_result": runs["clean"]["valid_rows"] == runs["as_exports_write_it"]["valid_rows"]
        and runs["clean"]["errors"] == runs["as_exports_write_it"]["errors"],
        "machine": machine(),
    }
