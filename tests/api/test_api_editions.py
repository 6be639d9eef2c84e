"""Editions with four eyes (SPEC §18): a policy officer drafts an edition from a rates file, someone else holding
head_of_service or admin publishes or rejects it with a reason, never the drafter; publishing writes the served
rulebook and the server swaps to it; a draft made against an edition no longer in force is refused (409);
every edition is kept and a logged decision can be replayed on any of them. On SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from conftest import add_user, make_client

from engine.rulebook.loader import load_rulebook
from tests.conftest import copy_rules, placement

LOT_1 = placement(placement_id="LOT1-1", care_type="residential", core_weekly_fee="960.00")
MEDIAN = "care_homes.benchmark.lot_1"
RAISE = Decimal("60.00")


def rates_csv(rules: Path, raise_by: Decimal = RAISE) -> bytes:
    """The Lot 1 median's latest value raised, from the same date (so placements starting then see it)."""
    parameter = load_rulebook(rules).parameters[MEDIAN]
    when, pence = parameter.dates[-1], parameter.values[-1]
    new = Decimal(pence) / 100 + raise_by
    return f"parameter,effective_from,value\n{MEDIAN},{when:%d/%m/%Y},{new:.2f}\n".encode()


def draft(client, headers, body: bytes, why: str = "LaingBuisson 2026 medians", replace: str = "true"):
    return client.post(
        "/v1/editions",
        files={"file": ("rates.csv", body, "text/csv")},
        data={"why": why, "replace": replace},
        headers=headers,
    )


@pytest.fixture
def council(database_url, tmp_path):
    rules = copy_rules(tmp_path / "rules")
    with make_client(database_url, rules_dir=rules) as client:
        people = {
            name: add_user(client, name, *roles)
            for name, roles in [
                ("Pat Policy", ["policy_officer"]),
                ("Olly Both", ["policy_officer", "head_of_service", "admin"]),
                ("Hana Head", ["head_of_service"]),
                ("Ada Admin", ["admin"]),
                ("Ann Broker", ["broker"]),
                ("Fay Finance", ["finance"]),
            ]
        }
        yield client, people, rules


def test_draft_four_eyes_publish_swap_stale_reject_and_replay(council):
    client, people, rules = council
    before = client.post("/v1/decisions", json=LOT_1, headers=people["Ann Broker"])
    assert before.status_code == 201, before.text
    decision_id, old_version = before.headers["location"].rsplit("/", 1)[1], before.json()["rulebook_version"]
    body = rates_csv(rules)

    assert draft(client, people["Ann Broker"], body).status_code == 403  # drafting is a policy officer's
    no_why = draft(client, people["Pat Policy"], body, why="  ")
    assert no_why.status_code == 422 and "why" in no_why.json()["error"]["fields"]

    made = draft(client, people["Pat Policy"], body)
    assert made.status_code == 201, made.text
    edition = made.json()
    assert (edition["status"], edition["drafted_by"], edition["base_version"]) == ("draft", "Pat Policy", old_version)
    assert edition["version"] != old_version and edition["why"] == "LaingBuisson 2026 medians"
    [change] = edition["changes"]
    assert change["parameter"] == MEDIAN
    assert Decimal(str(change["now"])) - Decimal(str(change["was"])) == RAISE
    assert edition["effect"]["audited"] is False and "No audit" in edition["effect"]["message"]
    assert load_rulebook(rules).version == old_version  # a draft writes nothing
    other = draft(client, people["Olly Both"], rates_csv(rules, Decimal("1.00")), why="a second opinion")
    assert other.status_code == 201, other.text

    own = client.post(f"/v1/editions/{edition['id']}/publish", headers=people["Pat Policy"])
    assert own.status_code == 403  # a policy officer does not publish
    olly = client.post(f"/v1/editions/{other.json()['id']}/publish", headers=people["Olly Both"])
    assert olly.status_code == 403 and olly.json()["error"]["code"] == "four_eyes"  # whatever roles the drafter holds
    olly = client.post(
        f"/v1/editions/{other.json()['id']}/reject", json={"reason": "mine"}, headers=people["Olly Both"]
    )
    assert olly.status_code == 403 and olly.json()["error"]["code"] == "four_eyes"
    assert client.post(f"/v1/editions/{edition['id']}/publish", headers=people["Ann Broker"]).status_code == 403

    published = client.post(f"/v1/editions/{edition['id']}/publish", headers=people["Hana Head"])
    assert published.status_code == 200, published.text
    assert (published.json()["status"], published.json()["decided_by"]) == ("published", "Hana Head")
    assert load_rulebook(rules).version == edition["version"]  # written into the served folder
    assert published.json()["in_force"]["version"] == edition["version"]  # and swapped in
    after = client.post("/v1/decisions", json=LOT_1, headers=people["Ann Broker"])
    assert after.json()["rulebook_version"] == edition["version"]
    again = client.post(f"/v1/editions/{edition['id']}/publish", headers=people["Ada Admin"])
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_decided"

    # Olly's draft was made against the edition before: publishing it now would overwrite Pat's, silently
    stale = client.post(f"/v1/editions/{other.json()['id']}/publish", headers=people["Ada Admin"])
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_draft"
    assert "redraft" in stale.json()["error"]["message"]
    assert load_rulebook(rules).version == edition["version"]
    no_reason = client.post(
        f"/v1/editions/{other.json()['id']}/reject", json={"reason": " "}, headers=people["Ada Admin"]
    )
    assert no_reason.status_code == 422
    rejected = client.post(
        f"/v1/editions/{other.json()['id']}/reject", json={"reason": "Made before the 2026 medians"},
        headers=people["Ada Admin"],
    )  # fmt: skip
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["reason"]) == ("rejected", "Made before the 2026 medians")

    listed = client.get("/v1/editions", headers=people["Hana Head"]).json()
    assert listed["in_force"]["version"] == edition["version"]
    statuses = {one["id"]: (one["status"], one["drafted_by"], one["decided_by"]) for one in listed["editions"]}
    assert statuses == {
        edition["id"]: ("published", "Pat Policy", "Hana Head"),
        other.json()["id"]: ("rejected", "Olly Both", "Ada Admin"),
    }
    assert client.get("/v1/editions", headers=people["Ann Broker"]).status_code == 403
    assert client.get("/v1/editions/999", headers=people["Pat Policy"]).status_code == 404

    # replay the decision made before: on the edition in force it differs, on the old one it does not
    now = client.get(f"/v1/decisions/{decision_id}/replay", headers=people["Ann Broker"]).json()
    assert now["changed"] and now["replayed"]["rulebook_version"] == edition["version"]
    assert now["differences"]["figures"]["benchmark_weekly"]["after"] != now["differences"]["figures"][
        "benchmark_weekly"]["before"]  # fmt: skip
    old = client.get(f"/v1/decisions/{decision_id}/replay?edition={old_version}", headers=people["Ann Broker"])
    assert old.status_code == 200, old.text
    assert (old.json()["changed"], old.json()["edition"]["version"]) == (False, old_version)
    by_id = client.get(f"/v1/decisions/{decision_id}/replay?edition={edition['id']}", headers=people["Ann Broker"])
    assert by_id.json()["replayed"]["rulebook_version"] == edition["version"]
    assert by_id.json()["edition"] == {"id": edition["id"], "version": edition["version"]}
    for unknown in ("999", "abcdef123456"):
        missing = client.get(f"/v1/decisions/{decision_id}/replay?edition={unknown}", headers=people["Ann Broker"])
        assert missing.status_code == 404
    assert client.get("/v1/decisions/99999/replay", headers=people["Ann Broker"]).status_code == 404
    shown = client.get(f"/decisions/{decision_id}/replay?edition={old_version}", headers=people["Ann Broker"])
    assert shown.status_code == 200 and "No difference" in shown.text and old_version in shown.text
    shown = client.get(f"/decisions/{decision_id}/replay", headers=people["Ann Broker"])
    assert "would differ" in shown.text
    assert client.get(f"/decisions/{decision_id}/replay?edition=999", headers=people["Ann Broker"]).status_code == 404

    # the next edition, drafted on the one in force, supersedes it when published
    newer = draft(client, people["Pat Policy"], rates_csv(rules, Decimal("5.00")), why="correction")
    assert newer.status_code == 201, newer.text
    assert client.post(f"/v1/editions/{newer.json()['id']}/publish", headers=people["Olly Both"]).status_code == 200
    first = client.get(f"/v1/editions/{edition['id']}", headers=people["Pat Policy"]).json()
    assert first["status"] == "superseded"


def test_a_draft_shows_its_effect_on_the_last_audited_book(council):
    client, people, rules = council
    rows = [placement(placement_id=f"A-{n}", care_type="residential", core_weekly_fee=fee)
            for n, fee in enumerate(["900.00", "960.00", "1200.00"])]  # fmt: skip
    header = list(rows[0])
    book = "\n".join([",".join(header), *(",".join(str(row[k]) for k in header) for row in rows)]).encode()
    audited = client.post("/v1/audits", files={"file": ("book.csv", book, "text/csv")}, headers=people["Fay Finance"])
    assert audited.status_code == 200, audited.text
    made = draft(client, people["Pat Policy"], rates_csv(rules))
    assert made.status_code == 201, made.text
    effect = made.json()["effect"]
    assert effect["audited"] is True and effect["rows"] == 3
    assert [row["placement_id"] for row in effect["decisions_changed"]] == ["A-1"]  # £960: over before, not after
    assert effect["placements_outcome_changed"] == 1
    share = next(kpi for kpi in effect["kpis"] if kpi["id"] == "below_median_share")
    assert Decimal(str(share["after"])) > Decimal(str(share["before"]))
    assert Decimal(str(effect["pounds_weekly"]["change"])) < 0


def test_a_rates_file_that_cannot_be_used_is_422_naming_each_row(council):
    client, people, _ = council
    body = b"parameter,effective_from,value\nno.such.parameter,01/04/2027,1\ncare_homes.benchmark.lot_1,31/02/2027,9\n"
    response = draft(client, people["Pat Policy"], body)
    assert response.status_code == 422
    problems = response.json()["error"]["fields"]["file"]
    assert any(p.startswith("row 2: unknown parameter") for p in problems)
    assert any(p.startswith("row 3: effective_from") for p in problems)
    wrong = client.post("/v1/editions", files={"file": ("r.pdf", b"%PDF", "application/pdf")}, data={"why": "x"},
                        headers=people["Pat Policy"])  # fmt: skip
    assert wrong.status_code == 415
    anonymous = client.post("/v1/editions", files={"file": ("rates.csv", body, "text/csv")}, data={"why": "x"})
    assert anonymous.status_code == 401
