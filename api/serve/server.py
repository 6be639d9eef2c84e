"""Run the app under uvicorn: worker processes, timeouts for slow clients, JSON logs (the app writes one line
per request itself, so uvicorn's access log is off)."""

from __future__ import annotations

import asyncio
import gc
import logging.config
import signal
import sys
import threading
from functools import cache
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from api.main import create_app
from api.serve.head import USABLE, QuickHeadCycle
from api.serve.metrics import prepare_multiprocess
from api.serve.observe import log_config
from api.serve.settings import Settings
from api.serve.workers import serve_workers, spreads_connections
from api.store.decision_log import DecisionLog


@cache
def _read_seconds() -> float:
    return Settings.from_env().request_read_seconds  # read in each worker process from the environment


class SlowClientProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol with a deadline: a client must send each request (headers and body) within
    ``CARERULES_REQUEST_READ_SECONDS`` of connecting or of starting it, or the connection is closed. (uvicorn
    closes idle keep-alive connections itself, but would wait forever for a request sent a byte at a time.)

    One timer a connection, not one a request: a request's start is noted (``_since``) and its end clears it; the
    timer, when it fires, closes the connection if a request begun that long ago is still unfinished, waits on if
    one is still within its time, and is let go if none is pending (the next request sets it again). Making and
    cancelling a timer for every request cost more than the deadline's whole check (docs/benchmarks.md)."""

    _deadline: asyncio.TimerHandle | None = None
    _since: float | None = None  # when the pending request (or the connection, before its first) began

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(OneWrite(transport, self.loop))  # type: ignore[arg-type]
        self._begin()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._since is None:
            self._begin()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        if USABLE and cycle is not None and type(cycle) is RequestResponseCycle:
            # its task is made, not yet run: its head is written with the checks made once (api/serve/head.py)
            cycle.__class__ = QuickHeadCycle

    def on_message_complete(self) -> None:
        self._since = None
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._since = None
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        super().connection_lost(exc)

    def _begin(self) -> None:
        self._since = since = self.loop.time()
        if self._deadline is None:
            self._deadline = self.loop.call_at(since + _read_seconds(), self._look)

    def _look(self) -> None:
        self._deadline = None
        since = self._since
        if since is None:
            return  # no request pending: the next one sets the timer again
        due = since + _read_seconds()
        if self.loop.time() < due:
            self._deadline = self.loop.call_at(due, self._look)
        elif not self.transport.is_closing():
            self.logger.info("closed a connection that sent no whole request within %s s", _read_seconds())
            self.transport.close()


class OneWrite:
    """The connection's transport, sending a response's head together with its body: uvicorn writes the status
    line and headers, then the body, as two writes, two ``send`` system calls and two packets for a decision's 1 KB
    answer (docs/benchmarks.md, "The API, second pass"). A head is held until the next write (the body, in the same
    turn of the event loop) and joined to it; one that no body follows in that turn (a HEAD, a stream whose first
    part is slow) is sent on the loop's next turn, or before the connection is closed. Anything else is the
    transport's own."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self._transport.write(head + data)
        elif data.startswith(b"HTTP/1.1 ") and data.endswith(b"\r\n\r\n"):
            self._head = data
            self._loop.call_soon(self._flush)
        else:
            self._transport.write(data)

    def _flush(self) -> None:
        head = self._head
        if head is not None:
            self._head = None
            if not self._transport.is_closing():  # the client has gone: nothing to send it
                self._transport.write(head)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def served_app() -> FastAPI:
    """The app as each worker process serves it (SIGHUP: its rulebook folder is loaded again). Once it is made,
    everything made so far (modules, the first rulebook edition, compiled figures) is kept out of the collector's
    reach by ``gc.freeze``, so a full collection no longer walks ~170,000 objects that are all but certain to
    live as long as the process (it took 17% of a worker's time under load; docs/benchmarks.md, "Third pass on
    the API"). An edition swapped out later is freed by reference counting (only reference cycles in it stay)."""
    app = create_app()
    if hasattr(signal, "SIGHUP") and threading.current_thread() is threading.main_thread():
        # SIGHUP: look at the rulebook folder at once (api/serve/edition.py); the parent sends it on to each worker
        editions = app.state.editions
        signal.signal(signal.SIGHUP, lambda *_: editions.wake())
    gc.collect()
    gc.freeze()
    return app


def serve(host: str, port: int, workers: int, quiet: bool) -> None:
    settings = Settings.from_env()
    prepare_multiprocess()  # every worker's counts in one folder, added up by /metrics on any worker
    # Migrate once here: worker processes starting together would otherwise race to create the tables.
    log = DecisionLog(settings.database_url, settings.db_timeout_seconds)
    log.upgrade()
    log.dispose()
    run(uvicorn_config("api.serve.server:served_app", host, port, quiet, settings), workers)


def uvicorn_config(app: str, host: str, port: int, quiet: bool, settings: Settings) -> dict[str, Any]:
    """``uvicorn.Config`` keywords for ``app`` (an app factory's import string), as ``carerules serve`` runs it."""
    return {
        "app": app,
        "factory": True,
        "host": host,
        "port": port,
        "http": SlowClientProtocol,
        "access_log": False,
        "log_config": log_config("WARNING" if quiet else "INFO"),
        "timeout_keep_alive": settings.keep_alive_seconds,
        "limit_concurrency": settings.max_connections,
        "server_header": False,
        # The client address is the socket peer: never rewritten from X-Forwarded-For, which any local process
        # could otherwise send to pose as the single-sign-on proxy (api/auth/identity.py reads forwarded headers itself,
        # and only from a trusted proxy).
        "proxy_headers": False,
    }


def run(config: dict[str, Any], workers: int) -> None:
    """Serve ``config`` with ``workers`` processes: each with its own socket where the kernel spreads connections
    over them (api/serve/workers.py), else uvicorn's own workers on one shared socket."""
    if workers > 1 and spreads_connections():
        logging.config.dictConfig(config["log_config"])
        code = serve_workers(config["host"], config["port"], workers, config)
        if code:
            sys.exit(code)
        return
    uvicorn.run(workers=workers, **config)
