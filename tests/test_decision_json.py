"""The decision's JSON: money as exact 2-dp numbers, and the compact form identical to the general one."""

from __future__ import annotations

import json
import random
from decimal import Decimal

from engine import Engine
from engine.explain.decision import dumps
from tests.test_durable_soak import random_placement


def test_compact_json_is_the_general_json_without_indentation():
    engine = Engine()
    rnd = random.Random(11)
    for index in range(1500):
        decision = engine.decide(random_placement(rnd, index))
        assert decision.to_json(indent=None) == dumps(decision.to_dict(), indent=None)
        assert json.loads(decision.to_json(indent=None)) == json.loads(decision.to_json())


def test_money_is_written_as_exact_numbers_with_two_places():
    decision = Engine().decide(
        {
            "placement_id": "J-1",
            "service": "care_home",
            "start_date": "2026-05-04",
            "age": 80,
            "care_type": "residential",
            "core_weekly_fee": "1000.10",
        }
    )
    text = decision.to_json(indent=None)
    assert '"comparable_weekly": 1000.10,' in text and '"benchmark_weekly": 915.00,' in text
    parsed = json.loads(text, parse_float=Decimal)
    assert parsed["figures"]["over_benchmark_weekly"] == Decimal("85.10")
