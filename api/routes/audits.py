"""POST /v1/audits: a CSV or Excel placement book → per-row results, the Delivery Plan KPIs and the lists people
act on; ``format=xlsx|csv|html`` answers with results.xlsx, results.csv or the report instead of JSON.

A thin wrapper over ``engine.audit.run_audit`` (the vectorised evaluator), run in a child process the API can
stop (``api.uploads.runner``: time limit, audits at once, client disconnects) with the rulebook the decisions
use. An audit reviews a book; its rows are not decisions, so they are not written to the decision log. The
book and the outputs are written to a private temporary folder, deleted when the request ends; the outputs are
kept for a while in the decision log's database (``api.store.audit_results``), where every worker process finds them,
so the page can offer them for download to the user who ran the audit.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi import Path as PathParam
from starlette.responses import Response, StreamingResponse

from api.auth.guard import AUTH_RESPONSES, Auditor
from api.routes.deps import EARLIEST_AS_AT, SettingsDep, edition_of
from api.routes.responses import ApiError, ExactJSONResponse
from api.routes.schemas import AuditOut, ErrorOut
from api.serve.settings import Settings
from api.store.audit_results import FILES, AuditStore, StoredFile, new_audit_id
from api.store.decision_log import DecisionLog, off_loop
from api.uploads.runner import AuditRunner, ClientGone, check_unpacked_size
from api.uploads.worker import AuditJob
from engine.audit.books.read import BOOK_SUFFIXES, Limits
from engine.audit.outputs.excel_out import EXCEL_MAX_ROWS
from engine.validate.placement import InputError

router = APIRouter(prefix="/v1/audits", tags=["audits"])
SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xlsb", ".xls", ".ods", ".parquet")  # as load_book reads
MAX_RESULT_ROWS = 100_000
MAX_COLUMN_MAP_BYTES = 100_000
FORMAT_FILES = {"xlsx": "results.xlsx", "csv": "results.csv", "html": "report.html"}


def _store(request: Request) -> AuditStore:
    store = getattr(request.app.state, "audit_store", None)
    if store is None:
        settings: Settings = request.app.state.settings
        retention = timedelta(days=settings.audit_retention_days)
        store = AuditStore(request.app.state.log.engine, retention, settings.audit_results_per_user)
        request.app.state.audit_store = store
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
    file: Annotated[
        UploadFile,
        File(description="the placement book (.csv, .xlsx, .xls, .xlsb, .ods or .parquet), one placement a row"),
    ],
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
    by: Annotated[
        Literal["quarter", "month"] | None,
        Form(description="every KPI also as a series over the period, by quarter or month (summary.series)"),
    ] = None,
    providers: Annotated[
        UploadFile | None,
        File(description="optional provider register (CSV or Excel): the PRV rules and the KPIs that need it"),
    ] = None,
    block_beds: Annotated[
        UploadFile | None, File(description="optional block-bed file (CSV or Excel): block-bed occupancy")
    ] = None,
) -> Response:
    edition_of(request)  # the rulebook edition in force as the upload starts: its audit uses it to the end
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in SUFFIXES:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"upload a {BOOK_SUFFIXES} file (got {suffix or 'no extension'})",
            {"file": [f"must be a {BOOK_SUFFIXES} file, got {file.filename!r}"]},
        )
    mapping = await columns.read(MAX_COLUMN_MAP_BYTES + 1) if columns is not None else None
    if mapping is not None and len(mapping) > MAX_COLUMN_MAP_BYTES:
        raise InputError({"columns": [f"the column map is over {MAX_COLUMN_MAP_BYTES:,} bytes"]})
    store, log = _store(request), request.app.state.log
    audit_id = new_audit_id()
    folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="carerules-audit-"))  # readable by us only
    try:
        sides = {
            name: await _side_file(settings, folder, name, upload, default)
            for name, upload, default in (
                ("providers", providers, settings.providers_file),
                ("block_beds", block_beds, settings.block_beds_file),
            )
        }
        body = await _audit(request, settings, audit_id, folder, file, suffix, mapping, sheet, as_at, period_start,
                            results_limit, by, sides)  # fmt: skip
        if isinstance(body, Response):
            return body
        # Each part's write is bounded by the database's timeout; the whole by the audit's time limit.
        now = request.app.state.clock()
        await off_loop(settings.max_audit_seconds, store.keep, audit_id, identity.name, folder, now)
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)
    if format == "json":
        return ExactJSONResponse(body)
    name = FORMAT_FILES[format]
    found = await off_loop(log.timeout_seconds, store.find, audit_id, name, identity.name, now)
    if found is None:
        raise ApiError(404, "not_found", f"{name} was not written for this book")
    return await _download(log, store, found)


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
    by: Literal["quarter", "month"] | None,
    sides: dict[str, tuple[Path, str] | None],
) -> dict[str, Any] | Response:
    path = folder / f"upload{suffix}"
    name = file.filename or "the upload"
    await asyncio.to_thread(_save, file, path)
    if suffix not in (".csv", ".txt", ".tsv"):
        await asyncio.to_thread(check_unpacked_size, path, name, settings.max_decompressed_bytes)
    job = AuditJob(
        path=path,
        filename=name,
        book=edition_of(request).engine.book,  # the edition in force when the upload started, to its end
        audit_id=audit_id,
        folder=folder,
        downloads=frozenset(FILES),
        as_at=as_at,
        period_start=period_start,
        sheet=sheet or None,
        column_map=mapping or None,
        results_limit=results_limit,
        limits=limits_for(settings),
        by=by,
        providers=sides["providers"],
        block_beds=sides["block_beds"],
    )
    runner: AuditRunner = request.app.state.audits
    try:
        return await runner.run(job, request.receive)
    except ClientGone:
        return Response(status_code=499)  # nobody is listening; the request log records it


async def _side_file(
    settings: Settings, folder: Path, name: str, upload: UploadFile | None, default: Path | None
) -> tuple[Path, str] | None:
    """A file uploaded beside the book (saved in the audit's folder, within the book's limits), else the
    server's own (its setting), else none: the path and the name messages use."""
    if upload is None:
        return None if default is None else (default, default.name)
    suffix = Path(upload.filename or "").suffix.lower()
    if suffix not in SUFFIXES:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"upload the {name.replace('_', '-')} file as a {BOOK_SUFFIXES} file (got {suffix or 'no extension'})",
            {name: [f"must be a {BOOK_SUFFIXES} file, got {upload.filename!r}"]},
        )
    path = folder / f"{name}{suffix}"
    await asyncio.to_thread(_save, upload, path)
    shown = upload.filename or name
    if suffix not in (".csv", ".txt", ".tsv"):
        await asyncio.to_thread(check_unpacked_size, path, shown, settings.max_decompressed_bytes)
    return path, shown


def _save(file: UploadFile, path: Path) -> None:
    with open(path, "wb") as out:
        shutil.copyfileobj(file.file, out, 1 << 20)


@router.get(
    "/{audit_id}/files/{name}",
    summary="Download an output of an audit you ran (kept for a limited time; others' audits are not found)",
    responses={200: {"content": {"application/octet-stream": {}}}, 404: {"model": ErrorOut}, **AUTH_RESPONSES},
)
async def audit_file(
    request: Request,
    identity: Auditor,
    audit_id: Annotated[str, PathParam(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
    name: Annotated[str, PathParam(max_length=64)],
) -> Response:
    log: DecisionLog = request.app.state.log
    store = _store(request)
    found = await off_loop(log.timeout_seconds, store.find, audit_id, name, identity.name, request.app.state.clock())
    if found is None:  # the same answer whether it never existed, has expired or is another user's
        raise ApiError(404, "not_found", "no such audit file (audits are kept for a limited time)")
    return await _download(log, store, found)


async def _download(log: DecisionLog, store: AuditStore, found: StoredFile) -> Response:
    """The file, read one part at a time (each off the event loop, within the database's timeout)."""
    headers = {"Content-Disposition": f'attachment; filename="{found.name}"'}
    first = await off_loop(log.timeout_seconds, store.part, found, 0)
    if found.parts == 1:
        return Response(first, media_type=found.media_type, headers=headers)

    async def parts() -> AsyncIterator[bytes]:
        yield first
        for part in range(1, found.parts):
            yield await off_loop(log.timeout_seconds, store.part, found, part)

    headers["Content-Length"] = str(found.size)
    return StreamingResponse(parts(), media_type=found.media_type, headers=headers)
