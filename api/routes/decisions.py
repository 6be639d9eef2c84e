"""POST /v1/decisions, /v1/decisions/batch; GET /v1/decisions, /v1/decisions/{id}, /v1/decisions/{id}/replay."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.deps import (
    AsAtQuery,
    BodyDep,
    DeciderDep,
    EngineDep,
    LogDep,
    SettingsDep,
    UserDep,
    UserHeader,
    clean_user,
    placement_body,
)
from api.responses import ApiError, ExactJSONResponse
from api.schemas import BatchOut, DecisionOut, ErrorOut, ReplayOut, StoredDecisionOut
from api.service import Decider, Logged, parse_json, replay, stored
from engine.validate.placement import InputError

router = APIRouter(prefix="/v1/decisions", tags=["decisions"])

ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorOut, "description": "request body too large"},
    422: {"model": ErrorOut, "description": "bad input: a list of messages per field"},
}
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
async def create_decision(request: Request, x_user: UserHeader = None, as_at: AsAtQuery = None) -> Response:
    # The hot path: no dependency injection (it costs more than the engine here), state read directly.
    # Evaluated on the event loop: short CPU work behind the engine's lock; only the log write is awaited.
    decider: Decider = request.app.state.decider
    body = parse_json(await request.body())
    logged = await decider.decide(body, as_at, clean_user(x_user, "X-User"), "api")
    return Response(
        logged.text, status_code=201, media_type="application/json", headers={"Location": f"/v1/decisions/{logged.id}"}
    )


@router.post(
    "/batch",
    response_class=ExactJSONResponse,
    summary="Decide a list of placements; each decision is kept in the log",
    responses={200: {"model": BatchOut}, **ERRORS},
    openapi_extra=placement_body(many=True),
)
async def create_batch(
    body: BodyDep, decider: DeciderDep, settings: SettingsDep, user: UserDep, as_at: AsAtQuery = None
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
    results = await decider.store_many(await run_in_threadpool(decider.evaluate_many, items, as_at, user))
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


@router.get(
    "",
    response_class=ExactJSONResponse,
    summary="The most recent decisions in the log, newest first",
    responses={200: {"model": list[StoredDecisionOut]}, 422: ERRORS[422]},
)
def recent_decisions(log: LogDep, limit: Annotated[int, Query(ge=1, le=200)] = 20) -> ExactJSONResponse:
    return ExactJSONResponse([stored(record) for record in log.recent(limit)])


@router.get(
    "/{decision_id:int}",
    response_class=ExactJSONResponse,
    summary="A stored decision with its input, time, user and rulebook version",
    responses={200: {"model": StoredDecisionOut}, 404: {"model": ErrorOut}, 422: ERRORS[422]},
)
def get_decision(decision_id: RecordId, log: LogDep) -> ExactJSONResponse:
    record = log.get(decision_id)
    if record is None:
        raise ApiError(404, "not_found", f"no decision {decision_id} in the log")
    return ExactJSONResponse(stored(record))


@router.get(
    "/{decision_id:int}/replay",
    response_class=ExactJSONResponse,
    summary="Evaluate a stored decision's input again (same as_at, today's rulebook) and show what differs",
    responses={
        200: {"model": ReplayOut},
        404: {"model": ErrorOut},
        409: {"model": ErrorOut, "description": "the stored input is not valid input under today's rulebook"},
        422: ERRORS[422],
    },
)
def replay_decision(decision_id: RecordId, log: LogDep, engine: EngineDep) -> ExactJSONResponse:
    record = log.get(decision_id)
    if record is None:
        raise ApiError(404, "not_found", f"no decision {decision_id} in the log")
    try:
        return ExactJSONResponse(replay(engine, record))
    except InputError as exc:
        raise ApiError(409, "replay_input_invalid", "the stored input is no longer valid input", exc.fields) from None
