"""What-if audits: the placements whose outcome or findings change under the changed parameters, and the £ a
week above the medians / reference rates and the charging totals before and after.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from engine.audit.books.read import decimal_array
from engine.audit.kpis.health import gbp as _gbp
from engine.editions.whatif import changed_parameters
from engine.evaluate.vector import VectorResult
from engine.language.vocabulary import ACTIONS
from engine.rulebook.loader import Rulebook
from engine.validate.batch import ParsedBook


def whatif_summary(
    base: Rulebook, book: Rulebook, parsed: ParsedBook, before: VectorResult, after: VectorResult
) -> tuple[dict[str, Any], pa.Table]:
    """Placements whose outcome changes, and the £ a week above the medians / reference rates before and after."""
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
