"""The placement: one flat record, validated into exact engine units. Its fields are declared here once.

Each field carries its type and limits, its default, a label and help text, the form section it belongs to and
an example; the rule vocabulary, the API's request schema, the web form and batch validation are all generated
from this class (``engine.validate.fields``). Values are read as people write them (``engine.validate.values``):
money arrives in pounds (``£`` and thousands commas allowed) and is held as integer pence; hours and miles as
integer hundredths; dates day first.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from engine.validate import values
from engine.validate.errors import InputError, field_messages
from engine.validate.values import Written

__all__ = ["EARLIEST_AS_AT", "LOTS", "InputError", "Placement", "field_messages", "parse_placement"]

EARLIEST_AS_AT = date(2020, 1, 1)  # SPEC §3: an as_at before this is an input error
LOTS = {("residential", False): 1, ("residential", True): 2, ("nursing", False): 6, ("nursing", True): 7}

Pence = Annotated[int, BeforeValidator(values.parse_money), Written("pence")]
Hundredths = Annotated[int, BeforeValidator(values.parse_hundredths), Written("hundredths")]
Whole = Annotated[int, BeforeValidator(values.parse_whole), Written("whole")]
Flag = Annotated[bool, BeforeValidator(values.parse_flag), Written("flag")]
Day = Annotated[date, BeforeValidator(values.parse_date), Written("day")]


def about(label: str, example: Any, section: str | None, help: str = "", **extra: Any) -> Any:
    """A field's label, help text, example and form section (None: not on the form), as pydantic metadata."""
    return Field(
        title=label,
        description=help or None,
        examples=[example],
        json_schema_extra={"section": section, **extra},
    )


class Placement(BaseModel):
    """One placement. Money fields hold integer pence; hours and miles integer hundredths."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    placement_id: Annotated[
        str,
        Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$"),
        about("Placement or package id", "P-1001", "placement", "The council's id. No personal data needed."),
    ]
    service: Annotated[
        Literal["care_home", "supported_living"],
        about("Service", "care_home", "placement", labels={"care_home": "Care home"}),
    ]
    start_date: Annotated[Day, about("Start date", "2026-05-04", "placement")]
    as_at: Annotated[
        Day | None, about("Decide as at (optional)", "2026-05-04", "placement", "Leave empty to use the start date.")
    ] = None
    end_date: Annotated[
        Day | None,
        about(
            "End date (optional)",
            "2026-11-02",
            "placement",
            "The day after the placement's last day. Leave empty while it continues.",
        ),
    ] = None
    age: Annotated[Whole, Field(ge=18, le=120), about("Age", 84, "placement", "Age in years at the date decided.")]
    care_type: Annotated[
        Literal["residential", "nursing"] | None,
        about("Care type", "residential", "care_home", "Required for a care home unless the Lot is given."),
    ] = None
    dementia: Annotated[Flag, about("Primary need is dementia", False, "care_home")] = False
    lot: Annotated[
        Literal[1, 2, 6, 7] | None,
        about("Framework Lot", 1, None, "Derived from care type and dementia.", derived=True),
    ] = None
    core_weekly_fee: Annotated[
        Pence | None,
        about("Core weekly fee", "915.00", "care_home", "The home's weekly fee, excluding FNC and 1:1."),
    ] = None
    one_to_one_weekly: Annotated[Pence, about("1:1 support a week (optional)", "0.00", "care_home")] = 0
    fnc_weekly: Annotated[
        Pence | None,
        about(
            "FNC paid to the home a week (optional)",
            "250.00",
            "care_home",
            "Leave empty on a nursing placement to assume the standard rate.",
        ),
    ] = None
    other_weekly: Annotated[Pence, about("Other weekly cost in the package (optional)", "0.00", "placement")] = 0
    sl_day_hours: Annotated[
        Hundredths,
        about(
            "Support hours a week", "13.33", "supported_living", "1:1 hours plus the person's share of shared hours."
        ),
    ] = 0
    sl_waking_night_hours: Annotated[Hundredths, about("Waking-night hours a week", "0", "supported_living")] = 0
    sl_sleep_in_nights: Annotated[Whole, Field(ge=0, le=7), about("Sleep-in nights a week", 0, "supported_living")] = 0
    sl_weekly_cost: Annotated[
        Pence | None,
        about("Proposed weekly cost", "850.00", "supported_living", "Required for supported living."),
    ] = None
    nhs_contribution_weekly: Annotated[
        Pence | None,
        about(
            "NHS contribution a week, other than FNC",
            "0.00",
            "health",
            "Joint funding, CHC share or s117 health share. Enter 0 if there is none; leave empty if not known.",
        ),
    ] = None
    s117: Annotated[Flag, about("Entitled to Section 117 after-care", False, "health")] = False
    dst_priority_domains: Annotated[Whole, Field(ge=0, le=12), about("DST domains at Priority", 0, "health")] = 0
    dst_severe_domains: Annotated[Whole, Field(ge=0, le=12), about("DST domains at Severe", 0, "health")] = 0
    chc_referral_made: Annotated[Flag, about("A CHC referral or checklist is in progress", False, "health")] = False
    block_booked: Annotated[Flag, about("This is a council block-booked bed", False, "care_home")] = False
    block_bed_available: Annotated[Flag, about("A suitable block-booked bed was available", False, "care_home")] = False
    distance_miles: Annotated[
        Hundredths | None, about("Distance from usual home, miles (optional)", "12.5", "care_home")
    ] = None
    resident_chose_location: Annotated[
        Flag, about("The person chose a home outside the reasonable distance", False, "care_home")
    ] = False
    cheapest_suitable_weekly: Annotated[
        Pence | None, about("Cheapest suitable home available, a week (optional)", "880.00", "care_home")
    ] = None
    personal_budget_weekly: Annotated[
        Pence | None,
        about(
            "Personal budget a week (optional)",
            "915.00",
            "care_home",
            "Leave empty to use the median for the Lot, or the cheapest suitable home if higher.",
            derived=True,
        ),
    ] = None
    top_up_weekly: Annotated[Pence, about("Top-up a week (optional)", "0.00", "top_up")] = 0
    top_up_payer: Annotated[
        Literal["none", "third_party", "first_party"],
        about(
            "Who pays the top-up",
            "third_party",
            "top_up",
            labels={"none": "No payer", "first_party": "The person (first party)"},
        ),
    ] = "none"
    first_party_basis: Annotated[
        Literal["property_disregard_12_week", "deferred_payment", "s117"] | None,
        about(
            "Basis of a first-party top-up",
            "deferred_payment",
            "top_up",
            labels={
                "property_disregard_12_week": "12-week property disregard",
                "deferred_payment": "Deferred payment agreement",
                "s117": "Section 117 after-care",
            },
        ),
    ] = None
    top_up_agreement_signed: Annotated[Flag, about("Written top-up agreement signed", False, "top_up")] = False
    top_up_affordability_confirmed: Annotated[Flag, about("Payer shown able and willing to pay", False, "top_up")] = (
        False
    )
    provider: Annotated[
        str | None, Field(max_length=200), about("Provider (optional)", "Oak Lodge Care Home", "placement")
    ] = None

    @model_validator(mode="before")
    @classmethod
    def _as_people_write(cls, data: Any) -> Any:
        """Names in any case with spaces or hyphens (``Care Home``) and a Lot written as text or ``6.0``."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name, choices in _choices(cls).items():
            value = data.get(name)
            if value is None or isinstance(value, bool):
                continue
            try:
                data[name] = (
                    values.parse_choice_number(value, choices)
                    if isinstance(choices[0], int)
                    else values.parse_enum(value, choices)
                )
            except ValueError:
                continue  # the Literal itself reports it, naming the allowed values
        return data

    @model_validator(mode="after")
    def _service_fields(self) -> Placement:
        problems: dict[str, str] = {}
        when = self.as_at or self.start_date
        if when < EARLIEST_AS_AT:
            problems["as_at" if self.as_at else "start_date"] = f"rules are only held from {EARLIEST_AS_AT.isoformat()}"
        if self.end_date is not None and self.end_date <= self.start_date:
            problems["end_date"] = "must be after start_date (it is the day after the placement's last day)"
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

    def is_active_at(self, day: date) -> bool:
        """Active at ``day``: started on or before it and not yet ended (``end_date`` is the day after the last)."""
        return self.start_date <= day and (self.end_date is None or day < self.end_date)


@cache
def _choices(model: type[BaseModel]) -> dict[str, tuple[Any, ...]]:
    from engine.validate.fields import field_specs

    return {name: spec.choices for name, spec in field_specs(model).items() if spec.choices}


def parse_placement(data: Any) -> Placement:
    if not isinstance(data, dict):
        raise InputError({"placement": ["must be a JSON object with the placement's fields"]})
    try:
        return Placement.model_validate(data)
    except ValidationError as exc:
        raise InputError(field_messages(exc)) from None
