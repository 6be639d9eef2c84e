"""A response's head written by api.serve.head.QuickHeadCycle is what uvicorn's own ``send`` writes: the same
bytes, the same refusal of a bad header name or value, the same state left for the body (length, chunking,
keep-alive), and the body after it the same; and the server's connections use it."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from api.serve.head import QuickHeadCycle
from api.serve.observe import SECURITY_HEADERS
from api.serve.server import SlowClientProtocol


class Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


class Flow:
    write_paused = False


STATE = ("response_started", "response_complete", "keep_alive", "chunked_encoding", "expected_content_length")
STATE += ("waiting_for_100_continue",)


def run(
    kind: type[RequestResponseCycle],
    method: str,
    keep_alive: bool,
    defaults: list[tuple[bytes, bytes]],
    start: dict[str, Any],
    body: dict[str, Any],
) -> tuple[Any, ...]:
    async def steps() -> tuple[Any, ...]:
        transport, logger = Transport(), logging.getLogger("test_quick_head")
        cycle = kind(
            {"method": method},  # type: ignore[arg-type]
            transport,  # type: ignore[arg-type]
            Flow(),  # type: ignore[arg-type]
            logger,
            logger,
            False,
            defaults,
            asyncio.Event(),
            True,
            keep_alive,
            lambda: transport.write(b"<response complete>"),
        )
        outcome: list[Any] = []
        for message in (start, body):
            try:
                await cycle.send(message)  # type: ignore[arg-type]
                outcome.append("sent")
            except Exception as exc:  # noqa: BLE001 (the same error, whatever it is)
                outcome.append((type(exc), str(exc)))
        return (outcome, transport.writes, transport.closed, *(getattr(cycle, name) for name in STATE))

    return asyncio.run(steps())


PLAIN = [b"location", b"content-length", b"content-type", b"x-request-id", b"cache-control", b"connection"]
PLAIN += [b"transfer-encoding", b"Content-Length", b"X-Frame-Options", b"date", b"vary"]
NAMES = st.one_of(st.sampled_from(PLAIN), st.binary(max_size=6))
VALUES = st.one_of(
    st.sampled_from([b"12", b"0", b"chunked", b"close", b"keep-alive, Close", b"application/json", b"no-store", b""]),
    st.binary(max_size=8),
)


@settings(max_examples=400, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "HEAD"]),
    status=st.sampled_from([200, 201, 204, 304, 404, 503]),
    keep_alive=st.booleans(),
    defaults=st.lists(st.tuples(NAMES, VALUES), max_size=2),
    headers=st.lists(st.tuples(NAMES, VALUES), max_size=6),
    body=st.binary(max_size=14),
)
def test_the_head_and_what_follows_are_uvicorns(
    method: str,
    status: int,
    keep_alive: bool,
    defaults: list[tuple[bytes, bytes]],
    headers: list[tuple[bytes, bytes]],
    body: bytes,
) -> None:
    start = {"type": "http.response.start", "status": status, "headers": headers}
    message = {"type": "http.response.body", "body": body}
    expected = run(RequestResponseCycle, method, keep_alive, defaults, start, message)
    assert run(QuickHeadCycle, method, keep_alive, defaults, start, message) == expected


def test_a_decisions_head_and_bad_headers() -> None:
    headers = [(b"location", b"/v1/decisions/7"), (b"content-length", b"2"), (b"content-type", b"application/json")]
    headers += [(b"x-request-id", b"0123456789abcdef"), *SECURITY_HEADERS, (b"cache-control", b"no-store")]
    defaults = [(b"date", b"Sun, 06 Dec 2026 21:00:00 GMT")]
    body = {"type": "http.response.body", "body": b"{}"}
    for bad in ([(b"bad name", b"x")], [(b"x-ok", b"bad\nvalue")], [(b"x-a", b"1"), (b"b:", b"\r")], []):
        start = {"type": "http.response.start", "status": 201, "headers": headers + bad}
        for keep_alive in (True, False):
            expected = run(RequestResponseCycle, "POST", keep_alive, defaults, start, body)
            assert run(QuickHeadCycle, "POST", keep_alive, defaults, start, body) == expected
            assert expected[0][0] == ("sent" if not bad else expected[0][0])
    refused = run(QuickHeadCycle, "POST", True, defaults, {**start, "headers": [(b"bad name", b"x")]}, body)
    assert refused[0][0] == (RuntimeError, "Invalid HTTP header name.")


def test_the_servers_requests_use_the_quick_head() -> None:
    async def steps() -> type[Any]:
        class Config:
            pass

        left, right = socket.socketpair()
        try:
            loop = asyncio.get_running_loop()
            made: list[type[Any]] = []

            class Recording(SlowClientProtocol):
                def on_headers_complete(self) -> None:
                    super().on_headers_complete()
                    made.append(type(self.cycle))

            from uvicorn.config import Config as UvicornConfig
            from uvicorn.server import ServerState

            async def app(scope: Any, receive: Any, send: Any) -> None:
                await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
                await send({"type": "http.response.body", "body": b""})

            config = UvicornConfig(app=app, access_log=False)
            config.load()
            protocol = Recording(config=config, server_state=ServerState(), app_state={}, _loop=loop)
            transport, _ = await loop.connect_accepted_socket(lambda: protocol, left)
            right.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            for _ in range(50):
                await asyncio.sleep(0.01)
                if made:
                    break
            transport.close()
            return made[0]
        finally:
            right.close()

    assert asyncio.run(steps()) is QuickHeadCycle


def test_uvicorns_patterns_are_the_ones_the_quick_head_was_written_for() -> None:
    from api.serve.head import USABLE

    assert USABLE  # else every head is uvicorn's own (slower, the same bytes): look at api/serve/head.py again
