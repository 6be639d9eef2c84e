"""POST /v1/audits: a CSV or Excel placement book → per-row results and the Delivery Plan KPIs (SPEC §9).

A thin wrapper over ``engine.audit.run_audit`` (the vectorised evaluator). An audit reviews a book; its rows
are not decisions, so they are not written to the decision log.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.responses import Response

from api.audit_worker import AuditJob
from api.audits_runner import AuditRunner, ClientGone, check_unpacked_size
from api.responses import ApiError, ExactJSONResponse
from api.schemas import AuditOut, ErrorOut
from api.settings import Settings
from engine.audit.read import Limits
from engine.validate.placement import EARLIEST_AS_AT

router = APIRouter(prefix="/v1/audits", tags=["audits"])
SUFFIXES = (".csv", ".xlsx", ".xlsm")
MAX_RESULT_ROWS = 100_000


@router.post(
    "",
    response_class=ExactJSONResponse,
    summary="Audit an uploaded placement book (CSV or Excel): per-row outcomes and reason codes, and the KPIs",
    responses={
        200: {"model": AuditOut},
        400: {"model": ErrorOut, "description": "not valid multipart/form-data"},
        413: {"model": ErrorOut, "description": "over the upload size or decompressed-size limit"},
        415: {"model": ErrorOut},
        422: {"model": ErrorOut, "description": "a book that cannot be read, or over a row, cell or time limit"},
        429: {"model": ErrorOut, "description": "the most audits allowed at once are already running"},
    },
)
async def create_audit(
    request: Request,
    file: Annotated[UploadFile, File(description="the placement book: .csv or .xlsx, one placement a row")],
    as_at: Annotated[date | None, Form(ge=EARLIEST_AS_AT, description="evaluate every row at this date")] = None,
    period_start: Annotated[date | None, Form(ge=EARLIEST_AS_AT, description="KPI period start")] = None,
    results_limit: Annotated[int, Form(ge=0, le=MAX_RESULT_ROWS, description="result rows returned")] = 1000,
) -> ExactJSONResponse:
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in SUFFIXES:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"upload a .csv or .xlsx file (got {suffix or 'no extension'})",
            {"file": [f"must be a .csv or .xlsx file, got {file.filename!r}"]},
        )
    settings: Settings = request.app.state.settings
    runner: AuditRunner = request.app.state.audits
    name = file.filename or "the upload"
    with tempfile.TemporaryDirectory(prefix="carerules-audit-") as folder:
        path = Path(folder) / f"book{suffix}"
        await asyncio.to_thread(_save, file, path)
        if suffix != ".csv":
            await asyncio.to_thread(check_unpacked_size, path, name, settings.max_decompressed_bytes)
        limits = Limits(settings.max_upload_rows, settings.max_cell_chars, settings.max_decompressed_bytes)
        job = AuditJob(path, name, request.app.state.engine.book, as_at, period_start, results_limit, limits)
        try:
            body = await runner.run(job, request.receive)
        except ClientGone:
            return Response(status_code=499)  # nobody is listening; the request log records it
    return ExactJSONResponse(body)


def _save(file: UploadFile, path: Path) -> None:
    with open(path, "wb") as out:
        shutil.copyfileobj(file.file, out, 1 << 20)
