"""Both evaluators, row by row: the same outcome, fired rule ids, approvers and figures (SPEC §2, §10)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa

from engine.decide import Engine
from engine.evaluate.vector import VectorEvaluator, VectorResult, row_dates
from engine.language.vocabulary import ACTIONS, Kind
from engine.money import pounds
from engine.validate.batch import SPECS, parse_book, parse_row
from engine.validate.placement import InputError

Row = tuple[str, tuple[str, ...], tuple[str, ...], dict[str, Any]]


def figure_value(kind: Kind, value: int, names: tuple[Any, ...] | None = None) -> Any:
    if names is not None:  # an enum figure: its name
        return names[value]
    if kind is Kind.MONEY:
        return pounds(value)
    if kind is Kind.PERCENT:
        return Decimal(value).scaleb(-2)
    return value


def vector_row(
    kinds: dict[str, Kind],
    result: VectorResult,
    rule_ids: tuple[str, ...],
    actions: tuple[str, ...],
    approvers: tuple[str | None, ...],
    index: int,
) -> Row:
    fired = tuple(rule_ids[k] for k in np.flatnonzero(result.fired[index]))
    band = result.approvers[result.band_approver[index]] if result.band_approver[index] >= 0 else None
    who = tuple(
        a if a != "" else band
        for k in np.flatnonzero(result.fired[index]).tolist()
        for a in [approvers[k]]
        if a is not None and not (k in result.info_only and result.info_only[k][index])
    )
    figures = {
        name: figure_value(kinds[name], int(col.v[index]), col.cats) if col.ok[index] else None
        for name, col in result.figures.items()
        if result.figure_applies[name][index]
    }
    return ACTIONS[result.outcome[index]], fired, tuple(w for w in who if w), figures


def durable_row(engine: Engine, cells: dict[str, Any], as_at: date | None) -> Row | dict[str, list[str]]:
    try:
        decision = engine.decide(parse_row(cells, engine.book), as_at)
    except InputError as exc:
        return exc.fields
    fired = tuple(f.rule_id for f in decision.findings)
    approvers = tuple(f.approver for f in decision.findings if f.approver)
    return decision.outcome, fired, approvers, dict(decision.figures)


@dataclass
class Comparison:
    rows: int = 0
    compared: int = 0
    error_rows: int = 0
    differences: list[dict[str, Any]] = field(default_factory=list)


def compare_engines(
    table: pa.Table, engine: Engine, as_at: date | None = None, tick: Callable[[int], None] | None = None
) -> Comparison:
    """Every row of a book through both evaluators (and both validators); each difference is listed."""
    book = parse_book(table, engine.book)
    result = VectorEvaluator(engine.book).evaluate(book, row_dates(book, as_at))
    rules = engine.book.rules
    ids = tuple(rule.id for rule in rules)
    actions = tuple(rule.action for rule in rules)
    approvers = tuple(rule.approver or ("" if rule.approver_from else None) for rule in rules)
    report = Comparison(rows=book.n)
    known = [name for name in table.column_names if name in SPECS]
    for index, record in enumerate(table.select(known).to_pylist()):
        cells = {name: value for name, value in record.items() if value is not None}
        reference = durable_row(engine, cells, as_at)
        mine: Row | dict[str, list[str]]
        if as_at is not None and as_at < engine.book.earliest_as_at:  # the audit refuses the whole book
            mine = {"as_at": [f"rules are only held from {engine.book.earliest_as_at.isoformat()}"]}
        elif book.valid[index]:
            mine = vector_row(engine.book.compiled.figure_kinds, result, ids, actions, approvers, index)
        else:
            mine = book.errors[index]
        if isinstance(reference, dict):
            report.error_rows += 1
        report.compared += 1
        if mine != reference:
            report.differences.append({"row": index + 1, "vector": mine, "durable": reference})
        if tick and index % 1000 == 999:
            tick(index + 1)
    return report
