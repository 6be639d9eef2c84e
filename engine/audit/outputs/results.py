"""The results table of an audit: each row's input columns as read, then its outcome, reason codes, approvers,
figures and errors (a row not decided has no outcome, only its errors); and results.csv, made with it a block
of rows at a time.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Collection
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from engine.audit.books.read import decimal_array
from engine.audit.lists.tables import _strings, figure_shown, rule_texts
from engine.audit.outputs.csv_out import CSV_BLOCK_ROWS, Leading, block_text, header_text, usable
from engine.evaluate.vector import VectorResult
from engine.language.vocabulary import ACTIONS, ENUMS, Kind
from engine.rulebook.loader import Rulebook
from engine.validate.batch import SPECS, ParsedBook

FIGURE_COLUMNS = (
    "lot",
    "gross_weekly_cost",
    "comparable_weekly",
    "benchmark_weekly",
    "over_benchmark_weekly",
    "over_benchmark_percent",
    "care_cubed_weekly",
    "over_care_cubed_weekly",
    "over_care_cubed_percent",
    "fnc_used_weekly",
    "personal_budget_weekly",
    "top_up_required_weekly",
    "sl_reference_weekly",
    "sl_over_reference_weekly",
    "expected_nhs_share_weekly",
    # charging (a financial assessment recorded)
    "capital_counted",
    "tariff_income_weekly",
    "assessable_income_weekly",
    "resident_contribution_weekly",
    "council_net_weekly",
    "self_funding",
    "payment_model",
    "council_to_provider_weekly",
    "contribution_to_provider_weekly",
    "contribution_to_council_weekly",
    "top_up_to_provider_weekly",
    "top_up_to_council_weekly",
)
# a figure that is also an input field gets its own name in the results, so the input column stays as it was
OUTPUT_NAMES = {
    name: (f"{name.removesuffix('_weekly')}_used" + ("_weekly" if name.endswith("_weekly") else ""))
    if name in SPECS
    else name
    for name in FIGURE_COLUMNS
}
RESULT_COLUMNS = ("row", "as_at_used", "outcome", "rule_ids", "approvers", *OUTPUT_NAMES.values(), "errors")


class Stages:
    """Wall time of each stage on the audit's own thread, in seconds."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def done(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage], self._last = now - self._last, now


def results_and_csv(
    path: Path | str | None, leading: Future[Leading] | None, *args: Any, keep: Collection[str] | None = None
) -> tuple[pa.Table, dict[str, float]]:
    """The results table: input columns as read, then the results (a row not decided has no outcome, only its
    errors; ``args``: those of ``_Rows``); and, given a path, results.csv (``leading``: its input columns as
    text, made ahead). Both are made a block of rows at a time on two threads, each block's text written as
    soon as the blocks before it are. ``keep``: only these result columns are kept in the table returned (the
    others are let go once their block's text is written: results.csv has them all)."""
    stages = Stages()
    rows = _Rows(*args)
    table = rows.table
    stages.done("results_prepared")
    names = [*table.column_names, *RESULT_COLUMNS]
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    ahead = usable(leading.result() if leading is not None and path is not None else None, names, table.num_rows)
    made: list[dict[str, pa.Array]] = []
    with ThreadPoolExecutor(max_workers=2) as pool, open(path, "wb") if path is not None else nullcontext() as out:
        blocks = deque(
            pool.submit(rows.block, start, ahead, out is not None) for start in range(0, table.num_rows, CSV_BLOCK_ROWS)
        )
        while blocks:
            columns, text = blocks.popleft().result()
            if out is not None:
                assert text is not None  # asked for whenever there is a file
                if not made:
                    out.write(header_text(names))
                out.write(text)
            made.append(columns if keep is None else {name: columns[name] for name in columns if name in keep})
    whole = table
    for name in made[0]:
        whole = whole.append_column(name, pa.chunked_array([block[name] for block in made], made[0][name].type))
    stages.done("results_and_csv")
    return whole, stages.timings


class _Rows:
    """What the results of every block of rows read: which rows were decided, their outcomes, reasons and
    errors (made once for the whole book, each a code per row or a text only where there is one)."""

    def __init__(
        self,
        table: pa.Table,
        parsed: ParsedBook,
        result: VectorResult,
        errors: dict[int, dict[str, list[str]]],
        book: Rulebook,
        dates: np.ndarray,
        row_numbers: np.ndarray | None,
    ) -> None:
        n = table.num_rows
        self.table, self.result, self.book, self.dates = table, result, book, dates
        self.row_numbers = np.arange(2, n + 2, dtype=np.int64) if row_numbers is None else row_numbers
        valid = parsed.valid.copy()
        valid[list(errors)] = False
        self.valid = valid
        unread = {"row": ["could not be read"]}
        errors = {**{int(k): parsed.errors.get(int(k), unread) for k in np.flatnonzero(~valid)}, **errors}
        self.outcome = np.where(valid, result.outcome.astype(np.int64), len(ACTIONS))
        self.reasons, ids, approvers = rule_texts(book, result, valid)
        self.rule_ids, self.approvers = pa.array([*ids, None], pa.string()), pa.array([*approvers, None], pa.string())
        self.errors = np.full(n, None, object)
        for index, fields in errors.items():
            self.errors[index] = "; ".join(f"{name}: {', '.join(messages)}" for name, messages in fields.items())

    def block(self, start: int, leading: Leading | None, text: bool) -> tuple[dict[str, pa.Array], pa.Buffer | None]:
        """The result columns of the block of rows from ``start`` and (``text``) its CSV text."""
        rows = slice(start, start + CSV_BLOCK_ROWS)
        valid = self.valid[rows]
        reasons = pa.array(self.reasons[rows])
        columns: dict[str, pa.Array] = {
            "row": pa.array(self.row_numbers[rows], pa.int64()),
            "as_at_used": pa.array(self.dates[rows].astype("datetime64[D]"), pa.date32(), mask=~valid),
            "outcome": _strings(self.outcome[rows], [*ACTIONS, None]),
            "rule_ids": self.rule_ids.take(reasons),
            "approvers": self.approvers.take(reasons),
            **_figure_columns(self.book, self.result, valid, rows),
            "errors": pa.array(self.errors[rows], pa.string()),
        }
        if not text:
            return columns, None
        part = self.table.slice(start, CSV_BLOCK_ROWS)
        for name, array in columns.items():
            part = part.append_column(name, array)
        return columns, block_text(part, start, leading)


def _figure_columns(book: Rulebook, result: VectorResult, valid: np.ndarray, rows: slice) -> dict[str, pa.Array]:
    """The figures shown in the results of these rows (``valid``: theirs), typed (money and percentages exact
    decimals); null where not shown."""
    columns: dict[str, pa.Array] = {}
    for name in FIGURE_COLUMNS:
        values = result.figures[name].v[rows]
        shown = figure_shown(result, name, rows) & valid
        kind = book.compiled.figure_kinds[name]
        if kind in (Kind.MONEY, Kind.PERCENT):
            columns[OUTPUT_NAMES[name]] = decimal_array(values, shown)
        elif kind is Kind.ENUM:
            names = list(ENUMS[str(book.figures[name].enum)])
            columns[OUTPUT_NAMES[name]] = _strings(np.where(shown, values, len(names)).astype(np.int64), [*names, None])
        elif kind is Kind.BOOL:
            columns[OUTPUT_NAMES[name]] = pa.array(values.astype(bool), pa.bool_(), mask=~shown)
        else:
            columns[OUTPUT_NAMES[name]] = pa.array(values, pa.int64(), mask=~shown)
    return columns
