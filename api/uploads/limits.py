"""Refuse oversized request bodies before they are read into memory (413 with the usual error shape)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from engine.explain.decision import dumps

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Pure ASGI middleware: a Content-Length over the limit is refused at once; a body streamed without one
    is counted and cut off at the limit. Uploads under ``upload_prefix`` get their own, larger limit."""

    def __init__(self, app: Any, max_body_bytes: int, max_upload_bytes: int, upload_prefix: str = "/v1/audits") -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.upload_prefix = upload_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_upload_bytes if scope["path"].startswith(self.upload_prefix) else self.max_body_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0:
                    await _refuse(send, 400, "bad_request", "the Content-Length header is not a whole number")
                    return
                if declared > limit:
                    await _refuse(send, 413, "too_large", _too_large(limit))
                    return
        seen = 0
        started = over = replaced = False

        async def counted_receive() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    raise _TooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started, replaced
            if over and not started:
                # The app caught the cut-off itself (the form parser answers 400 "error parsing the body"): a
                # body streamed past the limit is a 413 whoever noticed it.
                if message["type"] == "http.response.start":
                    started = replaced = True
                    await _refuse(send, 413, "too_large", _too_large(limit))
                return
            if replaced:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except _TooLarge:
            if started:
                if replaced:
                    return
                raise
            await _refuse(send, 413, "too_large", _too_large(limit))


def _too_large(limit: int) -> str:
    return f"the request body is over the limit of {limit:,} bytes"


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = dumps({"error": {"code": code, "fields": {}, "message": message}}, indent=None).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
