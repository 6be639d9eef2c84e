"""Both evaluators give the same outcome, fired rule ids, approvers and figures (SPEC §2, §10).

Hypothesis generates placement books (every service, every field, nulls, values on each side of every
threshold and rate date) and each row goes through the vectorised evaluator in one table and through
``Engine.decide`` one at a time. Rows the model refuses must get the same field messages both ways.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.audit.books.read import read_book, table_from_records
from engine.audit.books.sample import sample_book
from engine.decide import default_engine
from engine.evaluate.equivalence import compare_engines
from engine.validate.register import Provider, ProviderRegister, with_register

ROOT = Path(__file__).resolve().parent.parent
ENGINE = default_engine()  # on the pinned test rulebook (tests/conftest.py)
RATE_DATES = sorted({d for p in ENGINE.book.parameters.values() for d in p.dates})


# the services priced by their weekly cost, as people write them (rules/services.yaml names and aliases)
PACKAGE_SERVICES = [
    "home_care",
    "Home Care",
    "HC",
    "direct_payment",
    "DP",
    "extra_care",
    "shared lives",
    "day_care",
    "other",
]


def _dates() -> st.SearchStrategy[str]:
    near = st.sampled_from(RATE_DATES).flatmap(
        lambda d: st.sampled_from([d - timedelta(days=1), d, d + timedelta(days=1)])
    )
    anywhere = st.dates(date(2020, 1, 1), date(2028, 12, 31))
    return st.one_of(near, anywhere).map(date.isoformat)


def _pence(low: int = 0, high: int = 600_000) -> st.SearchStrategy[str]:
    edges = st.sampled_from([0, 1, 87000, 91500, 96075, 99500, 104475, 114425, 300000, 300001, 299999])
    return st.one_of(edges, st.integers(low, high)).map(lambda p: f"{p // 100}.{p % 100:02d}")


def _hours() -> st.SearchStrategy[str]:
    """Hours a week to at most 4 places, as people write them (40, 12.5, 13.3333)."""
    return st.integers(0, 1_680_000).map(lambda h: f"{h // 10_000}.{h % 10_000:04d}".rstrip("0").rstrip("."))


FLAG = st.sampled_from(["true", "false", "yes", "no", "1", "0", True, False])


def _optional(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), strategy)


@st.composite
def placements(draw: st.DrawFn) -> dict:
    service = draw(st.sampled_from(["care_home", "care_home", "supported_living", "package"]))
    care_home = service == "care_home"
    record = {
        "placement_id": draw(st.text("ABCP-0123456789", min_size=1, max_size=12)),
        "service": draw(st.sampled_from(PACKAGE_SERVICES)) if service == "package" else service,
        "stay_type": draw(_optional(st.sampled_from(["permanent", "temporary", "Respite"]))),
        "provider_type": draw(_optional(st.sampled_from(["independent", "in_house", "In-house"]))),
        "start_date": draw(_dates()),
        "as_at": draw(_optional(_dates())),
        "age": draw(st.one_of(st.integers(18, 120), st.sampled_from([64, 65, 66]))),
        "dementia": draw(_optional(FLAG)),
        "other_weekly": draw(_optional(_pence(0, 50000))),
        "nhs_contribution_weekly": draw(_optional(_pence())),
        "s117": draw(_optional(FLAG)),
        "dst_priority_domains": draw(_optional(st.integers(0, 3))),
        "dst_severe_domains": draw(_optional(st.integers(0, 4))),
        "chc_referral_made": draw(_optional(FLAG)),
        "provider": draw(_optional(st.sampled_from(["Oak House", "Elm Lodge"]))),
        "s117_council_share": draw(_optional(st.sampled_from(["0", "0.3", "0.5", "0.75", "1", "1.00"]))),
        "s117_last_review_date": draw(_optional(_dates())),
        "health_needs_beyond_incidental": draw(_optional(FLAG)),
        "commissioned_for_nhs": draw(_optional(FLAG)),
        "nhs_agreement_in_place": draw(_optional(FLAG)),
        "nhs_invoice_issued": draw(_optional(FLAG)),
        "nhs_payment_received": draw(_optional(FLAG)),
        "person_aware_of_nhs_contribution": draw(_optional(FLAG)),
        "provider_aware_of_nhs_contribution": draw(_optional(FLAG)),
    }
    if draw(st.booleans()):  # a financial assessment (charging)
        capital_edges = st.sampled_from([0, 1425000, 1425001, 1500000, 1500100, 2325000, 2325001, 9000000])
        record.update(
            weekly_income=draw(_pence(0, 80000)),
            capital=draw(
                st.one_of(capital_edges, st.integers(0, 5_000_000)).map(lambda p: f"{p // 100}.{p % 100:02d}")
            ),
            property_value=draw(_optional(_pence(0, 40_000_000))),
            property_disregarded=draw(_optional(FLAG)),
            permanent_admission_date=draw(_optional(_dates())),
            deferred_payment_agreement=draw(_optional(FLAG)),
            disregarded_income_weekly=draw(_optional(_pence(0, 10000))),
            war_widows_pension_weekly=draw(_optional(_pence(0, 3000))),
            pension_shared_with_spouse_weekly=draw(_optional(_pence(0, 20001))),
            savings_disregard_weekly=draw(_optional(_pence(0, 1000))),
            housing_costs_weekly=draw(_optional(_pence(0, 30000))),
            dre_weekly=draw(_optional(_pence(0, 10000))),
            disability_premium=draw(_optional(FLAG)),
            enhanced_disability_premium=draw(_optional(FLAG)),
            payment_model=draw(_optional(st.sampled_from(["gross", "net", "Gross"]))),
        )
    if care_home:
        care_type = draw(_optional(st.sampled_from(["residential", "nursing"])))
        lot = draw(st.none() if care_type and draw(st.booleans()) else _optional(st.sampled_from([1, 2, 6, 7])))
        if care_type is None and lot is None:
            care_type = "nursing"
        if lot is not None and care_type is not None:
            lot = {"residential": (1, 2), "nursing": (6, 7)}[care_type][lot in (2, 7)]
        if lot is not None and record["dementia"] is not None:
            record["dementia"] = lot in (2, 7)
        top_up = draw(_optional(_pence(0, 30000)))
        record.update(
            care_type=care_type,
            lot=lot,
            core_weekly_fee=draw(_pence(50000, 400000)),
            one_to_one_weekly=draw(_optional(_pence(0, 150000))),
            fnc_weekly=draw(_optional(_pence(0, 40000))),
            block_booked=draw(_optional(FLAG)),
            block_bed_available=draw(_optional(FLAG)),
            distance_miles=draw(_optional(_hours())),
            resident_chose_location=draw(_optional(FLAG)),
            cheapest_suitable_weekly=draw(_optional(_pence(50000, 200000))),
            personal_budget_weekly=draw(_optional(_pence(50000, 200000))),
            top_up_weekly=top_up,
            top_up_payer=draw(_optional(st.sampled_from(["none", "third_party", "first_party"]))),
            first_party_basis=draw(
                _optional(st.sampled_from(["property_disregard_12_week", "deferred_payment", "s117"]))
            ),
            top_up_agreement_signed=draw(_optional(FLAG)),
            top_up_affordability_confirmed=draw(_optional(FLAG)),
            care_cubed_weekly=draw(
                _optional(st.one_of(st.sampled_from(["0.00", "1180.00", "1239.00", "1239.01"]), _pence()))
            ),
        )
    elif service == "package":  # weekly cost, or home-care hours at a rate, or all three agreeing to the penny
        hours = draw(_optional(_hours()))
        rate = draw(_optional(_pence(0, 4000)))
        cost = draw(_pence(0, 500000))
        if hours is not None and rate is not None and draw(st.booleans()):
            exact = Decimal(hours) * Decimal(rate)
            cost = None if draw(st.booleans()) else str(exact.quantize(Decimal("0.01"), ROUND_HALF_UP))
        record.update(
            weekly_cost=cost,
            hc_hours=hours,
            hc_hourly_rate=rate,
            top_up_weekly=draw(_optional(_pence(0, 3000))),
        )
    else:
        record.update(
            sl_day_hours=draw(_optional(_hours())),
            sl_waking_night_hours=draw(_optional(_hours())),
            sl_sleep_in_nights=draw(_optional(st.integers(0, 7))),
            sl_weekly_cost=draw(_pence(0, 500000)),
        )
    return record


BAD_CELLS = st.sampled_from(
    [
        ("hc_hours", "-1"),
        ("weekly_cost", None),
        ("weekly_cost", "0.02"),
        ("service", "DP"),
        ("service", "meals on wheels"),
        ("stay_type", "short"),
        ("provider_type", "council"),
        ("age", "17"),
        ("s117_council_share", "1.5"),
        ("nhs_invoice_issued", "maybe"),
        ("s117_last_review_date", "31/02/2026"),
        ("age", "12.5"),
        ("core_weekly_fee", "-1"),
        ("core_weekly_fee", "10.001"),
        ("fnc_weekly", "abc"),
        ("lot", "3"),
        ("start_date", "2019-12-31"),
        ("start_date", "04/05/2026"),
        ("as_at", "2026-02-30"),
        ("service", "Care Home"),
        ("dementia", "maybe"),
        ("sl_sleep_in_nights", "8"),
        ("top_up_payer", "family"),
        ("core_weekly_fee", None),
        ("sl_weekly_cost", None),
        ("placement_id", "x" * 65),
        ("distance_miles", "1e400"),
        ("core_weekly_fee", " 900"),
        ("age", " 70 "),
        ("other_weekly", "1,000.50"),
    ]
)


def _check(records: list[dict]) -> None:
    report = compare_engines(table_from_records(records), ENGINE)
    assert report.compared == len(records)
    assert report.differences == []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(placements(), min_size=1, max_size=12))
def test_both_evaluators_agree_on_valid_books(records: list[dict]) -> None:
    _check(records)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(placements(), st.lists(BAD_CELLS, max_size=2)), min_size=1, max_size=8))
def test_bad_rows_get_the_same_messages_both_ways(rows: list[tuple[dict, list[tuple[str, str | None]]]]) -> None:
    records = []
    for record, bad in rows:
        records.append({**record, **dict(bad)})
    _check(records)


def test_both_evaluators_agree_on_the_shipped_sample() -> None:
    table = read_book(ROOT / "examples" / "sample_placements.csv")
    report = compare_engines(table, ENGINE)
    assert report.rows == table.num_rows and report.error_rows > 0
    assert report.differences == []


def test_both_evaluators_agree_on_5000_generated_rows_as_at_a_date() -> None:
    table = sample_book(5000, seed=7)
    report = compare_engines(table, ENGINE, as_at=date(2026, 6, 30))
    assert report.compared == 5000
    assert report.differences == []
    services = set(table.column("service").to_pylist())  # a mixed book: every service, as people write them
    assert {"care_home", "supported_living", "home_care", "Home Care", "DP", "day_care", "other"} <= services
    assert {"respite", "temporary"} <= set(table.column("stay_type").to_pylist())
    assert "in_house" in table.column("provider_type").to_pylist()


def test_a_difference_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison can fail: shift one Lot median in the vector evaluator only."""
    from engine.evaluate import vector as vector_evaluator

    original = vector_evaluator.VectorEvaluator.param

    def shifted(self, name, as_at):  # type: ignore[no-untyped-def]
        col = original(self, name, as_at)
        if name == "care_homes.benchmark.lot_6":
            col.v = col.v + 1
        return col

    monkeypatch.setattr(vector_evaluator.VectorEvaluator, "param", shifted)
    record = {
        "placement_id": "P",
        "service": "care_home",
        "start_date": "2026-05-04",
        "age": 82,
        "care_type": "nursing",
        "core_weekly_fee": "995.00",
    }
    assert compare_engines(table_from_records([record]), ENGINE).differences


def test_both_evaluators_agree_on_every_worked_case() -> None:
    """Every case of cases/ (its pinned parameters and as-at date included) through both evaluators."""
    from engine.explain.cases import CaseRunner, iter_cases

    runner = CaseRunner(ENGINE.book)
    groups: dict[tuple[int, date | None], list[dict]] = {}
    engines = {}
    registers: dict[int, ProviderRegister | None] = {}
    for case in iter_cases([ROOT / "cases"]):
        engine = runner.engine_for(case)
        engines[id(engine)] = engine
        registers[id(case.providers)] = case.providers
        record = {
            name: value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
            for name, value in case.input.items()
            if value is not None
        }
        groups.setdefault((id(engine), case.as_at, id(case.providers)), []).append(record)
    compared = 0
    for (key, as_at, register), records in groups.items():
        report = compare_engines(with_register(table_from_records(records), registers[register]), engines[key], as_at)
        assert report.differences == [], (as_at, report.differences[:3])
        compared += report.compared
    assert compared == len(list(iter_cases([ROOT / "cases"])))


NEAR_MAY = st.dates(date(2026, 4, 28), date(2026, 5, 10))


@st.composite
def registers(draw: st.DrawFn) -> ProviderRegister:
    """A few providers whose framework and quality-status dates sit around the placements' dates."""
    providers = {}
    for key in ("R1", "R2", "R3", "R4"):
        providers[key] = Provider(
            key,
            framework_from=draw(_optional(NEAR_MAY)),
            framework_to=draw(_optional(NEAR_MAY)),
            cqc_rating=draw(_optional(st.sampled_from(["outstanding", "good", "requires_improvement", "inadequate"]))),
            quality_status=draw(st.sampled_from(["none", "monitoring", "embargo", "large_scale_enquiry"])),
            quality_status_from=draw(_optional(NEAR_MAY)),
        )
    return ProviderRegister(providers)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    registers(),
    st.lists(
        st.tuples(
            placements(),
            st.sampled_from(["R1", "R2", "R3", "R4", "NOT-THERE", None]),
            NEAR_MAY,
            st.one_of(st.none(), NEAR_MAY),
        ),
        min_size=1,
        max_size=10,
    ),
)
def test_both_evaluators_agree_on_the_provider_rules(register: ProviderRegister, rows: list[tuple]) -> None:
    """PRV-01..04 (SPEC §17): the register joined by provider_id, at dates either side of its own dates."""
    records = []
    for record, provider_id, start, as_at in rows:
        record = {**record, "start_date": start.isoformat(), "as_at": as_at.isoformat() if as_at else None}
        if provider_id is not None:
            record["provider_id"] = provider_id
        records.append({k: v for k, v in record.items() if v is not None})
    report = compare_engines(with_register(table_from_records(records), register), ENGINE)
    assert report.compared == len(records)
    assert report.differences == []


def test_the_provider_rules_fire_in_the_comparison() -> None:
    """The comparison above is not vacuous: each PRV rule fires on some row of a fixed book."""
    day = date(2026, 5, 4)
    register = ProviderRegister(
        {
            "OFF": Provider("OFF", framework_from=day + timedelta(days=1)),
            "BAD": Provider("BAD", framework_from=day, cqc_rating="inadequate"),
            "EMB": Provider("EMB", framework_from=day, quality_status="embargo", quality_status_from=day),
        }
    )
    base = {"service": "care_home", "start_date": day.isoformat(), "age": "80", "care_type": "residential"}
    records = [
        {**base, "placement_id": f"P{k}", "core_weekly_fee": "915.00", "provider_id": key}
        for k, key in enumerate(["OFF", "BAD", "EMB", "GONE"])
    ]
    table = with_register(table_from_records(records), register)
    report = compare_engines(table, ENGINE)
    assert report.compared == 4 and report.differences == []
    fired = {rule for k in range(4) for rule in ENGINE.decide(records[k], None, register).rule_ids}
    assert {"PRV-01", "PRV-02", "PRV-03", "PRV-04"} <= fired
