"""The results table of an audit: each row's input columns as read, then its outcome, reason codes, approvers,
figures and errors (a row not decided has no outcome, only its errors); and results.csv written from it.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from engine.audit.csv_out import Leading, write_csv
from engine.audit.lists import _strings, rule_texts
from engine.audit.read import decimal_array
from engine.evaluate.vector import VectorResult
from engine.rulebook.loader import Rulebook
from engine.rulebook.vocabulary import ACTIONS, ENUMS, Kind
from engine.validate.batch import SPECS, ParsedBook

FIGURE_COLUMNS = (
    "lot",
    "gross_weekly_cost",
    "comparable_weekly",
    "benchmark_weekly",
    "over_benchmark_weekly",
    "over_benchmark_percent",
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
    path: Path | str | None, leading: Future[Leading] | None, *args: Any
) -> tuple[pa.Table, dict[str, float]]:
    """The results table (``results_table(*args)``) and, given a path, results.csv (``leading``: its input
    columns as text, made ahead); how long each took."""
    stages = Stages()
    out = results_table(*args)
    stages.done("results")
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_csv(out, Path(path), leading.result() if leading is not None else None)
        stages.done("write_csv")
    return out, stages.timings


def results_table(
    table: pa.Table,
    parsed: ParsedBook,
    result: VectorResult,
    errors: dict[int, dict[str, list[str]]],
    book: Rulebook,
    dates: np.ndarray,
    row_numbers: np.ndarray | None = None,
) -> pa.Table:
    """Input columns as read, then the results; a row not decided has no outcome, only its errors."""
    n = table.num_rows
    valid = parsed.valid.copy()
    valid[list(errors)] = False
    unread = {"row": ["could not be read"]}
    errors = {**{int(k): parsed.errors.get(int(k), unread) for k in np.flatnonzero(~valid)}, **errors}
    outcome = np.where(valid, result.outcome.astype(np.int64), len(ACTIONS))
    with ThreadPoolExecutor(max_workers=1) as other_core:  # the reasons while the figures' columns are made
        texts = other_core.submit(rule_texts, book, result, valid)
        figures = _figure_columns(book, result, valid)
        rule_ids, approvers = texts.result()
    error_text = np.full(n, None, object)
    for index, fields in errors.items():
        error_text[index] = "; ".join(f"{name}: {', '.join(messages)}" for name, messages in fields.items())
    columns: dict[str, pa.Array] = {
        "row": pa.array(np.arange(2, n + 2, dtype=np.int64) if row_numbers is None else row_numbers, pa.int64()),
        "as_at_used": pa.array(dates.astype("datetime64[D]"), pa.date32(), mask=~valid),
        "outcome": _strings(outcome, [*ACTIONS, None]),
        "rule_ids": rule_ids,
        "approvers": approvers,
        **figures,
        "errors": pa.array(error_text, pa.string()),
    }
    out = table
    for name, array in columns.items():
        out = out.append_column(name, array)
    return out


def _figure_columns(book: Rulebook, result: VectorResult, valid: np.ndarray) -> dict[str, pa.Array]:
    """The figures shown in the results, typed (money and percentages exact decimals); null where not shown."""
    columns: dict[str, pa.Array] = {}
    for name in FIGURE_COLUMNS:
        col = result.figures[name]
        shown = col.ok & result.figure_applies[name] & valid
        kind = book.compiled.figure_kinds[name]
        if kind in (Kind.MONEY, Kind.PERCENT):
            columns[OUTPUT_NAMES[name]] = decimal_array(col.v, shown)
        elif kind is Kind.ENUM:
            names = list(ENUMS[str(book.figures[name].enum)])
            columns[OUTPUT_NAMES[name]] = _strings(np.where(shown, col.v, len(names)).astype(np.int64), [*names, None])
        elif kind is Kind.BOOL:
            columns[OUTPUT_NAMES[name]] = pa.array(col.v.astype(bool), pa.bool_(), mask=~shown)
        else:
            columns[OUTPUT_NAMES[name]] = pa.array(col.v, pa.int64(), mask=~shown)
    return columns
