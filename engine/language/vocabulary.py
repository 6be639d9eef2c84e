"""The names a rule's ``when`` and ``message`` may use, and what kind of value each holds.

Inside the engine, money is integer pence and quantities (hours, miles, shares) integer ten-thousandths, so every
comparison is exact integer arithmetic (durable_rules turns numbers into C doubles, which is exact for
integers of this size).
"""

from __future__ import annotations

from enum import Enum

from engine.validate.fields import field_specs
from engine.validate.placement import Placement


class Kind(Enum):
    MONEY = "money"  # integer pence
    QUANTITY = "quantity"  # integer ten-thousandths (hours, miles, shares of one)
    COUNT = "count"  # whole number
    BOOL = "bool"
    ENUM = "enum"  # one of a fixed list of names
    PERCENT = "percent"  # shown only (Decimal, 2 dp); bands decide on exact fractions
    RATIO = "ratio"  # parameters only, used through derived figures
    TABLE = "table"  # parameters only, used through derived figures
    DATE = "date"  # shown only


# The placement's fields that rules may name, generated from the placement model: every field except free text,
# dates, and the two whose value may be derived (``lot``, ``personal_budget_weekly``: rules use the figures).
FIELD_KINDS = {
    "pence": Kind.MONEY,
    "quantity": Kind.QUANTITY,
    "share": Kind.QUANTITY,
    "whole": Kind.COUNT,
    "flag": Kind.BOOL,
    "enum": Kind.ENUM,
}
FIELDS: dict[str, Kind] = {
    name: FIELD_KINDS[spec.kind]
    for name, spec in field_specs(Placement).items()
    if spec.kind in FIELD_KINDS and not spec.derived
}
ENUMS: dict[str, tuple[str, ...]] = {
    name: spec.choices for name, spec in field_specs(Placement).items() if spec.kind == "enum"
}

# Derived figures are declared, with their kinds, in rules/figures.yaml (engine/rulebook/figures.py).

UNIT_KINDS: dict[str, Kind] = {
    "GBP": Kind.MONEY,  # a sum held, not weekly (capital limits)
    "GBP/week": Kind.MONEY,
    "GBP/hour": Kind.MONEY,
    "GBP/night": Kind.MONEY,
    "miles": Kind.QUANTITY,
    "years": Kind.COUNT,
    "days": Kind.COUNT,
    "count": Kind.COUNT,
    "bool": Kind.BOOL,
    "ratio": Kind.RATIO,
    "table": Kind.TABLE,
}

ACTIONS = ("info", "proceed", "needs_approval", "refer", "not_permitted")  # least to most severe
