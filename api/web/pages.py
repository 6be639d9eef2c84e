"""The brokerage web page: a form for a proposed placement, the decision, recent decisions, rules and parameters.

Server-rendered with Jinja2; every decision made here is stored in the decision log like an API decision.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from api.auth.guard import CSRF_FIELD, Approver, Auditor, Checker, Reader, csrf_ok, csrf_token, set_csrf_cookie
from api.auth.identity import APPROVE, CHECK, EDITIONS
from api.routes.approvals import (
    LogFilter,
    approve,
    made_or_asked_by,
    needed_roles,
    request_approval,
    search,
    with_approval,
)
from api.routes.deps import ClockDep, DeciderDep, EngineDep, LogDep, SettingsDep, edition_of
from api.routes.edition_work import engine_for
from api.routes.editions import editions_store
from api.routes.responses import ApiError
from api.routes.service import loads, replay, stored
from api.store.decision_log import DecisionLog
from api.web import form as web_form
from api.web import view as web_view
from api.web import words
from engine.explain.catalogue import parameters_at, rule_catalogue
from engine.explain.decision import dumps
from engine.rulebook.loader import Rulebook
from engine.validate.placement import InputError

router = APIRouter(include_in_schema=False)
EXPIRED = {CSRF_FIELD: ["The form had expired (or came from another site): please submit it again."]}
TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
templates = Jinja2Templates(directory=str(TEMPLATES))


def _book(context: Any) -> Rulebook | None:
    """The rulebook of the edition the page's request uses (page() puts it in every page's context)."""
    edition = context.get("edition")
    return edition.engine.book if edition is not None else None


def _worded(function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter or function of the templates that reads the words of the edition the request uses."""

    @pass_context
    def call(context: Any, *args: Any) -> Any:
        return function(_book(context), *args)

    return call


templates.env.filters.update(
    humanise=words.humanise,
    money=web_form.money,
    field_label=web_form.field_label,
    figure_label=_worded(words.figure_label),
    role=_worded(words.role_label),
    show_parameter=_worded(web_form.show_parameter),
    destination=_worded(words.destination),
    date_words=web_view.date_words,
    when_words=web_view.when_words,
)
templates.env.globals.update(
    sections=web_form.SECTIONS,
    outcomes=web_form.OUTCOMES,
    actions=web_form.ACTIONS,
    show_figure=web_form.show_figure,
    approvers_of=web_form.approvers,
    referrals_of=web_view.referrals,
    price_rows_of=_worded(web_view.price_rows),
    section_hidden=web_view.section_hidden,
    section_services=web_view.section_services,
    figures_shown=_worded(web_view.figures_shown),
    charging_of=_worded(web_view.charging),
    state_of=_worded(web_view.state),
    approve=APPROVE,
    edition_needs=EDITIONS,
)


def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    """A page with the signed-in identity (or the local single-user mode) and the forms' CSRF token."""
    context.setdefault("identity", getattr(request.state, "identity", None))
    context["csrf_token"] = csrf_token(request)
    context["root"] = request.scope.get("root_path", "")  # every link starts with it (CARERULES_ROOT_PATH)
    context["edition"] = edition_of(request)  # the footer names the edition this request used
    response = templates.TemplateResponse(request, name, context, status_code=status)
    set_csrf_cookie(request, response)
    return response


@router.get("/")
def form(request: Request, identity: Checker) -> Response:
    return page(request, "form.html", values={"service": "care_home"}, errors={})


@router.post("/")
async def submit(request: Request, decider: DeciderDep, identity: Checker) -> Response:
    submitted = await request.form()
    values = {key: value for key, value in submitted.items() if isinstance(value, str)}
    if not csrf_ok(request, values.get(CSRF_FIELD)):
        return page(request, "form.html", status=403, values=values, errors=EXPIRED)
    try:
        logged = await decider.decide(web_form.placement_from_form(values), None, identity.name, "web")
    except InputError as exc:
        return page(request, "form.html", status=422, values=values, errors=exc.fields)
    return RedirectResponse(f"{request.scope.get('root_path', '')}/decisions/{logged.id}", status_code=303)


@router.get("/audit")
def audit_page(request: Request, identity: Auditor) -> Response:
    from engine.audit.lists.tables import LISTS, PURPOSE

    return page(request, "audit.html", lists=LISTS, purposes=PURPOSE)


@router.get("/decisions")
def recent(
    request: Request,
    log: LogDep,
    settings: SettingsDep,
    identity: Reader,
    status: str | None = None,
    placement_id: str | None = None,
    provider: str | None = None,
    outcome: str | None = None,
    rule_id: str | None = None,
    user: str | None = None,
    waiting_for: str | None = None,
) -> Response:
    asked = LogFilter(status, placement_id, provider, outcome, rule_id, user, waiting_for)
    approver = identity.holds(APPROVE)
    try:
        wanted = asked.check()
    except InputError as exc:
        return page(
            request,
            "decisions.html",
            status=422,
            records=[],
            wanted=asked,
            errors=exc.fields,
            query="",
            approver=approver,
        )
    found = search(log.engine, wanted, settings.recent_limit, identity)
    records = [with_approval(*one) for one in found]
    query = urlencode(wanted.query_text())
    return page(request, "decisions.html", records=records, wanted=wanted, errors={}, query=query, approver=approver)


DecisionId = Annotated[int, PathParam(ge=1, le=2_147_483_647)]


def _decision_page(request: Request, log: DecisionLog, decision_id: int, status: int = 200, **context: Any) -> Response:
    record = log.get(decision_id)
    if record is None:
        return page(request, "missing.html", status=404, decision_id=decision_id)
    asked, approval = request.app.state.auth.store.state_of(decision_id)
    shown = with_approval(record, asked, approval)
    identity = request.state.identity
    covered = identity.acting_role(needed_roles(record)) is not None
    own = made_or_asked_by(record, asked, identity.name)
    context.setdefault("approval_errors", {})
    context.setdefault("request_errors", {})
    return page(
        request,
        "decision.html",
        status=status,
        record=shown,
        can_request=shown["status"] == "checked" and identity.holds(CHECK),
        can_approve=shown["status"] == "pending" and covered and not own,
        four_eyes=shown["status"] == "pending" and covered and own,
        **context,
    )


@router.get("/decisions/{decision_id:int}")
def show(request: Request, log: LogDep, decision_id: DecisionId, identity: Reader) -> Response:
    return _decision_page(request, log, decision_id)


@router.post("/decisions/{decision_id:int}/request-approval")
async def ask_approval(request: Request, log: LogDep, decision_id: DecisionId, identity: Checker) -> Response:
    """The "ask for approval" button on a checked decision: it becomes pending."""
    form = await request.form()
    errors: dict[str, list[str]] = {}
    status = 403
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        errors = EXPIRED
    else:
        record = await run_in_threadpool(log.get, decision_id)
        if record is None:
            return page(request, "missing.html", status=404, decision_id=decision_id)
        store, now = request.app.state.auth.store, request.app.state.clock()
        try:
            await run_in_threadpool(request_approval, store, record, identity, now)
        except ApiError as exc:
            errors, status = {"request": [exc.message]}, exc.status
    if errors:
        return await run_in_threadpool(_decision_page, request, log, decision_id, status, request_errors=errors)
    return RedirectResponse(f"{request.scope.get('root_path', '')}/decisions/{decision_id}", status_code=303)


@router.post("/decisions/{decision_id:int}/approval")
async def decide_approval(request: Request, log: LogDep, decision_id: DecisionId, identity: Approver) -> Response:
    form = await request.form()
    choice, reason = str(form.get("decision") or ""), str(form.get("reason") or "").strip()
    errors: dict[str, list[str]] = {}
    status = 422
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        errors, status = EXPIRED, 403
    else:
        if choice not in ("approve", "decline"):
            errors["decision"] = ["Choose approve or decline"]
        if not reason or len(reason) > 2000:
            errors["reason"] = ["Give the reason, in at most 2,000 characters"]
    if not errors:
        record = await run_in_threadpool(log.get, decision_id)
        if record is None:
            return page(request, "missing.html", status=404, decision_id=decision_id)
        store, now = request.app.state.auth.store, request.app.state.clock()
        try:
            await run_in_threadpool(approve, store, record, identity, choice, reason, now)
        except ApiError as exc:
            errors, status = {"decision": [exc.message]}, exc.status
    if errors:
        # the page again with every choice made: the approve/decline chosen and the reason typed
        return await run_in_threadpool(
            _decision_page, request, log, decision_id, status, approval_errors=errors, reason=reason, chosen=choice
        )
    return RedirectResponse(f"{request.scope.get('root_path', '')}/decisions/{decision_id}", status_code=303)


@router.get("/decisions/{decision_id:int}/replay")
def show_replay(
    request: Request,
    log: LogDep,
    engine: EngineDep,
    decision_id: DecisionId,
    identity: Reader,
    edition: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9]+$")] = None,
) -> Response:
    """The replay on the edition in force, or on a kept edition (``?edition=`` its id or rulebook version)."""
    record = log.get(decision_id)
    if record is None:
        return page(request, "missing.html", status=404, decision_id=decision_id)
    if edition:
        try:
            engine, _ = engine_for(editions_store(request), request.app.state.editions, edition)
        except ApiError as exc:
            return page(request, "replay.html", status=404, record=stored(record), result=None,
                        errors={"edition": [exc.message]})  # fmt: skip
    try:
        result = replay(engine, record)
    except InputError as exc:
        return page(request, "replay.html", status=409, record=stored(record), result=None, errors=exc.fields)
    return page(request, "replay.html", record=stored(record), result=result, errors={})


@router.get("/rules")
def rules(
    request: Request, engine: EngineDep, clock: ClockDep, identity: Reader, as_at: Annotated[str | None, Query()] = None
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
        return page(request, "rules.html", status=422, error=error, as_at=as_at, catalogue=None, parameters=None)
    return page(
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
