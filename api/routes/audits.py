"""POST /v1/audits: a CSV or Excel placement book → per-row results, the Delivery Plan KPIs and the lists people
act on; ``format=xlsx|csv|html`` answers with results.xlsx, results.csv or the report instead of JSON.

A thin wrapper over ``engine.audit.run_audit`` (the vectorised evaluator), run in a child process the API can
stop (``api.audits_runner``: time limit, audits at once, client disconnects) with the rulebook the decisions
use. An audit reviews a book; its rows are not decisions, so they are not written to the decision log. Its
output files are kept for a while (see ``api.audit_store``) so the page can offer them for download.
"""

from __future__ import annotations

import asyncio
import shutil
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi import Path as PathParam
from starlette.responses import FileResponse, Response

from api.audit_store import FILES, AuditStore
from api.audit_worker import AuditJob
from api.audits_runner import AuditRunner, ClientGone, check_unpacked_size
from api.deps import EARLIEST_AS_AT, SettingsDep
from api.guard import AUTH_RESPONSES, Auditor
from api.responses import ApiError, ExactJSONResponse
from api.schemas import AuditOut, ErrorOut
from api.settings import Settings
from engine.audit.excel_out import EXCEL_MAX_ROWS
from engine.audit.read import Limits
from engine.validate.placement import InputError

router = APIRouter(prefix="/v1/audits", tags=["audits"])
SUFFIXES = (".csv", ".xlsx", ".xlsm")
MAX_RESULT_ROWS = 100_000
MAX_COLUMN_MAP_BYTES = 100_000
FORMAT_FILES = {"xlsx": "results.xlsx", "csv": "results.csv", "html": "report.html"}


def _store(request: Request) -> AuditStore:
    store = getattr(request.app.state, "audit_store", None)
    if store is None:
        store = request.app.state.audit_store = AuditStore()
    return store  # type: ignore[no-any-return]


def limits_for(settings: Settings) -> Limits:
    """What an uploaded book may hold (settings), and never more rows than a results.xlsx sheet can."""
    return Limits(
        max_rows=min(settings.max_upload_rows, EXCEL_MAX_ROWS),
        max_cell_chars=settings.max_cell_chars,
        max_xlsx_bytes=settings.max_decompressed_bytes,
    )


@router.post(
    "",
    response_class=ExactJSONResponse,
    summary="Audit an uploaded placement book (CSV or Excel): outcomes per row, the KPIs and the lists",
    responses={
        200: {
            "model": AuditOut,
            "content": {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
                "text/csv": {},
                "text/html": {},
            },
        },
        **AUTH_RESPONSES,
        400: {"model": ErrorOut, "description": "not valid multipart/form-data"},
        413: {"model": ErrorOut, "description": "over the upload size or decompressed-size limit"},
        415: {"model": ErrorOut},
        422: {"model": ErrorOut, "description": "a book that cannot be read, or over a row, cell or time limit"},
        429: {"model": ErrorOut, "description": "the most audits allowed at once are already running"},
    },
)
async def create_audit(
    request: Request,
    settings: SettingsDep,
    identity: Auditor,
    file: Annotated[UploadFile, File(description="the placement book: .csv or .xlsx, one placement a row")],
    as_at: Annotated[date | None, Form(ge=EARLIEST_AS_AT, description="evaluate every row at this date")] = None,
    period_start: Annotated[date | None, Form(ge=EARLIEST_AS_AT, description="KPI period start")] = None,
    results_limit: Annotated[int, Form(ge=0, le=MAX_RESULT_ROWS, description="result rows returned")] = 1000,
    format: Annotated[
        Literal["json", "xlsx", "csv", "html"],
        Form(description="json (default), or the results.xlsx, results.csv or report.html file itself"),
    ] = "json",
    columns: Annotated[
        UploadFile | None, File(description="optional column map (YAML): 'placement_id: [Client Ref, Package No]'")
    ] = None,
    sheet: Annotated[
        str | None, Form(max_length=31, description="Excel sheet (default: the first with a header)")
    ] = None,
) -> Response:
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in SUFFIXES:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"upload a .csv or .xlsx file (got {suffix or 'no extension'})",
            {"file": [f"must be a .csv or .xlsx file, got {file.filename!r}"]},
        )
    mapping = await columns.read(MAX_COLUMN_MAP_BYTES + 1) if columns is not None else None
    if mapping is not None and len(mapping) > MAX_COLUMN_MAP_BYTES:
        raise InputError({"columns": [f"the column map is over {MAX_COLUMN_MAP_BYTES:,} bytes"]})
    store = _store(request)
    audit_id, folder = store.new_folder()
    try:
        body = await _audit(request, settings, audit_id, folder, file, suffix, mapping, sheet, as_at, period_start,
                            results_limit)  # fmt: skip
    except BaseException:
        store.discard(folder)
        raise
    store.keep(audit_id, folder)
    if isinstance(body, Response):
        return body
    if format == "json":
        return ExactJSONResponse(body)
    name = FORMAT_FILES[format]
    path = store.file(body["audit_id"], name)
    if path is None:
        raise ApiError(404, "not_found", f"{name} was not written for this book")
    return FileResponse(path, media_type=FILES[name], filename=name)


async def _audit(
    request: Request,
    settings: Settings,
    audit_id: str,
    folder: Path,
    file: UploadFile,
    suffix: str,
    mapping: bytes | None,
    sheet: str | None,
    as_at: date | None,
    period_start: date | None,
    results_limit: int,
) -> dict[str, Any] | Response:
    path = folder / f"upload{suffix}"
    name = file.filename or "the upload"
    await asyncio.to_thread(_save, file, path)
    if suffix != ".csv":
        await asyncio.to_thread(check_unpacked_size, path, name, settings.max_decompressed_bytes)
    job = AuditJob(
        path=path,
        filename=name,
        book=request.app.state.engine.book,
        audit_id=audit_id,
        folder=folder,
        downloads=frozenset(FILES),
        as_at=as_at,
        period_start=period_start,
        sheet=sheet or None,
        column_map=mapping or None,
        results_limit=results_limit,
        limits=limits_for(settings),
    )
    runner: AuditRunner = request.app.state.audits
    try:
        return await runner.run(job, request.receive)
    except ClientGone:
        return Response(status_code=499)  # nobody is listening; the request log records it


def _save(file: UploadFile, path: Path) -> None:
    with open(path, "wb") as out:
        shutil.copyfileobj(file.file, out, 1 << 20)


@router.get(
    "/{audit_id}/files/{name}",
    summary="Download an output of a recent audit (kept for a limited time)",
    responses={200: {"content": {"application/octet-stream": {}}}, 404: {"model": ErrorOut}, **AUTH_RESPONSES},
)
async def audit_file(
    request: Request,
    identity: Auditor,
    audit_id: Annotated[str, PathParam(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
    name: Annotated[str, PathParam(max_length=64)],
) -> Response:
    path = _store(request).file(audit_id, name)
    if path is None:
        raise ApiError(404, "not_found", "no such audit file (audits are kept for a limited time)")
    return FileResponse(path, media_type=FILES[name], filename=name)
