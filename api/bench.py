"""API benchmark (SPEC §10): median latency with 1 connection and decisions/s with 32, on loopback.

Every request is a real ``POST /v1/decisions`` that decides and stores the decision in the log.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path
from typing import Any

from api.loadgen import drive, local_server, request_bytes
from engine.bench.decisions import EXAMPLES, machine


def api_benchmark(
    single: int = 2000,
    concurrent: int = 20000,
    connections: int = 32,
    deadline_s: float = 60.0,
    database_url: str | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    requests = [
        request_bytes("POST", "/v1/decisions", EXAMPLES[index % len(EXAMPLES)], {"X-User": "bench"})
        for index in range(max(single, concurrent))
    ]
    with tempfile.TemporaryDirectory() as folder:
        url = database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        with local_server(url, workers=workers) as base:
            drive(base, requests[:500], 4, deadline_s, keep=False)  # warm up
            one = drive(base, requests[:single], 1, deadline_s)
            many = drive(base, requests[:concurrent], connections, deadline_s)
    failures = sum(1 for _, reply in one.replies + many.replies if reply.status != 201)
    latencies = sorted(one.latencies_ns)
    return {
        "benchmark": "HTTP API on loopback: POST /v1/decisions (decide and store before answering)",
        "workers": workers,
        "database": url.split(":", 1)[0] if database_url else "sqlite (temporary file)",
        "one_connection": {
            "requests": len(one.latencies_ns),
            "median_ms": round(statistics.median(latencies) / 1e6, 3),
            "p95_ms": round(latencies[int(len(latencies) * 0.95)] / 1e6, 3),
            "target_median_ms": 1,
        },
        "concurrent": {
            "connections": connections,
            "requests": len(many.latencies_ns),
            "seconds": round(many.elapsed_s, 2),
            "decisions_per_s": round(len(many.latencies_ns) / many.elapsed_s),
            "median_ms": round(statistics.median(many.latencies_ns) / 1e6, 3),
            "target_decisions_per_s": 2500,
            "stopped_by_deadline": many.stopped_by_deadline,
        },
        "non_201_replies": failures,
        "machine": machine(),
    }
