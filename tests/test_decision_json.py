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


def test_compact_json_written_directly_is_the_encoders_for_any_text_and_value():
    from dataclasses import replace

    from engine.explain.decision import Finding

    decision = Engine().decide(random_placement(random.Random(3), 0))
    odd = 'a "quoted" \\ back\x00slash\n\u00e9\u2028 \U0001f600'
    findings = (
        Finding("R-1", "pricing", "refer", None, odd, "ref", refer_to=odd),
        Finding(odd, odd, "needs_approval", odd, "m", odd),
        Finding("R-2", "m", "info", None, "", ""),
    )
    figures = {odd: odd, "flag": True, "off": False, "n": 7, "none": None, "d": Decimal("-0.50")}
    for made in (
        replace(decision, placement_id=odd, rulebook_version=odd, findings=findings, figures=figures),
        replace(decision, findings=(), figures={}),
    ):
        assert made.to_json(indent=None) == dumps(made.to_dict(), indent=None)


def test_dumps_is_json_dumps_with_decimals_as_numbers():
    # a string that looks like a Decimal's marker is rewritten as before (the marker's escape is in the text)
    for data in ({"a": "x\x00y", "b": [1, True, None, "\u00e9"]}, {"p": "\x00123\x00"}, "plain", 5, [Decimal("1.5")]):
        expected = (
            json.dumps(data, default=lambda v: f"\u0000{v:f}\u0000", ensure_ascii=False)
            .replace('"\\u00001.5\\u0000"', "1.5")
            .replace('"\\u0000123\\u0000"', "123")
        )
        assert dumps(data, indent=None) == expected
