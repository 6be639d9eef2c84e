"""The Delivery Plan KPIs, each with its definition, target, value, counts and £ a week.

Computed from exact integers (pence, counts); percentages are shown rounded half-up to 2 dp. The wording,
source and target of each KPI are policy and come from ``rules/kpis.yaml`` (``Rulebook.kpis``); thresholds come
from the rules' parameters (ISP threshold, minimum age) and the care categories from their table. This module holds
only how each KPI is counted; the health-funding KPIs (ISP, NHS recharges, s117) are in ``kpis_health``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.audit.kpis.activity import activity_tables
from engine.audit.kpis.at_kpi_date import AtKpiDateKpis, kpis_at_kpi_date
from engine.audit.kpis.health import MONTHS_IN_A_YEAR, months_before
from engine.audit.kpis.health import gbp as _gbp
from engine.audit.kpis.health import percent as _percent
from engine.audit.kpis.providers import provider_kpis
from engine.audit.kpis.services import apart, by_service, independent, permanent
from engine.audit.kpis.small_numbers import fraction, small_number_below, small_number_on
from engine.audit.views import AtKpiDate, AuditViews
from engine.evaluate.vector import SEVERITY, VectorResult
from engine.language.vocabulary import ACTIONS, ENUMS
from engine.money import round_half_up
from engine.rulebook.facts import Kpi
from engine.rulebook.loader import Rulebook
from engine.validate.batch import Col, ParsedBook, day_number
from engine.validate.register import ProviderRegister

if TYPE_CHECKING:
    from engine.audit.books.block_beds import BlockBooking


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    @property
    def previous(self) -> Period:
        """The period of the same length just before: the same number of calendar months when the period is
        whole months (a quarter's is the quarter before it, 12 months' the 12 months before), else as many days."""
        end = self.start - timedelta(days=1)
        months = self.months
        if months is None:
            return Period(end - (self.end - self.start), end)
        if self.start.day == 1:
            return Period(months_before(self.start, months), end)
        return Period(months_before(end, months) + timedelta(days=1), end)

    @property
    def months(self) -> int | None:
        """How many calendar months the period is, when it is whole months: from the first of a month to the last
        day of a month, or from the day after a date to the same date some months later."""
        after = self.end + timedelta(days=1)
        count = (after.year - self.start.year) * MONTHS_IN_A_YEAR + after.month - self.start.month
        if count < 1:
            return None
        if self.start.day == 1 and after.day == 1:
            return count
        count = (self.end.year - self.start.year) * MONTHS_IN_A_YEAR + self.end.month - self.start.month
        if count >= 1 and months_before(self.end, count) + timedelta(days=1) == self.start:
            return count
        return None

    def mask(self, days: np.ndarray) -> np.ndarray:
        return (days >= day_number(self.start)) & (days <= day_number(self.end))


def default_period(end: date, start: date | None = None) -> Period:
    """The 12 months to ``end`` (inclusive), unless a start is given."""
    if start is None:
        try:
            start = end.replace(year=end.year - 1) + timedelta(days=1)
        except ValueError:  # 29 February
            start = end.replace(year=end.year - 1, day=28) + timedelta(days=1)
    return Period(start, end)


def _mean_pence(values: np.ndarray) -> int | None:
    if len(values) == 0:
        return None
    return int(round_half_up(Decimal(int(values.sum())) / Decimal(len(values))))


@dataclass(frozen=True)
class KpisAhead:
    """What the KPIs read of the placements at their start dates and of the rows' own evaluation only, with the
    parameters in force at the period's end: nothing of the figures at the KPI date. ``run_audit`` computes them
    while the KPI date's figures are still being made on its other core."""

    minimum_age: int | None
    care_homes: list[dict[str, Any]]  # below the median, overall and by care category; the mean prices
    supported_living: dict[str, Any]  # new supported living services within the reference rates
    breakdowns: dict[str, Any]  # the rows' outcomes: overall, by module, care category and provider


def kpis_ahead(views: AuditViews, result: VectorResult, period: Period) -> KpisAhead:
    """``compute_kpis``' parts that do not read the KPI date's figures."""
    assert views.values is not None, "the rows are evaluated before their KPIs"
    care_homes, supported_living = _kpis_at_start(views, period)
    breakdowns = _breakdowns(views.book, views.parsed, views.values, result)
    return KpisAhead(at_or_over_minimum_age(views, period)[1], care_homes, supported_living, breakdowns)


def compute_kpis(
    views: AuditViews,
    result: VectorResult,
    period: Period,
    at_kpi: AtKpiDateKpis | None = None,
    providers: ProviderRegister | None = None,
    block_beds: Sequence[BlockBooking] | None = None,
    ahead: KpisAhead | None = None,
) -> dict[str, Any]:
    """Every KPI as a JSON-ready dict (Decimals for money and percentages; see ``engine.decision.dumps``), from
    the audit's views of the book (its rows evaluated at their own dates: ``result``), with the breakdowns of
    outcomes and the activity tables. ``ahead``: ``kpis_ahead`` of the same views, result and period, if made."""
    assert views.values is not None, "the rows are evaluated before their KPIs"
    at_kpi = at_kpi or kpis_at_kpi_date(views, period.end)
    ahead = ahead or kpis_ahead(views, result, period)
    return {
        "period": {
            "start": period.start,
            "end": period.end,
            "previous_start": period.previous.start,
            "previous_end": period.previous.end,
        },
        "minimum_age": ahead.minimum_age,
        "small_number_below": small_number_below(at_kpi.at),
        "kpis": kpi_list(views, period, at_kpi, providers, block_beds, ahead),
        "breakdowns": {**ahead.breakdowns, "by_service": by_service(views.book, at_kpi.at)},
        "activity": activity_tables(views, period.start, period.end, at_kpi.at),
    }


def kpi_list(
    views: AuditViews,
    period: Period,
    at_kpi: AtKpiDateKpis,
    providers: ProviderRegister | None = None,
    block_beds: Sequence[BlockBooking] | None = None,
    ahead: KpisAhead | None = None,
) -> list[dict[str, Any]]:
    """The KPIs of one period: the new placements' at their start dates, the others at the period's end (the KPI
    date, ``at_kpi``); those of the provider register and the block-bed file when they are given. ``ahead``:
    ``kpis_ahead`` of the same period, if made (its KPIs at the start dates are taken from it)."""
    made = (ahead.care_homes, ahead.supported_living) if ahead is not None else _kpis_at_start(views, period)
    care_homes, supported_living = made
    define = views.book.kpis
    at = at_kpi.at  # a run rate counts the services active at the KPI date, each as it stands then
    run_rate = _sl_run_rate(define["sl_weekly_run_rate"], at, at.active & at.values["is_supported_living"].v)
    return [
        *care_homes,
        *at_kpi.health,
        supported_living,
        run_rate,
        *provider_kpis(views, at, period, providers, block_beds),
        *at_kpi.charging,
    ]


def _kpis_at_start(views: AuditViews, period: Period) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The new placements' KPIs, each placement at its start date: the care homes' (below the median, overall and
    by care category; the mean prices) and supported living's within the reference rates."""
    book, parsed = views.book, views.parsed
    start = parsed.cols["start_date"].v
    # new placements are each evaluated at their start date
    at_start = views.at_start()
    valid = parsed.valid
    care_home = valid & at_start["is_care_home"].v
    supported = valid & at_start["is_supported_living"].v
    older, minimum_age = at_or_over_minimum_age(views, period)
    new, previous = period.mask(start), period.previous.mask(start)
    small = small_number_on(views, period.end)  # in force at the KPI date, the period's end
    define = book.kpis
    below = define["below_median_share"]
    counted = below_median_rows(views, period)
    # new placements: permanent stays only; benchmark KPIs: independent providers only (the others counted apart)
    new_care_homes = valid & at_start["is_care_home"].v & new & older
    categories = book.categories
    words = categories.benchmark_words()[1]
    left_out = apart(parsed, new_care_homes, True)
    kpis = [_below_median(below, at_start, counted, categories.all_scope, "", words, small, left_out)]
    lot = at_start["lot"].v
    for category in categories.items:  # one KPI per care category, as the rulebook declares them
        rows = counted & (lot == category.id)
        of_lot = apart(parsed, new_care_homes & (lot == category.id), True)
        scope, suffix = category.scope, f"_lot_{category.id}"
        kpis.append(_below_median(below, at_start, rows, scope, suffix, category.kind_short, small, of_lot))
    care_home &= permanent(parsed)
    groups = {"all": care_home, "at_or_over_minimum_age": care_home & older, "under_minimum_age": care_home & ~older}
    for care in ENUMS["care_type"]:
        of_type = at_start["care_type"].v == ENUMS["care_type"].index(care)
        for mean in define.values():
            if mean.ages is not None:
                population = groups[mean.ages] & of_type
                kpis.append(_mean_price(mean, at_start, population, new, previous, care, minimum_age, period))
    new_services = supported & new
    sl_counted = new_services & permanent(parsed) & independent(parsed)
    sl_apart = apart(parsed, new_services, True)
    return kpis, _sl_within(define["sl_within_reference_share"], at_start, sl_counted, small, sl_apart)


def at_or_over_minimum_age(views: AuditViews, period: Period) -> tuple[np.ndarray, int | None]:
    """The rows at or over the pricing strategy's minimum age in force at the period's end, and that age."""
    minimum = views.param_at("care_homes.minimum_age", period.end)
    minimum_age = int(minimum.v[0]) if minimum.ok[0] else None
    return np.asarray(views.parsed.cols["age"].v >= (minimum_age or 0)), minimum_age


def below_median_rows(views: AuditViews, period: Period) -> np.ndarray:
    """The rows the below-median KPI counts (with the figures at the start dates): care homes starting in the
    period for people at or over the minimum age, permanent stays with independent providers (SPEC §16.1). The
    report's chart by care category draws these rows too."""
    older, _ = at_or_over_minimum_age(views, period)
    parsed, at_start = views.parsed, views.at_start()
    start = parsed.cols["start_date"].v
    rows: np.ndarray = parsed.valid & at_start["is_care_home"].v & period.mask(start) & older
    counted: np.ndarray = rows & permanent(parsed) & independent(parsed)
    return counted


def _within(
    cost: np.ndarray, limit: Col, population: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Any]:
    """Of the population's rows (picked out once, so each count reads those alone): the costs, those with a limit
    in force, those at or below it, the pence above it; and the % within."""
    index = np.flatnonzero(population)
    costs, assessed, limits = cost[index], limit.ok[index], limit.v[index]
    within = assessed & (costs <= limits)
    above = np.where(assessed, np.maximum(costs - limits, 0), 0)
    return costs, assessed, within, above, _percent(int(within.sum()), int(assessed.sum()))


def _below_median(
    kpi: Kpi,
    v: Mapping[str, Col],
    population: np.ndarray,
    scope: str,
    suffix: str,
    words: str,
    below_count: int | None,
    left_out: dict[str, int],
) -> dict[str, Any]:
    """The share of ``population`` at or below its benchmark; ``{scope}`` and ``{benchmark}`` (the benchmark
    kind's words) fill the KPI's wording, ``suffix`` follows its id; ``below_count`` marks a small number."""
    comparable, assessed, below, over, value = _within(v["comparable_weekly"].v, v["benchmark_weekly"], population)
    return {
        **kpi.head(value, suffix, scope=scope, benchmark=words),
        "value": value,
        "unit": "percent",
        "counts": {
            "new_placements": len(comparable),
            "assessed": int(assessed.sum()),
            "at_or_below_median": int(below.sum()),
            "above_median": int((assessed & ~below).sum()),
            "no_median_in_force": int((~assessed).sum()),
            **left_out,
        },
        "pounds_weekly": {
            "comparable_total": _gbp(int(comparable[assessed].sum())),
            "above_median_total": _gbp(int(over.sum())),
        },
        **fraction(int(below.sum()), int(assessed.sum()), below_count),
    }


def _mean_price(
    kpi: Kpi,
    v: Mapping[str, Col],
    population: np.ndarray,
    new: np.ndarray,
    previous: np.ndarray,
    care: str,
    minimum_age: int | None,
    period: Period,
) -> dict[str, Any]:
    comparable = v["comparable_weekly"].v
    now, before = _mean_pence(comparable[population & new]), _mean_pence(comparable[population & previous])
    change = None if now is None or before is None else now - before
    previous_start, previous_end = period.previous.start, period.previous.end
    return {
        **kpi.head(
            change,
            f"_{care}",
            care=care,
            minimum_age=minimum_age or "none in force",
            previous_start=previous_start,
            previous_end=previous_end,
        ),
        "value": _gbp(now),
        "unit": "GBP/week",
        "counts": {"this_period": int((population & new).sum()), "previous_period": int((population & previous).sum())},
        "pounds_weekly": {"mean_this_period": _gbp(now), "mean_previous_period": _gbp(before), "change": _gbp(change)},
    }


def _sl_within(
    kpi: Kpi, v: Mapping[str, Col], population: np.ndarray, below: int | None, left_out: dict[str, int]
) -> dict[str, Any]:
    cost, assessed, within, above, value = _within(v["sl_weekly_cost"].v, v["sl_reference_weekly"], population)
    return {
        **kpi.head(value),
        "value": value,
        "unit": "percent",
        "counts": {
            "new_services": len(cost),
            "assessed": int(assessed.sum()),
            "within_reference": int(within.sum()),
            "above_reference": int((assessed & ~within).sum()),
            "no_rates_in_force": int((~assessed).sum()),
            **left_out,
        },
        "pounds_weekly": {
            "cost_total": _gbp(int(cost[assessed].sum())),
            "above_reference_total": _gbp(int(above.sum())),
        },
        **fraction(int(within.sum()), int(assessed.sum()), below),
    }


def _sl_run_rate(kpi: Kpi, at: AtKpiDate, population: np.ndarray) -> dict[str, Any]:
    gross = at.values["gross_weekly_cost"].v[population]
    return {
        **kpi.head(_gbp(int(gross.sum())), kpi_date=at.day),
        "value": _gbp(int(gross.sum())),
        "unit": "GBP/week",
        "counts": {"services": int(population.sum())},
        "pounds_weekly": {"run_rate": _gbp(int(gross.sum()))},
    }


def module_outcomes(book: Rulebook, parsed: ParsedBook, result: VectorResult) -> dict[str, dict[str, int]]:
    """Per module, each row's most severe finding among that module's rules ("no finding" when none fired).

    Counted in one ``bincount`` per module of each valid row's service and finding (a row not valid in a bucket
    of its own), then summed over the module's services: no pass to pick the module's rows out."""
    services, levels = len(ENUMS["service"]), len(ACTIONS) + 1  # levels: "no finding", then each action
    service = parsed.cols["service"].v
    if service.dtype.kind != "i" or (len(service) and (int(service.min()) < 0 or int(service.max()) >= services)):
        service = np.where(np.isin(service, range(services)), service, services)  # not a service: in no module
    bucket = np.where(parsed.valid, service, services).astype(np.intp) * levels
    counts: dict[str, dict[str, int]] = {}
    for module in book.modules:
        worst = np.zeros(parsed.n, np.int8)  # 1 + the most severe rank among the module's rules that fired, or 0
        for k, rule in enumerate(book.rules):
            if rule.module == module.name and rule.action != "info":
                rank = np.int8(SEVERITY[rule.action] + 1)
                np.maximum(worst, result.fired[:, k].view(np.int8) * rank, out=worst)
        table = np.bincount(bucket + worst, minlength=(services + 1) * levels).reshape(services + 1, levels)
        codes = sorted({ENUMS["service"].index(s) for s in module.services})
        labels = table[codes].sum(axis=0)
        counts[module.name] = {
            ("no finding" if code == 0 else ACTIONS[code - 1]): int(count) for code, count in enumerate(labels) if count
        }
    return counts


def _breakdowns(book: Rulebook, parsed: ParsedBook, v: Mapping[str, Col], result: VectorResult) -> dict[str, Any]:
    valid = parsed.valid
    outcome = result.outcome
    lots = v["lot"]
    by_lot: dict[str, dict[str, int]] = {}
    for category in book.categories.items:
        rows = valid & lots.ok & (lots.v == category.id)
        by_lot[category.scope] = _count_outcomes(outcome[rows])
    by_lot["supported living"] = _count_outcomes(outcome[valid & v["is_supported_living"].v])
    return {
        "outcomes": _count_outcomes(outcome[valid]),
        "by_module": module_outcomes(book, parsed, result),
        "by_lot": by_lot,
        "by_provider": _by_provider(parsed, outcome),
        "not_decided": {"rows": int((~valid).sum()), "reasons": _reasons(parsed)},
    }


def _count_outcomes(codes: np.ndarray) -> dict[str, int]:
    counts = np.bincount(codes, minlength=len(ACTIONS))
    return {ACTIONS[k]: int(counts[k]) for k in range(len(ACTIONS)) if ACTIONS[k] != "info"}


def _by_provider(parsed: ParsedBook, outcome: np.ndarray) -> dict[str, dict[str, int]]:
    if parsed.provider is None:
        return {}
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(parsed.provider)
    names = encoded.dictionary.to_pylist() + ["(no provider)"]
    codes = np.asarray(encoded.indices.fill_null(len(names) - 1), dtype=np.int64)
    valid = parsed.valid
    flat = np.bincount(codes[valid] * len(ACTIONS) + outcome[valid], minlength=len(names) * len(ACTIONS))
    table = flat.reshape(len(names), len(ACTIONS))
    order = np.argsort(-table.sum(axis=1), kind="stable")
    return {
        names[k]: {ACTIONS[a]: int(table[k, a]) for a in range(len(ACTIONS)) if ACTIONS[a] != "info"}
        for k in order
        if table[k].sum()
    }


def _reasons(parsed: ParsedBook) -> dict[str, int]:
    reasons: Counter[str] = Counter()
    for fields in parsed.errors.values():
        for name, messages in fields.items():
            for message in messages:
                reasons[f"{name}: {message}"] += 1
    return dict(reasons.most_common())
