"""Request and response schemas of the HTTP API, for its OpenAPI document.

The engine (``engine.validate.placement``) stays the one authority on what a valid placement is, so the API parses the
raw JSON with it and gives the same messages as the CLI; ``PlacementIn`` describes the same fields for the
docs and for clients (a test keeps its field names equal to the engine's).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

Money = Annotated[Decimal, Field(ge=0, le=10_000_000, description="pounds, at most 2 decimal places")]
Number = Annotated[Decimal, Field(ge=0, le=10_000_000)]
Pounds = Annotated[Decimal, WithJsonSchema({"type": "number", "description": "pounds, 2 decimal places"})]
Day = Annotated[date, Field(ge=date(2020, 1, 1), description="YYYY-MM-DD")]
Outcome = Literal["proceed", "needs_approval", "refer", "not_permitted"]
Action = Literal["info", "proceed", "needs_approval", "refer", "not_permitted"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlacementIn(Strict):
    """One proposed or existing placement (SPEC §3). Money in pounds with at most 2 decimal places."""

    placement_id: Annotated[str, Field(min_length=1, max_length=64)]
    service: Literal["care_home", "supported_living"]
    start_date: Day
    as_at: Day | None = None
    age: Annotated[int, Field(ge=18, le=120)]
    care_type: Literal["residential", "nursing"] | None = None
    dementia: bool = False
    lot: Literal[1, 2, 6, 7] | None = None
    core_weekly_fee: Money | None = Field(None, description="required for care homes; excludes FNC and 1:1")
    one_to_one_weekly: Money = Decimal(0)
    fnc_weekly: Money | None = None
    other_weekly: Money = Decimal(0)
    sl_day_hours: Number = Decimal(0)
    sl_waking_night_hours: Number = Decimal(0)
    sl_sleep_in_nights: Annotated[int, Field(ge=0, le=7)] = 0
    sl_weekly_cost: Money | None = Field(None, description="required for supported living")
    nhs_contribution_weekly: Money | None = Field(None, description="null = not recorded")
    s117: bool = False
    dst_priority_domains: Annotated[int, Field(ge=0, le=12)] = 0
    dst_severe_domains: Annotated[int, Field(ge=0, le=12)] = 0
    chc_referral_made: bool = False
    block_booked: bool = False
    block_bed_available: bool = False
    distance_miles: Number | None = None
    resident_chose_location: bool = False
    cheapest_suitable_weekly: Money | None = None
    personal_budget_weekly: Money | None = None
    top_up_weekly: Money = Decimal(0)
    top_up_payer: Literal["none", "third_party", "first_party"] = "none"
    first_party_basis: Literal["property_disregard_12_week", "deferred_payment", "s117"] | None = None
    top_up_agreement_signed: bool = False
    top_up_affordability_confirmed: bool = False
    provider: Annotated[str, Field(max_length=200)] | None = None


class FindingOut(Strict):
    rule_id: str
    module: str
    action: Action
    approver: str | None = Field(None, description="present when the rule names who must approve")
    refer_to: str | None = Field(
        None, description="on a refer finding: where the case goes (isp_panel, chc_assessment, records_check, ...)"
    )
    message: str
    reference: str


class ParameterReadOut(Strict):
    name: str
    value: Any
    effective_from: date | None
    reference: str


class PriceBandOut(Strict):
    band: int = Field(description="0: at or below the benchmark, no approval needed")
    up_to_weekly: Pounds | None = Field(
        description="the highest council-funded weekly price in the band; null: no limit"
    )
    approver: str | None
    care_cubed_required: bool


class PriceGuideOut(Strict):
    """What the broker can offer the provider: the ceiling of each approval band for the benchmark in force."""

    basis: Literal["median"]
    benchmark_weekly: Pounds
    bands: list[PriceBandOut]


class DecisionOut(Strict):
    """The decision, exactly as ``carerules check`` prints it (SPEC §7)."""

    placement_id: str
    as_at: date
    rulebook_version: str
    outcome: Outcome
    figures: dict[str, int | Pounds | bool | None]
    price_guide: PriceGuideOut | None = Field(None, description="care homes priced against a benchmark in force")
    findings: list[FindingOut]
    parameters: list[ParameterReadOut]


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


class StoredDecisionOut(Strict):
    id: int
    decided_at: datetime
    user: str | None = Field(description="the signed-in user who asked")
    channel: Literal["api", "batch", "web"]
    rulebook_version: str
    input: dict[str, Any]
    decision: DecisionOut
    status: Literal["not_needed", "pending", "approved", "declined"]
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


class ReplayOut(Strict):
    """The stored input evaluated again at its stored as_at with the rulebook in force now."""

    id: int
    as_at: date
    changed: bool
    differences: DifferencesOut
    stored: DecisionOut
    replayed: DecisionOut


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


class HealthOut(Strict):
    status: Literal["ok"]
    rulebook_version: str
    database: Literal["ok"]
