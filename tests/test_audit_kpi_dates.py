"""Every KPI counts at its own date the placements active then; the previous period of a quarter is the quarter
before it; a chart illustrating a KPI counts the same rows as the KPI (SPEC §19)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from engine.audit.books.read import table_from_records
from engine.audit.kpis.compute import Period, default_period
from engine.audit.outputs import report
from engine.audit.run import run_audit

SL = {"service": "supported_living", "age": 40, "sl_day_hours": "40"}
HOME = {"service": "care_home", "care_type": "residential", "core_weekly_fee": "900.00", "nhs_contribution_weekly": "0"}


def _kpi(audit, kpi_id):  # type: ignore[no-untyped-def]
    return next(k for k in audit.kpis["kpis"] if k["id"] == kpi_id)


def test_the_supported_living_run_rate_counts_only_the_services_active_at_the_kpi_date() -> None:
    book = [
        {"placement_id": "running", **SL, "start_date": "2026-05-01", "sl_weekly_cost": "900.00"},
        {
            "placement_id": "with other",
            **SL,
            "start_date": "2026-06-30",
            "sl_weekly_cost": "800.00",
            "other_weekly": "25.50",
        },
        {"placement_id": "starts later", **SL, "start_date": "2026-07-01", "sl_weekly_cost": "700.00"},
        {
            "placement_id": "ended",
            **SL,
            "start_date": "2026-05-01",
            "end_date": "2026-06-30",  # the day after its last day: not active on 30 June
            "sl_weekly_cost": "600.00",
        },
        {"placement_id": "home", **HOME, "age": 80, "start_date": "2026-05-01"},
    ]
    audit = run_audit(table_from_records(book), as_at=date(2026, 6, 30))
    run_rate = _kpi(audit, "sl_weekly_run_rate")
    assert run_rate["value"] == Decimal("1725.50")  # 900.00 + 800.00 + 25.50
    assert run_rate["counts"] == {"services": 2}
    assert "2026-06-30" in run_rate["definition"]
    # without --as-at the KPI date is the latest start date (1 July): the service starting then counts
    later = _kpi(run_audit(table_from_records(book)), "sl_weekly_run_rate")
    assert later["value"] == Decimal("2425.50") and later["counts"] == {"services": 3}


@pytest.mark.parametrize(
    ("start", "end", "previous_start", "previous_end"),
    [
        # a quarter: the quarter before it, never 31 December to 31 March
        (date(2026, 4, 1), date(2026, 6, 30), date(2026, 1, 1), date(2026, 3, 31)),
        (date(2026, 1, 1), date(2026, 3, 31), date(2025, 10, 1), date(2025, 12, 31)),
        (date(2026, 7, 1), date(2026, 9, 30), date(2026, 4, 1), date(2026, 6, 30)),
        # a month: the month before
        (date(2026, 3, 1), date(2026, 3, 31), date(2026, 2, 1), date(2026, 2, 28)),
        # 12 months over a 29 February: the 12 months before, not 365 days
        (date(2023, 10, 1), date(2024, 9, 30), date(2022, 10, 1), date(2023, 9, 30)),
        # 12 months to a day in the month: the 12 months to the day before the period
        (date(2025, 5, 5), date(2026, 5, 4), date(2024, 5, 5), date(2025, 5, 4)),
        # not whole months: as many days just before
        (date(2026, 4, 10), date(2026, 4, 19), date(2026, 3, 31), date(2026, 4, 9)),
    ],
)
def test_the_previous_period_is_the_same_number_of_calendar_months_before(
    start: date, end: date, previous_start: date, previous_end: date
) -> None:
    previous = Period(start, end).previous
    assert (previous.start, previous.end) == (previous_start, previous_end)


def test_the_default_period_s_previous_period_is_the_12_months_before() -> None:
    previous = default_period(date(2024, 2, 29)).previous
    assert (previous.start, previous.end) == (date(2022, 3, 1), date(2023, 2, 28))


def test_a_quarter_s_mean_price_compares_with_the_quarter_before() -> None:
    book = [
        {"placement_id": "Q2", **HOME, "age": 80, "start_date": "2026-05-01"},
        {"placement_id": "Q1", **HOME, "age": 80, "start_date": "2026-01-01", "core_weekly_fee": "850.00"},
        {"placement_id": "Q4", **HOME, "age": 80, "start_date": "2025-12-31", "core_weekly_fee": "700.00"},
    ]
    audit = run_audit(table_from_records(book), as_at=date(2026, 6, 30), period_start=date(2026, 4, 1))
    assert audit.kpis["period"]["previous_start"] == date(2026, 1, 1)
    assert audit.kpis["period"]["previous_end"] == date(2026, 3, 31)
    mean = _kpi(audit, "mean_price_new_residential")
    assert mean["counts"] == {"this_period": 1, "previous_period": 1}
    assert mean["pounds_weekly"]["mean_previous_period"] == Decimal("850.00")  # not the 31 December placement
    assert "2026-01-01 to 2026-03-31" in mean["definition"]


def test_the_chart_by_lot_counts_the_rows_the_below_median_kpi_counts() -> None:
    """A working-age placement is not in the 65+ KPI, so it is not in the chart that illustrates it."""
    book = [
        {"placement_id": "older", **HOME, "age": 80, "start_date": "2026-05-01"},
        {"placement_id": "older too", **HOME, "age": 65, "start_date": "2026-05-02", "core_weekly_fee": "950.00"},
        {
            "placement_id": "working age",
            **HOME,
            "age": 40,
            "start_date": "2026-05-03",
            "core_weekly_fee": "1200.00",
            "care_cubed_weekly": "1200.00",
        },
    ]
    audit = run_audit(table_from_records(book))
    kpi = _kpi(audit, "below_median_share_lot_1")
    assert kpi["counts"]["assessed"] == 2
    stats, labels = report._price_stats(audit)
    assert labels == ["Lot 1\n(n=2)"]
    assert stats[0]["whishi"] < 105  # 950.00 of the £915.00 median is 103.8%; the working-age row is not drawn
    html = report.render_report(audit)
    assert "for people aged 65 and over" in html
