"""The Host header checked against ``CARERULES_ALLOWED_HOSTS`` (Starlette's ``TrustedHostMiddleware``), with its
verdict remembered for the Host values it let through: every request of a server names one of a few hosts, and
Starlette's check builds the request's headers and parses the value each time (about 6 µs of a decision's shell;
docs/benchmarks.md, "The API's shell, fourth pass").

The verdict depends on the Host value alone (and the allowed hosts, fixed when the app is made), so a value let
through once is let through again without asking; anything else (no Host, a refused one, a value not seen yet,
a websocket) goes through Starlette's own check, which answers every refusal itself. At most ``REMEMBERED``
values are kept (a wildcard such as ``*.example.com`` lets through any number of names).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

REMEMBERED = 64


def first_header(scope: Scope, name: bytes) -> bytes | None:
    """The request's first ``name`` header (lower case), as Starlette's ``Headers.get`` reads it, without making the
    Headers object (the Host check here and sign-in run on every request)."""
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


class TrustedHosts:
    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.passed: set[bytes] = set()  # Host values Starlette's check let through
        self.check = TrustedHostMiddleware(self._let_through, allowed_hosts=allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and first_header(scope, b"host") in self.passed:
            await self.app(scope, receive, send)
            return
        await self.check(scope, receive, send)

    async def _let_through(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and len(self.passed) < REMEMBERED:
            host = first_header(scope, b"host")
            if host is not None:
                self.passed.add(host)
        await self.app(scope, receive, send)
