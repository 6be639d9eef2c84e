"""api/serve/hosts.py: Starlette's Host check with its verdicts remembered answers exactly as Starlette's own,
request after request (a refused Host stays refused after an allowed one is remembered, and the other way)."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.middleware.trustedhost import TrustedHostMiddleware

from api.serve.hosts import REMEMBERED, TrustedHosts

ALLOWED = ["carerules.example.gov.uk", "127.0.0.1", "*.council.example", "www.intranet.example"]
HOSTS = [
    b"carerules.example.gov.uk",
    b"CareRules.Example.gov.uk:8443",
    b"127.0.0.1:8000",
    b"evil.example",
    b"a.council.example",
    b"council.example",
    b"intranet.example",  # Starlette redirects to www.
    b"carerules.example.gov.uk:bad",
    b"[::1]:80",
    b"",
    None,
]


async def ok(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-passed", b"yes")]})
    await send({"type": "http.response.body", "body": b"passed"})


def answer(app: Any, host: bytes | None) -> list[dict[str, Any]]:
    headers = [(b"accept", b"*/*")] + ([(b"host", host)] if host is not None else []) + [(b"host", b"127.0.0.1")]
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/x",
        "raw_path": b"/x",
        "query_string": b"",
        "scheme": "http",
        "headers": headers,
        "server": ("127.0.0.1", 80),
        "root_path": "",
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_every_answer_is_starlettes_in_any_order_of_requests():
    starlette, remembered = TrustedHostMiddleware(ok, allowed_hosts=ALLOWED), TrustedHosts(ok, ALLOWED)
    for host in HOSTS * 3 + HOSTS[::-1]:
        assert answer(remembered, host) == answer(starlette, host), host
    # only the values Starlette let through are remembered; the first Host header is the one read (each request
    # here also has a second, allowed one: 127.0.0.1, remembered from the request with no other)
    assert remembered.passed == {
        b"carerules.example.gov.uk",
        b"CareRules.Example.gov.uk:8443",
        b"127.0.0.1:8000",
        b"a.council.example",
        b"127.0.0.1",
    }


def test_at_most_a_bounded_number_of_hosts_are_remembered():
    remembered = TrustedHosts(ok, ["*.council.example"])
    for index in range(REMEMBERED * 2):
        assert answer(remembered, b"h%d.council.example" % index)[0]["status"] == 200
    assert len(remembered.passed) == REMEMBERED
    assert answer(remembered, b"h1.other.example")[0]["status"] == 400
