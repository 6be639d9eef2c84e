"""GET /v1/rules, /v1/parameters, /healthz; POST /v1/rulebook/reload."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from api.auth.guard import AUTH_RESPONSES, Reader, require
from api.auth.identity import ADMIN, Needs
from api.routes.deps import AsAtQuery, ClockDep, EngineDep, LogDep, edition_of
from api.routes.responses import ApiError, ExactJSONResponse
from api.routes.schemas import ErrorOut, HealthOut, ParametersOut, ReloadOut, RulesOut
from api.serve.edition import Editions
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
    summary="Rulebook loaded and decision log reachable; the edition served (version, publish time) and any newer "
    "edition refused",
)
async def healthz(request: Request, log: LogDep) -> ExactJSONResponse:
    edition = edition_of(request)
    editions: Editions = request.app.state.editions
    # Bounded: a database that accepts connections but never answers is "unreachable" after the log's timeout.
    try:
        await asyncio.wait_for(run_in_threadpool(log.ping), log.timeout_seconds)
    except TimeoutError:
        raise ApiError(
            503, "unavailable", f"the decision log is unreachable: no answer within {log.timeout_seconds:g} s"
        ) from None
    except Exception as exc:  # any database failure is "unavailable", never a 500
        raise ApiError(503, "unavailable", f"the decision log is unreachable: {type(exc).__name__}") from None
    return ExactJSONResponse(
        {
            "status": "ok",
            "rulebook_version": edition.version,
            "database": "ok",
            **editions.health(),
            "edition": edition.to_json(),  # the one this request took, even if a newer one came in meanwhile
        }
    )


@router.post(
    "/v1/rulebook/reload",
    response_class=ExactJSONResponse,
    tags=["rules"],
    responses={
        200: {"model": ReloadOut},
        422: {"model": ErrorOut, "description": "the rulebook folder does not load: the previous edition serves on"},
        **AUTH_RESPONSES,
    },
    summary="Load the rulebook folder again now (admin), on the worker that answers; every worker also notices a "
    "changed folder by itself within a second",
)
async def reload_rulebook(request: Request) -> ExactJSONResponse:
    await require(request, Needs(frozenset({ADMIN})))
    editions: Editions = request.app.state.editions
    swapped = await run_in_threadpool(editions.check, True)  # loaded and compiled off the event loop
    refused = editions.refused
    if refused is not None:
        where = f"{refused.file}:{refused.line}" if refused.line else str(refused.file)
        raise ApiError(
            422,
            "rulebook_refused",
            f"the rulebook was refused ({where}: {refused.reason}); still serving {editions.current.version}",
            {"rulebook": [f"{where}: {refused.reason}"]},
        )
    return ExactJSONResponse({"swapped": swapped, "edition": editions.current.to_json()})
