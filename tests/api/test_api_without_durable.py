"""Where durable_rules cannot run (Python 3.13), the server decides single placements with the vector evaluator:
the same JSON the CLI prints with durable_rules, stored as ever."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from conftest import P_1001, add_user, make_client
from typer.testing import CliRunner

from engine.cli.main import app as cli
from engine.evaluate import choice


def test_the_server_decides_with_the_vector_evaluator_the_same_json(
    sqlite_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "p.json"
    source.write_text(json.dumps(P_1001))
    printed = CliRunner().invoke(cli, ["check", str(source), "--engine", "durable"])
    assert printed.exit_code == 0, printed.output
    monkeypatch.setattr(choice, "durable_problem", lambda: "durable_rules cannot be imported in this Python (3.13.0)")
    with make_client(sqlite_url) as client:
        assert client.app.state.editions.current.engine.evaluator == "vector"  # type: ignore[attr-defined]
        ann = add_user(client, "Ann Broker", "broker")
        response = client.post("/v1/decisions", json=P_1001, headers=ann)
        assert response.status_code == 201, response.text
        assert json.loads(response.text, parse_float=Decimal) == json.loads(printed.stdout, parse_float=Decimal)
        batch = client.post("/v1/decisions/batch", json=[P_1001, {**P_1001, "age": 17}], headers=ann)
        assert batch.status_code == 200, batch.text  # a batch with a bad row
        assert batch.json(parse_float=Decimal)["results"][0] == json.loads(printed.stdout, parse_float=Decimal)
        assert client.get("/healthz").status_code == 200
