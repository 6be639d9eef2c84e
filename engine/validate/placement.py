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
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from engine.validate import values
from engine.validate.errors import InputError, field_messages
from engine.validate.values import Written

if TYPE_CHECKING:
    from engine.rulebook.loader import Rulebook

__all__ = ["InputError", "Placement", "field_messages", "parse_placement"]

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
        Whole | None,
        about("Framework Lot", 1, None, "Derived from care type and dementia (the rulebook's Lots).", derived=True),
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
    # The financial assessment (charging): all optional; the charging rules run when weekly_income is given.
    weekly_income: Annotated[
        Pence | None,
        about(
            "Weekly income before disregards",
            "170.00",
            "financial_assessment",
            "Pensions, benefits, annuities. Leave empty if no financial assessment is recorded.",
        ),
    ] = None
    capital: Annotated[
        Pence | None,
        about(
            "Capital (a total, not weekly)",
            "15250.00",
            "financial_assessment",
            "Savings and investments, the person's share of joint capital; not the main home. "
            "Required with weekly income.",
        ),
    ] = None
    property_value: Annotated[
        Pence | None,
        about(
            "The person's share of their main home (optional)",
            "180000.00",
            "financial_assessment",
            "Net of debts secured on it.",
        ),
    ] = None
    property_disregarded: Annotated[
        Flag,
        about(
            "The home is disregarded: a partner, a relative aged 60+ or incapacitated, or a child under 18 lives there",
            False,
            "financial_assessment",
        ),
    ] = False
    permanent_admission_date: Annotated[
        Day | None,
        about(
            "First day as a permanent resident (optional)",
            "2026-05-04",
            "financial_assessment",
            "The 12-week property disregard runs from it. Leave empty to use the start date.",
        ),
    ] = None
    deferred_payment_agreement: Annotated[
        Flag | None,
        about(
            "A deferred payment agreement is in place",
            False,
            "financial_assessment",
            "Leave empty if not recorded.",
        ),
    ] = None
    disregarded_income_weekly: Annotated[
        Pence,
        about(
            "Income disregarded in full, a week (optional)",
            "0.00",
            "financial_assessment",
            "DLA/PIP mobility, War Pension Scheme payments other than Constant Attendance Allowance, "
            "Guaranteed Income Payments, charitable payments.",
        ),
    ] = 0
    war_widows_pension_weekly: Annotated[
        Pence,
        about(
            "War Widow's or Widower's pension a week (optional)",
            "0.00",
            "financial_assessment",
            "Its first £10 a week is disregarded.",
        ),
    ] = 0
    pension_shared_with_spouse_weekly: Annotated[
        Pence,
        about(
            "Pension half paid to a spouse or civil partner at home, a week (optional)",
            "0.00",
            "financial_assessment",
            "The whole pension; the half paid to the spouse is disregarded.",
        ),
    ] = 0
    savings_disregard_weekly: Annotated[
        Pence, about("Savings Credit disregard a week (optional)", "0.00", "financial_assessment")
    ] = 0
    housing_costs_weekly: Annotated[
        Pence,
        about("Rent and service charges a week (optional)", "0.00", "financial_assessment", "Supported living only."),
    ] = 0
    dre_weekly: Annotated[
        Pence,
        about(
            "Disability-related expenditure a week (optional)",
            "0.00",
            "financial_assessment",
            "Supported living only: as assessed for the person, never capped at a disability benefit.",
        ),
    ] = 0
    disability_premium: Annotated[
        Flag, about("Qualifies for the MIG disability premium", False, "financial_assessment", "Supported living only.")
    ] = False
    enhanced_disability_premium: Annotated[
        Flag,
        about(
            "Qualifies for the MIG enhanced disability premium", False, "financial_assessment", "Supported living only."
        ),
    ] = False
    payment_model: Annotated[
        Literal["gross", "net"] | None,
        about(
            "How the provider is paid (optional)",
            "gross",
            "financial_assessment",
            "Gross: the council pays the full fee and invoices the person. Net: the person pays their contribution "
            "to the provider. Leave empty for the council's usual model for the service.",
            labels={"gross": "Gross", "net": "Net"},
        ),
    ] = None

    @model_validator(mode="before")
    @classmethod
    def _as_people_write(cls, data: Any) -> Any:
        """Names in any case with spaces or hyphens (``Care Home``)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name, choices in _choices(cls).items():
            value = data.get(name)
            if value is None or isinstance(value, bool):
                continue
            try:
                data[name] = values.parse_enum(value, choices)
            except ValueError:
                continue  # the Literal itself reports it, naming the allowed values
        return data

    @field_validator("lot")
    @classmethod
    def _one_of_the_lots(cls, lot: int | None, info: ValidationInfo) -> int | None:
        book = (info.context or {}).get("rulebook")
        if lot is not None and book is not None and lot not in {entry.number for entry in book.lots}:
            raise ValueError(lot_message(lot, book))
        return lot

    @model_validator(mode="after")
    def _service_fields(self, info: ValidationInfo) -> Placement:
        problems: dict[str, str] = {}
        book = (info.context or {}).get("rulebook")
        if book is not None:
            problems.update(self.rulebook_problems(book))
        if self.end_date is not None and self.end_date <= self.start_date:
            problems["end_date"] = "must be after start_date (it is the day after the placement's last day)"
        if self.service == "care_home":
            if self.core_weekly_fee is None:
                problems["core_weekly_fee"] = "required for a care home"
            if self.care_type is None and self.lot is None:
                problems["care_type"] = "required for a care home (or give the lot)"
        elif self.sl_weekly_cost is None:
            problems["sl_weekly_cost"] = "required for supported living"
        if self.weekly_income is not None and self.capital is None:
            problems["capital"] = "required with weekly_income (a financial assessment records both)"
        if problems:
            raise ValueError(problems)
        return self

    def rulebook_problems(self, book: Rulebook) -> dict[str, str]:
        """What the rulebook's facts refuse: a date before its earliest, a Lot it does not hold or one that
        contradicts the care type or dementia given (the Lots table says which placements each Lot covers)."""
        problems: dict[str, str] = {}
        if self.as_at_date < book.earliest_as_at:
            problems["as_at" if self.as_at else "start_date"] = (
                f"rules are only held from {book.earliest_as_at.isoformat()}"
            )
        entry = next((entry for entry in book.lots if entry.number == self.lot), None)
        if self.lot is not None and entry is None:
            problems["lot"] = lot_message(self.lot, book)
        if self.service == "care_home" and entry is not None:
            if self.care_type is not None and self.care_type != entry.care_type:
                problems["lot"] = f"lot {self.lot} contradicts care_type {self.care_type}"
            if "dementia" in self.model_fields_set and self.dementia != entry.dementia:
                problems["lot"] = f"lot {self.lot} contradicts dementia {str(self.dementia).lower()}"
        return problems

    @property
    def as_at_date(self) -> date:
        return self.as_at or self.start_date

    def is_active_at(self, day: date) -> bool:
        """Active at ``day``: started on or before it and not yet ended (``end_date`` is the day after the last)."""
        return self.start_date <= day and (self.end_date is None or day < self.end_date)


@cache
def _choices(model: type[BaseModel]) -> dict[str, tuple[Any, ...]]:
    from engine.validate.fields import field_specs

    return {name: spec.choices for name, spec in field_specs(model).items() if spec.choices}


def lot_message(lot: int, book: Rulebook) -> str:
    return f"must be {values.show_choices(sorted(entry.number for entry in book.lots))}, got {lot!r}"


def parse_placement(data: Any, book: Rulebook | None = None) -> Placement:
    """The placement's fields → a Placement, or InputError with a message per field. With a rulebook, its facts
    are checked too (earliest date, Lots); ``Engine.decide`` always checks them against its own rulebook."""
    if not isinstance(data, dict):
        raise InputError({"placement": ["must be a JSON object with the placement's fields"]})
    try:
        return Placement.model_validate(data, context={"rulebook": book})
    except ValidationError as exc:
        raise InputError(field_messages(exc)) from None
