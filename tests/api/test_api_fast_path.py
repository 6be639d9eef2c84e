"""POST /v1/decisions is answered before routing (api/routes/fast_path.py): every answer is the one the FastAPI route
gives.

Two apps on two logs, one with the fast path and one without it; the same requests to both; the same status,
body, headers (but the request id) and stored decision — for a decision, each kind of bad input, a caller not
signed in, a caller without the role, a cross-site post and an oversized body.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from api.routes.fast_path import DecisionFastPath
from tests.api.conftest import P_1001, add_user, make_client

SAME_ORIGIN = {"Content-Type": "application/json"}
REQUESTS: list[tuple[str, bytes, dict[str, str]]] = [
    ("a decision", json.dumps(P_1001).encode(), SAME_ORIGIN),
    (
        "fields the engine refuses",
        json.dumps({**P_1001, "age": 17, "core_weekly_fee": "1.040,00"}).encode(),
        SAME_ORIGIN,
    ),
    ("not JSON", b"{placement", SAME_ORIGIN),
    ("not UTF-8", b'{"provider": "\xff"}', SAME_ORIGIN),
    ("a lone surrogate", b'{"placement_id": "P-1", "provider": "\\ud800"}', SAME_ORIGIN),
    ("a number far too long", b'{"age": ' + b"9" * 5000 + b"}", SAME_ORIGIN),
    ("a list, not a placement", b"[1, 2]", SAME_ORIGIN),
    ("from another site", json.dumps(P_1001).encode(), {**SAME_ORIGIN, "Origin": "https://elsewhere.example"}),
    ("a body over the limit", b" " * 20_000, SAME_ORIGIN),
]


def without_fast_path(client: TestClient) -> TestClient:
    app: Any = client.app
    app.user_middleware = [layer for layer in app.user_middleware if layer.cls is not DecisionFastPath]
    app.middleware_stack = None  # built again, without it, on the next request
    return client


def answer(client: TestClient, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
    response = client.post("/v1/decisions", content=body, headers=headers)
    kept = {name: value for name, value in response.headers.items() if name not in ("x-request-id", "date")}
    return response.status_code, kept, response.text


def stored(url: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT placement_id, outcome, input_json, decision_json FROM decision_log"))
        found = [tuple(row) for row in rows]
    engine.dispose()
    return found


def counted_fast_path(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every request the fast path answers itself, counted."""
    from api.routes import fast_path

    calls: list[str] = []
    decide_logged = fast_path.decide_logged

    async def counted(*args: Any) -> Any:
        calls.append("fast path")
        return await decide_logged(*args)

    monkeypatch.setattr(fast_path, "decide_logged", counted)
    return calls


def test_the_fast_path_answers_exactly_as_the_route(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    calls = counted_fast_path(monkeypatch)
    urls = [f"sqlite:///{tmp_path / name}.db" for name in ("fast", "routed")]
    with make_client(urls[0], max_body_bytes=10_000) as fast, make_client(urls[1], max_body_bytes=10_000) as routed:
        without_fast_path(routed)
        for what, body, headers in REQUESTS:
            assert answer(fast, body, headers) == answer(routed, body, headers), what
        for client in (fast, routed):
            client.headers.update(add_user(client, "Ann Broker", "finance"))  # signed in, without the role
        assert answer(fast, REQUESTS[0][1], SAME_ORIGIN) == answer(routed, REQUESTS[0][1], SAME_ORIGIN)
        for client in (fast, routed):
            client.headers.pop("Authorization")  # users exist now: not signed in
        assert answer(fast, REQUESTS[0][1], SAME_ORIGIN) == answer(routed, REQUESTS[0][1], SAME_ORIGIN)
    assert stored(urls[0]) == stored(urls[1]) and len(stored(urls[0])) == 1
    # the fast app answered every request that passed the middleware itself (not the cross-site one, nor the one
    # over the limit); the other app answered through its route
    assert len(calls) == len(REQUESTS) - 2 + 2


def test_a_query_string_goes_to_the_route_that_validates_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    calls = counted_fast_path(monkeypatch)
    with make_client(f"sqlite:///{tmp_path / 'log.db'}") as client:
        assert client.post("/v1/decisions", json=P_1001).status_code == 201
        assert calls == ["fast path"]
        assert client.post("/v1/decisions?as_at=2026-06-01", json=P_1001).status_code == 201
        refused = client.post("/v1/decisions?as_at=someday", json=P_1001)
        assert refused.status_code == 422 and "as_at" in refused.json()["error"]["fields"]
        assert calls == ["fast path"]


def test_the_fast_path_reads_a_body_sent_in_parts_as_starlette_does():
    """The fast path reads the body itself (api/routes/fast_path.py, read_body): the same bytes as Request.body()
    from a body in several messages, empty parts included; a disconnect before the end is ClientDisconnect."""
    import asyncio

    from starlette.requests import ClientDisconnect, Request

    from api.routes.fast_path import read_body

    def receiver(messages: list[dict[str, Any]]) -> Any:
        queue = list(messages)

        async def receive() -> dict[str, Any]:
            return queue.pop(0)

        return receive

    def part(body: bytes, more: bool) -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": more}

    for parts in (
        [part(b'{"a": 1}', False)],
        [part(b'{"a"', True), part(b"", True), part(b": 1}", False)],
        [part(b"", False)],
    ):
        starlette = asyncio.run(Request({"type": "http"}, receiver(parts)).body())
        assert asyncio.run(read_body(receiver(parts))) == starlette
    with pytest.raises(ClientDisconnect):
        asyncio.run(read_body(receiver([part(b"{", True), {"type": "http.disconnect"}])))
