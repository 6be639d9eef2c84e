"""Typed dependencies: the engine of the edition in force, the decision log, the clock, the raw JSON body.

All are ``async def``: they do no I/O, and FastAPI would otherwise run each one on a worker thread.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from api.routes.service import Clock, Decider
from api.serve.in_force import edition_of as edition_of  # re-exported: the routes and pages take it from here
from api.serve.settings import Settings
from api.store.decision_log import DecisionLog
from engine.decide import Engine
from engine.rulebook.facts import load_rulebook_facts
from engine.rulebook.loader import DEFAULT_RULES_DIR

# The shipped rulebook's earliest date, as the documented lower bound of date parameters (the engine checks
# every date again against the app's own rulebook).
EARLIEST_AS_AT = load_rulebook_facts(DEFAULT_RULES_DIR)[0]


async def get_engine(request: Request) -> Engine:
    return edition_of(request).engine


async def get_log(request: Request) -> DecisionLog:
    return request.app.state.log  # type: ignore[no-any-return]


async def get_decider(request: Request) -> Decider:
    return edition_of(request).decider


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_clock(request: Request) -> Clock:
    return request.app.state.clock  # type: ignore[no-any-return]


async def raw_body(request: Request) -> bytes:
    return await request.body()


EngineDep = Annotated[Engine, Depends(get_engine)]
LogDep = Annotated[DecisionLog, Depends(get_log)]
DeciderDep = Annotated[Decider, Depends(get_decider)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
BodyDep = Annotated[bytes, Depends(raw_body)]
AsAtQuery = Annotated[
    date | None,
    Query(
        ge=EARLIEST_AS_AT,
        description="take the rules and rates as at this date (YYYY-MM-DD) instead of the "
        "placement's own as_at or start date",
    ),
]


def placement_body(schema_ref: str = "#/components/schemas/PlacementIn", many: bool = False) -> dict[str, Any]:
    """The OpenAPI request body of a route that reads its JSON itself (so the engine, not FastAPI, validates it)."""
    schema: dict[str, Any] = {"$ref": schema_ref}
    if many:
        schema = {"type": "array", "items": schema}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
