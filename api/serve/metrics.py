"""``/metrics`` for the council's monitoring (Prometheus text format): requests and their latency by route,
decisions by outcome, upload audits by status, and the rulebook edition in force. Only for an admin or the
metrics token (``CARERULES_METRICS_TOKEN``, sent as ``Authorization: Bearer <token>`` by the scraper).

Several worker processes (``carerules serve``): each keeps its own counts, so the server runs prometheus-client's
multiprocess mode. ``serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a new private folder before any worker starts
(or, when the operator set it, empties that folder), every worker writes its counts there, and ``/metrics`` on any
worker adds up all of them. In one process (tests, the library) the counts are that process's own.

prometheus-client reads ``PROMETHEUS_MULTIPROC_DIR`` when it is first imported, so it is imported here only inside
functions, after ``serve`` has set it.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import os
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Latency buckets in seconds: a decision takes milliseconds, an upload audit up to its time limit.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
AUDIT_ROUTE = ("POST", "/v1/audits")
FAST_PATHS = frozenset({"/v1/decisions"})  # answered by api/routes/fast_path.py before routing: no route in the scope
MOUNTS = ("/static", "/docs-assets")

router = APIRouter(include_in_schema=False)


def prepare_multiprocess() -> Path:
    """Before any worker starts: a folder for every worker's counts (an operator's, emptied, or a new one)."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):  # counts of an earlier run: never added to this one's
            stale.unlink()
        return folder
    folder = Path(tempfile.mkdtemp(prefix="carerules-metrics-"))
    os.environ[MULTIPROC_ENV] = str(folder)
    atexit.register(shutil.rmtree, folder, True)
    return folder


@cache
def _instruments() -> dict[str, Any]:
    from prometheus_client import Counter, Gauge, Histogram

    return {
        "requests": Counter(
            "carerules_http_requests",
            "HTTP requests answered, by method, route and status",
            ["method", "route", "status"],
        ),
        "latency": Histogram(
            "carerules_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route",
            ["method", "route"],
            buckets=BUCKETS,
        ),
        "decisions": Counter("carerules_decisions", "Decisions stored in the decision log, by outcome", ["outcome"]),
        "audits": Counter("carerules_audits", "Upload audits (POST /v1/audits), by HTTP status", ["status"]),
        "edition": Gauge(
            "carerules_rulebook_info",
            "The rulebook edition in force (1 for its version)",
            ["version"],
            multiprocess_mode="max",
        ),
    }


def route_label(scope: dict[str, Any]) -> str:
    """The route's template, never the raw path (one series per route, whatever ids and junk are requested)."""
    route = getattr(scope.get("route"), "path", None)
    if route:
        return str(route)
    path = str(scope.get("path", ""))
    if path in FAST_PATHS:
        return path
    return next((mount for mount in MOUNTS if path.startswith(mount + "/")), "unmatched")


_children: dict[tuple[str, ...], tuple[Any, Any, Any]] = {}  # a route's series, found once (labels() costs µs)
_outcomes: dict[str, Any] = {}


def record_request(scope: dict[str, Any], status: int, seconds: float) -> None:
    if scope.get("type") != "http":
        return
    method, route = str(scope["method"]), route_label(scope)
    key = (method, route, str(status))
    series = _children.get(key)
    if series is None:
        found = _instruments()
        audits = found["audits"].labels(key[2]) if (method, route) == AUDIT_ROUTE else None
        series = _children[key] = (found["requests"].labels(*key), found["latency"].labels(method, route), audits)
    requests, latency, audits = series
    requests.inc()
    latency.observe(seconds)
    if audits is not None:
        audits.inc()


def record_decisions(outcomes: list[str]) -> None:
    for outcome in outcomes:
        counter = _outcomes.get(outcome)
        if counter is None:
            counter = _outcomes[outcome] = _instruments()["decisions"].labels(outcome)
        counter.inc()


def record_edition(version: str, previous: str | None = None) -> None:
    """The edition this worker serves is 1; the one it served before, 0 (the gauge is the max over workers: an
    edition reads 1 while any worker still serves it)."""
    gauge = _instruments()["edition"]
    if previous is not None and previous != version:
        gauge.labels(previous).set(0)
    gauge.labels(version).set(1)


def exposition() -> tuple[bytes, str]:
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    _instruments()
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def _metrics_token(request: Request, configured: str) -> bool:
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    if not configured or scheme.lower() != "bearer" or not sent.strip():
        return False
    digest = hashlib.sha256
    return hmac.compare_digest(digest(sent.strip().encode()).digest(), digest(configured.encode()).digest())


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    from api.auth.guard import require
    from api.auth.identity import ADMIN, Needs

    if not _metrics_token(request, request.app.state.settings.metrics_token.get_secret_value()):
        await require(request, Needs(frozenset({ADMIN})))
    body, media_type = exposition()
    return Response(body, media_type=media_type)
