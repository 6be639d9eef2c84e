"""Deployment concerns of the API: settings from the environment, security headers, allowed hosts, the JSON
request log, the rulebook named by CARERULES_RULES_DIR on every route, and bounded waits for the log."""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

import pytest
from conftest import P_1001, make_client

from api.settings import Settings
from engine.rulebook.loader import DEFAULT_RULES_DIR, load_rulebook

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_read_from_the_environment_and_documented_once(monkeypatch):
    monkeypatch.setenv("CARERULES_MAX_BATCH", "7")
    monkeypatch.setenv("CARERULES_ALLOWED_HOSTS", "carerules.example.gov.uk, localhost")
    settings = Settings()
    assert settings.max_batch == 7 and settings.allowed_hosts == ["carerules.example.gov.uk", "localhost"]
    monkeypatch.setenv("CARERULES_MAX_BATCH", "0")
    with pytest.raises(ValueError, match="max_batch"):
        Settings()
    table = README.read_text(encoding="utf-8").split("## Settings", 1)[1].split("\n## ", 1)[0]
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
    assert lines[0]["request_id"] == "abc-123" and lines[0]["user"] == "amy"
    assert lines[0]["route"] == "/v1/decisions" and lines[0]["status"] == 201
    assert lines[0]["decision_id"] == decision_id and lines[0]["ms"] > 0
    assert lines[1]["route"] == "/v1/decisions/{decision_id:int}" and lines[1]["status"] == 404
    assert re.fullmatch(r"[0-9a-f]{32}", lines[1]["request_id"])
    from api.observe import JsonFormatter

    formatted = json.loads(JsonFormatter().format(caplog.records[0]))
    assert formatted["status"] == 201 and formatted["logger"] == "carerules.request"


def test_the_rulebook_named_by_the_setting_serves_every_route(sqlite_url, tmp_path, monkeypatch):
    rules = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, rules)
    lot_1 = rules / "parameters" / "care_homes" / "benchmark" / "lot_1.yaml"
    lot_1.write_text(lot_1.read_text(encoding="utf-8") + "\n# a council's copy\n", encoding="utf-8")
    version = load_rulebook(rules).version
    assert version != load_rulebook(DEFAULT_RULES_DIR).version
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
