"""Batch audits (SPEC §9): every row of a placement book gets an outcome, reason codes, key figures or its
input errors, in input order; the KPIs are computed; what-if runs list the placements whose outcome changes.

``run_audit`` is the library function (the CLI and the API call it); ``engine.audit.output.write_outputs``
writes the results CSV/Excel, the KPIs as JSON and the HTML report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from engine.audit.columns import ColumnMap, load_column_map
from engine.audit.kpis import compute_kpis, default_period
from engine.audit.lists import AtKpiDate, _strings, at_kpi_date, at_one_day, list_masks, rule_texts
from engine.audit.problems import (
    control_character_rows,
    error_lines,
    error_summary,
    group_errors,
    missing_column_warnings,
)
from engine.audit.read import Book, BookError, Limits, decimal_array, load_book, recognise, table_from_frame
from engine.evaluate.engine import Engine
from engine.evaluate.vector import VectorEvaluator, VectorResult, row_dates
from engine.money import to_pence
from engine.rulebook.loader import Rulebook, load_rulebook
from engine.rulebook.vocabulary import ACTIONS, ENUMS, Kind
from engine.rulebook.whatif import changed_parameters, load_overrides, with_overrides
from engine.validate.batch import SPECS, Col, ParsedBook, parse_book, parse_row
from engine.validate.placement import InputError

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
Progress = Callable[[str, int, int], None]
__all__ = ["AuditResult", "BookError", "run_audit"]


@dataclass
class AuditResult:
    """Per-row results (input columns first, unchanged, then the result columns), KPIs and what-if changes."""

    table: pa.Table
    kpis: dict[str, Any]
    warnings: list[str]
    rulebook_version: str
    engine: str
    as_at: date | None
    parsed: ParsedBook
    result: VectorResult
    values: dict[str, Any]
    book: Rulebook
    row_numbers: np.ndarray
    at_kpi: AtKpiDate
    notes: list[str] = field(default_factory=list)
    whatif: dict[str, Any] | None = None
    whatif_changes: pa.Table | None = None
    timings: dict[str, float] = field(default_factory=dict)
    results_csv: Path | None = None  # where run_audit wrote results.csv, if it was asked to

    @property
    def rows(self) -> int:
        rows: int = self.table.num_rows
        return rows

    @property
    def error_rows(self) -> int:
        return int((~self.parsed.valid).sum())

    @property
    def exit_code(self) -> int:
        """0 when every row was decided, 1 when some could not be (2, a book that cannot be used, is raised)."""
        return 1 if self.error_rows else 0

    @property
    def frame(self) -> pd.DataFrame:
        """The results as a DataFrame (arrow-backed: money stays exact decimal)."""
        frame: pd.DataFrame = self.table.to_pandas(types_mapper=pd.ArrowDtype)
        return frame

    def summary(self) -> dict[str, Any]:
        """JSON-ready (Decimals; write with ``engine.decision.dumps``)."""
        return {
            "rulebook_version": self.rulebook_version,
            "engine": self.engine,
            "as_at": self.as_at,
            "rows": self.rows,
            "error_rows": self.error_rows,
            "warnings": self.warnings,
            "notes": self.notes,
            **self.kpis,
            "kpi_date": self.at_kpi.day,
            "lists": {name: int(mask.sum()) for name, mask in list_masks(self).items()},
            "errors": error_summary(group_errors(error_lines(self))),
            "whatif": self.whatif,
        }


def _as_book(source: Any, columns: ColumnMap, sheet: str | None, limits: Limits | None) -> Book:
    if isinstance(source, (str, Path)):
        return load_book(source, columns, sheet, limits)
    if isinstance(source, pd.DataFrame):
        if source.empty:
            raise BookError("the table has no placements")
        table = table_from_frame(source)
    elif isinstance(source, pa.Table):
        if source.num_rows == 0:
            raise BookError("the table has no placements")
        if all(pa.types.is_string(t) or pa.types.is_large_string(t) for t in source.schema.types):
            table = source
        else:
            table = table_from_frame(source.to_pandas())
    else:
        raise BookError(f"cannot audit a {type(source).__name__}: give a CSV/Excel path or a DataFrame")
    # a table is numbered as it would be in a sheet: the header is row 1
    return recognise(Book(table, np.arange(2, table.num_rows + 2, dtype=np.int64)), columns)


def _column_warnings(table: pa.Table) -> tuple[pa.Table, list[str]]:
    unknown = [name for name in table.column_names if name not in SPECS]
    warnings = []
    if unknown:
        warnings.append(f"unknown columns passed through unchanged (check the spelling): {', '.join(unknown)}")
    clash = [name for name in unknown if name in RESULT_COLUMNS]
    if clash:
        table = table.rename_columns([f"input_{n}" if n in clash else n for n in table.column_names])
        warnings.append(
            f"input columns renamed so they do not clash with result columns: "
            f"{', '.join(f'{n} → input_{n}' for n in clash)}"
        )
    return table, warnings


def _rulebook(rules: Rulebook | Path | str | None, parameters: Any) -> tuple[Rulebook, Rulebook]:
    base = rules if isinstance(rules, Rulebook) else load_rulebook(rules) if rules else load_rulebook()
    if parameters is None:
        return base, base
    if isinstance(parameters, Rulebook):
        return base, parameters
    overrides = parameters if isinstance(parameters, dict) else load_overrides(parameters)
    source = str(parameters) if not isinstance(parameters, dict) else "what-if"
    return base, with_overrides(base, overrides, source)


def run_audit(
    source: pd.DataFrame | pa.Table | Path | str,
    as_at: date | None = None,
    period_start: date | None = None,
    parameters: Path | str | dict[str, Any] | Rulebook | None = None,
    engine: Literal["vector", "durable"] = "vector",
    rules: Rulebook | Path | str | None = None,
    progress: Progress | None = None,
    columns: ColumnMap | Path | str | bytes | dict[str, Any] | None = None,
    sheet: str | None = None,
    limits: Limits | None = None,
    results_csv: Path | str | None = None,
) -> AuditResult:
    """Audit a placement book. Raises BookError for a book that cannot be read, RulebookError for bad rules
    or a bad what-if file. ``as_at`` evaluates every row at that date (else each row's ``as_at``, else its
    start date) and ends the KPI period (else the latest start date ends it). ``columns`` maps other column
    spellings to fields; ``sheet`` picks an Excel sheet; ``limits`` bound what is read. ``results_csv``: write
    results.csv there, on the other core while the KPIs are computed (``write_outputs`` then leaves it)."""
    tick = progress or (lambda stage, done, total: None)
    stages = _Stages()
    mapping = columns if isinstance(columns, ColumnMap) else load_column_map(columns)
    read = _as_book(source, mapping, sheet, limits)
    table, warnings = _column_warnings(read.table)
    if read.matched is not None:
        warnings += missing_column_warnings(read.matched)
    base, book = _rulebook(rules, parameters)
    if as_at is not None and as_at < book.earliest_as_at:
        raise BookError(f"--as-at {as_at.isoformat()}: rules are only held from {book.earliest_as_at.isoformat()}")
    stages.done("read")
    tick("validate", 0, table.num_rows)
    parsed = parse_book(table, book)
    for index, fields in control_character_rows(table).items():
        parsed.errors.setdefault(index, {}).update(fields)
        parsed.valid[index] = False
    dates = row_dates(parsed, as_at)
    starts = parsed.cols["start_date"].v[parsed.valid]
    end = as_at or (
        date.fromordinal(date(1970, 1, 1).toordinal() + int(starts.max())) if len(starts) else book.earliest_as_at
    )
    stages.done("validate")
    tick("evaluate", 0, table.num_rows)
    # the second core: the figures at the KPI date while the rows are evaluated at their own dates, then
    # the results table and results.csv while the KPIs are computed (numpy and Arrow's writer release the GIL)
    with ThreadPoolExecutor(max_workers=1) as other_core:
        ahead = None
        if engine != "vector" or not at_one_day(parsed, dates, end):
            ahead = other_core.submit(at_kpi_date, book, parsed, end)
        evaluator = VectorEvaluator(book)
        if engine == "durable":
            result, errors = durable_result(book, table, parsed, as_at, tick)
            values = evaluator.derive(parsed, dates)
        else:
            result, errors = evaluator.evaluate(parsed, dates), parsed.errors
            values = result.values
        kpi_date = ahead.result() if ahead is not None else at_kpi_date(book, parsed, end, (dates, result))
        stages.done("evaluate")
        making = other_core.submit(_results, results_csv, table, parsed, result, errors, book, dates, read.row_numbers)
        tick("kpis", 0, table.num_rows)
        kpis = compute_kpis(book, parsed, values, result, default_period(end, period_start), dates, kpi_date)
        stages.done("kpis")
        out, other = making.result()
        stages.timings.update(other)  # the results table and results.csv, on the other core during the KPIs
        stages.done("results_wait")
    audit = AuditResult(
        out, kpis, warnings, book.version, engine, as_at, parsed, result, values, book, read.row_numbers, kpi_date
    )
    audit.results_csv = Path(results_csv) if results_csv is not None else None
    audit.notes = read.notes
    if book is not base:
        baseline = VectorEvaluator(base).evaluate(parsed, dates)
        audit.whatif, audit.whatif_changes = whatif_summary(base, book, parsed, baseline, result)
        stages.done("whatif")
    audit.timings = stages.timings
    return audit


class _Stages:
    """Wall time of each stage on the audit's own thread, in seconds."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def done(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage], self._last = now - self._last, now


def _results(path: Path | str | None, *args: Any) -> tuple[pa.Table, dict[str, float]]:
    """The results table (``results_table(*args)``) and, given a path, results.csv; how long each took."""
    from engine.audit.output import write_csv

    stages = _Stages()
    out = results_table(*args)
    stages.done("results")
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_csv(out, Path(path))
        stages.done("write_csv")
    return out, stages.timings


def durable_result(
    book: Rulebook, table: pa.Table, parsed: ParsedBook, as_at: date | None, tick: Progress
) -> tuple[VectorResult, dict[int, dict[str, list[str]]]]:
    """The reference path: ``Engine.decide`` one row at a time (slow; for cross-checks)."""
    engine = Engine(book)
    n, rules = table.num_rows, book.rules
    position = {rule.id: k for k, rule in enumerate(rules)}
    fired = np.zeros((n, len(rules)), bool)
    outcome = np.full(n, ACTIONS.index("proceed"), np.int8)
    band = np.full(n, -1, np.int64)
    names: list[str] = []
    shown = [name for name, figure in book.figures.items() if figure.shown]
    kinds = book.compiled.figure_kinds
    figures = {name: Col(np.zeros(n, np.int64), np.zeros(n, bool)) for name in shown}
    applies = {name: np.zeros(n, bool) for name in shown}
    errors: dict[int, dict[str, list[str]]] = {}
    known = [name for name in table.column_names if name in SPECS]
    for index, record in enumerate(table.select(known).to_pylist()):
        try:
            decision = engine.decide(parse_row({k: v for k, v in record.items() if v is not None}, book), as_at)
        except InputError as exc:
            errors[index] = exc.fields
            continue
        outcome[index] = ACTIONS.index(decision.outcome)
        for finding in decision.findings:
            fired[index, position[finding.rule_id]] = True
            if rules[position[finding.rule_id]].approver_from and finding.approver:
                names += [] if finding.approver in names else [finding.approver]
                band[index] = names.index(finding.approver)
        for name, value in decision.figures.items():
            applies[name][index] = True
            if value is not None:
                kind = kinds[name]
                if kind is Kind.ENUM:
                    figures[name].v[index] = ENUMS[str(book.figures[name].enum)].index(value)
                elif kind in (Kind.MONEY, Kind.PERCENT):
                    figures[name].v[index] = to_pence(abs(value)) * (1 if value >= 0 else -1)
                else:
                    figures[name].v[index] = int(value)
                figures[name].ok[index] = True
        if index % 2000 == 1999:
            tick("evaluate", index + 1, n)
    return VectorResult(fired, outcome, band, tuple(names), figures, applies, np.zeros(n, np.int64), {}), errors


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
    rule_ids, approvers, _ = rule_texts(book, result, valid)
    error_text = np.full(n, None, object)
    for index, fields in errors.items():
        error_text[index] = "; ".join(f"{name}: {', '.join(messages)}" for name, messages in fields.items())
    columns: dict[str, pa.Array] = {
        "row": pa.array(np.arange(2, n + 2, dtype=np.int64) if row_numbers is None else row_numbers, pa.int64()),
        "as_at_used": pa.array(dates.astype("datetime64[D]"), pa.date32(), mask=~valid),
        "outcome": _strings(outcome, [*ACTIONS, None]),
        "rule_ids": rule_ids,
        "approvers": approvers,
    }
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
    columns["errors"] = pa.array(error_text, pa.string())
    out = table
    for name, array in columns.items():
        out = out.append_column(name, array)
    return out


def whatif_summary(
    base: Rulebook, book: Rulebook, parsed: ParsedBook, before: VectorResult, after: VectorResult
) -> tuple[dict[str, Any], pa.Table]:
    """Placements whose outcome changes, and the £ a week above the medians / reference rates before and after."""
    from engine.audit.kpis_health import gbp as _gbp
    from engine.explain.decision import parameter_value

    valid = parsed.valid
    changed = valid & ((before.outcome != after.outcome) | (before.fired != after.fired).any(axis=1))
    outcome_changed = valid & (before.outcome != after.outcome)

    def above(result: VectorResult) -> np.ndarray:
        ch, sl = result.figures["over_benchmark_weekly"], result.figures["sl_over_reference_weekly"]
        return np.where(ch.ok, np.maximum(ch.v, 0), 0) + np.where(sl.ok, np.maximum(sl.v, 0), 0)

    above_before, above_after = above(before), above(after)

    def charged(result: VectorResult, name: str) -> np.ndarray:
        """A charging figure per row (0 where it does not apply or cannot be computed)."""
        col = result.figures[name]
        return np.where(valid & col.ok & result.figure_applies[name], col.v, 0)

    income_before, income_after = (charged(r, "resident_contribution_weekly") for r in (before, after))
    net_before, net_after = (charged(r, "council_net_weekly") for r in (before, after))
    transitions: dict[str, int] = {}
    for old, new in zip(before.outcome[outcome_changed].tolist(), after.outcome[outcome_changed].tolist()):
        label = f"{ACTIONS[old]} → {ACTIONS[new]}"
        transitions[label] = transitions.get(label, 0) + 1
    gross = after.figures["gross_weekly_cost"]
    rows = np.flatnonzero(outcome_changed)
    ids = [rule.id for rule in book.rules]

    def fired_text(result: VectorResult, k: int | np.integer[Any]) -> str:
        return " ".join(i for i, hit in zip(ids, result.fired[k]) if hit)

    bench_before, bench_after = before.figures["benchmark_weekly"], after.figures["benchmark_weekly"]
    placement_id = parsed.placement_id.to_pylist() if parsed.placement_id is not None else [None] * parsed.n
    changes = pa.table(
        {
            "row": pa.array(rows + 1, pa.int64()),
            "placement_id": pa.array([placement_id[k] for k in rows], pa.string()),
            "outcome_before": pa.array([ACTIONS[before.outcome[k]] for k in rows], pa.string()),
            "outcome_after": pa.array([ACTIONS[after.outcome[k]] for k in rows], pa.string()),
            "rule_ids_before": pa.array([fired_text(before, k) for k in rows], pa.string()),
            "rule_ids_after": pa.array([fired_text(after, k) for k in rows], pa.string()),
            "gross_weekly_cost": decimal_array(gross.v[rows], gross.ok[rows]),
            "benchmark_weekly_before": decimal_array(bench_before.v[rows], bench_before.ok[rows]),
            "benchmark_weekly_after": decimal_array(bench_after.v[rows], bench_after.ok[rows]),
            "above_rate_weekly_before": decimal_array(above_before[rows], np.ones(len(rows), bool)),
            "above_rate_weekly_after": decimal_array(above_after[rows], np.ones(len(rows), bool)),
        }
    )
    parameters = [
        {
            **change,
            "was": parameter_value(book.parameters[change["name"]], change["was"])
            if change["was"] != "(none)"
            else None,
            "now": parameter_value(book.parameters[change["name"]], change["now"]),
        }
        for change in changed_parameters(base, book)
    ]
    summary = {
        "base_version": base.version,
        "whatif_version": book.version,
        "parameters_changed": parameters,
        "placements_outcome_changed": int(outcome_changed.sum()),
        "placements_findings_changed": int(changed.sum()),
        "transitions": transitions,
        "pounds_weekly": {
            "gross_of_changed_placements": _gbp(int(gross.v[outcome_changed & gross.ok].sum())),
            "above_medians_and_reference_rates_before": _gbp(int(above_before[valid].sum())),
            "above_medians_and_reference_rates_after": _gbp(int(above_after[valid].sum())),
            "change": _gbp(int(above_after[valid].sum() - above_before[valid].sum())),
        },
        "charging_weekly": {
            "placements_contribution_changed": int((income_before != income_after).sum()),
            "client_income_before": _gbp(int(income_before.sum())),
            "client_income_after": _gbp(int(income_after.sum())),
            "client_income_change": _gbp(int(income_after.sum() - income_before.sum())),
            "council_net_before": _gbp(int(net_before.sum())),
            "council_net_after": _gbp(int(net_after.sum())),
            "council_net_change": _gbp(int(net_after.sum() - net_before.sum())),
        },
    }
    return summary, changes
