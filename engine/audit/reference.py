"""The reference path of an audit: every row decided by ``Engine.decide`` (durable_rules), one at a time, and
gathered into the same ``VectorResult`` the vectorised evaluator gives (slow; for cross-checks).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pyarrow as pa

from engine.decide import Engine
from engine.evaluate.vector import VectorResult
from engine.language.vocabulary import ACTIONS, ENUMS, Kind
from engine.money import to_pence
from engine.rulebook.loader import Rulebook
from engine.validate.batch import SPECS, Col, ParsedBook, parse_row
from engine.validate.placement import InputError

Progress = Callable[[str, int, int], None]


def durable_result(
    book: Rulebook, table: pa.Table, parsed: ParsedBook, as_at: date | None, tick: Progress
) -> tuple[VectorResult, dict[int, dict[str, list[str]]]]:
    """The reference path: ``Engine.decide`` one row at a time (slow; for cross-checks)."""
    engine = Engine(book, "durable")
    n, rules = table.num_rows, book.rules
    position = {rule.id: k for k, rule in enumerate(rules)}
    fired = np.zeros((n, len(rules)), bool, order="F")  # as the vector evaluator's
    outcome = np.full(n, ACTIONS.index("proceed"), np.int8)
    band = np.full(n, -1, np.int64)
    names: list[str] = []
    shown = [name for name, figure in book.figures.items() if figure.shown]
    kinds = book.compiled.figure_kinds
    figures = {name: Col(np.zeros(n, np.int64), np.zeros(n, bool)) for name in shown}
    applies = {name: np.zeros(n, bool) for name in shown}
    errors: dict[int, dict[str, list[str]]] = {}
    info_only: dict[int, np.ndarray] = {k: np.zeros(n, bool) for k, rule in enumerate(rules) if rule.info_condition}
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
            rule = rules[position[finding.rule_id]]
            if rule.info_condition is not None:
                info_only.setdefault(position[finding.rule_id], np.zeros(n, bool))[index] = (
                    finding.action == "info" and rule.action != "info"
                )
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
    return VectorResult(
        fired, outcome, band, tuple(names), figures, applies, np.zeros(n, np.int64), {}, info_only
    ), errors
