"""The Rates page (SPEC §18): a policy officer uploads a rates file and sees the draft (its changes and its
effect on the last audited book); a head of service or an administrator who did not draft it publishes it or
rejects it with a reason; everyone with an editions role sees every edition, who drafted and decided it, when and
why. Plain forms (no script), each with the CSRF token; the work is api/routes/edition_work.py's."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from api.auth.guard import CSRF_FIELD, allow, csrf_ok
from api.auth.identity import DRAFT, EDITIONS, PUBLISH, Identity
from api.routes import edition_work as work
from api.routes.audits import _store as audit_store
from api.routes.deps import edition_of
from api.routes.editions import create_draft, editions_store
from api.routes.responses import ApiError
from api.store.editions import summary
from api.web.pages import EXPIRED, loads_exact, page
from engine.money import MoneyError, to_pence
from engine.validate.values import parse_date

router = APIRouter(include_in_schema=False)
Drafter = Annotated[Identity, Depends(allow(DRAFT))]
Publisher = Annotated[Identity, Depends(allow(PUBLISH))]
Viewer = Annotated[Identity, Depends(allow(EDITIONS))]
EditionId = Annotated[int, PathParam(ge=1, le=2_147_483_647)]


async def _rates_page(request: Request, status: int = 200, **context: Any) -> Response:
    rows = await run_in_threadpool(editions_store(request).all)
    current = edition_of(request)
    identity: Identity = request.state.identity
    context.setdefault("errors", {})
    context.setdefault("why", "")
    context.setdefault("asked", {})
    context.setdefault("review", None)
    return page(request, "rates.html", status=status, editions=[summary(row, current.version) for row in rows],
                can_draft=identity.holds(DRAFT), **context)  # fmt: skip


@router.get("/rates")
async def rates(request: Request, identity: Viewer) -> Response:
    return await _rates_page(request)


@router.post("/rates")
async def upload_rates(request: Request, identity: Drafter) -> Response:
    form = await request.form()
    why = str(form.get("why") or "")
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        return await _rates_page(request, 403, errors=EXPIRED, why=why)
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        return await _rates_page(request, 422, errors={"file": ["Choose a rates file"]}, why=why)
    try:
        edition_id = await create_draft(request, file, why, form.get("replace") == "yes", None, identity)
    except ApiError as exc:
        return await _rates_page(request, exc.status, errors=exc.fields or {"file": [exc.message]}, why=why)
    return RedirectResponse(f"{request.scope.get('root_path', '')}/rates/{edition_id}", status_code=303)


async def _edition_page(request: Request, edition_id: int, status: int = 200, **context: Any) -> Response:
    store = editions_store(request)
    try:
        edition = await run_in_threadpool(work.edition_json, store, edition_id, edition_of(request).version)
    except ApiError:
        return page(request, "edition.html", status=404, e=None)
    identity: Identity = request.state.identity
    own = edition["drafted_by"] == identity.name
    open_draft = edition["status"] == "draft"
    context.setdefault("errors", {})
    return page(request, "edition.html", status=status, e=edition,
                can_decide=open_draft and identity.holds(PUBLISH) and not own,
                four_eyes=open_draft and identity.holds(PUBLISH) and own, own=own, **context)  # fmt: skip


@router.get("/rates/{edition_id:int}")
async def show_edition(request: Request, edition_id: EditionId, identity: Viewer) -> Response:
    return await _edition_page(request, edition_id)


@router.post("/rates/{edition_id:int}/publish")
async def publish(request: Request, edition_id: EditionId, identity: Publisher) -> Response:
    form = await request.form()
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        return await _edition_page(request, edition_id, 403, errors=EXPIRED)
    store, editions = editions_store(request), request.app.state.editions
    try:
        await run_in_threadpool(work.publish_edition, store, editions, edition_id, identity, request.app.state.clock())
    except ApiError as exc:
        return await _edition_page(request, edition_id, exc.status, errors={"publish": [exc.message]})
    return RedirectResponse(f"{request.scope.get('root_path', '')}/rates/{edition_id}", status_code=303)


@router.post("/rates/{edition_id:int}/reject")
async def reject(request: Request, edition_id: EditionId, identity: Publisher) -> Response:
    form = await request.form()
    reason = str(form.get("reason") or "")
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        return await _edition_page(request, edition_id, 403, errors=EXPIRED, reason=reason)
    store, editions = editions_store(request), request.app.state.editions
    try:
        checked = work.check_text("reason", reason, "the reason")
        await run_in_threadpool(
            work.reject_edition, store, editions.rules_dir, edition_id, identity, checked, request.app.state.clock()
        )
    except ApiError as exc:
        errors = exc.fields or {"reason": [exc.message]}
        return await _edition_page(request, edition_id, exc.status, errors=errors, reason=reason)
    return RedirectResponse(f"{request.scope.get('root_path', '')}/rates/{edition_id}", status_code=303)


@router.post("/rates/whatif")
async def whatif(request: Request, identity: Viewer) -> Response:
    """The annual fee review on the last audited book (SPEC §18: ``carerules whatif --uplift``, on this page)."""
    form = await request.form()
    asked = {name: str(form.get(name) or "").strip() for name in ("uplift", "from_date", "budget")}
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        return await _rates_page(request, 403, errors=EXPIRED, asked=asked)
    errors: dict[str, list[str]] = {}
    if not asked["uplift"]:
        errors["uplift"] = ["Give each category's uplift, e.g. residential=4.5,nursing=6"]
    try:
        start = parse_date(asked["from_date"])
    except ValueError as exc:
        errors["from_date"] = [f"From: {exc}"]
    try:
        budget = to_pence(asked["budget"]) if asked["budget"] else None
    except (MoneyError, ValueError) as exc:
        errors["budget"] = [f"Budget: {exc}"]
    if errors:
        return await _rates_page(request, 422, errors=errors, asked=asked)
    book = edition_of(request).engine.book
    try:
        review = await run_in_threadpool(
            work.fee_review_of_last_audit, audit_store(request), book, asked["uplift"], start,
            budget, request.app.state.clock(),
        )  # fmt: skip
    except ApiError as exc:
        return await _rates_page(request, exc.status, errors=exc.fields or {"uplift": [exc.message]}, asked=asked)
    return await _rates_page(request, review=loads_exact(review), asked=asked)
