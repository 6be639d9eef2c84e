"""The council's approver roles and referral words are the rulebook's (SPEC §16.2): a rulebook with two approver
roles of its own (service_manager, then director, who also approves for the service manager) and a referral
destination of its own (joint_funding_panel) works through the API's approvals, sign-in roles and the page,
with no role or destination named in Python."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import P_1001, add_user, make_client

from api.auth.identity import check_roles, declared_approvers
from tests.conftest import copy_rules

ROLES = """approver_roles:
  # two roles, most junior first: the director may also approve what needs the service manager
  service_manager: Service manager for adult care
  director:
    label: Director of adult social care
    also_approves: [service_manager]
"""
RENAMED = {
    "team_manager": "service_manager",
    "head_of_service": "director",
    "placement_panel": "director",
    "commissioning_manager": "director",
    "isp_panel": "joint_funding_panel",
}


def two_role_rules(folder: Path) -> Path:
    """A copy of the test rulebook with the two roles, and the ISP panel's referrals sent to a joint funding panel."""
    rules = copy_rules(folder)
    for path in rules.rglob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        if path.name == "contents.yaml":
            start, end = text.index("approver_roles:"), text.index("referral_destinations:")
            text = text[:start] + ROLES + text[end:]
            text = text.replace("  isp_panel: the ISP panel\n", "  joint_funding_panel: the joint funding panel\n")
        else:
            for old, new in RENAMED.items():
                text = re.sub(rf"\b(approver|refer_to): {old}\b", rf"\1: {new}", text)
        path.write_text(text, encoding="utf-8")
    return rules


@pytest.fixture
def council(tmp_path):
    rules = two_role_rules(tmp_path / "rules")
    with make_client(f"sqlite:///{tmp_path / 'log.db'}", rules_dir=rules) as client:
        people = {
            "broker": add_user(client, "Ann Broker", "broker"),
            "service_manager": add_user(client, "Sam Service", "service_manager"),
            "director": add_user(client, "Dee Director", "director"),
        }
        yield client, people, rules


def decided(client, placement, headers, ask=True):
    response = client.post("/v1/decisions", json=placement, headers=headers)
    assert response.status_code == 201, response.text
    decision_id = int(response.headers["location"].rsplit("/", 1)[1])
    if ask:
        asked = client.post(f"/v1/decisions/{decision_id}/request-approval", headers=headers)
        assert asked.status_code == 201, asked.text
    return decision_id, response.json()


def approve(client, decision_id, headers):
    body = {"decision": "approve", "reason": "agreed at the weekly meeting"}
    return client.post(f"/v1/decisions/{decision_id}/approvals", json=body, headers=headers)


def test_the_senior_role_approves_a_band_that_needs_the_junior_one(council):
    client, people, _ = council
    band_1, body = decided(client, {**P_1001, "core_weekly_fee": "1040.00"}, people["broker"])
    assert [f["approver"] for f in body["findings"] if f.get("approver")] == ["service_manager"]
    band_2, body = decided(client, {**P_1001, "placement_id": "P-2", "core_weekly_fee": "1100.00"}, people["broker"])
    assert [f["approver"] for f in body["findings"] if f.get("approver")] == ["director"]
    waiting = client.get("/v1/decisions", params={"waiting_for": "me"}, headers=people["director"]).json()
    assert sorted(item["id"] for item in waiting) == sorted([band_1, band_2])
    waiting = client.get("/v1/decisions", params={"waiting_for": "me"}, headers=people["service_manager"]).json()
    assert [item["id"] for item in waiting] == [band_1]
    refused = approve(client, band_2, people["service_manager"])  # the junior role never approves the senior band
    assert refused.status_code == 403 and "director" in refused.json()["error"]["message"]
    response = approve(client, band_1, people["director"])
    assert response.status_code == 201, response.text
    assert (response.json()["role"], response.json()["by"]) == ("director", "Dee Director")
    assert approve(client, band_2, people["director"]).json()["role"] == "director"


def test_the_page_shows_the_rulebooks_words_for_roles_and_referrals(council):
    client, people, _ = council
    decision_id, _ = decided(client, {**P_1001, "core_weekly_fee": "1040.00"}, people["broker"])
    html = client.get(f"/decisions/{decision_id}", headers=people["broker"]).text
    page = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert "Service manager for adult care" in page
    assert "up to £1,044.75 Service manager for adult care approves this price" in page
    assert "above £1,144.25 Director of adult social care approves" in page
    approve(client, decision_id, people["director"])
    page = " ".join(client.get(f"/decisions/{decision_id}", headers=people["broker"]).text.split())
    assert "Approved by <strong>Dee Director</strong> (Director of adult social care)" in page
    isp = {**P_1001, "placement_id": "P-ISP", "core_weekly_fee": "3500.00", "nhs_contribution_weekly": "0"}
    referred, body = decided(client, isp, people["broker"], ask=False)
    assert ("ISP-01", "joint_funding_panel") in [
        (f["rule_id"], f["refer_to"]) for f in body["findings"] if f["action"] == "refer"
    ]
    page = client.get(f"/decisions/{referred}", headers=people["broker"]).text
    refer_to = re.search(r'<span class="refer-to" data-refer-to="joint_funding_panel">([^<]*)</span>', page)
    assert refer_to and refer_to[1] == "the joint funding panel"
    assert "refer to the joint funding panel" in page  # the finding's tag
    signed_in = client.get("/", headers=people["director"]).text
    assert "Director of adult social care" in signed_in and 'id="nav-waiting"' in signed_in


def test_user_roles_are_checked_against_the_rulebooks_approver_roles(council):
    _, _, rules = council
    approvers = declared_approvers(rules)
    assert approvers.order == ("service_manager", "director")
    assert check_roles(["director", "broker"], approvers) == ["director", "broker"]
    with pytest.raises(ValueError, match="team_manager"):
        check_roles(["team_manager"], approvers)  # a role of another rulebook is unknown here


def test_a_role_the_rulebook_does_not_declare_approves_nothing(council):
    client, people, _ = council
    old_role = add_user(client, "Tim Manager", "team_manager")  # held before the council renamed its roles
    decision_id, _ = decided(client, {**P_1001, "core_weekly_fee": "1040.00"}, people["broker"])
    assert approve(client, decision_id, old_role).status_code == 403


def test_users_add_takes_the_rulebooks_roles_and_exits_3_when_it_does_not_load(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from engine.cli.main import app as cli

    rules = two_role_rules(tmp_path / "rules")
    monkeypatch.setenv("CARERULES_DATABASE_URL", f"sqlite:///{tmp_path / 'log.db'}")
    monkeypatch.setenv("CARERULES_RULES_DIR", str(rules))
    added = CliRunner().invoke(cli, ["users", "add", "Dee Director", "--role", "director"])
    assert added.exit_code == 0, added.output
    refused = CliRunner().invoke(cli, ["users", "add", "Tim Manager", "--role", "team_manager"])
    assert (
        refused.exit_code == 2
        and "choose from broker, service_manager, director, finance, policy_officer, admin" in refused.stderr
    )
    contents = rules / "contents.yaml"
    contents.write_text(contents.read_text(encoding="utf-8").replace("also_approves: [service_manager]", "also: []"))
    broken = CliRunner().invoke(cli, ["users", "add", "Sam Service", "--role", "service_manager"])
    assert broken.exit_code == 3 and f"{contents}:" in broken.stderr
