"""The names a rule's ``when`` and ``message`` may use, and what kind of value each holds.

Inside the engine, money is integer pence and quantities (hours, miles) are integer hundredths, so every
comparison is exact integer arithmetic (durable_rules turns numbers into C doubles, which is exact for
integers of this size).
"""

from __future__ import annotations

from enum import Enum


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


FIELDS: dict[str, Kind] = {
    "age": Kind.COUNT,
    "service": Kind.ENUM,
    "care_type": Kind.ENUM,
    "dementia": Kind.BOOL,
    "core_weekly_fee": Kind.MONEY,
    "one_to_one_weekly": Kind.MONEY,
    "fnc_weekly": Kind.MONEY,
    "other_weekly": Kind.MONEY,
    "sl_day_hours": Kind.QUANTITY,
    "sl_waking_night_hours": Kind.QUANTITY,
    "sl_sleep_in_nights": Kind.COUNT,
    "sl_weekly_cost": Kind.MONEY,
    "nhs_contribution_weekly": Kind.MONEY,
    "s117": Kind.BOOL,
    "dst_priority_domains": Kind.COUNT,
    "dst_severe_domains": Kind.COUNT,
    "chc_referral_made": Kind.BOOL,
    "block_booked": Kind.BOOL,
    "block_bed_available": Kind.BOOL,
    "distance_miles": Kind.QUANTITY,
    "resident_chose_location": Kind.BOOL,
    "cheapest_suitable_weekly": Kind.MONEY,
    "top_up_weekly": Kind.MONEY,
    "top_up_payer": Kind.ENUM,
    "first_party_basis": Kind.ENUM,
    "top_up_agreement_signed": Kind.BOOL,
    "top_up_affordability_confirmed": Kind.BOOL,
}

ENUMS: dict[str, tuple[str, ...]] = {
    "service": ("care_home", "supported_living"),
    "care_type": ("residential", "nursing"),
    "top_up_payer": ("none", "third_party", "first_party"),
    "first_party_basis": ("property_disregard_12_week", "deferred_payment", "s117"),
}

# Derived figures are declared, with their kinds, in rules/figures.yaml (engine/rulebook/figures.py).

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
