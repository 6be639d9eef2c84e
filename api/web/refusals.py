"""How a request refused by a route guard (api/auth/guard.py) is answered: the API in the JSON error shape (401
with ``WWW-Authenticate: Bearer``, 403), a web page with the sign-in page (401) or a page that names the role
needed (403)."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from api.auth.identity import Forbidden
from api.routes import responses
from api.web.pages import page
from api.web.signin import signin_page


def is_page(request: Request) -> bool:
    return not request.url.path.startswith("/v1/")


async def not_signed_in(request: Request, _exc: Exception) -> Response:
    if is_page(request):
        return signin_page(request, status=401, next_path=request.url.path)
    response = responses.error(401, "not_signed_in", "sign in: send Authorization: Bearer <token>")
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


async def forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Forbidden)
    if is_page(request):
        return page(request, "forbidden.html", status=403, message=exc.message)
    return responses.error(403, "forbidden", exc.message)
