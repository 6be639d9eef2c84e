"""GET /v1/rules, /v1/parameters, /healthz."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.auth.guard import AUTH_RESPONSES, Reader
from api.routes.deps import AsAtQuery, ClockDep, EngineDep, LogDep
from api.routes.responses import ApiError, ExactJSONResponse
from api.routes.schemas import ErrorOut, HealthOut, ParametersOut, RulesOut
from engine.explain.catalogue import parameters_at, rule_catalogue

router = APIRouter(tags=["rules"])


@router.get(
    "/v1/rules",
    response_class=ExactJSONResponse,
    responses={200: {"model": RulesOut}, **AUTH_RESPONSES},
    summary="The rule catalogue, as `carerules rules --json` prints it",
)
def rules(engine: EngineDep, identity: Reader) -> ExactJSONResponse:
    return ExactJSONResponse(rule_catalogue(engine.book))


@router.get(
    "/v1/parameters",
    response_class=ExactJSONResponse,
    responses={200: {"model": ParametersOut}, 422: {"model": ErrorOut}, **AUTH_RESPONSES},
    summary="Every parameter's value in force at a date (default: today), as `carerules parameters --json` prints it",
)
def parameters(engine: EngineDep, clock: ClockDep, identity: Reader, as_at: AsAtQuery = None) -> ExactJSONResponse:
    return ExactJSONResponse(parameters_at(engine.book, as_at or clock().date()))


@router.get(
    "/healthz",
    response_class=ExactJSONResponse,
    tags=["health"],
    responses={200: {"model": HealthOut}, 503: {"model": ErrorOut}},
    summary="Rulebook loaded and decision log reachable",
)
async def healthz(engine: EngineDep, log: LogDep) -> ExactJSONResponse:
    # Bounded: a database that accepts connections but never answers is "unreachable" after the log's timeout.
    try:
        await asyncio.wait_for(run_in_threadpool(log.ping), log.timeout_seconds)
    except TimeoutError:
        raise ApiError(
            503, "unavailable", f"the decision log is unreachable: no answer within {log.timeout_seconds:g} s"
        ) from None
    except Exception as exc:  # any database failure is "unavailable", never a 500
        raise ApiError(503, "unavailable", f"the decision log is unreachable: {type(exc).__name__}") from None
    return ExactJSONResponse({"status": "ok", "rulebook_version": engine.book.version, "database": "ok"})
