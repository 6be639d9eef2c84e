"""POST /v1/audits: a CSV or Excel placement book → per-row results and the Delivery Plan KPIs (SPEC §9).

A thin wrapper over ``engine.audit.run_audit`` (the vectorised evaluator). An audit reviews a book; its rows
are not decisions, so they are not written to the decision log.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from starlette.concurrency import run_in_threadpool

from api.guard import AUTH_RESPONSES, Auditor
from api.responses import ApiError, ExactJSONResponse
from api.schemas import AuditOut, ErrorOut
from engine.audit.run import BookError, run_audit
from engine.validate.placement import EARLIEST_AS_AT, InputError

router = APIRouter(prefix="/v1/audits", tags=["audits"])
SUFFIXES = (".csv", ".xlsx", ".xlsm")
MAX_RESULT_ROWS = 100_000


@router.post(
    "",
    response_class=ExactJSONResponse,
    summary="Audit an uploaded placement book (CSV or Excel): per-row outcomes and reason codes, and the KPIs",
    responses={
        200: {"model": AuditOut},
        **AUTH_RESPONSES,
        400: {"model": ErrorOut, "description": "not valid multipart/form-data"},
        413: {"model": ErrorOut},
        415: {"model": ErrorOut},
        422: {"model": ErrorOut},
    },
)
async def create_audit(
    identity: Auditor,
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
    return ExactJSONResponse(await run_in_threadpool(_audit, file, suffix, as_at, period_start, results_limit))


def _audit(file: UploadFile, suffix: str, as_at: date | None, period_start: date | None, limit: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="carerules-audit-") as folder:
        path = Path(folder) / f"book{suffix}"
        with open(path, "wb") as out:
            while chunk := file.file.read(1 << 20):
                out.write(chunk)
        try:
            audit = run_audit(path, as_at=as_at, period_start=period_start)
        except BookError as exc:
            raise InputError({"file": [str(exc).replace(str(path), file.filename or "the upload")]}) from None
    rows = audit.table.slice(0, limit).to_pylist()
    return {"summary": audit.summary(), "results": rows, "results_truncated": audit.rows > limit}
