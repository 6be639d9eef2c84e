"""The KPIs the batch audit reports, declared once in ``rules/kpis.yaml``: name, definition, source, unit and
target. The audit (``engine/audit/kpis.py``) computes each value; a KPI declared with ``share_of_active`` is
computed from its declaration alone (two rule conditions over the placements active at the KPI date)."""

from __future__ import annotations

import string
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.rulebook import conditions
from engine.rulebook.strict_yaml import RulebookError, check_keys, load_yaml
from engine.rulebook.vocabulary import ENUMS, Kind

KPIS_FILE = Path("kpis.yaml")
UNITS = ("percent", "count", "GBP/week")
NUMBER_TARGETS = {"at_least": "at least", "at_most": "at most", "equals": ""}
AGES = ("all", "at_or_over_minimum_age", "under_minimum_age")  # a care-home KPI's people, by the over-65 minimum age
TREND_TARGETS = {"lower_than_previous": "lower than the previous period", "maintained": "maintained or increased"}


@dataclass(frozen=True)
class Target:
    kind: str  # at_least | at_most | equals | lower_than_previous | maintained
    value: Decimal | None = None

    def text(self, unit: str) -> str:
        if self.value is None:
            return TREND_TARGETS[self.kind]
        number = f"{self.value:,.2f}" if unit == "GBP/week" else f"{self.value.normalize():f}"
        shown = f"£{number}" if unit == "GBP/week" else f"{number}%" if unit == "percent" else number
        return f"{NUMBER_TARGETS[self.kind]} {shown}".strip()

    def met(self, value: Decimal | int | None, compared_with: Decimal | int | None = None) -> bool | None:
        """Whether ``value`` meets the target (trend targets compare it with ``compared_with``); None: unknown."""
        if value is None:
            return None
        if self.value is None:
            if compared_with is None:
                return None
            return bool(value < compared_with) if self.kind == "lower_than_previous" else bool(value >= compared_with)
        if self.kind == "at_least":
            return bool(value >= self.value)
        return bool(value <= self.value) if self.kind == "at_most" else bool(value == self.value)


@dataclass(frozen=True)
class KpiSpec:
    id: str  # may hold {placeholders}: one declaration for a family (each Lot, each care type and ages)
    name: str
    definition: str
    source: str
    unit: str
    target: Target | None
    share_of_active: tuple[conditions.Cond, conditions.Cond] | None = None
    window_months: int | None = None
    ages: str | None = None

    def describe(self, **values: Any) -> dict[str, Any]:
        """The KPI's id, name, definition, source, unit, target (as a person reads it), placeholders filled."""
        return {
            "id": self.id.format(**values),
            "name": self.name.format(**values),
            "definition": self.definition.format(**values),
            "source": self.source,
            "target": None if self.target is None else self.target.text(self.unit),
            "unit": self.unit,
        }


def load_kpis(root: Path, vocabulary: dict[str, Kind]) -> dict[str, KpiSpec]:
    """Read and check ``kpis.yaml`` (ids unique, units and targets known, conditions valid)."""
    path = root / KPIS_FILE
    if not path.is_file():
        raise RulebookError(path, None, "no kpis.yaml")
    node = check_keys(load_yaml(path), {"description", "kpis"}, set(), "KPI file")
    if not isinstance(node["kpis"], list):
        raise node.error("kpis must be a list", "kpis")
    specs: dict[str, KpiSpec] = {}
    for row in node["kpis"]:
        row = check_keys(
            row,
            {"id", "name", "definition", "source", "unit", "target"},
            {"share_of_active", "window_months", "ages"},
            "KPI",
        )
        kpi_id = str(row["id"])
        if kpi_id in specs:
            raise row.error(f"KPI {kpi_id!r} is declared twice", "id")
        if row["unit"] not in UNITS:
            raise row.error(f"{kpi_id}: unit must be one of {', '.join(UNITS)}", "unit")
        for key in ("id", "name", "definition"):
            try:
                list(string.Formatter().parse(str(row[key])))
            except ValueError as exc:
                raise row.error(f"{kpi_id}: {key} has a broken placeholder: {exc}", key) from None
        share = None
        if "share_of_active" in row:
            pair = check_keys(row["share_of_active"], {"of", "counted"}, set(), "share_of_active")
            try:
                share = (
                    conditions.parse(str(pair["of"]), vocabulary, ENUMS),
                    conditions.parse(str(pair["counted"]), vocabulary, ENUMS),
                )
            except conditions.ConditionError as exc:
                raise row.error(f"{kpi_id}: {exc}", "share_of_active") from None
            if row["unit"] != "percent":
                raise row.error(f"{kpi_id}: a share_of_active KPI is a percent", "unit")
        window = row.get("window_months")
        if window is not None and (not isinstance(window, int) or isinstance(window, bool) or window < 1):
            raise row.error(f"{kpi_id}: window_months is a whole number of months", "window_months")
        if row.get("ages") is not None and row["ages"] not in AGES:
            raise row.error(f"{kpi_id}: ages must be one of {', '.join(AGES)}", "ages")
        specs[kpi_id] = KpiSpec(
            kpi_id,
            str(row["name"]),
            " ".join(str(row["definition"]).split()),
            " ".join(str(row["source"]).split()),
            str(row["unit"]),
            _target(row, kpi_id),
            share,
            window,
            row.get("ages"),
        )
    return specs


def _target(row: Any, kpi_id: str) -> Target | None:
    target = row["target"]
    if target is None:
        return None
    node = check_keys(target, set(), set(NUMBER_TARGETS) | set(TREND_TARGETS), "target")
    if len(node) != 1:
        raise row.error(f"{kpi_id}: target has one of {', '.join([*NUMBER_TARGETS, *TREND_TARGETS])}", "target")
    kind, value = next(iter(node.items()))
    if kind in TREND_TARGETS:
        if value is not True:
            raise row.error(f"{kpi_id}: write {kind}: true", "target")
        return Target(kind)
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise row.error(f"{kpi_id}: {kind} needs a number", "target")
    return Target(kind, Decimal(str(value)))
