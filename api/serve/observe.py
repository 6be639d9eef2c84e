"""One JSON log line per request (request id, user, method, route, status, decision id, milliseconds) and the
security headers (and ``Cache-Control: no-store`` on all but static files) on every response, in one pure ASGI
middleware (cheap on the hot decision path)."""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from api.serve.metrics import record_request

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")  # a caller's X-Request-ID is kept only if it is this plain
DECISION_PATH = re.compile(rb"^/v1/decisions/(\d+)$")
request_log = logging.getLogger("carerules.request")

# No inline script or style anywhere: every script and style sheet is a file under /static or /docs-assets.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]

NO_STORE = (b"cache-control", b"no-store")
STATIC_PATHS = ("/static/", "/docs-assets/")  # the only responses a browser or proxy may keep: no personal data


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object a line; request lines carry their fields in ``record.fields``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if fields:
            line.update(fields)
        else:
            line["message"] = record.getMessage()
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def log_config(level: str = "INFO") -> dict[str, Any]:
    """logging.config.dictConfig for the server: every logger (the app's and uvicorn's) writes JSON lines."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "api.serve.observe.JsonFormatter"}},
        "handlers": {"default": handler},
        "loggers": {
            "carerules": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def ensure_request_log() -> None:
    """When the app runs without the server's logging set-up (tests, a bare uvicorn), still write JSON lines."""
    logger = logging.getLogger("carerules")
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


class RequestIds:
    """A request id made without a system call: 16 random hex digits per process, then a 16-digit counter — 32
    hex digits like a uuid4, unique across processes and restarts for practical purposes. (``uuid4`` reads the
    kernel's random source on every request: 6% of a worker's time under load.)"""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.prefix = secrets.token_hex(8)
        self.counter = itertools.count()

    def next(self) -> str:
        return f"{self.prefix}{next(self.counter):016x}"


request_ids = RequestIds()


class Observe:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                text = value.decode("latin-1")
                request_id = text if REQUEST_ID.match(text) else None
        request_id = request_id or request_ids.next()
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        location: bytes | None = None  # read for the log's decision id only when a line is written

        async def send_with_headers(message: Message) -> None:
            nonlocal status, location
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                cached = False  # the response says how a cache may keep it
                for name, value in headers:
                    if name == b"location":
                        location = value
                    elif name == b"cache-control":
                        cached = True
                headers += SECURITY_HEADERS
                if not cached and not scope["path"].startswith(STATIC_PATHS):
                    headers.append(NO_STORE)  # pages and answers name people and placements: never kept by a cache
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            record_request(scope, status, time.perf_counter() - started)  # /metrics (api/serve/metrics.py)
            if request_log.isEnabledFor(logging.INFO):  # nothing of the line is made when the log is off
                found = DECISION_PATH.match(location) if location is not None else None
                self._log(scope, request_id, status, int(found.group(1)) if found else None, started)

    @staticmethod
    def _log(scope: Scope, request_id: str, status: int, decision_id: int | None, started: float) -> None:
        route = scope.get("route")
        state = scope.get("state", {})
        request_log.info(
            "request",
            extra={
                "fields": {
                    "request_id": request_id,
                    "user": state.get("user"),  # the signed-in user; a name the client sends is ignored
                    "method": scope["method"],
                    "route": getattr(route, "path", None) or scope["path"][:200],
                    "status": status,
                    "decision_id": state.get("decision_id", decision_id),
                    "ms": round((time.perf_counter() - started) * 1000, 3),
                }
            },
        )
