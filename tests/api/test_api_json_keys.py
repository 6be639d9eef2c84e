"""A key given twice in a JSON body is a 422 naming it, on every JSON route (issue 22): JSON parsers keep the
last value, so a £1,040 fee sent again as £5 was priced at £5."""

from __future__ import annotations

import pytest
from conftest import P_1001, add_user, make_client

FEE_TWICE = (
    b'{"placement_id": "P-1001", "service": "care_home", "start_date": "2026-05-04", "age": 82, '
    b'"care_type": "nursing", "core_weekly_fee": "1040.00", "core_weekly_fee": "5.00"}'
)
JSON = {"Content-Type": "application/json"}
TWICE = "given more than once: each key may appear once in an object"


@pytest.fixture
def office(sqlite_url):
    with make_client(sqlite_url) as client:
        broker = add_user(client, "Ann Broker", "broker")
        manager = add_user(client, "Tim Manager", "team_manager")
        placement = {**P_1001, "placement_id": "P-B1", "provider": "Oak House"}  # £1,040: approval band 1
        made = client.post("/v1/decisions", json=placement, headers=broker)
        assert made.status_code == 201, made.text
        yield client, broker, manager, int(made.headers["location"].rsplit("/", 1)[1])


def test_a_fee_sent_twice_is_refused_naming_it_not_priced_at_the_last(office):
    client, broker, _manager, _id = office
    for path in ("/v1/decisions", "/v1/decisions?as_at=2026-06-01"):  # the fast path and the FastAPI route
        response = client.post(path, content=FEE_TWICE, headers={**broker, **JSON})
        assert response.status_code == 422, response.text
        assert response.json()["error"]["fields"] == {"core_weekly_fee": [TWICE]}
    stored = client.get("/v1/decisions", headers=broker).json()
    assert [row["input"]["placement_id"] for row in stored] == ["P-B1"]  # only the fixture's: nothing stored


def test_keys_twice_at_any_depth_in_a_batch_are_named_by_their_place(office):
    client, broker, _manager, _id = office
    one = FEE_TWICE.decode()
    body = f"[{one.replace('P-1001', 'P-1')}, {one.replace('P-1001', 'P-2')}]".encode()
    response = client.post("/v1/decisions/batch", content=body, headers={**broker, **JSON})
    assert response.status_code == 422, response.text
    fields = response.json()["error"]["fields"]
    assert fields == {"placements[0].core_weekly_fee": [TWICE], "placements[1].core_weekly_fee": [TWICE]}


def test_an_approval_with_its_decision_given_twice_is_refused(office):
    client, _broker, manager, decision_id = office
    body = b'{"decision": "approve", "reason": "Care Cubed costing supports the price", "decision": "refuse"}'
    response = client.post(f"/v1/decisions/{decision_id}/approvals", content=body, headers={**manager, **JSON})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"] == {"approval.decision": [TWICE]}
    assert client.get(f"/v1/decisions/{decision_id}", headers=manager).json()["status"] != "approved"


def test_the_same_key_in_different_objects_is_fine(office):
    client, broker, _manager, _id = office
    body = [P_1001, {**P_1001, "placement_id": "P-1002"}]
    assert client.post("/v1/decisions/batch", json=body, headers=broker).status_code == 200


def test_the_reused_decoder_carries_nothing_from_one_body_to_the_next():
    """parse_json keeps one decoder a thread (api/routes/service.py): a key twice in one body, or a parse that
    failed half-way, must not mark the next body; another thread's parse is its own; a BOM is refused as
    json.loads refuses it."""
    import threading

    from api.routes.service import parse_json
    from engine.validate.placement import InputError

    with pytest.raises(InputError) as twice:
        parse_json(b'{"a": {"b": 1, "b": 2}, "c": [{"d": 1, "d": 1}]}')
    assert twice.value.fields == {"a.b": [TWICE], "c[0].d": [TWICE]}
    with pytest.raises(InputError):
        parse_json(b'{"e": 1, "e": 2, "f": [')  # a key twice, then not JSON: the half-made object is left behind
    assert parse_json(b'{"e": 1, "f": {"g": 2}}') == {"e": 1, "f": {"g": 2}}
    seen: list[object] = []
    worker = threading.Thread(target=lambda: seen.append(parse_json(b'{"h": 1}')))
    worker.start()
    worker.join()
    assert seen == [{"h": 1}]
    with pytest.raises(InputError) as bom:
        parse_json("\ufeff{}".encode())
    assert bom.value.fields == {
        "placement": ["not valid JSON: Unexpected UTF-8 BOM (decode using utf-8-sig) at line 1 column 1"]
    }
