"""How a decision shows values: a rule's message with each {placeholder} as a person reads it (£1,040.00,
4.52%, 50%), figures as exact numbers (pounds, hours), and parameters' values (a table as its rows)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from engine.evaluate.derive import Derived
from engine.language.vocabulary import FIELDS, UNIT_KINDS, Kind
from engine.money import QUANTITY_PLACES, pounds, show_pounds
from engine.rulebook.loader import PLACEHOLDER, Parameter, Rule, Rulebook
from engine.rulebook.tables import Band


def render(rule: Rule, derived: Derived, book: Rulebook) -> str:
    """The rule's message with every {placeholder} shown as a person reads it (£1,040.00, 4.52%, 50%)."""
    templates = book.compiled.message_templates
    key = rule.id
    if rule.messages:  # written per service: the placement's service chooses
        key = f"{rule.id}:{derived.values['service']}"
    template = templates.get(key)
    if template is None:  # split once per rule and service: each placeholder with how it is shown
        message = dict(rule.messages).get(derived.values["service"], rule.message)
        parts = PLACEHOLDER.split(message)  # literal, name, literal, name, ..., literal
        template = templates[key] = (parts[0], tuple(zip((_shower(name, book) for name in parts[1::2]), parts[2::2])))
    out, rest = template
    if rest:
        band = derived.bands.get(rule.approver_from) if rule.approver_from else None
        for show, literal in rest:
            out += show(derived, band) + literal
    return out


def _shower(name: str, book: Rulebook) -> Callable[[Derived, Band | None], str]:
    """How one placeholder is shown, from the decision's values (or the band its approver comes from)."""
    if name.startswith("band."):
        return lambda _derived, band: _band_text(name, band, book)
    if name == "as_at":
        return lambda derived, _band: derived.as_at.isoformat()
    write = _TEXT.get(_text_kind(name, book), str)

    def show(derived: Derived, _band: Band | None) -> str:
        value = derived.values.get(name)
        return "not recorded" if value is None else write(value)

    return show


def _text_kind(name: str, book: Rulebook) -> Kind:
    if name.startswith("params."):
        return book.parameters[name.removeprefix("params.")].kind
    if name in ("as_at", "start_date"):
        return Kind.DATE
    return book.compiled.figure_kinds.get(name) or FIELDS.get(name) or Kind.ENUM


def _band_text(name: str, band: Band | None, book: Rulebook) -> str:
    if band is None:
        return ""
    if name == "band.care_cubed_note":
        return book.notes["care_cubed_required"] if band.care_cubed_required else ""
    if name == "band.approver":
        return band.approver.replace("_", " ")  # plain English in messages; the finding keeps the role's code
    return str(getattr(band, name.removeprefix("band.")))


def _quantity(value: int) -> Decimal:
    """Ten-thousandths as people write them: 400000 → 40, 133333 → 13.3333, 125000 → 12.5."""
    whole, rest = divmod(value, 10**QUANTITY_PLACES)
    return Decimal(whole) if rest == 0 else Decimal(value).scaleb(-QUANTITY_PLACES).normalize()


_TEXT: dict[Kind, Callable[[Any], str]] = {
    Kind.MONEY: show_pounds,
    Kind.QUANTITY: lambda v: f"{_quantity(v):f}",
    Kind.PERCENT: lambda v: f"{_hundredths_exact(v)}%",
    Kind.RATIO: lambda v: f"{v * 100:f}".rstrip("0").rstrip(".") + "%",
    Kind.BOOL: lambda v: "yes" if v else "no",
}


def _hundredths_exact(value: int) -> Decimal:
    """Hundredths (of a percent) with exactly 2 places: 452 → 4.52, 0 → 0.00."""
    return Decimal(value).scaleb(-2)


_NUMBER_OF: dict[Kind, Callable[[int], Decimal]] = {
    Kind.MONEY: pounds,
    Kind.QUANTITY: _quantity,
    Kind.PERCENT: _hundredths_exact,
}


def _as_number(value: Any, kind: Kind) -> Any:
    if value is None or kind not in _NUMBER_OF:
        return value
    return _NUMBER_OF[kind](value)


def as_is(value: Any) -> Any:  # a figure shown as it is: the writer a decision need not call
    return value


def _figure_writer(kind: Kind) -> Callable[[Any], Any]:
    number = _NUMBER_OF.get(kind)
    if number is None:
        return as_is
    return lambda value: None if value is None else number(value)


FIGURE_WRITERS = {kind: _figure_writer(kind) for kind in Kind}


def parameter_value(parameter: Parameter, value: Any) -> Any:
    kind = UNIT_KINDS[parameter.unit]
    if kind is Kind.TABLE and value is not None:
        return [
            {
                "band": band.band,
                "above_percent": band.above_percent,
                "up_to_percent": band.up_to_percent,
                "approver": band.approver,
                "care_cubed_required": band.care_cubed_required,
                "description": band.description,
            }
            for band in value
        ]
    return _as_number(value, kind)
