"""The decision (SPEC §7): outcome, figures, findings with references, and every parameter read."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any, Literal, Optional

from pydantic import BaseModel

from engine.derive import Derived
from engine.money import pounds, show_pounds
from engine.rulebook import PLACEHOLDER, Band, Parameter, Rule, Rulebook
from engine.vocabulary import ACTIONS, DERIVED, FIELDS, UNIT_KINDS, Kind

Outcome = Literal["proceed", "needs_approval", "refer", "not_permitted"]
SEVERITY = {action: rank for rank, action in enumerate(ACTIONS)}


class Finding(BaseModel):
    rule_id: str
    module: str
    action: Literal["info", "proceed", "needs_approval", "refer", "not_permitted"]
    approver: Optional[str] = None
    message: str
    reference: str


class ParameterRead(BaseModel):
    name: str
    value: Any
    effective_from: Optional[date]
    reference: str


class Decision(BaseModel):
    placement_id: str
    as_at: date
    rulebook_version: str
    outcome: Outcome
    figures: dict[str, Any]
    findings: list[Finding]
    parameters: list[ParameterRead]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values; money stays Decimal with 2 places (see ``dumps``)."""
        data = self.model_dump(mode="python")
        for finding in data["findings"]:
            if finding["approver"] is None:
                del finding["approver"]
        return data

    def to_json(self, indent: int | None = 2) -> str:
        return dumps(self.to_dict(), indent=indent)


def dumps(data: Any, indent: int | None = 2) -> str:
    """JSON with Decimals written as exact numbers (``1040.00``, not ``"1040.00"`` or ``1040.0``)."""
    marks: dict[str, str] = {}

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            mark = f"\u0000{len(marks)}\u0000"
            marks[mark] = str(value)
            return mark
        if isinstance(value, date):
            return value.isoformat()
        raise TypeError(f"cannot write {type(value).__name__} as JSON")

    text = json.dumps(data, default=default, indent=indent, ensure_ascii=False)
    for mark, number in marks.items():
        text = text.replace(json.dumps(mark), number, 1)
    return text


def build_decision(placement_id: str, derived: Derived, fired: set[str], book: Rulebook) -> Decision:
    findings = [_finding(rule, derived, book) for rule in book.rules if rule.id in fired]
    actions = [f.action for f in findings if f.action != "info"]
    outcome = max(actions, key=SEVERITY.__getitem__) if actions else "proceed"
    return Decision.model_construct(
        placement_id=placement_id,
        as_at=derived.as_at,
        rulebook_version=book.version,
        outcome=outcome,
        figures={name: show_value(derived.values.get(name), DERIVED[name], as_number=True) for name in derived.figures},
        findings=findings,
        parameters=[
            ParameterRead.model_construct(
                name=name,
                value=parameter_value(book.parameters[name], value),
                effective_from=effective,
                reference=book.parameters[name].reference.text,
            )
            for name, (value, effective) in sorted(derived.read.items())
        ],
    )


def _finding(rule: Rule, derived: Derived, book: Rulebook) -> Finding:
    approver = rule.approver or (derived.band.approver if rule.approver_from and derived.band else None)
    return Finding.model_construct(
        rule_id=rule.id,
        module=rule.module,
        action=rule.action,
        approver=approver,
        message=render(rule.message, derived, book),
        reference=rule.reference.text,
    )


def render(template: str, derived: Derived, book: Rulebook) -> str:
    return PLACEHOLDER.sub(lambda match: _placeholder(match.group(1), derived, book), template)


def _placeholder(name: str, derived: Derived, book: Rulebook) -> str:
    if name.startswith("band."):
        return _band_text(name, derived.band)
    if name == "as_at":
        return derived.as_at.isoformat()
    value = derived.values.get(name)
    if name.startswith("params."):
        kind = book.parameters[name.removeprefix("params.")].kind
        if kind is Kind.RATIO and value is not None:
            return f"{value * 100:.0f}%"
    else:
        kind = FIELDS.get(name) or DERIVED.get(name) or Kind.ENUM
    shown = show_value(value, kind, as_number=False)
    return "not recorded" if shown is None else str(shown)


def _band_text(name: str, band: Band | None) -> str:
    if band is None:
        return ""
    if name == "band.care_cubed_note":
        return "; a Care Cubed costing is required" if band.care_cubed_required else ""
    return str(getattr(band, name.removeprefix("band.")))


def show_value(value: Any, kind: Kind, as_number: bool) -> Any:
    """A value for output: pounds as Decimal (2 dp) in figures, or text (£1,040.00, 4.52%) in messages."""
    if value is None:
        return None
    if kind is Kind.MONEY:
        return pounds(value) if as_number else show_pounds(value)
    if kind is Kind.QUANTITY:
        number = (Decimal(value) / 100).normalize()
        return number if as_number else f"{number:f}"
    if kind is Kind.PERCENT:
        return value if as_number else f"{value}%"
    if kind is Kind.BOOL and not as_number:
        return "yes" if value else "no"
    return value


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
    return show_value(value, kind, as_number=True)
