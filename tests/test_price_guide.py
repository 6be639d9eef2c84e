"""The price to quote: each ceiling lies inside its band, and a penny more falls in the next band."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.decide import default_engine
from engine.evaluate.derive import band_of
from engine.explain.price_guide import band_ceilings
from engine.rulebook.tables import Band

BANDS = "care_homes.approval_bands"


def share(price: int, benchmark: int) -> Fraction:
    return Fraction((price - benchmark) * 100, benchmark)


def band_number(price: int, benchmark: int, bands: tuple[Band, ...]) -> int:
    """0 at or below the benchmark, else the engine's own band lookup."""
    return 0 if price <= benchmark else band_of(share(price, benchmark), bands).band


@st.composite
def band_tables(draw: st.DrawFn) -> tuple[Band, ...]:
    """2 to 5 contiguous bands from 0%, upper limits in hundredths of a percent, the last one open."""
    widths = draw(st.lists(st.integers(1, 5000), min_size=1, max_size=4))
    bands, above = [], Decimal(0)
    for number, width in enumerate(widths, start=1):
        up_to = above + Decimal(width).scaleb(-2)
        bands.append(Band(number, above, up_to, f"role_{number}", False, ""))
        above = up_to
    bands.append(Band(len(widths) + 1, above, None, "panel", True, ""))
    return tuple(bands)


@settings(max_examples=400, deadline=None)
@given(benchmark=st.integers(10_000, 2_000_000), bands=band_tables())
def test_each_ceiling_is_inside_its_band_and_a_penny_more_is_in_the_next(
    benchmark: int, bands: tuple[Band, ...]
) -> None:
    rows = band_ceilings(benchmark, bands)
    # at £100 a week or more, a band at least 0.01% wide holds a penny: no band is dropped
    assert [band.band if band else 0 for _, band in rows] == list(range(len(bands) + 1))
    for (ceiling, band), (_, following) in zip(rows, rows[1:]):
        assert ceiling is not None and following is not None
        assert band_number(ceiling, benchmark, bands) == (band.band if band else 0)
        assert band_number(ceiling + 1, benchmark, bands) == following.band
    assert rows[-1][0] is None  # the last band has no ceiling


def test_a_band_narrower_than_a_penny_is_left_out() -> None:
    bands = (
        Band(1, Decimal(0), Decimal("0.01"), "team_manager", False, ""),
        Band(2, Decimal("0.01"), None, "panel", True, ""),
    )
    # £50.00: 0.01% is half a penny, so no price falls in band 1
    assert [(c, b.band if b else 0) for c, b in band_ceilings(5000, bands)] == [(5000, 0), (None, 2)]


def test_lot_6_guide_matches_the_spec_example() -> None:
    decision = (
        default_engine()
        .decide(
            {
                "placement_id": "P-1",
                "service": "care_home",
                "start_date": "2026-05-04",
                "age": 80,
                "care_type": "nursing",
                "lot": 6,
                "core_weekly_fee": "1040.00",
            }
        )
        .to_dict()
    )
    guide = decision["price_guide"]
    assert guide["benchmark_weekly"] == Decimal("995.00")
    assert [(b["up_to_weekly"], b["approver"]) for b in guide["bands"]] == [
        (Decimal("995.00"), None),
        (Decimal("1044.75"), "team_manager"),
        (Decimal("1144.25"), "head_of_service"),
        (None, "placement_panel"),
    ]


def _pence(pounds: Decimal) -> int:
    return int(pounds * 100)


def _approvers_at(fee_pence: int, base: dict[str, object]) -> list[str]:
    fee = f"{Decimal(fee_pence).scaleb(-2):.2f}"
    decision = default_engine().decide({**base, "core_weekly_fee": fee}).to_dict()
    return [f["approver"] for f in decision["findings"] if f["rule_id"] in ("CHP-02", "CHP-03", "CHP-04")]


def test_a_decision_at_each_ceiling_names_the_guides_approver_and_a_penny_more_the_next() -> None:
    for lot in (1, 2, 6, 7):
        base = {
            "placement_id": "P-1",
            "service": "care_home",
            "start_date": "2026-05-04",
            "age": 80,
            "care_type": "nursing" if lot in (6, 7) else "residential",
            "dementia": lot in (2, 7),
            "lot": lot,
        }
        guide = default_engine().decide({**base, "core_weekly_fee": "100.00"}).to_dict()["price_guide"]
        rows = guide["bands"]
        for row, following in zip(rows, rows[1:]):
            ceiling = _pence(row["up_to_weekly"])
            assert _approvers_at(ceiling, base) == ([row["approver"]] if row["approver"] else []), (lot, row)
            assert _approvers_at(ceiling + 1, base) == [following["approver"]], (lot, following)


def test_no_guide_outside_the_over_65_care_home_pricing() -> None:
    engine = default_engine()
    care_home = {
        "placement_id": "P-1",
        "service": "care_home",
        "start_date": "2026-05-04",
        "age": 80,
        "care_type": "residential",
        "lot": 1,
        "core_weekly_fee": "900.00",
    }
    assert "price_guide" in engine.decide(care_home).to_dict()
    assert "price_guide" not in engine.decide({**care_home, "age": 40}).to_dict()
    supported = {
        "placement_id": "P-2",
        "service": "supported_living",
        "start_date": "2026-05-04",
        "age": 40,
        "sl_weekly_cost": "500.00",
        "sl_day_hours": "20",
    }
    assert "price_guide" not in engine.decide(supported).to_dict()
