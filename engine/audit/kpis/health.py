"""The health-funding KPIs, over the placements active at the KPI date, each evaluated at that date: packages
over the ISP threshold with no NHS contribution, the Charging review's NHS recharge KPIs (declared in
``rules/kpis.yaml`` with ``share_of_active``), weekly NHS income against a year before, and the s117 KPIs."""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from engine.audit.kpis.small_numbers import fraction
from engine.audit.views import AtKpiDate
from engine.evaluate.vector import VectorEvaluator
from engine.money import pounds, round_half_up
from engine.rulebook.facts import KPIS_FILE, Kpi
from engine.rulebook.loader import Rulebook
from engine.rulebook.strict_yaml import RulebookError
from engine.validate.batch import ParsedBook, active_at, day_number

MONTHS_IN_A_YEAR = 12  # the calendar, not policy: KPI windows are declared in rules/kpis.yaml


def percent(numerator: int, denominator: int) -> Decimal | None:
    if denominator == 0:
        return None
    return round_half_up(Decimal(numerator * 100) / Decimal(denominator), "0.01")


def gbp(pence: int | None) -> Decimal | None:
    return None if pence is None else pounds(int(pence))


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (the month's last day when it is shorter)."""
    year, month = divmod(day.year * MONTHS_IN_A_YEAR + day.month - 1 - months, MONTHS_IN_A_YEAR)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def window_of(spec: Kpi) -> int:
    if spec.window_months is None:
        raise RulebookError(KPIS_FILE, None, f"KPI {spec.id} needs window_months")
    return spec.window_months


def health_kpis(book: Rulebook, parsed: ParsedBook, at: AtKpiDate, small: int | None) -> list[dict[str, Any]]:
    """``small``: the count below which a percentage is a small number (``engine.audit.kpis.small_numbers``)."""
    specs = book.kpis
    kpis = [_isp(specs["isp_no_nhs_contribution"], at)]
    for spec in specs.values():
        if spec.share_of_active is not None:
            kpis.append(_share_of_active(spec, parsed, at, small))
    kpis.append(_nhs_income(specs["nhs_weekly_income"], parsed, at))
    s117 = at.active & parsed.cols["s117"].v & parsed.cols["s117"].ok
    kpis.append(_s117_share(specs["s117_council_share"], at, s117, small))
    kpis.append(_s117_reviewed(specs["s117_reviewed"], parsed, at, s117, small))
    kpis.append(_s117_run_rate(specs["s117_council_run_rate"], at, s117))
    return kpis


def _isp(spec: Kpi, at: AtKpiDate) -> dict[str, Any]:
    """Exactly the rows of the ``isp_no_nhs_contribution`` list."""
    limit, flagged = at.threshold, at.isp
    gross = at.values["gross_weekly_cost"]
    value = int(flagged.sum()) if limit is not None else None
    return {
        **spec.head(value, kpi_date=at.day, threshold=gbp(limit) if limit else "none"),
        "value": value,
        "unit": "count",
        "counts": {
            "active_at_kpi_date": int(at.active.sum()),
            "packages_over_threshold": int(at.isp_over.sum()),
            "no_nhs_contribution": int(flagged.sum()),
            "contribution_zero": int(at.isp_zero.sum()),
            "contribution_not_recorded": int(at.isp_unrecorded.sum()),
        },
        "pounds_weekly": {
            "gross_of_flagged": gbp(int(gross.v[flagged].sum())),
            "gross_over_threshold": gbp(int(gross.v[at.isp_over].sum())),
        },
    }


def _share_of_active(spec: Kpi, parsed: ParsedBook, at: AtKpiDate, small: int | None) -> dict[str, Any]:
    assert spec.share_of_active is not None
    of, counted = spec.share_of_active
    values = at.values
    population = at.active & VectorEvaluator.mask(of, values, parsed.n)
    hit = population & VectorEvaluator.mask(counted, values, parsed.n)
    value = percent(int(hit.sum()), int(population.sum()))
    contribution = values["nhs_contribution_or_zero_weekly"].v
    return {
        **spec.head(value, kpi_date=at.day),
        "value": value,
        "unit": "percent",
        "counts": {
            "people": int(population.sum()),
            "counted": int(hit.sum()),
            "not_counted": int((population & ~hit).sum()),
        },
        "pounds_weekly": {"nhs_contribution_total": gbp(int(contribution[population].sum()))},
        **fraction(int(hit.sum()), int(population.sum()), small),
    }


def _nhs_income(spec: Kpi, parsed: ParsedBook, at: AtKpiDate) -> dict[str, Any]:
    contribution = parsed.cols["nhs_contribution_weekly"]
    income = np.where(contribution.ok, contribution.v, 0)
    year_before = months_before(at.day, window_of(spec))
    before = active_at(parsed, year_before)
    now_total, before_total = int(income[at.active].sum()), int(income[before].sum())
    return {
        **spec.head(now_total - before_total, kpi_date=at.day, year_before=year_before),
        "value": gbp(now_total),
        "unit": "GBP/week",
        "counts": {
            "placements_with_income": int((at.active & (income > 0)).sum()),
            "placements_with_income_a_year_before": int((before & (income > 0)).sum()),
        },
        "pounds_weekly": {
            "at_kpi_date": gbp(now_total),
            "a_year_before": gbp(before_total),
            "change": gbp(now_total - before_total),
        },
    }


def _s117_share(spec: Kpi, at: AtKpiDate, s117: np.ndarray, small: int | None) -> dict[str, Any]:
    values = at.values
    gross, council = values["gross_weekly_cost"], values["s117_council_funding_weekly"]
    rows = s117 & gross.ok & council.ok
    total, council_total = int(gross.v[rows].sum()), int(council.v[rows].sum())
    value = percent(council_total, total)
    return {
        **spec.head(value, kpi_date=at.day),
        "value": value,
        "unit": "percent",
        "counts": {
            "people": int(rows.sum()),
            "with_an_agreed_split": int((rows & values["s117_council_share"].ok).sum()),
            "nhs_contribution_not_recorded": int((rows & ~values["nhs_contribution_recorded"].v).sum()),
        },
        "pounds_weekly": {
            "gross_total": gbp(total),
            "council_share": gbp(council_total),
            "nhs_share": gbp(total - council_total),
        },
        **fraction(gbp(council_total), gbp(total), small, people=int(rows.sum())),
    }


def _s117_reviewed(spec: Kpi, parsed: ParsedBook, at: AtKpiDate, s117: np.ndarray, small: int | None) -> dict[str, Any]:
    review = parsed.cols["s117_last_review_date"]
    window_start = months_before(at.day, window_of(spec))
    recent = s117 & review.ok & (review.v > day_number(window_start)) & (review.v <= day_number(at.day))
    value = percent(int(recent.sum()), int(s117.sum()))
    return {
        **spec.head(value, kpi_date=at.day, window_start=window_start),
        "value": value,
        "unit": "percent",
        "counts": {
            "people": int(s117.sum()),
            "reviewed_in_window": int(recent.sum()),
            "review_older": int((s117 & review.ok & ~recent).sum()),
            "no_review_recorded": int((s117 & ~review.ok).sum()),
        },
        "pounds_weekly": {},
        **fraction(int(recent.sum()), int(s117.sum()), small),
    }


def _s117_run_rate(spec: Kpi, at: AtKpiDate, s117: np.ndarray) -> dict[str, Any]:
    council = at.values["s117_council_funding_weekly"]
    rows = s117 & council.ok
    total = int(council.v[rows].sum())
    value = gbp(total)
    return {
        **spec.head(value, kpi_date=at.day),
        "value": value,
        "unit": "GBP/week",
        "counts": {"people": int(rows.sum())},
        "pounds_weekly": {"council_run_rate": value},
    }
