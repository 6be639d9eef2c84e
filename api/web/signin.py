"""Signing in to the web page with a name and token (as printed by ``carerules users add``), and out again.

A signed-in browser holds a random session id in an HttpOnly, SameSite cookie (Secure over HTTPS, directly or
through the trusted proxy); the database keeps only its SHA-256 and when it expires. Both forms carry the CSRF
token. The token finds the user (by its public key and digest) and the name must then match: a name is never
looked up on its own, so a known and an unknown name take the same work and get the same answer. Sign-in
attempts are limited per client address and per name (429 with Retry-After).
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from api.auth.guard import CSRF_FIELD, csrf_ok
from api.auth.identity import SESSION_COOKIE, Authenticator
from api.web.pages import page

router = APIRouter(include_in_schema=False)


def safe_next(path: object) -> str:
    """Only a path on this site (never //host or a scheme): where to go after signing in."""
    if isinstance(path, str) and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/"


def under_root(request: Request, path: str) -> str:
    """``path`` on this site, under the sub-path it is served at (CARERULES_ROOT_PATH), unless already there."""
    root = request.scope.get("root_path", "")
    return path if root and (path == root or path.startswith(root + "/")) else root + path


def signin_page(request: Request, status: int = 200, next_path: str = "/", error: str | None = None) -> Response:
    return page(request, "signin.html", status=status, next_path=safe_next(next_path), error=error)


@router.get("/signin")
def signin_form(request: Request, next: str = "/") -> Response:
    return signin_page(request, next_path=next)


@router.post("/signin")
async def signin(request: Request) -> Response:
    form = await request.form()
    next_path = safe_next(form.get("next"))
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        return signin_page(request, 403, next_path, "The form had expired. Please try again.")
    name, token = str(form.get("name") or "").strip(), str(form.get("token") or "").strip()
    auth: Authenticator = request.app.state.auth
    attempts = auth.attempts
    client = auth.client_address(request)
    wait = attempts.take(client, name)
    if wait is not None:
        response = signin_page(request, 429, next_path, "Too many sign-in attempts. Please wait and try again.")
        response.headers["Retry-After"] = str(wait)
        return response
    account = await auth.by_token(token)
    if account is None or not hmac.compare_digest(account.name.encode(), name.encode()):
        return signin_page(request, 401, next_path, "That name and token do not match a user.")
    session_id = secrets.token_urlsafe(32)
    now = auth.clock()
    hours = request.app.state.settings.session_hours
    await run_in_threadpool(auth.store.add_session, session_id, account.name, now, now + timedelta(hours=hours))
    response = RedirectResponse(under_root(request, next_path), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=hours * 3600,
        httponly=True,
        samesite="lax",
        secure=auth.over_https(request),
    )
    return response


@router.post("/signout")
async def signout(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        return signin_page(request, 403, "/", "The form had expired. Please try again.")
    session_id = request.cookies.get(SESSION_COOKIE)
    auth: Authenticator = request.app.state.auth
    if session_id:
        await run_in_threadpool(auth.store.end_session, session_id)
    response = RedirectResponse(under_root(request, "/signin"), status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
