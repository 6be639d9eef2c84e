"""Several worker processes, each with its own listening socket on the same port (``SO_REUSEPORT``), so that the
kernel spreads the connections over the workers.

With one socket shared by every worker (uvicorn's own ``--workers``), whichever worker wakes first accepts every
connection waiting: a client opening 32 keep-alive connections at once had all 32 served by one worker while
the other sat idle (docs/benchmarks.md, "Fourth pass on the API"). Each worker here is uvicorn's ``Server``;
this module only starts them, restarts one that dies, passes SIGHUP on to each (a rulebook reload), and stops them
all on SIGINT or SIGTERM. Where the kernel
does not spread connections this way (not Linux), ``carerules serve`` keeps uvicorn's shared socket.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn

logger = logging.getLogger("carerules.api")
STARTUP_FAILURE = 3  # uvicorn's exit code for a worker that could not start: restarting it would fail again
PARENT_CHECK_SECONDS = 1.0


def spreads_connections() -> bool:
    """True where the kernel spreads a port's connections over sockets bound with ``SO_REUSEPORT`` (Linux)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def bound_socket(host: str, port: int, shared: bool = True) -> socket.socket:
    """A TCP socket bound to ``host:port``; ``shared``: in the port's ``SO_REUSEPORT`` group (only processes of the
    same user can join it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def serve_workers(host: str, port: int, workers: int, config: dict[str, Any]) -> int:
    """Run ``workers`` uvicorn servers of ``config`` (``uvicorn.Config`` keywords) on ``host:port`` until SIGINT or
    SIGTERM; the exit code. The parent keeps a bound socket that never listens: it holds the port (and picks it
    when ``port`` is 0) without taking connections. A port already in use is refused (exit 3)."""
    try:
        # First without SO_REUSEPORT: a port some other server listens on — another carerules too, which would
        # otherwise quietly share the connections with this one — is refused, as uvicorn's own bind would.
        probe = bound_socket(host, port, shared=False)
        port = probe.getsockname()[1]
        probe.close()
        holder = bound_socket(host, port)
    except OSError as exc:
        logger.error("cannot listen on %s:%d: %s", host, port, exc)
        return STARTUP_FAILURE
    logger.info("serving on http://%s:%d with %d worker processes", host, port, workers)
    spawn = multiprocessing.get_context("spawn")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    def start() -> BaseProcess:
        process = spawn.Process(target=run_worker, args=(host, port, os.getpid(), config), daemon=False)
        process.start()
        return process

    processes = [start() for _ in range(workers)]

    def reload(*_: object) -> None:  # SIGHUP: every worker loads the rulebook folder again (api/serve/edition.py)
        for process in processes:
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signal.SIGHUP)

    signal.signal(signal.SIGHUP, reload)
    code = 0
    try:
        while not stop.wait(0.5):
            for index, process in enumerate(processes):
                if process.is_alive():
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    logger.error("a worker process could not start: stopping")
                    stop.set()
                    code = STARTUP_FAILURE
                    break
                logger.warning("worker process %s stopped (exit %s): starting another", process.pid, process.exitcode)
                processes[index] = start()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests under way
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
        holder.close()
    return code


def run_worker(host: str, port: int, parent: int, config: dict[str, Any]) -> None:
    """One worker process: its own socket in the port's group, uvicorn's server on it; it stops itself if the
    parent goes away without stopping it (killed), rather than serving on unsupervised."""
    sock = bound_socket(host, port)
    server = uvicorn.Server(uvicorn.Config(**config))
    threading.Thread(target=_watch_parent, args=(parent, server), daemon=True).start()
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def _watch_parent(parent: int, server: uvicorn.Server) -> None:
    while not server.should_exit:
        if os.getppid() != parent:
            server.should_exit = True
            return
        time.sleep(PARENT_CHECK_SECONDS)
