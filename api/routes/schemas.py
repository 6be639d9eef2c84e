"""Request and response schemas of the HTTP API, for its OpenAPI document.

The engine (``engine.validate.placement``) stays the one authority on what a valid placement is, so the API parses
the raw JSON with it and gives the same messages as the CLI; the ``PlacementIn`` schema in the docs is generated
from the engine's model (``placement_schema``), so it names the same fields with the same limits.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from engine.money import LARGEST, QUANTITY_PLACES
from engine.validate.fields import FieldSpec, field_specs
from engine.validate.placement import Placement
from engine.validate.values import ENGINE_PLACES, WRITTEN_PLACES

Outcome = Literal["proceed", "needs_approval", "refer", "not_permitted"]
Action = Literal["info", "proceed", "needs_approval", "refer", "not_permitted"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# What each kind of value may be written as, for the docs (the engine's own parsers decide what is valid):
# numbers as JSON numbers or as text people write, names in any case, dates day first.
TEXT_FORMS: dict[str, dict[str, Any]] = {
    "pence": {"type": "string", "pattern": r"^\s*[+-]?\s*£?\s*[-+0-9.,eE]+\s*$"},
    "quantity": {"type": "string", "pattern": r"^\s*[-+0-9.,eE]+\s*$"},
    "share": {"type": "string", "pattern": r"^\s*[-+0-9.,eE]+\s*$"},
    "whole": {"type": "string", "pattern": r"^\s*[+-]?[0-9]+(\.0*)?\s*$"},
    "flag": {
        "type": "string",
        "pattern": r"^\s*([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[Yy]([Ee][Ss])?|[Nn][Oo]?|[01])\s*$",
    },
    "enum": {"type": "string", "pattern": r"^[\sA-Za-z0-9_-]+$"},
    "day": {
        "type": "string",
        "pattern": r"^\s*([0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{4}|"
        r"[0-9]{1,2}(st|nd|rd|th)?[ -][A-Za-z]{3,9}\.?[ -][0-9]{4})"
        r"([ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?\s*$",
    },
}
HOW_WRITTEN = {
    "pence": "Pounds, at most 2 decimal places, not negative; a leading £ and thousands commas are accepted "
    "(£1,040.00), a decimal comma is not (1.040,00 is an error).",
    "quantity": f"At most {QUANTITY_PLACES} decimal places (13.3333), not negative.",
    "share": f"A share between 0 and 1, at most {WRITTEN_PLACES['share']} decimal places (0.5 for half, 0.3333 "
    "for a third).",
    "whole": "A whole number (82 or 82.0).",
    "flag": "true/false, yes/no, y/n or 1/0, in any case.",
    "enum": "Any case; spaces or hyphens for underscores (Care Home → care_home).",
    "day": "A date, day first: 2026-05-04, 04/05/2026, 4/5/2026, 04-05-2026, 04.05.2026, 4 May 2026, "
    "04-May-2026, or a date-time at midnight (2026-05-04T00:00:00).",
    "text": "",
}


def _value_schema(spec: FieldSpec) -> dict[str, Any]:
    if spec.kind == "text":
        text: dict[str, Any] = {"type": "string"}
        for key, value in (("minLength", spec.min_length), ("maxLength", spec.max_length), ("pattern", spec.pattern)):
            if value is not None:
                text[key] = value
        return text
    if spec.kind in ("pence", "quantity"):
        number: dict[str, Any] = {"type": "number", "minimum": 0, "maximum": int(LARGEST)}
    elif spec.kind == "share":
        number = {"type": "number", "minimum": 0, "maximum": 1}
    elif spec.kind == "whole":
        number = {"type": "integer"}
        number.update({k: v for k, v in (("minimum", spec.low), ("maximum", spec.high)) if v is not None})
    elif spec.kind == "flag":
        number = {"anyOf": [{"type": "boolean"}, {"enum": [0, 1]}]}
    elif spec.kind == "enum":
        number = {"enum": list(spec.choices)}
    else:
        number = {"type": "string", "format": "date"}
    return {"anyOf": [number, TEXT_FORMS[spec.kind]]}


def _default(spec: FieldSpec) -> Any:
    places = ENGINE_PLACES.get(spec.kind)
    if places is not None and isinstance(spec.default, int):  # engine units → the number people write
        whole, rest = divmod(spec.default, 10**places)
        return whole if rest == 0 else float(Decimal(spec.default).scaleb(-places))
    return spec.default


def placement_schema() -> dict[str, Any]:
    """The OpenAPI schema of a placement, generated from the engine's placement model: same names, limits,
    labels, help and examples. (The API parses the body with the engine's model, so messages match the CLI.)"""
    specs = {name: spec for name, spec in field_specs(Placement).items() if not spec.register}  # never given
    properties: dict[str, Any] = {}
    for name, spec in specs.items():
        schema = _value_schema(spec)
        if spec.nullable:
            schema = {"anyOf": [*schema.get("anyOf", [schema]), {"type": "null"}]}
        schema["title"] = spec.label
        description = " ".join(part for part in (spec.help, HOW_WRITTEN[spec.kind]) if part)
        if description:
            schema["description"] = description
        if not spec.required:
            schema["default"] = _default(spec)
        schema["examples"] = [spec.example]
        properties[name] = schema
    return {
        "title": "PlacementIn",
        "description": "One proposed or existing placement. Unknown fields are refused, naming them.",
        "type": "object",
        "properties": properties,
        "required": [name for name, spec in specs.items() if spec.required],
        "additionalProperties": False,
    }


class FindingOut(Strict):
    rule_id: str
    module: str
    action: Action
    approver: str | None = Field(None, description="present when the rule names who must approve")
    refer_to: str | None = Field(
        None, description="on a refer finding: where the case goes, a referral destination the rulebook declares"
    )
    message: str
    reference: str


class ParameterReadOut(Strict):
    name: str
    value: Any
    effective_from: date | None
    reference: str


# Pounds are sent as JSON numbers with 2 decimal places (exact in the JSON text), so documented as numbers
Pounds = Annotated[Decimal, WithJsonSchema({"type": "number"})]


class PriceBandOut(Strict):
    band: int = Field(description="0: at or below the benchmark, no approval needed")
    up_to_weekly: Pounds | None = Field(
        description="the highest council-funded weekly price in the band; null: no limit"
    )
    approver: str | None
    care_cubed_required: bool


class PriceGuideOut(Strict):
    """What the broker can offer the provider: the ceiling of each approval band for the benchmark in force (the
    care category's benchmark for people 65 and over; the placement's CareCubed figure under the working-age
    strategy)."""

    basis: Literal["median", "care_cubed"]
    benchmark_weekly: Pounds
    bands: list[PriceBandOut]


class PaymentOut(Strict):
    """One line of who pays whom a week; the lines paid to the provider add up to its full weekly charge."""

    payer: Literal["council", "resident", "third_party", "nhs"]
    payee: Literal["provider", "council"]
    weekly: Pounds
    note: str


class DecisionOut(Strict):
    """The decision, exactly as ``carerules check`` prints it (SPEC §7)."""

    placement_id: str
    as_at: date
    rulebook_version: str
    outcome: Outcome
    figures: dict[str, int | Pounds | bool | str | None]
    price_guide: PriceGuideOut | None = Field(None, description="care homes priced against a benchmark in force")
    findings: list[FindingOut]
    parameters: list[ParameterReadOut]
    payments: list[PaymentOut] | None = Field(
        None, description="who pays whom a week, when a financial assessment is recorded and the payment model known"
    )


class ErrorBody(Strict):
    code: str
    fields: dict[str, list[str]] = Field(default_factory=dict, description="a list of messages per field")
    message: str | None = Field(None, description="what went wrong when it is not one field's fault")


class ErrorOut(Strict):
    """``{"error": {"code": "invalid_input", "fields": {...}}}`` as the CLI prints it; other codes alike."""

    error: ErrorBody


class BatchItemError(Strict):
    index: int
    error: ErrorBody


class BatchOut(Strict):
    """One result per placement, in order: a decision, or the placement's input error (as ``carerules check``
    prints for a list). ``decision_ids`` holds each stored decision's id (null for an input error)."""

    count: int
    invalid: int
    results: list[DecisionOut | BatchItemError]
    decision_ids: list[int | None]


class ApprovalOut(Strict):
    """An approval or a decline, as recorded (never edited)."""

    decision_id: int | None = None
    status: Literal["approved", "declined"] | None = None
    decision: Literal["approve", "decline"]
    by: str = Field(description="the signed-in user who decided")
    role: str = Field(description="the role they decided in")
    at: datetime
    reason: str


class ApprovalRequestOut(Strict):
    """Who asked for approval of a checked decision, when, and the roles it waits for (or a higher one)."""

    by: str | None = Field(description="the signed-in user who asked (null: asked before users were recorded)")
    at: datetime
    waiting_for: list[str] = Field(description="the approver roles of the decision's findings")


class ApprovalRequestedOut(ApprovalRequestOut):
    """A request for approval, as recorded (never edited): the decision is now pending."""

    decision_id: int
    status: Literal["pending"]


class StoredDecisionOut(Strict):
    id: int
    decided_at: datetime
    user: str | None = Field(description="the signed-in user who asked")
    channel: Literal["api", "batch", "web"]
    rulebook_version: str
    input: dict[str, Any]
    decision: DecisionOut
    status: Literal["not_needed", "checked", "pending", "approved", "declined"] = Field(
        description="not_needed: the outcome needs no approval; checked: a price tried, approval not asked for; "
        "pending: approval asked for, not yet decided; approved; declined"
    )
    approval_request: ApprovalRequestOut | None = Field(None, description="who asked for approval, and when")
    approval: ApprovalOut | None


class Change(Strict):
    before: Any
    after: Any


class DifferencesOut(Strict):
    rulebook_version: Change | None = None
    outcome: Change | None = None
    rules_added: list[str]
    rules_removed: list[str]
    approvers: Change | None = None
    figures: dict[str, Change]


class ReplayEditionOut(Strict):
    id: int | None = Field(description="the edition asked for by its id; null for the edition in force or a version")
    version: str = Field(description="the version of the rulebook the input was evaluated on")


class ReplayOut(Strict):
    """The stored input evaluated again at its stored as_at with the rulebook in force now (or a kept edition's)."""

    id: int
    as_at: date
    changed: bool
    differences: DifferencesOut
    stored: DecisionOut
    replayed: DecisionOut
    edition: ReplayEditionOut


class RuleOut(Strict):
    rule_id: str
    module: str
    action: Action
    approver: str | None
    label: str
    when: str
    reference: str


class RulesOut(Strict):
    rulebook_version: str
    rules: list[RuleOut]


class ParameterOut(Strict):
    name: str
    value: Any
    unit: str
    effective_from: date | None
    description: str
    reference: str


class ParametersOut(Strict):
    as_at: date
    rulebook_version: str
    parameters: list[ParameterOut]


class AuditOut(Strict):
    """``summary``: rows, error rows, column warnings, KPI period and each KPI with its definition, target and
    figures (as ``carerules audit`` writes kpis.json); ``results``: the first ``results_limit`` rows, input
    columns unchanged, then row, as_at_used, outcome, rule_ids, approvers, figures and errors; ``lists``: each
    list's count and first rows at the KPI date; ``downloads``: links to results.xlsx, the CSVs and the report
    (kept for a limited time)."""

    audit_id: str
    summary: dict[str, Any]
    results: list[dict[str, Any]]
    results_truncated: bool
    lists: dict[str, Any]
    downloads: dict[str, str]


class EditionOut(Strict):
    version: str = Field(description="the rulebook's content hash, as each decision's rulebook_version")
    published_at: str | None = Field(description="the newest mtime of the rulebook's files (UTC)")
    loaded_at: str = Field(description="when this worker process swapped the edition in (UTC)")


class RefusedOut(Strict):
    file: str | None
    line: int | None
    reason: str
    published_at: str | None = Field(description="the newest mtime of the refused folder's files (UTC)")
    refused_at: str


class HealthOut(Strict):
    status: Literal["ok"]
    rulebook_version: str
    database: Literal["ok"]
    worker: str = Field(description="a random name of the worker process that answered (one per process)")
    edition: EditionOut = Field(description="the edition this worker serves")
    refused: RefusedOut | None = Field(description="a newer rulebook this worker refused, still unfixed")


class ReloadOut(Strict):
    swapped: bool = Field(description="true when a new edition was swapped in")
    edition: EditionOut
