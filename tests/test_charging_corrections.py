"""Issue 21's charging and top-up corrections (SPEC §12.2, §12.4 CHG-06, §5 TOP-08 and TOP-09): the council's net
cost agrees with the payment lines on every worked case and every row of the shipped sample book; a deferred
payment agreement defers exactly the difference the home makes, and the audit sums it; a rule may apply to some of
its module's services; the web page says s117 after-care is free."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.web.view import charging
from engine.audit.books.read import table_from_records
from engine.audit.run import run_audit
from engine.decide import default_engine
from engine.explain.cases import CaseRunner, iter_cases
from engine.rulebook.loader import load_rulebook
from engine.rulebook.strict_yaml import RulebookError
from tests.conftest import placement
from tests.test_properties import DEFERRED, council_by_lines

ROOT = Path(__file__).resolve().parents[1]
ENGINE = default_engine()  # on the pinned test rulebook (tests/conftest.py)


def pounds(pence: int) -> str:
    return f"{pence // 100}.{pence % 100:02d}"


def test_the_council_net_agrees_with_the_payment_lines_on_every_worked_case() -> None:
    runner = CaseRunner(ENGINE.book)
    checked = 0
    for case in iter_cases([ROOT / "cases"]):
        try:
            decision = runner.engine_for(case).decide(dict(case.input), case.as_at).to_dict()
        except ValueError:
            continue  # an input-error case
        if decision.get("payments") is None or decision["figures"].get("council_net_weekly") is None:
            continue
        assert decision["figures"]["council_net_weekly"] == council_by_lines(decision), case.name
        checked += 1
    assert checked >= 40


def test_the_council_net_agrees_with_the_payment_lines_on_every_row_of_the_sample_book() -> None:
    checked = 0
    with open(ROOT / "examples" / "sample_placements.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            try:
                decision = ENGINE.decide({k: v for k, v in row.items() if v != ""}).to_dict()
            except ValueError:
                continue  # the sample's deliberately bad rows
            if decision.get("payments") is None or decision["figures"].get("council_net_weekly") is None:
                continue
            assert decision["figures"]["council_net_weekly"] == council_by_lines(decision), row["placement_id"]
            checked += 1
    assert checked >= 100


HOME = placement(
    placement_id="DPA", care_type="residential", deferred_payment_agreement=True, drop=("core_weekly_fee",)
)


@settings(max_examples=120, deadline=None)
@given(
    fee=st.integers(60_000, 200_000),
    income=st.integers(0, 90_000),
    capital=st.integers(0, 3_000_000),
    home=st.integers(1, 50_000_000),
    days=st.integers(84, 500),
    model=st.sampled_from(["gross", "net"]),
)
def test_the_deferred_amount_is_the_difference_the_home_makes(
    fee: int, income: int, capital: int, home: int, days: int, model: str
) -> None:
    """The oracle is the same placement with no agreement, where the home counts after the 12 weeks."""
    as_at = date(2026, 5, 4).toordinal() + days
    deferred = {
        **HOME,
        "core_weekly_fee": pounds(fee),
        "weekly_income": pounds(income),
        "capital": pounds(capital),
        "property_value": pounds(home),
        "payment_model": model,
        "as_at": date.fromordinal(as_at).isoformat(),
    }
    deferring = ENGINE.decide(deferred).to_dict()
    counted = ENGINE.decide({**deferred, "deferred_payment_agreement": False}).to_dict()
    paid_now = deferring["figures"]["resident_contribution_weekly"]
    deferred = counted["figures"]["resident_contribution_weekly"] - paid_now
    assert deferring["figures"]["deferred_weekly"] == deferred
    lines = [p for p in deferring["payments"] if p["note"] == DEFERRED]
    assert [(p["payer"], p["payee"], p["weekly"]) for p in lines] == (
        [("resident", "council", deferred)] if deferred else []
    )
    # lent and recovered from the home, so not the council's cost: its net cost is its outlay less the
    # contribution paid now and the amount deferred
    assert deferring["figures"]["council_net_weekly"] == council_by_lines(deferring)
    assert deferring["figures"]["council_net_weekly"] == max(Decimal(0), Decimal(pounds(fee)) - paid_now - deferred)


def test_the_audit_sums_the_amount_deferred_a_week() -> None:
    """DPA-01 and DPA-02 of cases/charging/deferred_payment.yaml (£631.80 and £7.00), one without an agreement."""
    base = {**HOME, "core_weekly_fee": "900.00", "weekly_income": "300.00", "capital": "10000.00"}
    records = [
        {**base, "placement_id": "A", "property_value": "150000.00"},
        {**base, "placement_id": "B", "property_value": "6000.00"},
        {**base, "placement_id": "C", "property_value": "6000.00", "deferred_payment_agreement": False},
        # s117 with capital over the upper limit: nothing deferred, nothing charged, not a self-funder
        {**base, "placement_id": "D", "capital": "30000.00", "s117": True, "nhs_contribution_weekly": "450.00"},
    ]
    audit = run_audit(table_from_records(records), as_at=date(2026, 9, 7))
    kpi = next(k for k in audit.kpis["kpis"] if k["id"] == "deferred_weekly")
    assert kpi["value"] == Decimal("638.80") and kpi["counts"]["deferring"] == 2
    assert kpi["name"] == "Deferred a week (deferred payment agreements)"
    net = next(k for k in audit.kpis["kpis"] if k["id"] == "council_net_cost_weekly")
    # A: £900.00 − £268.20 − deferred £631.80 = £0.00; B: £900.00 − £268.20 − deferred £7.00 = £624.80; C (no
    # agreement, the home counts: £16,000 → tariff £7): £900.00 − £275.20 = £624.80; D: £900.00 − NHS £450.00
    assert net["value"] == Decimal("0.00") + Decimal("624.80") * 2 + Decimal("450.00")
    income = next(k for k in audit.kpis["kpis"] if k["id"] == "client_income_weekly")
    assert income["value"] == Decimal("268.20") * 2 + Decimal("275.20") and income["counts"]["self_funding"] == 0


def test_a_top_up_on_a_care_home_is_never_top_09s() -> None:
    decision = ENGINE.decide(
        {
            "placement_id": "T",
            "service": "care_home",
            "start_date": "2026-05-04",
            "age": 80,
            "care_type": "residential",
            "core_weekly_fee": "965.00",
            "top_up_weekly": "50.00",
            "top_up_payer": "third_party",
            "top_up_agreement_signed": True,
            "top_up_affordability_confirmed": True,
        }
    )
    assert "TOP-09" not in decision.rule_ids
    rule = next(rule for rule in ENGINE.book.rules if rule.id == "TOP-09")
    others = tuple(service.id for service in ENGINE.book.services if service.id != "care_home")
    assert rule.services == others and rule.refer_to == "commissioning_team"  # every service but a care home


def test_a_rule_may_not_list_a_service_its_module_does_not_cover(rules: Path) -> None:
    path = rules / "modules" / "1_care_home_pricing.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("  - id: CHP-01\n", "  - id: CHP-01\n    services: [supported_living]\n", 1))
    with pytest.raises(RulebookError, match="services must list some of its module's"):
        load_rulebook(rules)


def test_the_page_says_s117_after_care_is_free() -> None:
    after_care = placement(
        placement_id="S",
        age=80,
        care_type="residential",
        core_weekly_fee="915.00",
        s117=True,
        nhs_contribution_weekly="457.50",
        weekly_income="250.00",
        capital="30000.00",
    )
    shown = charging(ENGINE.book, ENGINE.decide(after_care).to_dict(), after_care)
    assert shown is not None
    assert shown["sentence"] == "Section 117 after-care is free: you pay £0.00 a week towards your care."


def test_a_supported_living_decision_lists_only_the_parameters_its_own_rules_read() -> None:
    """choice_top_up now covers supported living for TOP-09 alone: TOP-06's reasonable distance is not read there."""
    living = {
        "placement_id": "S",
        "service": "supported_living",
        "start_date": "2026-05-04",
        "age": 40,
        "sl_day_hours": "20",
        "sl_weekly_cost": "450.00",
    }
    names = {read.name for read in ENGINE.decide(living).parameters}
    assert not {name for name in names if name.startswith(("choice.", "care_homes."))}
    home = {**living, "service": "care_home", "care_type": "residential", "core_weekly_fee": "915.00", "age": 80}
    assert "choice.reasonable_distance_miles" in {read.name for read in ENGINE.decide(home).parameters}
