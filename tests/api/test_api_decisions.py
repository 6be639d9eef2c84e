"""The HTTP API over the engine: same JSON as the CLI, bad input as 4xx with messages per field, the log."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import FIXED_NOW, P_1001, add_user, make_client
from typer.testing import CliRunner

from engine.cli.main import app as cli
from engine.validate.placement import REGISTER_FIELDS, Placement
from tests.conftest import copy_rules

EXAMPLES = json.loads((Path(__file__).resolve().parents[2] / "examples" / "placements.json").read_text())


def exact(text: str) -> object:
    return json.loads(text, parse_float=Decimal)


def cli_json(*args: str) -> object:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return exact(result.stdout)


def test_decision_is_the_cli_json_and_is_stored_with_user_time_and_version(client, tmp_path):
    source = tmp_path / "p.json"
    source.write_text(json.dumps(P_1001))
    ann = add_user(client, "Ann Broker", "broker")
    # the log records the signed-in user; a name the client sends is ignored
    response = client.post("/v1/decisions", json=P_1001, headers={**ann, "X-User": "Chief Exec"})
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert exact(response.text) == cli_json("check", str(source))
    assert '"comparable_weekly": 1040.00' in response.text  # money as exact 2-dp numbers
    location = response.headers["location"]
    record = client.get(location, headers=ann).json(parse_float=Decimal)
    assert record["id"] == int(location.rsplit("/", 1)[1])
    assert record["user"] == "Ann Broker"
    assert record["channel"] == "api"
    assert record["decided_at"] == FIXED_NOW.isoformat()
    assert record["input"] == P_1001
    assert record["decision"] == exact(response.text)
    assert record["rulebook_version"] == record["decision"]["rulebook_version"]


def test_as_at_query_overrides_like_the_cli_option(client, tmp_path):
    source = tmp_path / "p.json"
    source.write_text(json.dumps(P_1001))
    response = client.post("/v1/decisions?as_at=2025-06-01", json=P_1001)
    assert response.status_code == 201
    assert exact(response.text) == cli_json("check", str(source), "--as-at", "2025-06-01")
    assert response.json()["as_at"] == "2025-06-01"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({**P_1001, "colour": "blue"}, "colour", "unknown field"),
        ({**P_1001, "core_weekly_fee": "1040.001"}, "core_weekly_fee", "must have at most 2 decimal places"),
        ({**P_1001, "core_weekly_fee": -1}, "core_weekly_fee", "must not be negative"),
        ({**P_1001, "lot": 1}, "lot", "lot 1 contradicts care_type nursing"),
        ({**P_1001, "age": "82.5"}, "age", "must be a whole number"),
        ({**P_1001, "start_date": "2026-02-30"}, "start_date", "not a real date"),
        ({**P_1001, "placement_id": "a\u0000b"}, "placement_id", "NUL"),
        ([P_1001], "placement", "must be a JSON object"),
    ],
)
def test_bad_input_is_422_with_a_message_per_field_and_nothing_stored(client, body, field, message):
    response = client.post("/v1/decisions", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert any(message in text for text in error["fields"][field]), error
    assert client.get("/v1/decisions").json() == []


@pytest.mark.parametrize(
    ("raw", "field"),
    [(b'{"placement_id": ', "placement"), (b"\xff\xfe", "placement"), (b"[" * 100_000, "placement")],
)
def test_unreadable_json_is_422(client, raw, field):
    response = client.post("/v1/decisions", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert field in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("url", "field"),
    [("/v1/decisions?as_at=2019-12-31", "as_at"), ("/v1/decisions?as_at=tomorrow", "as_at")],
)
def test_bad_query_parameters_are_422_per_field(client, url, field):
    response = client.post(url, json=P_1001)
    assert response.status_code == 422
    assert field in response.json()["error"]["fields"]


def test_the_user_header_is_ignored(client):
    response = client.post("/v1/decisions", json=P_1001, headers={"X-User": "x" * 101})
    assert response.status_code == 201  # local single-user mode: the decision is the local user's
    assert client.get(response.headers["location"]).json()["user"] == "local"


def test_oversized_bodies_are_refused_with_413_declared_or_streamed(sqlite_url):
    with make_client(sqlite_url, max_body_bytes=2_000) as small:
        body = json.dumps({**P_1001, "provider": "x" * 3_000}).encode()
        declared = small.post("/v1/decisions", content=body, headers={"content-type": "application/json"})
        assert declared.status_code == 413
        assert declared.json()["error"]["code"] == "too_large"

        def chunks():
            for start in range(0, len(body), 500):
                yield body[start : start + 500]

        streamed = small.post("/v1/decisions", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        assert small.post("/v1/decisions", json=P_1001).status_code == 201


def test_batch_keeps_order_marks_bad_rows_and_stores_each_decision(client):
    items = [EXAMPLES[0], {"placement_id": "BAD"}, EXAMPLES[5]]
    response = client.post("/v1/decisions/batch", json=items, headers={"X-User": "finance"})
    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["invalid"]) == (3, 1)
    assert [result.get("placement_id") for result in body["results"]] == ["P-1001", None, "P-2001"]
    assert body["results"][1]["index"] == 1
    assert body["results"][1]["error"]["code"] == "invalid_input"
    first, missing_id, third = body["decision_ids"]
    assert missing_id is None
    assert client.get(f"/v1/decisions/{third}").json()["decision"] == body["results"][2]
    assert client.get(f"/v1/decisions/{first}").json()["channel"] == "batch"


def test_batch_results_equal_the_cli_on_a_list(client):
    cli_results = cli_json("check", str(Path(__file__).resolve().parents[2] / "examples" / "placements.json"))
    response = client.post("/v1/decisions/batch", content=json.dumps(EXAMPLES).encode())
    assert exact(response.text)["results"] == cli_results


def test_batch_size_is_bounded(sqlite_url):
    with make_client(sqlite_url, max_batch=3) as small:
        response = small.post("/v1/decisions/batch", json=[P_1001] * 4)
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "too_many_placements"
        assert small.post("/v1/decisions/batch", json={"placements": []}).status_code == 422
        assert small.post("/v1/decisions/batch", json=[P_1001] * 3).status_code == 200


def test_unknown_decision_and_route_give_404_in_the_error_shape(client):
    assert client.get("/v1/decisions/999").json()["error"]["code"] == "not_found"
    assert client.get("/v1/decisions/999").status_code == 404
    assert client.get("/v1/decisions/0").status_code == 422
    assert client.get("/v1/decisions/99999999999999999999").status_code == 422
    assert client.get("/v1/nothing").status_code == 404
    assert client.delete("/v1/decisions").status_code == 405


def test_rules_and_parameters_equal_the_cli(client):
    assert exact(client.get("/v1/rules").text) == cli_json("rules", "--json")
    assert exact(client.get("/v1/parameters?as_at=2026-05-04").text) == cli_json(
        "parameters", "--as-at", "2026-05-04", "--json"
    )


def test_parameters_default_to_today_from_the_api_clock(client):
    assert client.get("/v1/parameters").json()["as_at"] == FIXED_NOW.date().isoformat()


def test_healthz(client):
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["database"] == "ok"


def test_openapi_documents_the_placement_with_the_engines_fields(client):
    schema = client.get("/openapi.json").json()
    placement = schema["components"]["schemas"]["PlacementIn"]
    assert set(placement["properties"]) == set(Placement.model_fields) - set(REGISTER_FIELDS)  # never given
    assert placement["additionalProperties"] is False
    assert (
        schema["paths"]["/v1/decisions/batch"]["post"]["requestBody"]["content"]["application/json"]["schema"][
            "maxItems"
        ]
        == 500
    )


def changed_rules(tmp_path: Path) -> Path:
    """A copy of the rulebook whose Lot 6 median from 2026-04-01 is £1,050.00 instead of £995.00."""
    rules = tmp_path / "rules"
    copy_rules(rules)
    lot_6 = rules / "parameters" / "care_homes" / "benchmark" / "lot_6.yaml"
    text = lot_6.read_text()
    assert "2026-04-01: 995.00" in text
    lot_6.write_text(text.replace("2026-04-01: 995.00", "2026-04-01: 1050.00"))
    return rules


def test_replay_with_the_same_rulebook_shows_no_difference(client):
    decision_id = client.post("/v1/decisions", json=P_1001).headers["location"].rsplit("/", 1)[1]
    replay = client.get(f"/v1/decisions/{decision_id}/replay").json()
    assert replay["changed"] is False
    assert replay["stored"] == replay["replayed"]


def test_replay_with_a_new_rulebook_shows_outcome_rules_figures_and_version(sqlite_url, tmp_path):
    with make_client(sqlite_url) as before:
        decision_id = before.post("/v1/decisions", json=P_1001).headers["location"].rsplit("/", 1)[1]
    with make_client(sqlite_url, rules_dir=changed_rules(tmp_path)) as after:
        replay = after.get(f"/v1/decisions/{decision_id}/replay").json(parse_float=Decimal)
    assert replay["changed"] is True
    diff = replay["differences"]
    assert diff["outcome"] == {"before": "needs_approval", "after": "proceed"}
    assert diff["rules_added"] == ["CHP-01"] and diff["rules_removed"] == ["CHP-02"]
    assert diff["approvers"] == {"before": ["team_manager"], "after": []}
    assert diff["figures"]["benchmark_weekly"] == {"before": Decimal("995.00"), "after": Decimal("1050.00")}
    assert diff["rulebook_version"]["before"] != diff["rulebook_version"]["after"]
    assert replay["as_at"] == "2026-05-04"


def test_decision_log_on_sqlite_and_postgresql(database_url):
    """Migrations, store, read back, list and replay, on each database (PostgreSQL from .ci/run)."""
    with make_client(database_url) as first:
        signed_in = add_user(first, "log test", "broker")
        ids = [
            int(
                first.post("/v1/decisions", json=item, headers={**signed_in, "X-User": "someone else"})
                .headers["location"]
                .rsplit("/", 1)[1]
            )
            for item in EXAMPLES
        ]
        batch = first.post("/v1/decisions/batch", json=EXAMPLES, headers=signed_in).json()
        assert len(set(ids + batch["decision_ids"])) == 2 * len(EXAMPLES)
    with make_client(database_url) as second:  # a restart: migrations are idempotent, records still there
        assert second.get(f"/v1/decisions/{ids[0]}").status_code == 401  # users exist: no local mode
        record = second.get(f"/v1/decisions/{ids[0]}", headers=signed_in).json(parse_float=Decimal)
        assert record["input"] == exact(json.dumps(EXAMPLES[0]))
        assert record["user"] == "log test"
        assert record["decided_at"] == FIXED_NOW.isoformat()
        recent = second.get("/v1/decisions?limit=200", headers=signed_in).json()
        assert [item["id"] for item in recent] == sorted(ids + batch["decision_ids"], reverse=True)
        assert second.get(f"/v1/decisions/{ids[-1]}/replay", headers=signed_in).json()["changed"] is False
        assert second.get("/healthz").json()["database"] == "ok"


def test_api_docs_page_uses_only_local_assets(client):
    page = client.get("/docs").text
    assert "/docs-assets/swagger-ui-bundle.js" in page and "https://" not in page
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    for path in ("/", "/decisions", "/rules"):
        assert "https://" not in client.get(path).text.replace("https://www.", "")
