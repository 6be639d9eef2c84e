"""What the brokerage web page shows: the form's fields and the plain-English labels of outcomes (the figures'
labels are the rulebook's: api/web/words.py).

Presentation only. The engine decides what is valid; no policy number or rule lives here. The form's fields
(label, help text, section, choices) are generated from the placement model that declares them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from api.web.words import humanise, role_label
from engine.language.vocabulary import Kind
from engine.rulebook.loader import Rulebook, load_rulebook
from engine.validate.fields import FieldSpec, field_specs
from engine.validate.placement import Placement


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: str  # text | money | number | date | select | radio | checkbox
    hint: str = ""
    required: bool = False
    choices: tuple[tuple[str, str], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Section:
    title: str
    fields: tuple[FormField, ...]
    hint: str = ""
    on_request: bool = False  # shown folded until asked for (or filled in)
    key: str = ""


# The form's sections, in order: (title, hint). Which fields each holds is declared on the placement model.
SECTION_TITLES: dict[str, tuple[str, str]] = {
    "placement": ("The placement", ""),
    "care_home": ("Care home", "Fill in for a care-home placement."),
    "top_up": ("Top-up", "Only when someone pays a top-up for a more expensive home."),
    "supported_living": ("Supported living", "Fill in for a supported-living service."),
    "package": ("The package", "Fill in for home care, a direct payment and every other community package."),
    "home_care": (
        "Home-care hours",
        "Optional: with no weekly cost given, the cost is the hours at the hourly rate (to the penny).",
    ),
    "health": ("Health funding", ""),
    "financial_assessment": (
        "Financial assessment",
        "Optional: fill in to see what the person pays towards their care and who pays the provider what.",
    ),
}
ON_REQUEST = {"financial_assessment"}
INPUTS = {
    "text": "text",
    "pence": "money",
    "quantity": "number",
    "share": "number",
    "whole": "number",
    "day": "date",
    "flag": "checkbox",
}


def form_field(spec: FieldSpec) -> FormField:
    """A placement field as a form input, from its declaration (label, help, limits, choices)."""
    limits = f"{spec.low} to {spec.high}." if spec.low is not None and spec.high is not None else ""
    hint = " ".join(part for part in (spec.help, limits) if part)
    if spec.kind == "flag" and spec.nullable:  # yes, no, or not recorded (a checkbox cannot say "not recorded")
        choices = (("", "Not recorded"), ("true", "Yes"), ("false", "No"))
        return FormField(spec.name, spec.label, "select", hint, spec.required, choices)
    if spec.choices:
        kind = "radio" if spec.required else "select"
        labels = tuple((str(c), spec.choice_labels.get(str(c)) or humanise(str(c))) for c in spec.choices)
        choices = ((("", "Choose…"),) if spec.nullable else ()) + labels
        return FormField(spec.name, spec.label, kind, hint, spec.required, choices)
    if (
        spec.kind == "flag" and spec.nullable
    ):  # yes, no or not recorded: a checkbox cannot say "no" apart from "unknown"
        choices = (("", "Not recorded"), ("true", "Yes"), ("false", "No"))
        return FormField(spec.name, spec.label, "select", hint, spec.required, choices)
    return FormField(spec.name, spec.label, INPUTS[spec.kind], hint, spec.required)


def form_sections(specs: Mapping[str, FieldSpec]) -> tuple[Section, ...]:
    return tuple(
        Section(
            title,
            tuple(form_field(spec) for spec in specs.values() if spec.section == key),
            hint,
            on_request=key in ON_REQUEST,
            key=key,
        )
        for key, (title, hint) in SECTION_TITLES.items()
    )


OUTCOMES = {
    "proceed": ("Proceed", "The price and terms can be agreed as proposed."),
    "needs_approval": ("Needs approval", "Do not agree the placement until it is approved."),
    "refer": ("Refer", "Refer before agreeing: the rules cannot clear this placement as it stands."),
    "not_permitted": ("Not permitted", "The placement cannot be agreed on these terms."),
}

ACTIONS = {
    "info": "Note",
    "proceed": "Proceed",
    "needs_approval": "Needs approval",
    "refer": "Refer",
    "not_permitted": "Not permitted",
}


def field_label(name: str) -> str:
    spec = FORM_FIELDS.get(name)
    return spec.label if spec else ("Your name" if name == "user_name" else humanise(name))


@lru_cache(maxsize=1)
def _figure_kinds() -> dict[str, Kind]:
    """The kind of each figure, as rules/figures.yaml declares it."""
    return {name: figure.kind for name, figure in load_rulebook().figures.items()}


def show_figure(name: str, value: Any) -> str:
    if value is None:
        return "not applicable"
    kind = _figure_kinds().get(name)
    if kind is Kind.MONEY:
        return money(value)
    if kind is Kind.PERCENT:
        return f"{value}%"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def money(value: Any) -> str:
    number = Decimal(str(value))
    sign = "-" if number < 0 else ""
    return f"{sign}£{abs(number):,.2f}"


def show_parameter(book: Rulebook | None, value: Any) -> str:
    if value is None:
        return "not in force"
    if isinstance(value, list):
        return "; ".join(f"{row['description']}: {role_label(book, row['approver'])}" for row in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def placement_from_form(form: Mapping[str, Any]) -> dict[str, Any]:
    """The form's fields as the placement's JSON fields: empty means "not given" (the engine's default)."""
    data: dict[str, Any] = {}
    for name, spec in FORM_FIELDS.items():
        value = form.get(name)
        if not isinstance(value, str):
            continue
        value = value.strip()
        if spec.kind == "checkbox":
            if value:
                data[name] = True
        elif value:
            data[name] = value
    return data


def approvers(decision: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """Each approver named by a finding, with the rule ids that name it."""
    found: dict[str, list[str]] = {}
    for finding in decision["findings"]:
        if finding.get("approver"):
            found.setdefault(finding["approver"], []).append(finding["rule_id"])
    return list(found.items())


SECTIONS = form_sections(field_specs(Placement))
FORM_FIELDS = {f.name: f for section in SECTIONS for f in section.fields}
