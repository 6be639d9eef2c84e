"""``/metrics`` (api/serve/metrics.py): request counts and latency by route, decisions by outcome, upload audits by
status and the rulebook edition in force; for an admin or the metrics token only; added up over every worker
process of ``carerules serve``."""

from __future__ import annotations

from pathlib import Path

import httpx
from conftest import P_1001, add_user, make_client
from prometheus_client.parser import text_string_to_metric_families

from api.bench.loadgen import served
from engine.rulebook.loader import load_rulebook

BOOK = Path(__file__).resolve().parents[2] / "examples" / "sample_placements.csv"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_only_for_an_admin_or_the_metrics_token(sqlite_url):
    with make_client(sqlite_url, metrics_token="scraper-secret-0123456789") as client:
        admin = add_user(client, "Ida Admin", "admin")
        broker = add_user(client, "Ann Broker", "broker")
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/metrics", headers=broker).status_code == 403
        for headers in (admin, {"Authorization": "Bearer scraper-secret-0123456789"}):
            answer = client.get("/metrics", headers=headers)
            assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    with make_client(sqlite_url) as client:  # no metrics token set: no token opens it, not even an empty one
        assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401


def test_requests_decisions_audits_and_the_edition_are_counted(sqlite_url):
    version = load_rulebook().version  # the rulebook the app serves: the pinned test one
    with make_client(sqlite_url) as client:
        admin = add_user(client, "Ida Admin", "admin")
        broker = add_user(client, "Ann Broker", "broker")
        finance = add_user(client, "Fin Ance", "finance")
        before = client.get("/metrics", headers=admin).text
        decided = client.post("/v1/decisions", json=P_1001, headers=broker)
        assert decided.status_code == 201
        outcome = decided.json()["outcome"]
        batch = client.post("/v1/decisions/batch", json=[P_1001, {**P_1001, "age": "x"}, P_1001], headers=broker)
        assert batch.status_code in (200, 201, 207), batch.text
        assert client.get("/v1/decisions/424242", headers=broker).status_code == 404
        audit = client.post("/v1/audits", files={"file": ("book.csv", BOOK.read_bytes(), "text/csv")}, headers=finance)
        assert audit.status_code == 200, audit.text
        refused = client.post(
            "/v1/audits", files={"file": ("book.pdf", b"%PDF-1.4", "application/pdf")}, headers=finance
        )
        assert refused.status_code == 415
        after = client.get("/metrics", headers=admin).text

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("carerules_decisions_total", outcome=outcome) == 3  # one alone, two of the batch (one was bad)
    assert grew("carerules_http_requests_total", method="POST", route="/v1/decisions", status="201") == 1
    assert grew("carerules_http_request_duration_seconds_count", method="POST", route="/v1/decisions") == 1
    # a decision's number is not a route: one series for every id asked for
    assert (
        grew("carerules_http_requests_total", method="GET", route="/v1/decisions/{decision_id:int}", status="404") == 1
    )
    assert not any("424242" in str(key) for key in samples(after))
    assert grew("carerules_audits_total", status="200") == 1
    assert grew("carerules_audits_total", status="415") == 1
    assert value(after, "carerules_rulebook_info", version=version) == 1


def test_with_two_workers_metrics_add_up_every_workers_counts(tmp_path):
    """Each decision on a new connection (the kernel spreads them over both workers): the count on any worker
    is the total. Without multiprocess mode each worker would report only its own."""
    sent = 24
    with served(f"sqlite:///{tmp_path / 'log.db'}", workers=2) as (base, _pid):
        outcomes: dict[str, int] = {}
        for _ in range(sent):
            with httpx.Client(base_url=base, timeout=10, headers={"Connection": "close"}) as one:
                answer = one.post("/v1/decisions", json=P_1001)
                assert answer.status_code == 201
                outcomes[answer.json()["outcome"]] = outcomes.get(answer.json()["outcome"], 0) + 1
        for _ in range(4):  # asked several times, on new connections: every worker gives the same total
            with httpx.Client(base_url=base, timeout=10, headers={"Connection": "close"}) as one:
                text = one.get("/metrics").text  # loopback with no users: the local single user, every role
            for outcome, count in outcomes.items():
                assert value(text, "carerules_decisions_total", outcome=outcome) == count
            assert (
                value(text, "carerules_http_requests_total", method="POST", route="/v1/decisions", status="201") == sent
            )
