"""``POST /v1/decisions`` without a query string — the service's hot path — answered before FastAPI's routing.

FastAPI's router, dependency solving and exception wrappers cost more per decision than the engine itself
(docs/benchmarks.md, "Third pass on the API"). This pure ASGI layer sits inside every other middleware (request
log, security headers, trusted hosts, same-origin check, body limit), so those still apply; it calls the route's
own function (``decide_one``) and hands any error to the app's own exception handlers, so the answer is the same
in every case. A request with a query string (``as_at``) goes on to the FastAPI route, which validates it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from api.routes.decisions import decide_logged

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[Request, Exception], Awaitable[Response]]

PATH = "/v1/decisions"
JSON_TYPE = (b"content-type", b"application/json")


async def read_body(receive: Receive) -> bytes:
    """The request's body as ``Request.body()`` reads it (a disconnect is ClientDisconnect), without its stream
    machinery: one message, nearly always."""
    message = await receive()
    chunks: list[bytes] = []
    while True:
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()
        message = await receive()


class DecisionFastPath:
    def __init__(self, app: Any, handlers: dict[Any, Handler]) -> None:
        self.app = app
        # Errors with their own handler; anything else is raised on, to the server-error handler (a logged 500).
        self.handlers = {kind: handler for kind, handler in handlers.items() if kind not in (Exception, 500)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH or scope["query_string"]:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)

        async def body() -> bytes:
            request._body = raw = await read_body(receive)  # Request.body() is this, should a handler read it
            return raw

        try:
            logged = await decide_logged(request, None, body)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            response = await handler(request, exc)
            await response(scope, receive, send)
            return
        # What Response(text, 201, media_type="application/json", headers={"Location": ...}) sends, made directly.
        content = logged.text.encode()
        location = b"/v1/decisions/%d" % logged.id
        headers = [(b"location", location), (b"content-length", b"%d" % len(content)), JSON_TYPE]
        await send({"type": "http.response.start", "status": 201, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    def _handler(self, exc: Exception) -> Handler | None:
        for kind in type(exc).__mro__:
            if kind in self.handlers:
                return self.handlers[kind]
        return None
