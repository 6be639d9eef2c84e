"""The example council (examples/rulebooks/marlbridge_unitary, SPEC §16.2) served as CARERULES_RULES_DIR: the page shows
its approvers' labels, its price guide against its usual cost and its joint funding panel's words; its senior role
approves a band its junior role may not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import add_user, make_client

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rulebooks" / "marlbridge_unitary"
RESIDENTIAL = {
    "placement_id": "M-1",
    "service": "care_home",
    "start_date": "2026-05-04",
    "age": 82,
    "care_type": "residential",
    "core_weekly_fee": "902.01",  # 10.0012% over the usual cost £820.00: the head of adult social care's band
}


@pytest.fixture
def council(tmp_path, monkeypatch):
    monkeypatch.setenv("CARERULES_RULES_DIR", str(EXAMPLE))
    with make_client(f"sqlite:///{tmp_path / 'log.db'}") as client:
        people = {
            "broker": add_user(client, "Ann Broker", "broker"),
            "service_manager": add_user(client, "Sam Service", "service_manager"),
            "head": add_user(client, "Hana Head", "head_of_adult_social_care"),
        }
        yield client, people


def decided(client, placement, headers, ask=True):
    response = client.post("/v1/decisions", json=placement, headers=headers)
    assert response.status_code == 201, response.text
    decision_id = int(response.headers["location"].rsplit("/", 1)[1])
    if ask:
        asked = client.post(f"/v1/decisions/{decision_id}/request-approval", headers=headers)
        assert asked.status_code == 201, asked.text
    return decision_id, response.json()


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_page_shows_the_example_councils_approvers_and_usual_cost(council):
    client, people = council
    decision_id, body = decided(client, RESIDENTIAL, people["broker"])
    assert [(f["rule_id"], f.get("approver")) for f in body["findings"]] == [("CHP-03", "head_of_adult_social_care")]
    page = text_of(client.get(f"/decisions/{decision_id}", headers=people["broker"]).text)
    assert "Head of adult social care" in page
    assert "Usual cost for the care category" in page
    assert "up to £902.00 Service manager approves above £902.00 Head of adult social care approves this price" in page
    body = {"decision": "approve", "reason": "agreed"}
    refused = client.post(f"/v1/decisions/{decision_id}/approvals", json=body, headers=people["service_manager"])
    assert refused.status_code == 403
    approved = client.post(f"/v1/decisions/{decision_id}/approvals", json=body, headers=people["head"])
    assert approved.status_code == 201, approved.text
    page = " ".join(client.get(f"/decisions/{decision_id}", headers=people["broker"]).text.split())
    assert "Approved by <strong>Hana Head</strong> (Head of adult social care)" in page


def test_the_page_sends_joint_funding_cases_to_the_joint_funding_panel(council):
    client, people = council
    package = {"placement_id": "M-2", "service": "Direct Payment", "start_date": "2026-05-04", "age": 45,
               "weekly_cost": "2600.00", "nhs_contribution_weekly": "0.00"}  # fmt: skip
    referred, body = decided(client, package, people["broker"], ask=False)
    assert [(f["rule_id"], f.get("refer_to")) for f in body["findings"]] == [("ISP-01", "joint_funding_panel")]
    page = client.get(f"/decisions/{referred}", headers=people["broker"]).text
    refer_to = re.search(r'<span class="refer-to" data-refer-to="joint_funding_panel">([^<]*)</span>', page)
    assert refer_to and refer_to[1] == "the joint funding panel (the council and the NHS together)"
    assert "ISP panel" not in text_of(page)
