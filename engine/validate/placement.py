"""The placement (SPEC §3): one flat record, validated into exact engine units.

Money arrives in pounds (at most 2 decimal places, not negative) and is held as integer pence; hours and
miles as integer hundredths. Values may come as JSON numbers or as text (CSV cells), so the same model
validates the library, CLI, API and batch inputs.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from engine.money import MoneyError, to_pence

EARLIEST_AS_AT = date(2020, 1, 1)  # SPEC §3: an as_at before this is an input error
LOTS = {("residential", False): 1, ("residential", True): 2, ("nursing", False): 6, ("nursing", True): 7}
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _pence(value: Any) -> Any:
    if value is None:
        return None
    try:
        return to_pence(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None


def _hundredths(value: Any) -> Any:
    if value is None:
        return None
    try:
        return to_pence(value)
    except MoneyError as exc:
        raise ValueError(str(exc).replace("£10,000,000.00 a week", "10,000,000")) from None


def _whole(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not true/false")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise ValueError(f"must be a whole number, got {value!r}")


def _flag(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "y", "1", "false", "no", "n", "0"):
        return value.strip().lower() in ("true", "yes", "y", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError(f"must be true or false, got {value!r}")


def _day(value: Any) -> Any:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and ISO_DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a real date") from None
    raise ValueError(f"must be a date as YYYY-MM-DD, got {value!r}")


Pence = Annotated[int, BeforeValidator(_pence)]
Hundredths = Annotated[int, BeforeValidator(_hundredths)]
Whole = Annotated[int, BeforeValidator(_whole)]
Flag = Annotated[bool, BeforeValidator(_flag)]
Day = Annotated[date, BeforeValidator(_day)]


class Placement(BaseModel):
    """One placement, as in SPEC §3. Money fields hold integer pence; hours and miles integer hundredths."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    placement_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
    service: Literal["care_home", "supported_living"]
    start_date: Day
    as_at: Day | None = None
    age: Annotated[Whole, Field(ge=18, le=120)]
    care_type: Literal["residential", "nursing"] | None = None
    dementia: Flag = False
    lot: Literal[1, 2, 6, 7] | None = None
    core_weekly_fee: Pence | None = None
    one_to_one_weekly: Pence = 0
    fnc_weekly: Pence | None = None
    other_weekly: Pence = 0
    sl_day_hours: Hundredths = 0
    sl_waking_night_hours: Hundredths = 0
    sl_sleep_in_nights: Annotated[Whole, Field(ge=0, le=7)] = 0
    sl_weekly_cost: Pence | None = None
    nhs_contribution_weekly: Pence | None = None
    s117: Flag = False
    dst_priority_domains: Annotated[Whole, Field(ge=0, le=12)] = 0
    dst_severe_domains: Annotated[Whole, Field(ge=0, le=12)] = 0
    chc_referral_made: Flag = False
    block_booked: Flag = False
    block_bed_available: Flag = False
    distance_miles: Hundredths | None = None
    resident_chose_location: Flag = False
    cheapest_suitable_weekly: Pence | None = None
    personal_budget_weekly: Pence | None = None
    top_up_weekly: Pence = 0
    top_up_payer: Literal["none", "third_party", "first_party"] = "none"
    first_party_basis: Literal["property_disregard_12_week", "deferred_payment", "s117"] | None = None
    top_up_agreement_signed: Flag = False
    top_up_affordability_confirmed: Flag = False
    provider: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _lot_from_text(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("lot"), str) and data["lot"].strip().isdigit():
            data = {**data, "lot": int(data["lot"])}
        return data

    @model_validator(mode="after")
    def _service_fields(self) -> Placement:
        problems: dict[str, str] = {}
        when = self.as_at or self.start_date
        if when < EARLIEST_AS_AT:
            problems["as_at" if self.as_at else "start_date"] = f"rules are only held from {EARLIEST_AS_AT.isoformat()}"
        if self.service == "care_home":
            if self.core_weekly_fee is None:
                problems["core_weekly_fee"] = "required for a care home"
            if self.care_type is None and self.lot is None:
                problems["care_type"] = "required for a care home (or give the lot)"
            lot_care_type = "residential" if self.lot in (1, 2) else "nursing"
            if self.lot is not None and self.care_type is not None and self.care_type != lot_care_type:
                problems["lot"] = f"lot {self.lot} contradicts care_type {self.care_type}"
            if self.lot is not None and "dementia" in self.model_fields_set and self.dementia != (self.lot in (2, 7)):
                problems["lot"] = f"lot {self.lot} contradicts dementia {str(self.dementia).lower()}"
        elif self.sl_weekly_cost is None:
            problems["sl_weekly_cost"] = "required for supported living"
        if problems:
            raise ValueError(problems)
        return self

    @property
    def as_at_date(self) -> date:
        return self.as_at or self.start_date

    @property
    def lot_number(self) -> int | None:
        if self.service != "care_home":
            return None
        if self.lot is not None:
            return self.lot
        return LOTS[(self.care_type or "residential", self.dementia)]

    @property
    def care_type_used(self) -> str | None:
        if self.service != "care_home":
            return None
        return self.care_type or ("residential" if self.lot in (1, 2) else "nursing")


class InputError(ValueError):
    """Bad input: a message per field, as SPEC §8 shows it."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self.fields = fields
        super().__init__("; ".join(f"{name}: {', '.join(msgs)}" for name, msgs in fields.items()))

    def to_json(self) -> dict[str, Any]:
        return {"error": {"code": "invalid_input", "fields": self.fields}}


def field_messages(error: ValidationError) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for item in error.errors(include_url=False):
        ctx_error = (item.get("ctx") or {}).get("error")
        if not item["loc"] and isinstance(ctx_error, ValueError) and isinstance(ctx_error.args[0], dict):
            for name, message in ctx_error.args[0].items():
                fields.setdefault(name, []).append(message)
            continue
        name = ".".join(str(part) for part in item["loc"][:1]) or "placement"
        fields.setdefault(name, []).append(_message(item))
    return fields


def _message(item: Any) -> str:
    kind, message = item["type"], item["msg"]
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "string_pattern_mismatch":  # only placement_id has a pattern
        return "must not contain control characters (NUL, tab, new line)"
    if kind == "literal_error":
        return f"must be {message.removeprefix('Input should be ')}, got {item['input']!r}"
    return str(message).removeprefix("Value error, ").replace("Input should be", "must be")


def parse_placement(data: Any) -> Placement:
    if not isinstance(data, dict):
        raise InputError({"placement": ["must be a JSON object with the placement's fields"]})
    try:
        return Placement.model_validate(data)
    except ValidationError as exc:
        raise InputError(field_messages(exc)) from None
