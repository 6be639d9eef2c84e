"""Route guards: the signed-in identity and the roles a route needs; cross-site requests refused.

API routes answer 401/403 in the JSON error shape; web pages answer with the sign-in page (401) or a page that
names the role needed (403). Every unsafe request a browser marks as cross-site, or whose Origin is another
site, is refused (403) before any route runs; page forms also carry a CSRF token (double-submit cookie). An
upload from someone not signed in (or without the auditor role) is refused before its body is read.
The 401 and 403 answers are api/web/refusals.py's.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth.identity import APPROVE, AUDIT, CHECK, READ, Authenticator, Forbidden, Identity, Needs, NotSignedIn
from api.routes import responses
from api.routes.schemas import ErrorOut
from api.serve.in_force import edition_of

CSRF_COOKIE = "carerules_csrf"
CSRF_FIELD = "csrf_token"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


async def require(request: Request, allowed: Needs) -> Identity:
    """The caller's identity if it holds one of ``allowed`` (the approver roles: those of the edition this request
    uses); else NotSignedIn (401) or Forbidden (403)."""
    auth: Authenticator = request.app.state.auth
    identity = await auth.identify(request, edition_of(request).engine.book.approvers)
    if identity is None:
        raise NotSignedIn()
    state = request.scope.setdefault("state", {})  # what request.state.identity and .user set, without a State
    state["identity"] = identity
    state["user"] = identity.name  # the request log's "user"
    if not identity.holds(allowed):
        needed = ", ".join(sorted(allowed.roles(identity.approvers))).replace("_", " ")
        raise Forbidden(f"{identity.name} does not hold a role this needs ({needed})")
    return identity


def allow(allowed: Needs) -> Callable[[Request], Awaitable[Identity]]:
    async def dependency(request: Request) -> Identity:
        return await require(request, allowed)

    return dependency


Checker = Annotated[Identity, Depends(allow(CHECK))]
Reader = Annotated[Identity, Depends(allow(READ))]
Approver = Annotated[Identity, Depends(allow(APPROVE))]
Auditor = Annotated[Identity, Depends(allow(AUDIT))]

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "not signed in: send `Authorization: Bearer <token>`"},
    403: {"model": ErrorOut, "description": "signed in without a role this needs"},
}


def csrf_token(request: Request) -> str:
    """The token a page's forms carry: the browser's CSRF cookie, made when it has none."""
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not token:
        token = request.state.new_csrf = secrets.token_urlsafe(32)
    return str(token)


def set_csrf_cookie(request: Request, response: Response) -> None:
    new = getattr(request.state, "new_csrf", None)
    if new:
        secure = request.app.state.auth.over_https(request)  # HTTPS here or through the trusted proxy
        response.set_cookie(CSRF_COOKIE, new, httponly=True, samesite="strict", secure=secure, path="/")


def csrf_ok(request: Request, submitted: object) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    return bool(cookie) and isinstance(submitted, str) and hmac.compare_digest(cookie.encode(), submitted.encode())


class SameOrigin:
    """Refuse (403) an unsafe request a browser says comes from another site (Sec-Fetch-Site, Origin)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in UNSAFE and _names_a_site(scope):
            headers = Headers(scope=scope)
            if _cross_site(headers):
                response = responses.error(403, "cross_site", "a request from another site is refused")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _names_a_site(scope: Scope) -> bool:
    """Whether the request has a Sec-Fetch-Site or Origin header, the only ones ``_cross_site`` reads (an API
    client sends neither: no Headers object made for it)."""
    return any(name in SITE_HEADERS for name, _ in scope["headers"])


SITE_HEADERS = frozenset({b"sec-fetch-site", b"origin"})


def _cross_site(headers: Headers) -> bool:
    if headers.get("sec-fetch-site", "") == "cross-site":
        return True
    origin = headers.get("origin")
    if origin is None:
        return False
    if origin == "null":  # a browser under Referrer-Policy: no-referrer says so: Sec-Fetch-Site above decides
        return False
    return urlsplit(origin).netloc.lower() != headers.get("host", "").lower()


class SignedInBeforeUpload:
    """Refuse an upload (a POST under ``prefix``) from a caller not signed in (401) or without a role uploads
    need (403) before a byte of its body is read: FastAPI reads a form before a route's dependencies run, so an
    anonymous 49 MB upload was read (and written to disk) before its 401. The route checks again as usual."""

    def __init__(self, app: ASGIApp, prefix: str = "/v1/audits", allowed: Needs = AUDIT) -> None:
        self.app, self.prefix, self.allowed = app, prefix, allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].startswith(self.prefix):
            auth: Authenticator = scope["app"].state.auth
            connection = HTTPConnection(scope)
            identity = await auth.identify(connection, edition_of(connection).engine.book.approvers)
            refusal = None
            if identity is None:
                refusal = responses.error(401, "not_signed_in", "sign in: send Authorization: Bearer <token>")
                refusal.headers["WWW-Authenticate"] = "Bearer"
            elif not identity.holds(self.allowed):
                needed = ", ".join(sorted(self.allowed.roles(identity.approvers))).replace("_", " ")
                refusal = responses.error(
                    403, "forbidden", f"{identity.name} does not hold a role this needs ({needed})"
                )
            if refusal is not None:
                refusal.headers["Connection"] = "close"  # the body is never read: the connection cannot be reused
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)
