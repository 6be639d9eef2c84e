"""32 concurrent clients on loopback get exactly what the same requests get one by one (durable_rules is
serialised inside the engine; the decision log takes every decision)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import P_1001

from api.bench.loadgen import drive, local_server, request_bytes

EXAMPLES = json.loads((Path(__file__).resolve().parents[2] / "examples" / "placements.json").read_text())


def varied(count: int) -> list[dict]:
    """Distinct placements across every module: fees over and under the medians, ages, dates, bad ones."""
    items = []
    for index in range(count):
        base = dict(EXAMPLES[index % len(EXAMPLES)])
        base["placement_id"] = f"C-{index}"
        if base["service"] == "care_home":
            base["core_weekly_fee"] = f"{800 + (index * 7) % 500}.{index % 100:02d}"
            base["age"] = 60 + index % 40
        else:
            base["sl_weekly_cost"] = f"{1500 + (index * 13) % 1200}.00"
        if index % 17 == 0:
            base["core_weekly_fee"] = "-1"  # an input error now and then
        items.append(base)
    return items


def test_32_concurrent_clients_get_the_same_answers_as_one_by_one(tmp_path):
    items = varied(640)
    requests = [request_bytes("POST", "/v1/decisions", item) for item in items]
    with local_server(f"sqlite:///{tmp_path / 'decisions.db'}") as base:
        serial = drive(base, requests, connections=1, deadline_s=120)
        concurrent = drive(base, requests, connections=32, deadline_s=120)
        count = drive(base, [request_bytes("GET", "/v1/decisions?limit=200")], 1).replies[0][1]
    assert not serial.stopped_by_deadline and not concurrent.stopped_by_deadline
    one_by_one = {index: reply for index, reply in serial.replies}
    at_once = {index: reply for index, reply in concurrent.replies}
    assert len(one_by_one) == len(at_once) == len(items)
    statuses = {reply.status for reply in at_once.values()}
    assert statuses == {201, 422}
    for index in range(len(items)):
        assert at_once[index].status == one_by_one[index].status, index
        assert at_once[index].body == one_by_one[index].body, index
    stored_ids = [
        int(reply.headers["location"].rsplit("/", 1)[1])
        for reply in [*one_by_one.values(), *at_once.values()]
        if reply.status == 201
    ]
    assert len(set(stored_ids)) == len(stored_ids) == 2 * sum(1 for r in at_once.values() if r.status == 201)
    assert json.loads(count.body)[0]["id"] == max(stored_ids)


def test_requests_to_other_hosts_are_refused_by_the_load_generator():
    import pytest

    with pytest.raises(ValueError, match="loopback"):
        drive("http://10.0.0.1:80", [request_bytes("POST", "/v1/decisions", P_1001)], 1)
