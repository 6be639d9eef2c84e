"""The API benchmark's ceiling (``carerules bench api --compare-bare``): a bare FastAPI endpoint served exactly as
``carerules serve`` serves the API (the same uvicorn settings and protocol, the same worker processes on their
own sockets), answering the same ``POST /v1/decisions`` requests with 201 once FastAPI has read the body as a
JSON object — no validation, no decision, no log. The API's decisions/s over its requests/s is the share of the ceiling.

Run as ``python -m api.bench.bare PORT WORKERS`` (by ``api.bench.loadgen.served``); loopback only.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

from fastapi import Body, FastAPI

from api.serve.server import run, uvicorn_config
from api.serve.settings import Settings

HOST = "127.0.0.1"


def bare_app() -> FastAPI:
    """The bare app: ``POST /v1/decisions`` reads the request's JSON and answers 201; ``GET /healthz`` answers 200
    (the load generator waits for it before it starts)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.post("/v1/decisions", status_code=201)
    async def decisions(placement: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        return {"received": len(placement)}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main(argv: list[str]) -> None:
    port, workers = int(argv[0]), int(argv[1])
    run(uvicorn_config("api.bench.bare:bare_app", HOST, port, True, Settings.from_env()), workers)


if __name__ == "__main__":
    main(sys.argv[1:])
