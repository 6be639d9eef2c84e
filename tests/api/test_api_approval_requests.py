"""SPEC §14.2: trying prices is not asking for approval (a check is `checked`; it is `pending` only once a broker
asks); approvers see what waits for them, longest waiting first; four eyes (whoever made or asked for a decision
never approves or declines it). On SQLite and PostgreSQL, and across the migration that brings these in."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from alembic import command
from conftest import FIXED_NOW, P_1001, add_user, make_client
from sqlalchemy import insert

from api.store.decision_log import DecisionLog, alembic_config
from api.store.workflow import APPROVALS
from tests.conftest import placement

# Lot 6, median £995.00: up to £1,044.75 team manager (CHP-02), up to £1,144.25 head of service (CHP-03), above
# that the placement panel (CHP-04); supported living over its reference rate: commissioning manager (SL-02).
TEAM = {**P_1001, "placement_id": "P-TM", "provider": "Oak House", "core_weekly_fee": "1040.00"}
HEAD = {**P_1001, "placement_id": "P-HS", "provider": "Elm Court", "core_weekly_fee": "1100.00"}
PANEL = {**P_1001, "placement_id": "P-PP", "provider": "Oak House", "core_weekly_fee": "1200.00"}
SL = placement("supported_living")
PROCEED = {**P_1001, "placement_id": "P-OK", "core_weekly_fee": "990.00"}
ROLES = ("broker", "team_manager", "head_of_service", "placement_panel", "commissioning_manager", "finance")


@pytest.fixture
def office(database_url):
    with make_client(database_url) as client:
        people = {role: add_user(client, f"{role} user", role) for role in ROLES}
        people["second_manager"] = add_user(client, "second manager", "team_manager")
        yield client, people


def decide(client, placement, headers) -> int:
    response = client.post("/v1/decisions", json=placement, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


def ask(client, decision_id, headers):
    return client.post(f"/v1/decisions/{decision_id}/request-approval", headers=headers)


def approve(client, decision_id, headers, decision="approve"):
    return client.post(
        f"/v1/decisions/{decision_id}/approvals", json={"decision": decision, "reason": "costing seen"}, headers=headers
    )


def code(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def listed(client, headers, **query) -> list[int]:
    response = client.get("/v1/decisions", params={"limit": 100, **query}, headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()]


def test_trying_prices_is_not_asking_for_approval(office):
    client, people = office
    broker = people["broker"]
    tried = [decide(client, {**TEAM, "core_weekly_fee": fee}, broker) for fee in ("1040.00", "1030.00", "1020.00")]
    for decision_id in tried:
        record = client.get(f"/v1/decisions/{decision_id}", headers=broker).json()
        assert (record["decision"]["outcome"], record["status"]) == ("needs_approval", "checked")
        assert record["approval_request"] is None and record["approval"] is None
    assert listed(client, broker, status="pending") == []
    assert listed(client, broker, status="checked") == tried[::-1]
    assert listed(client, people["team_manager"], waiting_for="me") == []

    asked = ask(client, tried[-1], broker)
    assert asked.status_code == 201, asked.text
    assert asked.headers["location"] == f"/v1/decisions/{tried[-1]}"
    assert asked.json() == {
        "decision_id": tried[-1],
        "status": "pending",
        "by": "broker user",
        "at": "2026-11-02T09:30:00+00:00",
        "waiting_for": ["team_manager"],
    }
    record = client.get(f"/v1/decisions/{tried[-1]}", headers=broker).json()
    assert record["status"] == "pending"
    assert record["approval_request"] == {
        "by": "broker user",
        "at": "2026-11-02T09:30:00+00:00",
        "waiting_for": ["team_manager"],
    }
    assert listed(client, broker, status="pending") == [tried[-1]]
    assert listed(client, broker, status="checked") == tried[:2][::-1]
    rows = client.get("/v1/decisions", params={"format": "csv"}, headers=people["finance"]).content.decode("utf-8-sig")
    by_id = {int(row["id"]): row for row in csv.DictReader(io.StringIO(rows))}
    assert (by_id[tried[-1]]["status"], by_id[tried[-1]]["requested_by"]) == ("pending", "broker user")
    assert (by_id[tried[0]]["status"], by_id[tried[0]]["requested_by"]) == ("checked", "")


def test_asking_twice_or_for_what_needs_no_approval_is_a_conflict(office):
    client, people = office
    broker, manager = people["broker"], people["team_manager"]
    team, fine = decide(client, TEAM, broker), decide(client, PROCEED, broker)
    assert code(ask(client, fine, broker)) == (409, "no_approval_needed")
    assert code(ask(client, 999_999, broker)) == (404, "not_found")
    assert code(ask(client, team, people["finance"])) == (403, "forbidden")  # finance does not check placements
    # the approvals endpoint: 409 unless the decision is pending
    assert code(approve(client, team, manager)) == (409, "not_requested")
    assert code(approve(client, fine, manager)) == (409, "no_approval_needed")
    assert ask(client, team, broker).status_code == 201
    assert code(ask(client, team, broker)) == (409, "already_requested")
    assert code(ask(client, team, people["head_of_service"])) == (409, "already_requested")
    assert approve(client, team, manager).status_code == 201
    assert code(ask(client, team, broker)) == (409, "already_decided")
    assert code(approve(client, team, people["second_manager"])) == (409, "already_decided")


def test_four_eyes_whoever_made_or_asked_never_decides(office):
    client, people = office
    manager, panel = people["team_manager"], people["placement_panel"]
    # a team manager checks a price in their own band and asks for its approval: not theirs to approve
    own = decide(client, TEAM, manager)
    assert code(approve(client, own, manager)) == (403, "four_eyes")  # before anyone asks, too
    assert ask(client, own, manager).status_code == 201
    assert code(approve(client, own, manager)) == (403, "four_eyes")
    assert code(approve(client, own, manager, "decline")) == (403, "four_eyes")
    # the placement panel asks for approval of a broker's decision: whatever its roles, it may not decide it
    asked_by_panel = decide(client, TEAM, people["broker"])
    assert ask(client, asked_by_panel, panel).status_code == 201
    assert code(approve(client, asked_by_panel, panel)) == (403, "four_eyes")
    # someone else with the role decides both
    assert approve(client, own, people["second_manager"]).status_code == 201
    assert approve(client, asked_by_panel, manager, "decline").status_code == 201
    assert client.get(f"/v1/decisions/{asked_by_panel}", headers=manager).json()["status"] == "declined"
    # a user holding every approver role who made the decision is still refused
    everyone = add_user(client, "all roles", "broker", "team_manager", "head_of_service", "placement_panel")
    mine = decide(client, HEAD, everyone)
    assert ask(client, mine, people["broker"]).status_code == 201
    assert code(approve(client, mine, everyone)) == (403, "four_eyes")
    assert approve(client, mine, people["head_of_service"]).status_code == 201


def test_waiting_for_me_lists_what_my_role_may_approve_longest_waiting_first(office):
    client, people = office
    broker = people["broker"]
    ids = {p["placement_id"]: decide(client, p, broker) for p in (TEAM, HEAD, PANEL, SL)}
    unasked = decide(client, {**TEAM, "placement_id": "P-UNASKED"}, broker)
    made_by_manager = decide(client, {**TEAM, "placement_id": "P-MINE"}, people["team_manager"])
    decided = decide(client, {**TEAM, "placement_id": "P-DONE"}, broker)
    # asked in an order that is neither the decisions' order nor its reverse, a minute apart
    order = ["P-HS", "P-TM", "P-SL", "P-PP"]
    for minutes, placement_id in enumerate(order):
        client.app.state.clock = lambda minutes=minutes: FIXED_NOW + timedelta(minutes=minutes)
        assert ask(client, ids[placement_id], broker).status_code == 201
    client.app.state.clock = lambda: FIXED_NOW + timedelta(minutes=10)
    assert ask(client, made_by_manager, people["team_manager"]).status_code == 201
    assert ask(client, decided, broker).status_code == 201
    assert approve(client, decided, people["second_manager"]).status_code == 201

    def waiting(who, **query):
        return listed(client, people[who], waiting_for="me", **query)

    assert waiting("team_manager") == [ids["P-TM"]]  # not their own (P-MINE), not unasked, not decided
    assert waiting("second_manager") == [ids["P-TM"], made_by_manager]
    assert waiting("head_of_service") == [ids["P-HS"], ids["P-TM"], made_by_manager]
    assert waiting("placement_panel") == [ids["P-HS"], ids["P-TM"], ids["P-PP"], made_by_manager]
    assert waiting("commissioning_manager") == [ids["P-SL"]]
    assert waiting("broker") == [] and waiting("finance") == []
    assert unasked not in waiting("placement_panel")
    # other filters still apply, and limit keeps the longest waiting
    assert waiting("placement_panel", provider="oak") == [ids["P-TM"], ids["P-PP"], made_by_manager]
    assert waiting("placement_panel", status="pending", limit=2) == [ids["P-HS"], ids["P-TM"]]
    # the whole pending list (not only mine) is still there, newest first
    assert listed(client, broker, status="pending") == [
        made_by_manager,
        ids["P-SL"],
        ids["P-PP"],
        ids["P-HS"],
        ids["P-TM"],
    ]
    for bad in ({"waiting_for": "you"}, {"waiting_for": "me", "status": "approved"}):
        response = client.get("/v1/decisions", params=bad, headers=people["team_manager"])
        assert response.status_code == 422 and "waiting_for" in response.json()["error"]["fields"], bad


def test_the_migration_keeps_what_was_pending_pending(database_url, tmp_path):
    """Before requests existed every needs_approval decision was pending: after the migration they still are
    (asked for by whoever made them, when they were made), and an approved one stays approved."""
    from engine.explain.decision import dumps

    log = DecisionLog(database_url)
    config = alembic_config()
    with log.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002_workflow")
    with make_client(
        f"sqlite:///{tmp_path / 'scratch.db'}"
    ) as scratch:  # decisions as the app stores them, to copy across
        made = [scratch.post("/v1/decisions", json=p).json() for p in (TEAM, HEAD, PROCEED)]
    from api.store.decision_log import NewRecord

    records = [
        NewRecord(
            decided_at=FIXED_NOW - timedelta(days=3 - index),
            user_name="old broker",
            channel="api",
            placement_id=decision["placement_id"],
            as_at=FIXED_NOW.date(),
            outcome=decision["outcome"],
            rulebook_version=decision["rulebook_version"],
            input_json=dumps(placement, indent=None),
            decision_json=dumps(decision, indent=None),
            provider=placement.get("provider"),
            rule_ids=" " + " ".join(f["rule_id"] for f in decision["findings"]) + " ",
            approvers=" ".join(sorted({f["approver"] for f in decision["findings"] if f.get("approver")})),
        )
        for index, (placement, decision) in enumerate(zip((TEAM, HEAD, PROCEED), made, strict=True))
    ]
    team, head, fine = log.add(records)
    with log.engine.begin() as connection:
        values = {"decision_id": team, "decided_at": FIXED_NOW, "user_name": "old manager", "role": "team_manager"}
        connection.execute(insert(APPROVALS).values(**values, decision="approve", reason="agreed"))
    log.dispose()

    with make_client(database_url) as client:  # starting the app brings the log to the latest schema
        panel = add_user(client, "Pat Panel", "placement_panel")
        status = {i: client.get(f"/v1/decisions/{i}", headers=panel).json() for i in (team, head, fine)}
        assert [status[i]["status"] for i in (team, head, fine)] == ["approved", "pending", "not_needed"]
        assert status[head]["approval_request"]["by"] == "old broker"
        assert status[head]["approval_request"]["at"].startswith((FIXED_NOW - timedelta(days=2)).date().isoformat())
        assert listed(client, panel, waiting_for="me") == [head]
        assert approve(client, head, panel).status_code == 201
