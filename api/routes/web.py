"""The brokerage web page: a form for a proposed placement, the decision, recent decisions, rules and parameters.

Server-rendered with Jinja2; every decision made here is stored in the decision log like an API decision.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.templating import Jinja2Templates
from starlette.responses import RedirectResponse, Response

from api import web_form, web_view
from api.deps import ClockDep, DeciderDep, EngineDep, LogDep, SettingsDep, clean_user
from api.service import loads, replay, stored
from engine.explain.catalogue import parameters_at, rule_catalogue
from engine.explain.decision import dumps
from engine.validate.placement import InputError

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
templates.env.filters.update(
    humanise=web_form.humanise,
    money=web_form.money,
    field_label=web_form.field_label,
    figure_label=web_form.figure_label,
    show_parameter=web_form.show_parameter,
    destination=web_view.destination,
)
templates.env.globals.update(
    sections=web_form.SECTIONS,
    outcomes=web_form.OUTCOMES,
    actions=web_form.ACTIONS,
    show_figure=web_form.show_figure,
    approvers_of=web_form.approvers,
    referrals_of=web_view.referrals,
    price_rows_of=web_view.price_rows,
    charging_of=web_view.charging,
)
USER_COOKIE = "carerules_user"


def _page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    return templates.TemplateResponse(request, name, context, status_code=status)


@router.get("/")
def form(request: Request) -> Response:
    return _page(
        request, "form.html", values={"service": "care_home"}, errors={}, user_name=request.cookies.get(USER_COOKIE, "")
    )


@router.post("/")
async def submit(request: Request, decider: DeciderDep) -> Response:
    submitted = await request.form()
    values = {key: value for key, value in submitted.items() if isinstance(value, str)}
    user_text = values.get("user_name", "")
    try:
        user = clean_user(user_text, "user_name")
        logged = await decider.decide(web_form.placement_from_form(values), None, user, "web")
    except InputError as exc:
        return _page(request, "form.html", status=422, values=values, errors=exc.fields, user_name=user_text)
    response = RedirectResponse(f"/decisions/{logged.id}", status_code=303)
    if user:
        response.set_cookie(USER_COOKIE, user, max_age=60 * 60 * 24 * 90, httponly=True, samesite="lax")
    return response


@router.get("/audit")
def audit_page(request: Request) -> Response:
    from engine.audit.lists import LISTS, PURPOSE

    return _page(request, "audit.html", lists=LISTS, purposes=PURPOSE)


@router.get("/decisions")
def recent(request: Request, log: LogDep, settings: SettingsDep) -> Response:
    records = [stored(record) for record in log.recent(settings.recent_limit)]
    return _page(request, "decisions.html", records=records)


@router.get("/decisions/{decision_id:int}")
def show(request: Request, log: LogDep, decision_id: Annotated[int, PathParam(ge=1, le=2_147_483_647)]) -> Response:
    record = log.get(decision_id)
    if record is None:
        return _page(request, "missing.html", status=404, decision_id=decision_id)
    return _page(request, "decision.html", record=stored(record))


@router.get("/decisions/{decision_id:int}/replay")
def show_replay(
    request: Request, log: LogDep, engine: EngineDep, decision_id: Annotated[int, PathParam(ge=1, le=2_147_483_647)]
) -> Response:
    record = log.get(decision_id)
    if record is None:
        return _page(request, "missing.html", status=404, decision_id=decision_id)
    try:
        result = replay(engine, record)
    except InputError as exc:
        return _page(request, "replay.html", status=409, record=stored(record), result=None, errors=exc.fields)
    return _page(request, "replay.html", record=stored(record), result=result, errors={})


@router.get("/rules")
def rules(
    request: Request, engine: EngineDep, clock: ClockDep, as_at: Annotated[str | None, Query()] = None
) -> Response:
    error = None
    when = clock().date()
    if as_at:
        try:
            when = date.fromisoformat(as_at)
            if when < engine.book.earliest_as_at:
                error = f"Rules are only held from {engine.book.earliest_as_at.isoformat()}."
        except ValueError:
            error = f"{as_at!r} is not a date as YYYY-MM-DD."
    if error:
        return _page(request, "rules.html", status=422, error=error, as_at=as_at, catalogue=None, parameters=None)
    return _page(
        request,
        "rules.html",
        error=None,
        as_at=when.isoformat(),
        catalogue=rule_catalogue(engine.book),
        parameters=loads_exact(parameters_at(engine.book, when)),
    )


def loads_exact(data: dict[str, Any]) -> dict[str, Any]:
    """Dates as text and money as exact Decimals, as the page shows them."""
    return loads(dumps(data, indent=None))  # type: ignore[no-any-return]
