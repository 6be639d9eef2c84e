"""Deployment concerns of the API: settings from the environment, security headers, allowed hosts, the JSON
request log, the rulebook named by CARERULES_RULES_DIR on every route, and bounded waits for the log."""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

import pytest
from conftest import P_1001, FreezableProxy, make_client, postgres_schema, postgres_url
from sqlalchemy.engine import make_url

from api.serve.settings import Settings
from engine.rulebook.loader import load_rulebook
from tests.conftest import copy_rules

OPERATORS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "operators.md"


def test_every_setting_is_read_from_the_environment_and_documented_once(monkeypatch):
    monkeypatch.setenv("CARERULES_MAX_BATCH", "7")
    monkeypatch.setenv("CARERULES_ALLOWED_HOSTS", "carerules.example.gov.uk, localhost")
    settings = Settings()
    assert settings.max_batch == 7 and settings.allowed_hosts == ["carerules.example.gov.uk", "localhost"]
    monkeypatch.setenv("CARERULES_MAX_BATCH", "0")
    with pytest.raises(ValueError, match="max_batch"):
        Settings()
    table = OPERATORS_PAGE.read_text(encoding="utf-8").split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `(CARERULES_[A-Z_]+)` \|", table, re.MULTILINE)
    assert documented == [f"CARERULES_{name.upper()}" for name in Settings.model_fields]


def test_security_headers_on_every_response(client):
    for response in (
        client.get("/"),
        client.get("/docs"),
        client.get("/static/style.css"),
        client.post("/v1/decisions", json=P_1001),
        client.post("/v1/decisions", content=b"{"),
        client.get("/no/such/page"),
    ):
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"


def test_no_inline_script_or_style_in_the_pages(client):
    for path in ("/", "/decisions", "/rules", "/docs"):
        page = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), path
        assert "<style" not in page and " style=" not in page and not re.search(r"\son[a-z]+=", page), path


def test_hosts_not_allowed_are_refused(sqlite_url):
    with make_client(sqlite_url, allowed_hosts=["carerules.example.gov.uk"]) as client:
        assert client.get("/healthz").status_code == 400
        assert client.get("/healthz", headers={"Host": "carerules.example.gov.uk"}).status_code == 200


def test_one_json_log_line_per_request(client, caplog):
    with caplog.at_level(logging.INFO, logger="carerules.request"):
        created = client.post("/v1/decisions", json=P_1001, headers={"X-User": "amy", "X-Request-ID": "abc-123"})
        client.get("/v1/decisions/999999")
    assert created.headers["x-request-id"] == "abc-123"
    lines = [record.fields for record in caplog.records if record.name == "carerules.request"]  # type: ignore[attr-defined]
    assert len(lines) == 2
    decision_id = int(created.headers["location"].rsplit("/", 1)[1])
    # the signed-in user (here the local single user), never the name the client sends
    assert lines[0]["request_id"] == "abc-123" and lines[0]["user"] == "local"
    assert lines[0]["route"] == "/v1/decisions" and lines[0]["status"] == 201
    assert lines[0]["decision_id"] == decision_id and lines[0]["ms"] > 0
    assert lines[1]["route"] == "/v1/decisions/{decision_id:int}" and lines[1]["status"] == 404
    assert re.fullmatch(r"[0-9a-f]{32}", lines[1]["request_id"])
    from api.serve.observe import JsonFormatter

    formatted = json.loads(JsonFormatter().format(caplog.records[0]))
    assert formatted["status"] == 201 and formatted["logger"] == "carerules.request"


def test_the_rulebook_named_by_the_setting_serves_every_route(sqlite_url, tmp_path, monkeypatch):
    rules = tmp_path / "rules"
    copy_rules(rules)
    lot_1 = rules / "parameters" / "care_homes" / "benchmark" / "lot_1.yaml"
    lot_1.write_text(lot_1.read_text(encoding="utf-8") + "\n# a council's copy\n", encoding="utf-8")
    version = load_rulebook(rules).version
    assert version != load_rulebook().version
    monkeypatch.setenv("CARERULES_RULES_DIR", str(rules))
    with make_client(sqlite_url) as client:
        assert client.get("/healthz").json()["rulebook_version"] == version
        assert client.get("/v1/rules").json()["rulebook_version"] == version
        assert client.post("/v1/decisions", json=P_1001).json()["rulebook_version"] == version
        book = b"placement_id,service,start_date,age,care_type,core_weekly_fee\n"
        book += b"P-1,care_home,2026-05-04,82,nursing,1040.00\n"
        audit = client.post("/v1/audits", files={"file": ("book.csv", book, "text/csv")})
        assert audit.status_code == 200, audit.text
        assert audit.json()["summary"]["rulebook_version"] == version


def test_an_overlong_integer_or_a_lone_surrogate_is_a_422_naming_the_field(client):
    body = json.dumps(P_1001).replace('"age": 82', '"age": ' + "9" * 5000)
    too_long = client.post("/v1/decisions", content=body)
    assert too_long.status_code == 422 and list(too_long.json()["error"]["fields"]) == ["age"]
    surrogate = json.dumps(P_1001)[:-1] + ', "provider": "Oak \\ud800 House"}'
    not_text = client.post("/v1/decisions", content=surrogate)
    assert not_text.status_code == 422 and list(not_text.json()["error"]["fields"]) == ["provider"]
    batch = client.post("/v1/decisions/batch", content="[" + surrogate + "]")
    assert batch.status_code == 422 and list(batch.json()["error"]["fields"]) == ["placements[0].provider"]
    paired = json.dumps(P_1001)[:-1] + ', "provider": "Oak \\ud83c\\udf33 House"}'  # a tree emoji: real text
    assert client.post("/v1/decisions", content=paired).status_code == 201


def test_a_frozen_postgresql_gives_503s_within_the_timeout():
    with postgres_schema(postgres_url()) as schema_url:
        _frozen_postgresql(schema_url)


def _frozen_postgresql(schema_url: str) -> None:
    url = make_url(schema_url)
    proxy = FreezableProxy((url.host or "127.0.0.1", url.port or 5432))
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        with make_client(proxied, db_timeout_seconds=1.0) as client:
            assert client.post("/v1/decisions", json=P_1001).status_code == 201
            proxy.frozen.set()
            for path in ("/v1/decisions", "/healthz"):
                began = time.monotonic()
                response = client.post(path, json=P_1001) if path == "/v1/decisions" else client.get(path)
                assert response.status_code == 503, response.text
                assert time.monotonic() - began < 5
            assert "unreachable" in client.get("/healthz").json()["error"]["message"]
            proxy.frozen.clear()
    finally:
        proxy.close()


def test_a_decision_log_that_cannot_be_used_stops_serve_and_users_with_a_reason(monkeypatch):
    """Council IT gets one line naming the log (password hidden) and the reason, exit 2, no traceback."""
    from typer.testing import CliRunner

    from engine.cli.main import app

    reason = "Connection refused"  # nothing listens on port 1
    monkeypatch.setenv("CARERULES_DATABASE_URL", "postgresql+psycopg://carerules:secret@127.0.0.1:1/carerules")
    for args in (["serve", "--port", "0"], ["users", "list"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "cannot use the decision log at" in result.output and reason in result.output, result.output
        assert "secret" not in result.output and "Traceback" not in result.output


def test_a_log_whose_tables_were_made_outside_the_migrations_is_refused_by_name():
    """A PostgreSQL schema with a users table the migrations did not make: refused, the table named."""
    from sqlalchemy import create_engine, text

    from api.store.decision_log import DecisionLog, LogUnavailable

    base = postgres_url()
    with postgres_schema(base) as url:
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE users (id integer)"))
        engine.dispose()
        log = DecisionLog(url)
        with pytest.raises(LogUnavailable, match='relation "users" already exists'):
            log.upgrade()
        log.dispose()
