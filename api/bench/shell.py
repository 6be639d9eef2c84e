"""The API's shell around a decision, in process: ``POST /v1/decisions`` driven through the whole ASGI app (every
middleware, the fast path, sign-in, parsing, the answer's headers and the metrics) with no server, no socket and
no load generator, timed in CPU time (docs/benchmarks.md, "The API's shell, fourth pass").

``shell``: the decider answers a stored decision at once, so only the layer around it is timed; ``request``: the
engine decides as the server does and only the log's write is skipped. The request log is off, as ``--quiet``.

Run as ``python -m api.bench.shell [REQUESTS] [ROUNDS]``: one JSON line, the CPU µs a request of each round.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import tempfile
import time
from typing import Any

from api.main import create_app
from api.routes.service import Logged, parse_json
from api.serve.settings import Settings
from engine.bench.decisions import EXAMPLES


def app_and_body() -> tuple[Any, bytes]:
    app = create_app(Settings(database_url=f"sqlite:///{tempfile.mkdtemp(prefix='carerules-shell-')}/log.db"))
    logging.getLogger("carerules").setLevel(logging.WARNING)
    return app, json.dumps(EXAMPLES[0]).encode()


async def timed(app: Any, body: bytes, requests: int) -> float:
    headers = [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json")]
    headers.append((b"content-length", b"%d" % len(body)))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/v1/decisions", "raw_path": b"/v1/decisions", "query_string": b"", "root_path": "",
             "headers": headers, "client": ("127.0.0.1", 5555), "server": ("127.0.0.1", 8000)}  # fmt: skip
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    started = time.process_time()
    for _ in range(requests):
        await app(dict(scope, state={}), receive, send)
    spent = time.process_time() - started
    if set(statuses) != {201}:
        raise SystemExit(f"the shell answered {sorted(set(statuses))}, not 201")
    return spent / requests * 1e6


def main(requests: int = 20000, rounds: int = 3) -> dict[str, list[float]]:
    app, body = app_and_body()
    decider = app.state.editions.current.decider
    decision, text, _record = decider.evaluate(parse_json(body), None, "local", "api")
    logged = Logged(1, decision, text)
    real_decide = decider.decide

    async def stored(*_args: Any) -> Logged:
        return logged

    async def written(records: list[Any]) -> list[int]:
        return [1] * len(records)

    decider.writer.add = written  # the request: decided, not written
    out: dict[str, list[float]] = {"shell": [], "request": []}
    for _ in range(rounds):
        decider.decide = stored
        out["shell"].append(round(asyncio.run(timed(app, body, requests)), 1))
        decider.decide = real_decide
        out["request"].append(round(asyncio.run(timed(app, body, max(1, requests // 5))), 1))
    return out


if __name__ == "__main__":
    print(json.dumps(main(*(int(arg) for arg in sys.argv[1:3]))))
