"""The placement: one flat record, validated into exact engine units. Its fields are declared once, in groups
(``engine.validate.field_groups``), and joined here into one model with its cross-field checks.

Each field carries its type and limits, its default, a label and help text, the form section it belongs to and
an example; the rule vocabulary, the API's request schema, the web form and batch validation are all generated
from this class (``engine.validate.fields``). Values are read as people write them (``engine.validate.values``):
money arrives in pounds (``£`` and thousands commas allowed) and is held as integer pence; hours and miles (at most 4
decimal places) as integer ten-thousandths; dates day first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from functools import cache
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator, model_validator

from engine.money import LARGEST, QUANTITY_PLACES, show_pounds, to_pence
from engine.validate import values
from engine.validate.errors import InputError, field_messages
from engine.validate.field_groups.charging import FinancialAssessment
from engine.validate.field_groups.choice import ChoiceAndTopUps
from engine.validate.field_groups.health import NhsAndS117, NhsContribution
from engine.validate.field_groups.packages import Package
from engine.validate.field_groups.pricing import CareCubedPrice, PlacementAndPrice, Provider
from engine.validate.field_groups.providers import ProviderAndSourcing, RegisterFacts, SupportedLivingRecords
from engine.validate.field_groups.supported_living import SupportedLiving

__all__ = ["InputError", "Placement", "RulebookFacts", "field_messages", "parse_placement"]


class CategoryFacts(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def fixes(self) -> tuple[tuple[str, str | bool], ...]: ...  # the fields its derivation fixes, in order


class CategoriesFacts(Protocol):
    @property
    def items(self) -> Sequence[CategoryFacts]: ...


class RulebookFacts(Protocol):
    """What validation reads from a rulebook (``engine.rulebook.book.Rulebook``): the earliest date it holds rules
    for and its care categories. Validation comes before the rulebook in the pipeline, so it names only these."""

    @property
    def earliest_as_at(self) -> date: ...
    @property
    def categories(self) -> CategoriesFacts: ...
    @property
    def service_aliases(self) -> Mapping[str, str]: ...


# pydantic puts the fields of the last base first: the groups are listed here from the last field to the first,
# so the model's field order (the API schema, the form, the CSV columns) reads PlacementAndPrice upwards.
class Placement(
    RegisterFacts,
    SupportedLivingRecords,
    ProviderAndSourcing,
    FinancialAssessment,
    Provider,
    NhsAndS117,
    CareCubedPrice,
    ChoiceAndTopUps,
    NhsContribution,
    SupportedLiving,
    Package,
    PlacementAndPrice,
):
    """One placement. Money fields hold integer pence; hours, miles and shares integer ten-thousandths."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _as_people_write(cls, data: Any, info: ValidationInfo) -> Any:
        """Names in any case with spaces or hyphens (``Care Home``); a service by the rulebook's other names for it
        (``DP``)."""
        if not isinstance(data, dict):
            return data
        given = data  # copied only when a name is rewritten: most placements arrive as the engine writes them
        book = (info.context or {}).get("rulebook")
        service = data.get("service")
        if book is not None and isinstance(service, str):
            aliases = book.service_aliases  # its names are enum keys already: one written so is looked up as it is
            named = aliases.get(service) or aliases.get(values.enum_key(service), service)
            if named != service or service.__class__ is not str:  # the same text: nothing to rewrite
                data = dict(given)
                data["service"] = named
        table = _choices(cls)
        for name in [name for name in given if name in table]:
            value, choices = data[name], table[name]
            if value is None or isinstance(value, bool) or (value.__class__ is str and value in choices):
                continue  # nothing to read (a choice written as the engine writes it is returned as it is)
            try:
                written = values.parse_enum(value, choices)
            except ValueError:
                continue  # the Literal itself reports it, naming the allowed values
            if data is given:
                data = dict(given)
            data[name] = written
        return data

    @field_validator("lot")
    @classmethod
    def _one_of_the_lots(cls, lot: int | None, info: ValidationInfo) -> int | None:
        book = (info.context or {}).get("rulebook")
        if lot is not None and book is not None and lot not in _lot_entries(book):
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
        elif self.service == "supported_living":
            if self.sl_weekly_cost is None:
                problems["sl_weekly_cost"] = "required for supported living"
        else:
            problems.update(self.package_problems())
        if self.requested_date and self.sourced_date and self.sourced_date < self.requested_date:
            problems["sourced_date"] = (
                "must be on or after requested_date (the placement is sourced after it is asked for)"
            )
        if self.weekly_income is not None and self.capital is None:
            problems["capital"] = "required with weekly_income (a financial assessment records both)"
        if problems:
            raise ValueError(problems)
        return self

    def package_problems(self) -> dict[str, str]:
        """A package's weekly cost: given, or home-care hours × rate; all three given must agree to the penny."""
        hours, rate, cost = self.hc_hours, self.hc_hourly_rate, self.weekly_cost
        if cost is None and (hours is None or rate is None):
            return {
                "weekly_cost": f"required for {self.service.replace('_', ' ')} (or give hc_hours and hc_hourly_rate)"
            }
        if hours is not None and rate is not None and hours_times_rate(hours, rate) > LARGEST_PENCE:
            message = f"hc_hours × hc_hourly_rate is more than {show_pounds(LARGEST_PENCE)} a week"
            return {"hc_hours": message, "hc_hourly_rate": message}
        if (
            cost is not None
            and hours is not None
            and rate is not None
            and abs(hours_times_rate(hours, rate) - cost) > 1
        ):
            message = (
                f"hc_hours × hc_hourly_rate is {show_pounds(hours_times_rate(hours, rate))}, "
                f"more than a penny from weekly_cost {show_pounds(cost)}"
            )
            return {"weekly_cost": message, "hc_hours": message, "hc_hourly_rate": message}
        return {}

    def rulebook_problems(self, book: RulebookFacts) -> dict[str, str]:
        """What the rulebook's facts refuse: a date before its earliest, a care category (``lot``) it does not
        hold or one whose derivation fixes a field (``care_type == "nursing"``) to another value than the one given."""
        problems: dict[str, str] = {}
        if self.as_at_date < book.earliest_as_at:
            problems["as_at" if self.as_at else "start_date"] = (
                f"rules are only held from {book.earliest_as_at.isoformat()}"
            )
        lot = self.lot  # no category's id is None: without a lot there is no entry to look for
        entry = None if lot is None else _lot_entries(book).get(lot)
        if self.service not in book.service_aliases.values():
            problems["service"] = f"{self.service} is not a service of this rulebook"
        if self.lot is not None and entry is None:
            problems["lot"] = lot_message(self.lot, book)
        if self.service == "care_home" and entry is not None:
            for name, fixed in entry.fixes:
                given = getattr(self, name)
                stated = name in self.model_fields_set if isinstance(fixed, bool) else given is not None
                if stated and given != fixed:
                    shown = str(given).lower() if isinstance(given, bool) else given
                    problems["lot"] = f"lot {self.lot} contradicts {name} {shown}"
        return problems

    @property
    def as_at_date(self) -> date:
        return self.as_at or self.start_date

    def is_active_at(self, day: date) -> bool:
        """Active at ``day``: started on or before it and not yet ended (``end_date`` is the day after the last)."""
        return self.start_date <= day and (self.end_date is None or day < self.end_date)


REGISTER_FIELDS = tuple(RegisterFacts.model_fields)
REGISTER_ONLY = "comes from the provider register (give the register, e.g. --providers FILE), not the placement"


@cache
def _choices(model: type[BaseModel]) -> dict[str, tuple[Any, ...]]:
    from engine.validate.fields import field_specs

    return {name: spec.choices for name, spec in field_specs(model).items() if spec.choices}


# id of a rulebook's categories → (them, each lot's first entry): kept with what it was made from, so an id cannot
# be reused while its entry stands
_LOTS: dict[int, tuple[Sequence[CategoryFacts], dict[int, CategoryFacts]]] = {}
_LOTS_KEPT = 64  # distinct rulebooks' categories kept (memory, not policy)


def _lot_entries(book: RulebookFacts) -> dict[int, CategoryFacts]:
    """The rulebook's care categories by lot (the first with each id, as a search in order finds): made once."""
    items = book.categories.items
    found = _LOTS.get(id(items))
    if found is not None and found[0] is items:
        return found[1]
    entries: dict[int, CategoryFacts] = {}
    for entry in items:
        entries.setdefault(entry.id, entry)
    if not isinstance(items, tuple):  # a list could change: read afresh each time
        return entries
    if len(_LOTS) >= _LOTS_KEPT:
        _LOTS.clear()
    _LOTS[id(items)] = (items, entries)
    return entries


LARGEST_PENCE = to_pence(LARGEST)  # the most a weekly amount may be (as every money field)


def hours_times_rate(hours: Any, rate: Any) -> Any:
    """Hours (ten-thousandths) × an hourly rate (pence) in pence, rounded half-up to the penny (ints or arrays)."""
    scale = 10**QUANTITY_PLACES
    return (hours * rate * 2 + scale) // (2 * scale)


def lot_message(lot: int, book: RulebookFacts) -> str:
    return f"must be {values.show_choices(sorted(entry.id for entry in book.categories.items))}, got {lot!r}"


def parse_placement(data: Any, book: RulebookFacts | None = None, register_joined: bool = False) -> Placement:
    """The placement's fields → a Placement, or InputError with a message per field. With a rulebook, its facts
    are checked too (earliest date, care categories); ``Engine.decide`` always checks them against its own
    rulebook. The provider register's facts are refused unless the register put them there (``register_joined``)."""
    if not isinstance(data, dict):
        raise InputError({"placement": ["must be a JSON object with the placement's fields"]})
    if not register_joined and (given := [name for name in REGISTER_FIELDS if name in data]):
        raise InputError({name: [REGISTER_ONLY] for name in given})
    try:
        return Placement.model_validate(data, context={"rulebook": book})
    except ValidationError as exc:
        raise InputError(field_messages(exc)) from None
