"""The names a rule's ``when`` and ``message`` may use, and what kind of value each holds.

Inside the engine, money is integer pence and quantities (hours, miles) are integer hundredths, so every
comparison is exact integer arithmetic (durable_rules turns numbers into C doubles, which is exact for
integers of this size).
"""

from __future__ import annotations

from enum import Enum

from engine.validate.fields import field_specs
from engine.validate.placement import Placement


class Kind(Enum):
    MONEY = "money"  # integer pence
    QUANTITY = "quantity"  # integer hundredths (hours, miles)
    COUNT = "count"  # whole number
    BOOL = "bool"
    ENUM = "enum"  # one of a fixed list of names
    PERCENT = "percent"  # shown only (Decimal, 2 dp); bands decide on exact fractions
    RATIO = "ratio"  # parameters only, used through derived figures
    TABLE = "table"  # parameters only, used through derived figures
    DATE = "date"  # shown only


# SPEC §4, plus the explicit booleans that rules test instead of absence (SPEC §2).
DERIVED: dict[str, Kind] = {
    "lot": Kind.COUNT,
    "is_care_home": Kind.BOOL,
    "is_supported_living": Kind.BOOL,
    "is_nursing": Kind.BOOL,
    "is_residential": Kind.BOOL,
    "fnc_recorded": Kind.BOOL,
    "fnc_used_weekly": Kind.MONEY,
    "gross_weekly_cost": Kind.MONEY,
    "comparable_weekly": Kind.MONEY,
    "has_benchmark": Kind.BOOL,
    "benchmark_weekly": Kind.MONEY,
    "over_benchmark_weekly": Kind.MONEY,
    "over_benchmark_percent": Kind.PERCENT,
    "approval_band": Kind.COUNT,
    "personal_budget_given": Kind.BOOL,
    "personal_budget_weekly": Kind.MONEY,
    "top_up_required_weekly": Kind.MONEY,
    "has_first_party_basis": Kind.BOOL,
    "nhs_contribution_recorded": Kind.BOOL,
    "nhs_contribution_or_zero_weekly": Kind.MONEY,
    "isp_nhs_contribution_weekly": Kind.MONEY,
    "expected_nhs_share_weekly": Kind.MONEY,
    "has_sl_reference_rates": Kind.BOOL,
    "sl_day_support_weekly": Kind.MONEY,
    "sl_waking_night_weekly": Kind.MONEY,
    "sl_sleep_in_weekly": Kind.MONEY,
    "sl_reference_weekly": Kind.MONEY,
    "sl_over_reference_weekly": Kind.MONEY,
}

# The placement's fields that rules may name, generated from the placement model: every field except free text
# and dates, and those a derived figure stands for (``lot``, ``personal_budget_weekly`` are given or derived).
FIELD_KINDS = {
    "money": Kind.MONEY,
    "hundredths": Kind.QUANTITY,
    "whole": Kind.COUNT,
    "flag": Kind.BOOL,
    "enum": Kind.ENUM,
}
FIELDS: dict[str, Kind] = {
    name: FIELD_KINDS[spec.kind]
    for name, spec in field_specs(Placement).items()
    if spec.kind in FIELD_KINDS and name not in DERIVED
}
ENUMS: dict[str, tuple[str, ...]] = {
    name: spec.choices for name, spec in field_specs(Placement).items() if spec.kind == "enum"
}

UNIT_KINDS: dict[str, Kind] = {
    "GBP/week": Kind.MONEY,
    "GBP/hour": Kind.MONEY,
    "GBP/night": Kind.MONEY,
    "miles": Kind.QUANTITY,
    "years": Kind.COUNT,
    "count": Kind.COUNT,
    "bool": Kind.BOOL,
    "ratio": Kind.RATIO,
    "table": Kind.TABLE,
}

ACTIONS = ("info", "proceed", "needs_approval", "refer", "not_permitted")  # least to most severe
