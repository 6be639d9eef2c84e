"""The provider register and block-bed file over the HTTP API (SPEC §17): uploaded beside the book on
POST /v1/audits, refused with their errors; the server's own register (CARERULES_PROVIDERS_FILE) decides single
placements with the PRV rules."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from conftest import make_client

from api.auth.identity import StartRefused
from api.main import create_app
from api.serve.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BASE = {"service": "care_home", "age": 82, "care_type": "residential", "core_weekly_fee": "900.00"}


def _book() -> bytes:
    rows = [
        {**BASE, "placement_id": "A", "start_date": "2026-07-01", "provider_id": "PRV-002"},  # embargo from 1 June
        {**BASE, "placement_id": "B", "start_date": "2026-07-01", "provider_id": "PRV-001", "block_booked": "true"},
    ]
    buffer = io.StringIO()
    pd.DataFrame(rows).to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def test_an_audit_takes_the_register_and_block_beds_beside_the_book(client):
    files = {
        "file": ("book.csv", _book(), "text/csv"),
        "providers": ("providers.csv", (EXAMPLES / "providers.csv").read_bytes(), "text/csv"),
        "block_beds": ("block_beds.csv", (EXAMPLES / "block_beds.csv").read_bytes(), "text/csv"),
    }
    answer = client.post("/v1/audits", files=files, data={"as_at": "2026-07-31"}).json()
    rows = {row["placement_id"]: row for row in answer["results"]}
    assert "PRV-03" in rows["A"]["rule_ids"] and rows["A"]["outcome"] == "not_permitted"
    kpis = {k["id"]: k for k in answer["summary"]["kpis"]}
    assert kpis["cqc_nursing_good_share"]["value"] is not None and "not_available" not in kpis["cqc_nursing_good_share"]
    assert kpis["block_beds_occupied"]["counts"]["occupied"] == 1
    assert [r["placement_id"] for r in answer["lists"]["embargo_or_enquiry"]["rows"]] == ["A"]
    assert answer["lists"]["empty_block_beds"]["count"] >= 1
    assert "empty_block_beds.csv" in answer["downloads"]


def test_an_audit_without_a_register_says_which_kpis_are_not_available(client):
    answer = client.post("/v1/audits", files={"file": ("book.csv", _book(), "text/csv")}).json()
    kpis = {k["id"]: k for k in answer["summary"]["kpis"]}
    assert kpis["cqc_nursing_good_share"]["value"] is None
    assert "provider register" in kpis["cqc_nursing_good_share"]["not_available"]
    assert not any("PRV" in (row["rule_ids"] or "") for row in answer["results"])


def test_an_unreadable_register_is_refused_naming_it(client):
    bad = b"provider_id,framework_from,framework_to,cqc_rating,quality_status,quality_status_from\nX,13/13/2026,,,,\n"
    got = client.post(
        "/v1/audits",
        files={"file": ("book.csv", _book(), "text/csv"), "providers": ("my register.csv", bad, "text/csv")},
    )
    assert got.status_code == 422, got.text
    message = got.json()["error"]["fields"]["providers"][0]
    assert "my register.csv" in message and "framework_from" in message and "13/13/2026" in message
    wrong = client.post(
        "/v1/audits",
        files={"file": ("book.csv", _book(), "text/csv"), "block_beds": ("beds.pdf", b"%PDF", "application/pdf")},
    )
    assert wrong.status_code == 415 and "block_beds" in wrong.json()["error"]["fields"]


def test_the_servers_register_decides_single_placements(sqlite_url):
    with make_client(sqlite_url, providers_file=EXAMPLES / "providers.csv") as client:
        placement = {**BASE, "placement_id": "S", "start_date": "2026-07-01", "provider_id": "PRV-002"}
        decision = client.post("/v1/decisions", json=placement).json()
        assert decision["outcome"] == "not_permitted"
        assert "PRV-03" in {finding["rule_id"] for finding in decision["findings"]}
        refused = client.post("/v1/decisions", json={**placement, "provider_in_register": True})
        assert refused.status_code == 422


def test_a_server_with_an_unreadable_register_does_not_start(sqlite_url, tmp_path):
    bad = tmp_path / "providers.csv"
    bad.write_text("provider_id,framework_from,framework_to,cqc_rating,quality_status,quality_status_from\nX,x,,,,\n")
    with pytest.raises(StartRefused, match="framework_from"):
        create_app(Settings(database_url=sqlite_url, providers_file=bad, allowed_hosts=["testserver"]))
