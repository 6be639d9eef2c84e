"""What the brokerage web page shows: the form's fields and the plain-English labels of figures and outcomes.

Presentation only. The engine decides what is valid; no policy number or rule lives here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from engine.rulebook.loader import load_rulebook
from engine.rulebook.vocabulary import Kind


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


SECTIONS: tuple[Section, ...] = (
    Section(
        "The placement",
        (
            FormField(
                "placement_id", "Placement or package id", "text", "The council's id. No personal data needed.", True
            ),
            FormField(
                "service",
                "Service",
                "radio",
                required=True,
                choices=(("care_home", "Care home"), ("supported_living", "Supported living")),
            ),
            FormField("start_date", "Start date", "date", required=True),
            FormField("as_at", "Decide as at (optional)", "date", "Leave empty to use the start date."),
            FormField("age", "Age", "number", "Age in years at the date decided.", True),
            FormField("provider", "Provider (optional)", "text"),
            FormField("other_weekly", "Other weekly cost in the package (optional)", "money"),
        ),
    ),
    Section(
        "Care home",
        (
            FormField(
                "care_type",
                "Care type",
                "select",
                choices=(("", "Choose…"), ("residential", "Residential"), ("nursing", "Nursing")),
            ),
            FormField("dementia", "Primary need is dementia", "checkbox"),
            FormField("core_weekly_fee", "Core weekly fee", "money", "The home's weekly fee, excluding FNC and 1:1."),
            FormField("one_to_one_weekly", "1:1 support a week (optional)", "money"),
            FormField(
                "fnc_weekly",
                "FNC paid to the home a week (optional)",
                "money",
                "Leave empty on a nursing placement to assume the standard rate.",
            ),
            FormField("block_booked", "This is a council block-booked bed", "checkbox"),
            FormField("block_bed_available", "A suitable block-booked bed was available", "checkbox"),
            FormField("distance_miles", "Distance from usual home, miles (optional)", "number"),
            FormField("resident_chose_location", "The person chose a home outside the reasonable distance", "checkbox"),
            FormField("cheapest_suitable_weekly", "Cheapest suitable home available, a week (optional)", "money"),
            FormField(
                "personal_budget_weekly",
                "Personal budget a week (optional)",
                "money",
                "Leave empty to use the median for the Lot, or the cheapest suitable home if higher.",
            ),
        ),
        "Fill in for a care-home placement.",
    ),
    Section(
        "Top-up",
        (
            FormField("top_up_weekly", "Top-up a week (optional)", "money"),
            FormField(
                "top_up_payer",
                "Who pays the top-up",
                "select",
                choices=(
                    ("none", "No payer"),
                    ("third_party", "Third party"),
                    ("first_party", "The person (first party)"),
                ),
            ),
            FormField(
                "first_party_basis",
                "Basis of a first-party top-up",
                "select",
                choices=(
                    ("", "None"),
                    ("property_disregard_12_week", "12-week property disregard"),
                    ("deferred_payment", "Deferred payment agreement"),
                    ("s117", "Section 117 after-care"),
                ),
            ),
            FormField("top_up_agreement_signed", "Written top-up agreement signed", "checkbox"),
            FormField("top_up_affordability_confirmed", "Payer shown able and willing to pay", "checkbox"),
        ),
        "Only when someone pays a top-up for a more expensive home.",
    ),
    Section(
        "Supported living",
        (
            FormField(
                "sl_day_hours", "Support hours a week", "number", "1:1 hours plus the person's share of shared hours."
            ),
            FormField("sl_waking_night_hours", "Waking-night hours a week", "number"),
            FormField("sl_sleep_in_nights", "Sleep-in nights a week", "number", "0 to 7."),
            FormField("sl_weekly_cost", "Proposed weekly cost", "money"),
        ),
        "Fill in for a supported-living service.",
    ),
    Section(
        "Health funding",
        (
            FormField(
                "nhs_contribution_weekly",
                "NHS contribution a week, other than FNC",
                "money",
                "Joint funding, CHC share or s117 health share. Enter 0 if there is none; leave empty if not known.",
            ),
            FormField("s117", "Entitled to Section 117 after-care", "checkbox"),
            FormField("dst_priority_domains", "DST domains at Priority", "number", "0 to 12."),
            FormField("dst_severe_domains", "DST domains at Severe", "number", "0 to 12."),
            FormField("chc_referral_made", "A CHC referral or checklist is in progress", "checkbox"),
        ),
    ),
)

FORM_FIELDS = {f.name: f for section in SECTIONS for f in section.fields}

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

FIGURES = {
    "lot": "Framework Lot",
    "comparable_weekly": "Council-funded weekly price (excluding FNC and 1:1)",
    "benchmark_weekly": "LaingBuisson median for the Lot",
    "over_benchmark_weekly": "Above the median by",
    "over_benchmark_percent": "Above the median by (%)",
    "gross_weekly_cost": "Gross weekly cost of care",
    "fnc_used_weekly": "FNC counted",
    "personal_budget_weekly": "Personal budget",
    "top_up_required_weekly": "Top-up needed to meet the fee",
    "expected_nhs_share_weekly": "Expected NHS share (s117)",
    "sl_day_support_weekly": "Reference: support hours",
    "sl_waking_night_weekly": "Reference: waking nights",
    "sl_sleep_in_weekly": "Reference: sleep-ins",
    "sl_reference_weekly": "Reference rate for the package",
    "sl_over_reference_weekly": "Above the reference rate by",
}


def humanise(name: str | None) -> str:
    """team_manager → Team manager."""
    if not name:
        return ""
    text = name.replace("_", " ")
    return text[:1].upper() + text[1:]


def field_label(name: str) -> str:
    spec = FORM_FIELDS.get(name)
    return spec.label if spec else ("Your name" if name == "user_name" else humanise(name))


def figure_label(name: str) -> str:
    return FIGURES.get(name) or humanise(name)


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


def show_parameter(value: Any) -> str:
    if value is None:
        return "not in force"
    if isinstance(value, list):
        return "; ".join(f"{row['description']}: {humanise(row['approver'])}" for row in value)
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
