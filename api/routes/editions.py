"""Editions of the rulebook with four eyes (SPEC §18): POST /v1/editions (a policy officer's rates file → a draft),
GET /v1/editions, GET /v1/editions/{id}, POST /v1/editions/{id}/publish and /reject (someone else: a head of
service or an administrator). The work is api/routes/edition_work.py's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.auth.guard import AUTH_RESPONSES, allow
from api.auth.identity import DRAFT, EDITIONS, PUBLISH, Identity
from api.routes import edition_work as work
from api.routes.audits import SUFFIXES, _store
from api.routes.deps import edition_of
from api.routes.responses import ApiError, ExactJSONResponse
from api.routes.schemas import ErrorOut
from api.store.editions import EditionStore, summary
from api.uploads.runner import check_unpacked_size

router = APIRouter(prefix="/v1/editions", tags=["editions"])
Drafter = Annotated[Identity, Depends(allow(DRAFT))]
Publisher = Annotated[Identity, Depends(allow(PUBLISH))]
Viewer = Annotated[Identity, Depends(allow(EDITIONS))]
EditionId = Annotated[int, PathParam(ge=1, le=2_147_483_647, description="the edition's id")]
ERRORS: dict[int | str, dict[str, Any]] = {**AUTH_RESPONSES, 404: {"model": ErrorOut}}
DECIDE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    403: {"model": ErrorOut, "description": "without the role, or you drafted it (four eyes)"},
    409: {"model": ErrorOut, "description": "not a draft any more, or made against an edition no longer in force"},
}


def editions_store(request: Request) -> EditionStore:
    store = getattr(request.app.state, "edition_store", None)
    if store is None:
        store = request.app.state.edition_store = EditionStore(request.app.state.log.engine)
    return store  # type: ignore[no-any-return]


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=work.MAX_REASON)


async def create_draft(request: Request, file: UploadFile, why: str, replace: bool, sheet: str | None,
                       identity: Identity) -> int:  # fmt: skip
    """Shared by the API and the Rates page: the upload checked, saved, drafted; the new edition's id."""
    why = work.check_text("why", why, "why the rates change")
    name = file.filename or "rates"
    if Path(name).suffix.lower() not in SUFFIXES:
        raise ApiError(415, "unsupported_media_type", f"upload a rates file: .csv or a spreadsheet (got {name!r})",
                       {"file": [f"must be a .csv or spreadsheet file, got {name!r}"]})  # fmt: skip
    upload = await run_in_threadpool(work.save_upload, file.file, name)
    try:
        if upload.path.suffix not in (".csv", ".txt", ".tsv"):
            settings = request.app.state.settings
            await run_in_threadpool(check_unpacked_size, upload.path, name, settings.max_decompressed_bytes)
        return await run_in_threadpool(
            work.draft_edition, editions_store(request), _store(request), request.app.state.editions.rules_dir,
            upload, why, replace, sheet or None, identity, request.app.state.clock(),
        )  # fmt: skip
    finally:
        await run_in_threadpool(work.discard, upload)


@router.post(
    "",
    status_code=201,
    response_class=ExactJSONResponse,
    summary="Draft an edition from a rates file (parameter, effective_from, value): its changes and effect",
    responses={
        **AUTH_RESPONSES,
        400: {"model": ErrorOut, "description": "not valid multipart/form-data"},
        413: {"model": ErrorOut, "description": "over the request size limit"},
        415: {"model": ErrorOut, "description": "not a .csv or spreadsheet file"},
        422: {"model": ErrorOut, "description": "no reason why, or a rates file that cannot be used: every problem"},
    },
)
async def post_edition(
    request: Request,
    identity: Drafter,
    file: Annotated[
        UploadFile, File(description="the rates file (.csv or a spreadsheet): parameter, effective_from, value")
    ],
    why: Annotated[str, Form(max_length=work.MAX_WHY, description="why the rates change (kept with the edition)")],
    replace: Annotated[bool, Form(description="replace a value already given from the same date")] = False,
    sheet: Annotated[str | None, Form(max_length=31, description="the spreadsheet's sheet")] = None,
) -> ExactJSONResponse:
    edition_id = await create_draft(request, file, why, replace, sheet, identity)
    body = await run_in_threadpool(work.edition_json, editions_store(request), edition_id, edition_of(request).version)
    return ExactJSONResponse(body, status_code=201, headers={"Location": f"/v1/editions/{edition_id}"})


@router.get("", response_class=ExactJSONResponse, summary="Every edition, newest first", responses=ERRORS)
async def list_editions(request: Request, identity: Viewer) -> ExactJSONResponse:
    rows = await run_in_threadpool(editions_store(request).all)
    current = edition_of(request)
    return ExactJSONResponse(
        {"in_force": current.to_json(), "editions": [summary(row, current.version) for row in rows]}
    )


@router.get("/{edition_id:int}", response_class=ExactJSONResponse, summary="One edition: changes and effect",
            responses=ERRORS)  # fmt: skip
async def get_edition(request: Request, edition_id: EditionId, identity: Viewer) -> ExactJSONResponse:
    store = editions_store(request)
    return ExactJSONResponse(await run_in_threadpool(work.edition_json, store, edition_id, edition_of(request).version))


@router.post(
    "/{edition_id:int}/publish",
    response_class=ExactJSONResponse,
    summary="Publish someone else's draft: its rulebook is written into the served folder and swapped in",
    responses=DECIDE_ERRORS,
)
async def publish_edition(request: Request, edition_id: EditionId, identity: Publisher) -> ExactJSONResponse:
    store, editions = editions_store(request), request.app.state.editions
    written = await run_in_threadpool(
        work.publish_edition, store, editions, edition_id, identity, request.app.state.clock()
    )
    body = await run_in_threadpool(work.edition_json, store, edition_id, editions.current.version)
    return ExactJSONResponse({**body, "files_written": written, "in_force": editions.current.to_json()})


@router.post(
    "/{edition_id:int}/reject",
    response_class=ExactJSONResponse,
    summary="Reject someone else's draft, with a reason",
    responses={
        **DECIDE_ERRORS,
        400: {"model": ErrorOut, "description": "the body is not JSON"},
        422: {"model": ErrorOut, "description": "no reason given"},
    },
)
async def reject_edition(
    request: Request, edition_id: EditionId, asked: RejectIn, identity: Publisher
) -> ExactJSONResponse:
    store, editions = editions_store(request), request.app.state.editions
    reason = work.check_text("reason", asked.reason, "the reason")
    await run_in_threadpool(
        work.reject_edition, store, editions.rules_dir, edition_id, identity, reason, request.app.state.clock()
    )
    return ExactJSONResponse(await run_in_threadpool(work.edition_json, store, edition_id, editions.current.version))
