"""JSON responses with exact money (``engine.decision.dumps``) and the error shape the CLI prints."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Match

from engine.explain.decision import dumps
from engine.validate.placement import InputError

CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    503: "unavailable",
}


class ExactJSONResponse(JSONResponse):
    """Decimals written as exact JSON numbers (1040.00), dates as ISO text."""

    def render(self, content: Any) -> bytes:
        return dumps(content, indent=None).encode("utf-8")


def error(status: int, code: str, message: str | None = None, fields: dict[str, list[str]] | None = None) -> Response:
    body: dict[str, Any] = {"code": code, "fields": fields or {}}
    if message:
        body["message"] = message
    return ExactJSONResponse({"error": body}, status_code=status)


class ApiError(Exception):
    """An error the API answers with its own status and code (not a field's fault)."""

    def __init__(self, status: int, code: str, message: str, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields


async def input_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InputError)
    return error(422, "invalid_input", fields=exc.fields)


async def api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error(exc.status, exc.code, exc.message, exc.fields)


async def validation_error(_request: Request, exc: Exception) -> Response:
    """FastAPI's own checks (query, path, header parameters) → the CLI's per-field shape."""
    assert isinstance(exc, RequestValidationError)
    fields: dict[str, list[str]] = {}
    for item in exc.errors():
        location = [str(part) for part in item.get("loc", ()) if part not in ("query", "path", "header", "body")]
        name = ".".join(location) or "request"
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ").replace("Input should be", "must be")
        fields.setdefault(name, []).append(message)
    return error(422, "invalid_input", fields=fields)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = CODES.get(exc.status_code, "error")
    response = error(exc.status_code, code, str(exc.detail))
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    if exc.status_code == 405:
        response.headers["Allow"] = ", ".join(allowed_methods(request))
    return response


def allowed_methods(request: Request) -> list[str]:
    """Every method any route offers at this path (Starlette names only the first matching route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


async def log_unavailable(_request: Request, exc: Exception) -> Response:
    # A decision is only answered once it is stored; if the log cannot take it, say so (and retry is safe).
    if "did not confirm" in str(exc):  # a timeout: the write may still land, but it was never confirmed
        return error(503, "log_unavailable", f"{exc}: the decision was not answered; try again")
    return error(503, "log_unavailable", "the decision log cannot be reached; nothing was stored, try again")


async def unexpected_error(_request: Request, _exc: Exception) -> Response:
    # Never a traceback to the client; the server log keeps it.
    return error(500, "internal_error", "the server failed on this request; it has been logged")
