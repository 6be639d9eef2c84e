"""Approvals on record: pending → approved/declined by the band's role or a higher one, with a reason, appended
and never edited; the log searched by status, placement, provider, outcome, rule and user; CSV for finance.
On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io

import pytest
from conftest import P_1001, add_user, make_client

BAND_1 = {**P_1001, "placement_id": "P-B1", "provider": "Oak House", "core_weekly_fee": "1040.00"}  # CHP-02
BAND_2 = {**P_1001, "placement_id": "P-B2", "provider": "Elm Court", "core_weekly_fee": "1100.00"}  # CHP-03
PROCEED = {**P_1001, "placement_id": "P-OK", "provider": "Oak House", "core_weekly_fee": "990.00"}
FORMULA = {**P_1001, "placement_id": "P-F", "provider": '=HYPERLINK("http://x")', "core_weekly_fee": "990.00"}


@pytest.fixture
def office(database_url):
    with make_client(database_url) as client:
        people = {
            role: add_user(client, name, role)
            for role, name in [
                ("broker", "Ann Broker"),
                ("team_manager", "Tim Manager"),
                ("head_of_service", "Hana Head"),
                ("placement_panel", "Pat Panel"),
                ("finance", "Fay Finance"),
            ]
        }
        ids = {}
        for placement in (BAND_1, BAND_2, PROCEED, FORMULA):
            response = client.post("/v1/decisions", json=placement, headers=people["broker"])
            assert response.status_code == 201, response.text
            ids[placement["placement_id"]] = int(response.headers["location"].rsplit("/", 1)[1])
        for asked in ("P-B1", "P-B2"):  # a checked price waits for no one until the broker asks (SPEC §14.2)
            response = client.post(f"/v1/decisions/{ids[asked]}/request-approval", headers=people["broker"])
            assert response.status_code == 201, response.text
        yield client, people, ids


def approve(client, decision_id, headers, decision="approve", reason="Care Cubed costing supports the price"):
    return client.post(
        f"/v1/decisions/{decision_id}/approvals", json={"decision": decision, "reason": reason}, headers=headers
    )


def test_approval_by_the_bands_role_is_recorded_once_and_shown(office):
    client, people, ids = office
    record = client.get(f"/v1/decisions/{ids['P-B2']}", headers=people["broker"]).json()
    assert (record["status"], record["approval"]) == ("pending", None)
    assert approve(client, ids["P-B2"], people["team_manager"]).status_code == 403  # band 2 needs head of service
    assert approve(client, ids["P-B2"], people["broker"]).status_code == 403
    response = approve(client, ids["P-B2"], people["head_of_service"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["status"], body["by"], body["role"]) == ("approved", "Hana Head", "head_of_service")
    # never edited: a second decision on it, even by a higher role, is a conflict
    again = approve(client, ids["P-B2"], people["placement_panel"], "decline")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_decided"
    record = client.get(f"/v1/decisions/{ids['P-B2']}", headers=people["broker"]).json()
    assert record["status"] == "approved"
    assert record["approval"]["by"] == "Hana Head"
    assert record["approval"]["reason"] == "Care Cubed costing supports the price"
    assert record["approval"]["at"].startswith("2026-11-02T09:30")


def test_a_higher_role_may_decide_a_lower_band(office):
    client, people, ids = office
    response = approve(client, ids["P-B1"], people["placement_panel"], "decline", "Use the block bed")
    assert response.status_code == 201
    assert (response.json()["status"], response.json()["role"]) == ("declined", "placement_panel")


def test_no_approval_needed_is_a_conflict_and_bad_requests_are_422(office):
    client, people, ids = office
    response = approve(client, ids["P-OK"], people["head_of_service"])
    assert response.status_code == 409 and response.json()["error"]["code"] == "no_approval_needed"
    for body in (
        {"decision": "maybe", "reason": "x"},
        {"decision": "approve", "reason": "  "},
        {"decision": "approve"},
    ):
        response = client.post(f"/v1/decisions/{ids['P-B1']}/approvals", json=body, headers=people["team_manager"])
        assert response.status_code == 422, body
    assert approve(client, 999_999, people["team_manager"]).status_code == 404
    assert client.get(f"/v1/decisions/{ids['P-B1']}", headers=people["broker"]).json()["status"] == "pending"


def listed(client, headers, **query):
    response = client.get("/v1/decisions", params={"limit": 100, **query}, headers=headers)
    assert response.status_code == 200, response.text
    return [item["decision"]["placement_id"] for item in response.json()]


def test_the_log_is_searched_by_status_placement_provider_outcome_rule_and_user(office):
    client, people, ids = office
    approve(client, ids["P-B1"], people["team_manager"])
    reader = people["finance"]
    assert listed(client, reader, status="pending") == ["P-B2"]
    assert listed(client, reader, status="approved") == ["P-B1"]
    assert listed(client, reader, status="declined") == []
    assert listed(client, reader, status="not_needed") == ["P-F", "P-OK"]
    assert listed(client, reader, placement_id="P-B2") == ["P-B2"]
    assert listed(client, reader, provider="oak") == ["P-OK", "P-B1"]
    assert listed(client, reader, provider="%") == []  # a wildcard is matched as text
    assert listed(client, reader, outcome="proceed") == ["P-F", "P-OK"]
    assert listed(client, reader, rule_id="CHP-03") == ["P-B2"]
    assert listed(client, reader, rule_id="CHP-02") == ["P-B1"]
    assert listed(client, reader, user="Ann Broker") == ["P-F", "P-OK", "P-B2", "P-B1"]
    assert listed(client, reader, user="Tim Manager") == []
    assert listed(client, reader, status="pending", provider="Oak") == []
    for bad in ({"status": "done"}, {"outcome": "maybe"}, {"rule_id": "CHP%"}):
        assert client.get("/v1/decisions", params=bad, headers=reader).status_code == 422, bad


def test_csv_export_for_finance_with_formula_safe_cells(office):
    client, people, ids = office
    approve(client, ids["P-B1"], people["team_manager"], reason="=1+1 agreed")
    assert client.get("/v1/decisions", params={"format": "csv"}, headers=people["broker"]).status_code == 403
    response = client.get("/v1/decisions", params={"format": "csv", "limit": 100}, headers=people["finance"])
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbfid,")  # UTF-8's BOM: Excel shows £ and accents as written
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    by_id = {row["placement_id"]: row for row in rows}
    assert by_id["P-F"]["provider"] == '\'=HYPERLINK("http://x")'
    assert by_id["P-B1"]["approval_reason"] == "'=1+1 agreed"
    assert (by_id["P-B1"]["status"], by_id["P-B1"]["approval_by"]) == ("approved", "Tim Manager")
    assert by_id["P-B2"]["status"] == "pending" and by_id["P-B2"]["rule_ids"] == "CHP-03 CHP-07"
    for row in rows:
        assert not any(value.startswith(("=", "+", "-", "@")) for value in row.values()), row
    filtered = client.get("/v1/decisions", params={"format": "csv", "status": "pending"}, headers=people["finance"])
    pending = csv.DictReader(io.StringIO(filtered.content.decode("utf-8-sig")))
    assert [row["placement_id"] for row in pending] == ["P-B2"]
