"""CHP-09 (no LaingBuisson median in force for the Lot at as_at → refer).

With the shipped parameters CHP-09 cannot fire: every Lot median is in force from 2025-04-01, and before
2026-01-01 the over-65 minimum age is not in force, so no rule testing age fires (see
cases/care_home_pricing/dates_age_fnc.yaml). These tests use a copy of ``rules/`` whose Lot 6 median starts
later, or is ended with ``null`` (SPEC §6: "null ends a parameter; no value yet means not in force").
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.decide import Engine
from engine.rulebook.loader import load_rulebook
from tests.conftest import copy_rules, placement

LOT_6 = Path("parameters/care_homes/benchmark/lot_6.yaml")
NURSING = placement(placement_id="N-1", age=80, core_weekly_fee="1200.00", fnc_weekly="267.68")


def _engine_with_lot_6_values(tmp_path: Path, values: str) -> Engine:
    root = tmp_path / "rules"
    copy_rules(root)
    path = root / LOT_6
    text = path.read_text(encoding="utf-8")
    head = text[: text.index("values:")]
    path.write_text(head + "values:\n" + values, encoding="utf-8")
    return Engine(load_rulebook(root))


@pytest.fixture
def later_benchmark(tmp_path: Path) -> Engine:
    return _engine_with_lot_6_values(tmp_path, "  2026-06-01: 995.00\n")


def test_an_over_65_placement_with_no_median_in_force_is_referred(later_benchmark: Engine) -> None:
    decision = later_benchmark.decide(NURSING).to_dict()
    assert [f["rule_id"] for f in decision["findings"]] == ["CHP-09"]
    assert decision["outcome"] == "refer"
    figures = decision["figures"]
    assert figures["benchmark_weekly"] is None and figures["over_benchmark_weekly"] is None
    assert figures["over_benchmark_percent"] is None
    assert str(figures["comparable_weekly"]) == "1200.00" and str(figures["gross_weekly_cost"]) == "1467.68"
    assert "Lot 6" in decision["findings"][0]["message"] and "2026-05-04" in decision["findings"][0]["message"]


def test_the_day_the_median_takes_effect_the_price_is_checked_against_it(later_benchmark: Engine) -> None:
    # 1200.00 − 995.00 = 205.00; 205 / 995 = 20.60…% → over 15%: placement panel (CHP-04)
    on_the_day = later_benchmark.decide({**NURSING, "start_date": "2026-06-01"}).to_dict()
    assert [f["rule_id"] for f in on_the_day["findings"]] == ["CHP-04"]
    assert str(on_the_day["figures"]["over_benchmark_percent"]) == "20.60"


def test_an_under_65_placement_with_no_median_is_priced_by_the_working_age_strategy(later_benchmark: Engine) -> None:
    # Before the working-age strategy (2026-04-01) CHP-06 refers for age; from it, the price is checked against
    # the CareCubed figure, so the missing median is not a reason (no CHP-09) either way.
    before = later_benchmark.decide({**NURSING, "age": 64, "start_date": "2026-03-31"}).to_dict()
    assert [f["rule_id"] for f in before["findings"]] == ["CHP-06"]
    decision = later_benchmark.decide({**NURSING, "age": 64, "care_cubed_weekly": "1200.00"}).to_dict()
    assert [f["rule_id"] for f in decision["findings"]] == ["WAP-01"]


def test_other_lots_are_unaffected(later_benchmark: Engine) -> None:
    decision = later_benchmark.decide({**NURSING, "dementia": True, "core_weekly_fee": "1045.00"}).to_dict()
    assert [f["rule_id"] for f in decision["findings"]] == ["CHP-01"]


def test_a_median_ended_with_null_is_no_longer_in_force(tmp_path: Path) -> None:
    engine = _engine_with_lot_6_values(tmp_path, "  2025-04-01: 945.00\n  2026-04-01: null\n")
    before = engine.decide({**NURSING, "start_date": "2026-03-31", "core_weekly_fee": "945.00"}).to_dict()
    assert [f["rule_id"] for f in before["findings"]] == ["CHP-01"]
    after = engine.decide(NURSING).to_dict()
    assert [f["rule_id"] for f in after["findings"]] == ["CHP-09"] and after["outcome"] == "refer"
    assert after["figures"]["personal_budget_weekly"] is None and after["figures"]["top_up_required_weekly"] is None
