"""A response's head and body leave in one write (api.serve.server.OneWrite): in order, whole, and a head that no
body follows is still sent (on the loop's next turn, or before the connection closes)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import P_1001

from api.bench.loadgen import served
from api.serve.server import OneWrite

HEAD = b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n"


class Recording:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def write_eof(self) -> None:
        self.writes.append(b"<eof>")

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str) -> Any:
        return f"extra {name}"


def on_a_loop(steps: Any) -> Recording:
    async def run() -> Recording:
        transport = Recording()
        await steps(OneWrite(transport, asyncio.get_running_loop()))  # type: ignore[arg-type]
        await asyncio.sleep(0)  # the loop's next turn
        await asyncio.sleep(0)
        return transport

    return asyncio.run(run())


def test_a_head_and_its_body_are_one_write() -> None:
    async def steps(transport: OneWrite) -> None:
        transport.write(HEAD)
        transport.write(b"{}")

    assert on_a_loop(steps).writes == [HEAD + b"{}"]


def test_a_head_without_a_body_is_sent_on_the_next_turn_or_before_closing() -> None:
    async def alone(transport: OneWrite) -> None:
        transport.write(HEAD)

    assert on_a_loop(alone).writes == [HEAD]

    async def then_closed(transport: OneWrite) -> None:
        transport.write(HEAD)
        transport.close()

    closed = on_a_loop(then_closed)
    assert closed.writes == [HEAD] and closed.closed

    async def then_eof(transport: OneWrite) -> None:
        transport.write(HEAD)
        transport.write_eof()

    assert on_a_loop(then_eof).writes == [HEAD, b"<eof>"]


def test_other_writes_pass_at_once_and_in_order() -> None:
    async def steps(transport: OneWrite) -> None:
        transport.write(b"a chunk")
        transport.write(HEAD)
        await asyncio.sleep(0)
        transport.write(b"late body")
        assert transport.get_extra_info("peername") == "extra peername"

    assert on_a_loop(steps).writes == [b"a chunk", HEAD, b"late body"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    with served(f"sqlite:///{tmp_path_factory.mktemp('one_write') / 'decisions.db'}") as (base, _pid):
        host, port = base.removeprefix("http://").split(":")
        yield host, int(port)


def exchange(server: tuple[str, int], request: bytes) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    with socket.create_connection(server, timeout=20) as raw:
        raw.sendall(request)
        while chunk := raw.recv(65536):
            received += chunk
    return received


def test_a_served_decision_head_and_body_whole_then_close(server: tuple[str, int]) -> None:
    body = json.dumps(P_1001).encode()
    request = (
        b"POST /v1/decisions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
    ) + body
    head, _, answer = exchange(server, request).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 201 ")
    lines = head.lower().split(b"\r\n")
    length = next(int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length"))
    assert len(answer) == length and json.loads(answer)["placement_id"] == P_1001["placement_id"]


def test_a_served_head_request_gets_its_head(server: tuple[str, int]) -> None:
    received = exchange(server, b"HEAD /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert received.startswith(b"HTTP/1.1 ") and received.endswith(b"\r\n\r\n")
