"""Charging: the payments add up to the provider's charge, both evaluators agree on them, the payments appear
only with a financial assessment, per-service messages and enum figures are checked when loaded."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.decide import default_engine
from engine.evaluate.vector import VectorEvaluator, row_dates
from engine.rulebook.loader import load_rulebook
from engine.rulebook.strict_yaml import RulebookError
from engine.validate.batch import parse_book
from tests.conftest import placement

ENGINE = default_engine()  # on the pinned test rulebook (tests/conftest.py)
LINES = (
    "council_to_provider_weekly",
    "contribution_to_provider_weekly",
    "top_up_to_provider_weekly",
    "fnc_used_weekly",
)


def pounds(pence: int) -> str:
    return f"{pence // 100}.{pence % 100:02d}"


@st.composite
def assessed(draw: st.DrawFn) -> dict:
    care_home = draw(st.booleans())
    record = {
        "placement_id": "CHG-X",
        "service": "care_home" if care_home else "supported_living",
        "start_date": draw(st.sampled_from(["2026-05-04", "2026-07-27", "2027-03-30", "2027-03-31"])),
        "age": draw(st.sampled_from([18, 24, 25, 40, 65, 66, 90])),
        "weekly_income": pounds(draw(st.integers(0, 90_000))),
        "capital": pounds(draw(st.integers(0, 3_000_000))),
        "other_weekly": pounds(draw(st.integers(0, 5_000))),
        "nhs_contribution_weekly": draw(st.one_of(st.none(), st.integers(0, 20_000).map(pounds))),
        "payment_model": draw(st.sampled_from([None, "gross", "net"])),
        "dre_weekly": pounds(draw(st.integers(0, 8_000))),
        "housing_costs_weekly": pounds(draw(st.integers(0, 20_000))),
    }
    if care_home:
        fee = draw(st.integers(50_000, 200_000))
        record.update(
            care_type=draw(st.sampled_from(["residential", "nursing"])),
            core_weekly_fee=pounds(fee),
            one_to_one_weekly=pounds(draw(st.integers(0, 20_000))),
            top_up_weekly=pounds(draw(st.integers(0, 10_000))),
            top_up_payer=draw(st.sampled_from(["none", "third_party", "first_party"])),
            property_value=draw(st.one_of(st.none(), st.integers(0, 30_000_000).map(pounds))),
        )
    else:
        record.update(sl_weekly_cost=pounds(draw(st.integers(0, 150_000))), sl_day_hours="20")
    return record


@settings(max_examples=150, deadline=None)
@given(assessed())
def test_the_lines_paid_to_the_provider_add_up_to_its_full_charge(record: dict) -> None:
    decision = ENGINE.decide(record)
    assert decision.payments is not None
    to_provider = sum((p.weekly for p in decision.payments if p.payee == "provider"), Decimal(0))
    assert to_provider == decision.figures["gross_weekly_cost"]
    for line in decision.payments:
        assert line.weekly > 0 and line.payer in ("council", "resident", "third_party", "nhs")
    contribution = decision.figures["resident_contribution_weekly"]
    assert Decimal(0) <= contribution <= decision.figures["chargeable_cost_weekly"]
    paid = sum((p.weekly for p in decision.payments if p.payer == "resident" and "contribution" in p.note), Decimal(0))
    assert paid == contribution


@settings(max_examples=40, deadline=None)
@given(st.lists(assessed(), min_size=1, max_size=10))
def test_the_vectorised_payment_lines_add_up_too(records: list[dict]) -> None:
    table = pa.table(
        {k: [None if r.get(k) is None else str(r[k]) for r in records] for k in {k for r in records for k in r}}
    )
    book = parse_book(table, ENGINE.book)
    result = VectorEvaluator(ENGINE.book).evaluate(book, row_dates(book))
    values = result.values
    for index in range(len(records)):
        total = sum(int(values[name].v[index]) for name in LINES if values[name].ok[index])
        assert total == int(values["gross_weekly_cost"].v[index])


RESIDENTIAL = placement(placement_id="P", age=80, care_type="residential", core_weekly_fee="900.00")


def test_no_payments_without_a_financial_assessment() -> None:
    decision = ENGINE.decide(RESIDENTIAL)
    assert decision.payments is None and "payments" not in decision.to_dict()
    assert "payments" not in decision.to_json(indent=None)
    assert "resident_contribution_weekly" not in decision.figures


def test_payments_in_both_json_forms() -> None:
    placement = {**RESIDENTIAL, "care_type": "nursing", "core_weekly_fee": "995.00", "capital": "15250.00"}
    decision = ENGINE.decide({**placement, "weekly_income": "170.00", "payment_model": "net"})
    compact, pretty = json.loads(decision.to_json(indent=None)), json.loads(decision.to_json())
    assert compact == pretty
    assert [(p["payer"], p["payee"]) for p in compact["payments"]] == [
        ("council", "provider"),
        ("resident", "provider"),
        ("nhs", "provider"),
    ]


def test_a_capital_without_income_is_fine_but_income_without_capital_is_an_input_error() -> None:
    with pytest.raises(ValueError, match="capital"):
        ENGINE.decide({**RESIDENTIAL, "weekly_income": "170.00"})
    assert ENGINE.decide({**RESIDENTIAL, "capital": "1000.00"}).payments is None


def test_a_message_for_an_unknown_service_is_refused(rules: Path) -> None:
    path = rules / "modules" / "5_charging.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("      non_residential: >-\n        Capital", "      day_centre: >-\n        Capital", 1)
    )
    with pytest.raises(RulebookError, match="'day_centre' is not a service"):
        load_rulebook(rules)


def test_an_enum_figure_value_not_listed_is_refused(rules: Path) -> None:
    path = rules / "figures.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count('("gross" if params.charging.payment_model.care_home_gross else "net")') == 1
    path.write_text(text.replace('else "net")', 'else "partial")', 1))
    with pytest.raises(RulebookError, match="'partial' is not one of payment_model"):
        load_rulebook(rules)


def test_a_book_row_with_income_but_no_capital_is_an_error_row_and_the_others_are_decided() -> None:
    rows = [
        {**RESIDENTIAL, "placement_id": "A", "weekly_income": "170.00", "capital": "15250.00"},
        {**RESIDENTIAL, "placement_id": "B", "weekly_income": "170.00"},
        {**RESIDENTIAL, "placement_id": "C"},
    ]
    names = sorted({k for r in rows for k in r})
    book = parse_book(pa.table({k: [r.get(k) for r in rows] for k in names}), ENGINE.book)
    assert book.valid.tolist() == [True, False, True]
    assert "capital" in book.errors[1] and "required with weekly_income" in book.errors[1]["capital"][0]
    result = VectorEvaluator(ENGINE.book).evaluate(book, row_dates(book))
    contribution = result.figures["resident_contribution_weekly"]
    assert contribution.ok[0] and int(contribution.v[0]) == 14220 and not contribution.ok[2]
