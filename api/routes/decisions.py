"""POST /v1/decisions, /v1/decisions/batch; GET /v1/decisions, /v1/decisions/{id}, /v1/decisions/{id}/replay;
POST /v1/decisions/{id}/request-approval and /v1/decisions/{id}/approvals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.auth.guard import AUTH_RESPONSES, Approver, Checker, Reader, require
from api.auth.identity import AUDIT, CHECK
from api.routes.approvals import LogFilter, approve, as_csv, request_approval, search, with_approval
from api.routes.deps import (
    AsAtQuery,
    BodyDep,
    DeciderDep,
    EngineDep,
    LogDep,
    SettingsDep,
    edition_of,
    placement_body,
)
from api.routes.edition_work import engine_for
from api.routes.editions import editions_store
from api.routes.responses import ApiError, ExactJSONResponse
from api.routes.schemas import (
    ApprovalOut,
    ApprovalRequestedOut,
    BatchOut,
    DecisionOut,
    ErrorOut,
    ReplayOut,
    StoredDecisionOut,
)
from api.routes.service import Logged, parse_json, replay
from api.store.decision_log import DecisionLog, DecisionRecord
from engine.validate.placement import InputError, field_messages

router = APIRouter(prefix="/v1/decisions", tags=["decisions"])

ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    413: {"model": ErrorOut, "description": "request body too large"},
    422: {"model": ErrorOut, "description": "bad input: a list of messages per field"},
}
READ_ERRORS: dict[int | str, dict[str, Any]] = {**AUTH_RESPONSES, 422: ERRORS[422]}
RecordId = Annotated[int, Path(ge=1, le=2_147_483_647, description="the decision's id in the log")]


@router.post(
    "",
    status_code=201,
    response_class=ExactJSONResponse,
    summary="Decide one placement and keep the decision in the log",
    responses={
        201: {
            "model": DecisionOut,
            "description": "the decision, as `carerules check` prints it",
            "headers": {
                "Location": {"description": "where the stored decision can be read", "schema": {"type": "string"}}
            },
        },
        **ERRORS,
    },
    openapi_extra=placement_body(),
)
async def create_decision(request: Request, as_at: AsAtQuery = None) -> Response:
    # Without a query string this route is answered before routing, by api.routes.fast_path, with the same function.
    return await decide_one(request, as_at)


async def decide_one(request: Request, as_at: date | None) -> Response:
    """The hot path: no dependency injection (it costs more than the engine here), state read directly.
    Evaluated on the event loop: short CPU work behind the engine's lock; only the log write is awaited."""
    logged = await decide_logged(request, as_at, request.body)
    return Response(
        logged.text, status_code=201, media_type="application/json", headers={"Location": f"/v1/decisions/{logged.id}"}
    )


async def decide_logged(request: Request, as_at: date | None, body: Callable[[], Awaitable[bytes]]) -> Logged:
    """Sign-in checked, then the body read (``body()``: none is read for a caller not signed in), decided and
    stored: the stored decision (the fast path sends it itself)."""
    identity = await require(request, CHECK)
    decider = edition_of(request).decider  # one edition for the decision, its log record and its version
    return await decider.decide(parse_json(await body()), as_at, identity.name, "api")


@router.post(
    "/batch",
    response_class=ExactJSONResponse,
    summary="Decide a list of placements; each decision is kept in the log",
    responses={200: {"model": BatchOut}, **ERRORS},
    openapi_extra=placement_body(many=True),
)
async def create_batch(
    body: BodyDep, decider: DeciderDep, settings: SettingsDep, identity: Checker, as_at: AsAtQuery = None
) -> ExactJSONResponse:
    items = parse_json(body, "placements")
    if not isinstance(items, list):
        raise InputError({"placements": ["must be a JSON list of placements"]})
    if len(items) > settings.max_batch:
        raise ApiError(
            413,
            "too_many_placements",
            f"at most {settings.max_batch} placements in one request, got {len(items)}: "
            "split the list, or upload the book to POST /v1/audits",
        )
    # A long list is evaluated on a worker thread so that single decisions keep being answered meanwhile.
    results = await decider.store_many(await run_in_threadpool(decider.evaluate_many, items, as_at, identity.name))
    out = [
        result.decision.to_dict() if isinstance(result, Logged) else {"index": index, **result.to_json()}
        for index, result in enumerate(results)
    ]
    return ExactJSONResponse(
        {
            "count": len(results),
            "invalid": sum(1 for result in results if not isinstance(result, Logged)),
            "results": out,
            "decision_ids": [result.id if isinstance(result, Logged) else None for result in results],
        }
    )


Text = Annotated[str | None, Query(max_length=200)]


@router.get(
    "",
    response_class=ExactJSONResponse,
    summary="Decisions in the log, newest first, filtered; as JSON, or as CSV (finance) with format=csv; "
    "waiting_for=me: the pending decisions the signed-in user may approve, longest waiting first",
    responses={
        200: {
            "model": list[StoredDecisionOut],
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "the decisions with their approval status; CSV cells never start a spreadsheet formula",
        },
        **READ_ERRORS,
    },
)
def list_decisions(
    request: Request,
    log: LogDep,
    identity: Reader,
    status: Annotated[
        str | None,
        Query(
            description="checked (needs approval, not asked for), pending (asked for), approved, declined or "
            "not_needed (no approval needed)"
        ),
    ] = None,
    placement_id: Text = None,
    provider: Annotated[str | None, Query(max_length=200, description="part of the provider's name")] = None,
    outcome: Annotated[str | None, Query(description="proceed, needs_approval, refer or not_permitted")] = None,
    rule_id: Annotated[str | None, Query(description="decisions on which this rule fired, e.g. CHP-03")] = None,
    user: Annotated[str | None, Query(max_length=200, description="who made the decision")] = None,
    waiting_for: Annotated[
        str | None,
        Query(
            description="me: the pending decisions the signed-in user's roles may approve (the band's role or a "
            "higher one) and that they neither made nor asked for, longest waiting first"
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 20,
    format: Annotated[str, Query(pattern="^(json|csv)$", description="json, or csv (finance only)")] = "json",
) -> Response:
    wanted = LogFilter(status, placement_id, provider, outcome, rule_id, user, waiting_for).check()
    if format == "csv":
        if not identity.holds(AUDIT):
            raise ApiError(403, "forbidden", "the log as CSV needs the finance role")
        found = search(log.engine, wanted, limit, identity)
        headers = {"Content-Disposition": 'attachment; filename="decisions.csv"'}
        return Response(as_csv(found), media_type="text/csv; charset=utf-8", headers=headers)
    return ExactJSONResponse([with_approval(*found) for found in search(log.engine, wanted, limit, identity)])


class ApprovalIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"decision": "approve", "reason": "Care Cubed costing supports £1,140"}]},
    )
    decision: Literal["approve", "decline"]
    reason: Annotated[str, Field(min_length=1, max_length=2000, pattern=r"\S")]


def found(log: DecisionLog, decision_id: int) -> DecisionRecord:
    record = log.get(decision_id)
    if record is None:
        raise ApiError(404, "not_found", f"no decision {decision_id} in the log")
    return record


def approval_body() -> dict[str, Any]:
    schema = ApprovalIn.model_json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@router.post(
    "/{decision_id:int}/request-approval",
    status_code=201,
    response_class=ExactJSONResponse,
    summary="Ask for approval of a checked decision whose outcome is needs_approval: it becomes pending",
    description="Trying prices is not asking for approval: a decision is only `checked` until someone who checks "
    "placements (a broker or an approver role) asks for its approval here. 201 the request, recorded once; 409 "
    "when the outcome needs no approval or approval was already asked for or decided; 404 no such decision; 403 "
    "without a role that checks placements.",
    responses={
        201: {"model": ApprovalRequestedOut},
        404: {"model": ErrorOut},
        409: {
            "model": ErrorOut,
            "description": "the decision needs no approval, or its approval was already asked for or decided",
        },
        **READ_ERRORS,
    },
)
def create_approval_request(
    decision_id: RecordId, log: LogDep, identity: Checker, request: Request
) -> ExactJSONResponse:
    record = found(log, decision_id)
    result = request_approval(request.app.state.auth.store, record, identity, request.app.state.clock())
    return ExactJSONResponse(result, status_code=201, headers={"Location": f"/v1/decisions/{decision_id}"})


@router.post(
    "/{decision_id:int}/approvals",
    status_code=201,
    response_class=ExactJSONResponse,
    summary="Approve or decline a pending decision (a holder of the band's role or a higher one, who neither made "
    "nor asked for it)",
    responses={
        201: {"model": ApprovalOut},
        404: {"model": ErrorOut},
        409: {
            "model": ErrorOut,
            "description": "the decision is not pending: it needs no approval, nobody asked for its approval, or it "
            "was already approved or declined",
        },
        **READ_ERRORS,
        403: {
            "model": ErrorOut,
            "description": "without the band's role (or a higher one), or the user made or asked for the decision "
            "(code four_eyes)",
        },
    },
    openapi_extra=approval_body(),
)
def create_approval(
    decision_id: RecordId, body: BodyDep, log: LogDep, identity: Approver, request: Request
) -> ExactJSONResponse:
    try:
        asked = ApprovalIn.model_validate(parse_json(body, "approval"))
    except ValidationError as exc:
        raise InputError(field_messages(exc)) from None
    record = found(log, decision_id)
    result = approve(
        request.app.state.auth.store, record, identity, asked.decision, asked.reason.strip(), request.app.state.clock()
    )
    return ExactJSONResponse(result, status_code=201, headers={"Location": f"/v1/decisions/{decision_id}"})


@router.get(
    "/{decision_id:int}",
    response_class=ExactJSONResponse,
    summary="A stored decision with its input, time, user and rulebook version",
    responses={200: {"model": StoredDecisionOut}, 404: {"model": ErrorOut}, **READ_ERRORS},
)
def get_decision(decision_id: RecordId, log: LogDep, identity: Reader, request: Request) -> ExactJSONResponse:
    record = found(log, decision_id)
    return ExactJSONResponse(with_approval(record, *request.app.state.auth.store.state_of(decision_id)))


@router.get(
    "/{decision_id:int}/replay",
    response_class=ExactJSONResponse,
    summary="Evaluate a stored decision's input again (same as_at) on the edition in force or a kept one; what differs",
    responses={
        200: {"model": ReplayOut},
        404: {"model": ErrorOut, "description": "no such decision, or no such edition"},
        409: {"model": ErrorOut, "description": "the stored input is not valid input under that edition's rulebook"},
        **READ_ERRORS,
    },
)
def replay_decision(
    decision_id: RecordId,
    log: LogDep,
    engine: EngineDep,
    identity: Reader,
    request: Request,
    edition: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=r"^[A-Za-z0-9]+$",
            description="an edition's id or a rulebook version (default: the edition in force)",
        ),
    ] = None,
) -> ExactJSONResponse:
    record = found(log, decision_id)
    edition_id = None
    if edition is not None:
        engine, edition_id = engine_for(editions_store(request), request.app.state.editions, edition)
    try:
        result = replay(engine, record)
    except InputError as exc:
        raise ApiError(409, "replay_input_invalid", "the stored input is no longer valid input", exc.fields) from None
    return ExactJSONResponse({**result, "edition": {"id": edition_id, "version": engine.book.version}})
