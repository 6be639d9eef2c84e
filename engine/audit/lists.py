"""Lists people act on, each evaluated at the KPI date over the placements active then: packages over the ISP
threshold with no NHS contribution (exactly the rows the zero-target KPI counts), placements needing approval,
to refer, not permitted, NHS recharge gaps; each row with its reasons and figures."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from engine.audit.read import decimal_array
from engine.evaluate.vector import VectorEvaluator, VectorResult
from engine.language.conditions import names_in
from engine.language.vocabulary import ACTIONS
from engine.rulebook.loader import Rulebook
from engine.validate.batch import ParsedBook, active_at, day_number

if TYPE_CHECKING:
    from engine.audit.run import AuditResult

LISTS = ("isp_no_nhs_contribution", "needs_approval", "refer", "not_permitted", "nhs_recharge_gaps")
PURPOSE = {
    "isp_no_nhs_contribution": "packages over the ISP threshold with no NHS contribution (0 or not recorded): "
    "seek the NHS share",
    "needs_approval": "placements whose price needs a named approver's sign-off",
    "refer": "placements to refer (CHC checklist, brokerage review)",
    "not_permitted": "placements the rules do not permit as they stand",
    "nhs_recharge_gaps": "placements where an NHS recharge looks missing (ISP-05 to ISP-08)",
}
RECHARGE_RULES = ("ISP-05", "ISP-06", "ISP-07", "ISP-08")
LIST_FIGURES = (
    "gross_weekly_cost",
    "isp_nhs_contribution_weekly",
    "comparable_weekly",
    "benchmark_weekly",
    "over_benchmark_percent",
    "care_cubed_weekly",
    "over_care_cubed_percent",
    "top_up_required_weekly",
    "sl_reference_weekly",
    "sl_over_reference_weekly",
)

# Results carry the figures of the rule that decided the row (SPEC §19): where a figure of the working-age
# CareCubed comparison is shown (rules/figures.yaml: shown for working_age_pricing), the over-65 median's, which
# does not apply to the row, is left empty.
SHOWN_INSTEAD = {
    "benchmark_weekly": "over_care_cubed_weekly",
    "over_benchmark_weekly": "over_care_cubed_weekly",
    "over_benchmark_percent": "over_care_cubed_percent",
}


def figure_shown(result: VectorResult, name: str, rows: slice | np.ndarray) -> np.ndarray:
    """Of ``rows``, those that show figure ``name``: it has a value, it applies to the row (its service and
    ``shown`` flag), and no figure shown instead of it applies."""
    col = result.figures[name] if name in result.figures else result.values[name]
    shown: np.ndarray = col.ok[rows]
    applies = result.figure_applies.get(name)
    if applies is not None:
        shown = shown & applies[rows]
    instead = SHOWN_INSTEAD.get(name)
    if instead is not None:
        shown = shown & ~result.figure_applies[instead][rows]
    return shown


# the figures the KPIs at the KPI date read (derived first, on the other core; any other is derived when read)
KPI_FIGURES = (
    "gross_weekly_cost",
    "isp_nhs_contribution_weekly",
    "nhs_contribution_or_zero_weekly",
    "nhs_contribution_recorded",
    "s117_council_funding_weekly",
    "s117_council_share",
    "resident_contribution_weekly",
    "council_net_weekly",
    "self_funding",
    "council_arranged_weekly",
)


class FiguresAt(Mapping[str, Any]):
    """Every row's figures at one date, each derived when first read (with the figures it reads): the KPIs need
    a few; a list needs the whole evaluation (``complete``)."""

    def __init__(self, evaluator: VectorEvaluator, parsed: ParsedBook, days: np.ndarray, first: Iterable[str]):
        self._evaluator, self._parsed, self._days = evaluator, parsed, days
        self._values = evaluator.derive(parsed, days, only=list(first))

    def __getitem__(self, name: str) -> Any:
        if name in self._evaluator.book.figures and name not in self._values["_derived"]:
            self._evaluator.derive(self._parsed, self._days, only=[name], into=self._values)
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def complete(self) -> dict[str, Any]:
        """Every figure and rule parameter (what ``VectorEvaluator.evaluate`` reads)."""
        return self._evaluator.derive(self._parsed, self._days, into=self._values)


class AtKpiDate:
    """Every row at the KPI date: its derived figures (for the ISP KPI), the rows active then, the ISP rows, and
    (computed when a list needs it) the whole evaluation. Reuses the rows' own evaluation when every row was
    evaluated at that date already (``--as-at``)."""

    def __init__(self, book: Rulebook, parsed: ParsedBook, day: date, own: tuple[np.ndarray, VectorResult] | None):
        self.day, self.book, self.parsed = day, book, parsed
        number = day_number(day)
        self.days = np.full(parsed.n, number, np.int64)
        self.active = active_at(parsed, day)
        evaluator = VectorEvaluator(book)
        self._result: VectorResult | None = None
        if own is not None and at_one_day(parsed, own[0], day):
            self._result = own[1]
        self.values: Mapping[str, Any] = (
            self._result.values
            if self._result is not None
            else FiguresAt(evaluator, parsed, self.days, [*KPI_FIGURES, *kpi_names(book)])
        )
        found = evaluator.param("isp.gross_cost_threshold_weekly", np.array([number]))
        self.threshold: int | None = int(found.v[0]) if found.ok[0] else None  # pence
        gross, contribution = self.values["gross_weekly_cost"], self.values["isp_nhs_contribution_weekly"]
        limit = self.threshold
        self.isp_over = self.active & gross.ok & (gross.v > limit) if limit is not None else np.zeros(parsed.n, bool)
        self.isp_zero = self.isp_over & contribution.ok & (contribution.v == 0)
        self.isp_unrecorded = self.isp_over & ~contribution.ok

    @property
    def isp(self) -> np.ndarray:
        flagged: np.ndarray = self.isp_zero | self.isp_unrecorded
        return flagged

    @property
    def result(self) -> VectorResult:
        if self._result is None:
            values = self.values.complete() if isinstance(self.values, FiguresAt) else dict(self.values)
            self._result = VectorEvaluator(self.book).evaluate(self.parsed, self.days, derived=values)
        return self._result


def kpi_names(book: Rulebook) -> set[str]:
    """The names the KPIs' own conditions read."""
    return {
        name
        for kpi in book.kpis.values()
        if kpi.share_of_active
        for cond in kpi.share_of_active
        for name in names_in(cond)
    }


def at_one_day(parsed: ParsedBook, days: np.ndarray, day: date) -> bool:
    """Whether every valid row was evaluated at ``day`` (then its evaluation serves the KPI date)."""
    return bool((days[parsed.valid] == day_number(day)).all())


def at_kpi_date(
    book: Rulebook, parsed: ParsedBook, day: date, own: tuple[np.ndarray, VectorResult] | None = None
) -> AtKpiDate:
    """``own``: the rows' evaluation days and result, reused when they are all the KPI date."""
    return AtKpiDate(book, parsed, day, own)


def _strings(codes: np.ndarray, labels: Sequence[str | None]) -> pa.Array:
    return pc.take(pa.array(labels, pa.string()), pa.array(codes, pa.int64()))


def _rule_texts(
    book: Rulebook, result: VectorResult, rows: np.ndarray, names: bool = True
) -> tuple[np.ndarray, list[list[str]]]:
    """For these rows: a code per row into texts built once per distinct combination of fired rules and band
    approver (fast on a million rows: each row's fired rules make one 64-bit key), and the texts by code: reason
    codes, approvers, and rule names."""
    rules = book.rules
    assert len(rules) <= 64, "more than 64 rules: widen the combination key"
    whole = 2 * len(rows) >= len(result.outcome)  # most rows: the key over whole columns, then these rows of it
    fired = np.zeros(len(result.outcome) if whole else len(rows), np.uint64)  # bit k: rule k fired
    for k in range(len(rules)):  # a rule, i.e. a column of ``fired``, at a time
        column = result.fired[:, k] if whole else result.fired[rows, k]
        fired |= column.astype(np.uint64) << np.uint64(k)
    combos, combo_values = pd.factorize(fired[rows] if whole else fired, sort=False)
    key = combos.astype(np.int64) * (len(result.approvers) + 1) + (result.band_approver[rows] + 1)
    inverse, unique = pd.factorize(key, sort=False)
    ids, approvers, labels = [], [], []
    for value in unique.tolist():
        code, band = divmod(value, len(result.approvers) + 1)
        combo, hits = int(combo_values[code]), []
        while combo:  # the rules whose bits are set, lowest first (as in the rulebook's order)
            hits.append(rules[(combo & -combo).bit_length() - 1])
            combo &= combo - 1
        ids.append(" ".join(rule.id for rule in hits))
        who = [rule.approver or (result.approvers[band - 1] if rule.approver_from and band else None) for rule in hits]
        approvers.append(", ".join(dict.fromkeys(w for w in who if w)))
        if names:
            labels.append("; ".join(f"{rule.id} {rule.label}" for rule in hits))
    return inverse.astype(np.int64), [ids, approvers, labels]


def rule_texts(book: Rulebook, result: VectorResult, valid: np.ndarray) -> tuple[np.ndarray, list[str], list[str]]:
    """Every row's code into its reason codes and approvers (``len(ids)`` where not ``valid``), and those texts."""
    rows = np.flatnonzero(valid)
    inverse, (ids, approvers, _) = _rule_texts(book, result, rows, names=False)
    codes = np.full(len(valid), len(ids), np.int64)
    codes[rows] = inverse
    return codes, ids, approvers


def list_masks(audit: AuditResult) -> dict[str, np.ndarray]:
    at = audit.at_kpi
    outcome = at.result.outcome
    recharge = [k for k, rule in enumerate(audit.book.rules) if rule.id in RECHARGE_RULES]
    gaps = at.result.fired[:, recharge].any(axis=1) if recharge else np.zeros(len(outcome), bool)
    return {
        "isp_no_nhs_contribution": at.isp,
        "needs_approval": at.active & (outcome == ACTIONS.index("needs_approval")),
        "refer": at.active & (outcome == ACTIONS.index("refer")),
        "not_permitted": at.active & (outcome == ACTIONS.index("not_permitted")),
        "nhs_recharge_gaps": at.active & gaps,
    }


def list_table(audit: AuditResult, mask: np.ndarray) -> pa.Table:
    """The rows of one list: who, the outcome at the KPI date, the reasons and the figures."""
    at = audit.at_kpi
    rows = np.flatnonzero(mask)
    take = pa.array(rows, pa.int64())
    parsed = audit.parsed
    codes, (ids, approvers, reasons) = _rule_texts(audit.book, at.result, rows)
    columns: dict[str, pa.Array] = {
        "row": pa.array(audit.row_numbers[rows], pa.int64()),
        "placement_id": parsed.placement_id.take(take) if parsed.placement_id is not None else pa.nulls(len(rows)),
    }
    if parsed.provider is not None:
        columns["provider"] = parsed.provider.take(take)
    service = parsed.cols["service"]
    columns["service"] = _strings(service.v[rows].astype(np.int64), list(service.cats or ()))
    for name in ("start_date", "end_date"):
        col = parsed.cols.get(name)
        if col is not None:
            days = col.v[rows].astype("datetime64[D]")
            columns[name] = pa.array(days, pa.date32(), mask=~col.ok[rows])
    columns["kpi_date"] = pa.array(np.full(len(rows), np.datetime64(at.day, "D")), pa.date32())
    columns["outcome_at_kpi_date"] = _strings(at.result.outcome[rows].astype(np.int64), list(ACTIONS))
    columns["rule_ids"] = _strings(codes, ids)
    columns["approvers"] = _strings(codes, approvers)
    columns["reasons"] = _strings(codes, reasons)
    for name in LIST_FIGURES:
        col = at.result.values.get(name)
        if col is None:
            continue
        columns[name] = decimal_array(col.v[rows], figure_shown(at.result, name, rows))
    return pa.table(columns)
