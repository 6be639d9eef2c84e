"""A small HTTP/1.1 load generator and a local server for the API benchmark and the concurrency test.

Only loopback: the server binds 127.0.0.1 and the client refuses any other host. Every run is bounded in
requests and in seconds. Raw asyncio sockets with keep-alive, so the client costs little of the 2 cores.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Run:
    replies: list[tuple[int, Reply]] = field(default_factory=list)  # (request index, reply)
    latencies_ns: list[int] = field(default_factory=list)
    elapsed_s: float = 0.0
    stopped_by_deadline: bool = False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _check_loopback(host: str) -> None:
    if ipaddress.ip_address(host) not in LOOPBACK:
        raise ValueError(f"load is only ever sent to loopback, not {host}")


class ServerNotStarted(RuntimeError):
    """The benchmark's server stopped, or never answered, before the benchmark could start."""


@contextmanager
def local_server(
    database_url: str, port: int | None = None, workers: int = 1, timeout_s: float = 60.0
) -> Iterator[str]:
    """``carerules serve`` in a child process on 127.0.0.1; yields its base URL and stops it afterwards."""
    port = port or free_port()
    env = {**os.environ, "CARERULES_DATABASE_URL": database_url}
    command = [
        sys.executable,
        "-c",
        "from engine.cli.main import app; app()",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--quiet",
    ]
    child = subprocess.Popen(
        command, env=env, cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if child.poll() is not None:
                raise ServerNotStarted(
                    f"the server stopped: {(child.stderr.read() if child.stderr else b'').decode()[-2000:]}"
                )
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise ServerNotStarted("the server did not answer /healthz in time")
            time.sleep(0.1)
        yield base
    finally:
        child.terminate()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def request_bytes(method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> bytes:
    payload = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(payload)}"]
    if body is not None:
        lines.append("Content-Type: application/json")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def _read_reply(reader: asyncio.StreamReader) -> Reply:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Reply(int(status_line.split()[1]), headers, body)


async def _drive(
    host: str, port: int, requests: Sequence[bytes], connections: int, deadline_s: float, keep: bool
) -> Run:
    _check_loopback(host)
    run = Run()
    next_index = 0
    start = time.perf_counter()
    stop_at = start + deadline_s

    async def client() -> None:
        nonlocal next_index
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while next_index < len(requests):
                if time.perf_counter() > stop_at:
                    run.stopped_by_deadline = True
                    return
                index = next_index
                next_index += 1
                began = time.perf_counter_ns()
                writer.write(requests[index])
                reply = await _read_reply(reader)
                run.latencies_ns.append(time.perf_counter_ns() - began)
                if keep:
                    run.replies.append((index, reply))
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    run.elapsed_s = time.perf_counter() - start
    return run


def drive(
    base_url: str, requests: Sequence[bytes], connections: int, deadline_s: float = 60.0, keep: bool = True
) -> Run:
    """Send ``requests`` over ``connections`` keep-alive connections (each takes the next unsent request)."""
    host, port = base_url.removeprefix("http://").split(":")
    return asyncio.run(_drive(host, int(port), requests, connections, deadline_s, keep))
