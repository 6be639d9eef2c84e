"""Parameter files: ``rules/parameters/**.yaml`` (one dated, cited value series each) and the ``index.yaml`` that
describes each group, read into engine units; and the reference (a citation) every rulebook file carries."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any as AnyType

from engine.language.vocabulary import UNIT_KINDS, Kind
from engine.money import QUANTITY_PLACES, MoneyError, exact_units, to_decimal, to_pence
from engine.rulebook.book import Parameter, Reference
from engine.rulebook.strict_yaml import Node, RulebookError, check_keys, load_yaml
from engine.rulebook.tables import HIT_POLICIES, band_table


def load_reference(node: AnyType, owner: Node, key: str = "reference") -> Reference:
    if not isinstance(node, Node):
        raise owner.error(f"{key} must be a mapping with a title (and a section or url)", key)
    check_keys(node, {"title"}, {"section", "url"}, key)
    for part in ("title", "section", "url"):
        if part in node and not (isinstance(node[part], str) and node[part].strip()):
            raise node.error(f"{key} {part} must be text", part)
    return Reference(node["title"], node.get("section"), node.get("url"))


def check_index(path: Path) -> None:
    """A parameter group's index.yaml describes the group and cites the document that governs it."""
    node = check_keys(load_yaml(path), {"description", "reference"}, set(), "parameter group index")
    load_reference(node["reference"], node)


def load_parameter(path: Path, name: str) -> Parameter:
    node = check_keys(load_yaml(path), {"description", "unit", "reference", "values"}, {"hit_policy"}, "parameter")
    unit = node["unit"]
    if unit not in UNIT_KINDS:
        raise node.error(f"unknown unit {unit!r} (known: {', '.join(UNIT_KINDS)})", "unit")
    kind = UNIT_KINDS[unit]
    hit_policy = node.get("hit_policy")
    if (kind is Kind.TABLE) != (hit_policy is not None):
        raise node.error(
            "a table parameter, and only a table, declares its hit_policy", "hit_policy" if hit_policy else "unit"
        )
    if hit_policy is not None and hit_policy not in HIT_POLICIES:
        raise node.error(f"hit_policy must be one of {', '.join(HIT_POLICIES)}, not {hit_policy!r}", "hit_policy")
    values = node["values"]
    if not isinstance(values, Node) or not values:
        raise node.error("values must map dates to values", "values")
    dated = []
    for when, value in values.items():
        if not isinstance(when, date):
            raise values.error(f"{when!r} is not a date (YYYY-MM-DD)", str(when))
        try:
            dated.append((when, None if value is None else engine_value(value, kind, hit_policy)))
        except RulebookError:
            raise  # already names the line of the table row at fault
        except (MoneyError, ValueError) as exc:
            raise values.error(f"{when}: {value!r} is not a {unit} value: {exc}", str(when)) from None
    dated.sort(key=lambda pair: pair[0])
    return Parameter(
        name=name,
        description=str(node["description"]),
        unit=unit,
        reference=load_reference(node["reference"], node),
        dates=tuple(d for d, _ in dated),
        values=tuple(v for _, v in dated),
        hit_policy=hit_policy,
        path=str(path),
    )


def engine_value(value: AnyType, kind: Kind, hit_policy: str | None = None) -> AnyType:
    if kind is Kind.MONEY:
        return to_pence(value)
    if kind is Kind.QUANTITY:
        return exact_units(to_decimal(value), "10,000,000", QUANTITY_PLACES)  # ten-thousandths of a mile
    if kind is Kind.COUNT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be a whole number")
        return value
    if kind is Kind.BOOL:
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if kind is Kind.RATIO:
        ratio = to_decimal(value)
        if not Decimal(0) <= ratio <= Decimal(1):
            raise ValueError("must be between 0 and 1")
        return ratio
    return band_table(value, hit_policy or "unique")
