"""A small HTTP/1.1 load generator and a local server for the API benchmark and the concurrency test.

Only loopback: the server binds 127.0.0.1 and the client refuses any other host. Every run is bounded in
requests and in seconds. Raw asyncio sockets with keep-alive, so the client costs little of the 2 cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
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
    replies: list[tuple[int, Reply]] = field(default_factory=list)  # (request index, reply), when kept
    statuses: list[int] = field(default_factory=list)  # every reply's status, in the order they came
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
    with served(database_url, port, workers, timeout_s) as (base, _pid):
        yield base


def machine_ticks() -> tuple[int, int] | None:
    """(idle, all) CPU time of the whole machine so far, in clock ticks, from /proc/stat (Linux); None elsewhere.
    Idle counts time waiting for the disk too."""
    try:
        fields = [int(one) for one in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    return fields[3] + fields[4], sum(fields[:8])


def idle_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """The share of the machine's CPU time that was idle between two ``machine_ticks``."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return round((after[0] - before[0]) / (after[1] - before[1]), 3)


def _processes() -> tuple[dict[int, list[int]], dict[int, int]] | None:
    """Every process's children and CPU clock ticks (user and system) so far, from /proc (Linux); None elsewhere."""
    children: dict[int, list[int]] = {}
    used: dict[int, int] = {}
    try:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    children.setdefault(int(fields[1]), []).append(int(entry.name))
                    used[int(entry.name)] = int(fields[11]) + int(fields[12])
    except OSError:
        return None
    return children, used


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux; empty elsewhere)."""
    found = _processes()
    return list(found[0].get(pid, ())) if found is not None else []


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user and system) used so far by a process and every process under it, from /proc (Linux);
    None where that cannot be read."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0
    found = _processes()
    if found is None:
        return None
    children, used = found
    if not ticks or pid not in used:
        return None
    total, todo = 0, [pid]
    while todo:
        one = todo.pop()
        total += used.get(one, 0)
        todo.extend(children.get(one, ()))
    return total / ticks


@contextmanager
def served(
    database_url: str,
    port: int | None = None,
    workers: int = 1,
    timeout_s: float = 60.0,
    request_log: bool = False,
    log_file: Path | None = None,
    extra_env: dict[str, str] | None = None,
    bare: bool = False,
) -> Iterator[tuple[str, int]]:
    """As ``local_server``, and the server's process id (for ``cpu_seconds``). With ``request_log`` the server
    writes its JSON line per request, as ``carerules serve`` does by default; else it runs ``--quiet`` (warnings
    and errors only). Its standard output goes to ``log_file``, or is discarded. ``extra_env``: more environment
    variables (e.g. ``CARERULES_RULES_DIR``). ``bare``: the benchmark's bare FastAPI endpoint (api/bench/bare.py),
    served the same way, instead of the API."""
    port = port or free_port()
    env = {**os.environ, **(extra_env or {}), "CARERULES_DATABASE_URL": database_url}
    command = (
        [sys.executable, "-m", "api.bench.bare", str(port), str(workers)]
        if bare
        else [
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
            *([] if request_log else ["--quiet"]),
        ]
    )
    out = open(log_file, "ab") if log_file is not None else None  # noqa: SIM115 (closed below)
    child = subprocess.Popen(
        command,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        stdout=out if out is not None else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
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
        yield base, child.pid
    finally:
        stop(child, 15)
        if out is not None:
            out.close()


def stop(child: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Stop a server process: SIGTERM, then SIGKILL if it has not ended within ``timeout_s``."""
    child.terminate()
    try:
        child.wait(timeout=timeout_s)
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


class _Connection(asyncio.Protocol):
    """One keep-alive connection: sends a request, collects its reply from the bytes as they arrive. A protocol
    rather than asyncio's streams, so that the client costs the 2 cores as little as it can."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.reply: asyncio.Future[Reply] | None = None
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.reply is None or self.reply.done():
            return
        status_line, *header_lines = self.buffer[:end].decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if len(self.buffer) < end + 4 + length:
            return
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        self.reply.set_result(Reply(int(status_line.split()[1]), headers, body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc or ConnectionError("the server closed the connection")
        if self.reply is not None and not self.reply.done():
            self.reply.set_exception(self.lost)

    async def send(self, request: bytes) -> Reply:
        if self.lost is not None or self.transport is None:
            raise ConnectionError("the connection is closed")
        self.reply = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.reply


async def _drive(
    host: str, port: int, requests: Sequence[bytes], connections: int, deadline_s: float, keep: bool
) -> Run:
    _check_loopback(host)
    run = Run()
    next_index = 0
    start = time.perf_counter()
    stop_at = start + deadline_s
    loop = asyncio.get_running_loop()

    async def client() -> None:
        nonlocal next_index
        transport, connection = await loop.create_connection(_Connection, host, port)
        try:
            while next_index < len(requests):
                if time.perf_counter() > stop_at:
                    run.stopped_by_deadline = True
                    return
                index = next_index
                next_index += 1
                began = time.perf_counter_ns()
                reply = await connection.send(requests[index])
                run.latencies_ns.append(time.perf_counter_ns() - began)
                run.statuses.append(reply.status)
                if keep:
                    run.replies.append((index, reply))
        finally:
            transport.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    run.elapsed_s = time.perf_counter() - start
    return run


def drive(
    base_url: str, requests: Sequence[bytes], connections: int, deadline_s: float = 60.0, keep: bool = True
) -> Run:
    """Send ``requests`` over ``connections`` keep-alive connections (each takes the next unsent request)."""
    host, port = base_url.removeprefix("http://").split(":")
    with asyncio.Runner(loop_factory=_fast_loop()) as runner:
        return runner.run(_drive(host, int(port), requests, connections, deadline_s, keep))


def _fast_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (as the server uses), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
