"""Derived figures (SPEC §4), computed before any rule fires, in exact integer units."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from engine.money import round_half_up
from engine.rulebook.loader import Band, Rulebook
from engine.rulebook.vocabulary import FIELDS
from engine.validate.placement import Placement

CARE_HOME_FIGURES = (
    "lot",
    "comparable_weekly",
    "benchmark_weekly",
    "over_benchmark_weekly",
    "over_benchmark_percent",
    "gross_weekly_cost",
    "fnc_used_weekly",
    "personal_budget_weekly",
    "top_up_required_weekly",
)
SL_PARTS = ("sl_day_support_weekly", "sl_waking_night_weekly", "sl_sleep_in_weekly")
SUPPORTED_LIVING_FIGURES = ("gross_weekly_cost", *SL_PARTS, "sl_reference_weekly", "sl_over_reference_weekly")


@dataclass
class Derived:
    """Every value a rule may read (fields, derived figures, ``params.<name>``) and what was read to get them."""

    as_at: date
    values: dict[str, Any]
    in_force: Mapping[str, tuple[Any, date | None]]
    band: Band | None = None
    read: dict[str, tuple[Any, date | None]] = field(default_factory=dict)

    def param(self, name: str) -> Any:
        found = self.read[name] = self.in_force[name]
        return found[0]

    @property
    def figures(self) -> tuple[str, ...]:
        names = CARE_HOME_FIGURES if self.values["is_care_home"] else SUPPORTED_LIVING_FIGURES
        return names + (("expected_nhs_share_weekly",) if self.values["s117"] else ())


def derive(placement: Placement, book: Rulebook, as_at: date) -> Derived:
    values: dict[str, Any] = {name: getattr(placement, name) for name in FIELDS}
    values["care_type"] = _care_type(placement, book)
    derived = Derived(as_at, values, book.values_at(as_at))
    is_care_home = placement.service == "care_home"
    values["is_care_home"], values["is_supported_living"] = is_care_home, not is_care_home
    fnc_used = _care_home(placement, book, derived) if is_care_home else 0
    if not is_care_home:
        _supported_living(placement, book, derived)
    _nhs_contributions(placement, book, derived, fnc_used)
    for name, key in _rule_parameters(book, placement.service):
        values[key] = derived.param(name)
    return derived


def _care_type(p: Placement, book: Rulebook) -> str | None:
    """The care type given, else the one of the Lot given (the model requires one of them for a care home)."""
    if p.service != "care_home":
        return None
    if p.care_type is not None:
        return p.care_type
    lot = book.lot(p.lot) if p.lot is not None else None
    return lot.care_type if lot else "nursing"


def _rule_parameters(book: Rulebook, service: str) -> tuple[tuple[str, str], ...]:
    """The parameters the rules for a service read, with their names in a rule's vocabulary."""
    key = ("rule_parameters", service)
    if key not in book.cache:
        names = sorted(
            {name for module in book.modules_for(service) for rule in module.rules for name in rule.parameters}
        )
        book.cache[key] = tuple((name, f"params.{name}") for name in names)
    return book.cache[key]  # type: ignore[no-any-return]


def _care_home(p: Placement, book: Rulebook, d: Derived) -> int | None:
    v = d.values
    care_type = v["care_type"]
    lot = v["lot"] = p.lot if p.lot is not None else book.lot_for(care_type, p.dementia)
    v["is_nursing"], v["is_residential"] = care_type == "nursing", care_type == "residential"
    v["fnc_recorded"] = p.fnc_weekly is not None
    if p.fnc_weekly is not None:
        fnc_used = p.fnc_weekly
    elif v["is_nursing"]:
        fnc_used = d.param("care_homes.fnc_standard_weekly")
    else:
        fnc_used = 0
    v["fnc_used_weekly"] = fnc_used
    core = p.core_weekly_fee or 0
    v["gross_weekly_cost"] = None if fnc_used is None else core + p.one_to_one_weekly + fnc_used + p.other_weekly
    comparable = v["comparable_weekly"] = core - p.top_up_weekly
    benchmark = v["benchmark_weekly"] = d.param(f"care_homes.benchmark.lot_{lot}")
    v["has_benchmark"] = benchmark is not None
    v["over_benchmark_weekly"] = v["over_benchmark_percent"] = v["approval_band"] = None
    if benchmark:
        over = v["over_benchmark_weekly"] = comparable - benchmark
        share = Fraction(over * 100, benchmark)
        # + 0 turns a negative zero (a penny under the median) into 0.00
        v["over_benchmark_percent"] = round_half_up(Decimal(over * 100) / Decimal(benchmark), "0.01") + 0
        bands = d.param("care_homes.approval_bands")
        if over <= 0:
            v["approval_band"] = 0
        elif bands is not None:
            d.band = band_of(share, bands)
            v["approval_band"] = d.band.band
    v["personal_budget_given"] = p.personal_budget_weekly is not None
    budget = p.personal_budget_weekly
    if budget is None:
        candidates = [x for x in (benchmark, p.cheapest_suitable_weekly) if x is not None]
        budget = max(candidates) if candidates else None
    v["personal_budget_weekly"] = budget
    v["top_up_required_weekly"] = None if budget is None else max(0, core - budget)
    v["has_first_party_basis"] = p.first_party_basis is not None
    return fnc_used


def band_of(share: Fraction, bands: tuple[Band, ...]) -> Band:
    """The approval band of a price ``share`` percent over the benchmark (> 0): hit policy first, no gaps (checked
    when the table is loaded)."""
    return next(b for b in bands if share > b.above_percent and (b.up_to_percent is None or share <= b.up_to_percent))


def _supported_living(p: Placement, book: Rulebook, d: Derived) -> None:
    v = d.values
    v["gross_weekly_cost"] = (p.sl_weekly_cost or 0) + p.other_weekly
    day = d.param("supported_living.day_hour_rate")
    night = d.param("supported_living.waking_night_hour_rate")
    sleep_in = d.param("supported_living.sleep_in_night_rate")
    v["has_sl_reference_rates"] = None not in (day, night, sleep_in)
    for name in (*SL_PARTS, "sl_reference_weekly", "sl_over_reference_weekly"):
        v[name] = None
    if v["has_sl_reference_rates"]:
        # hours are hundredths and rates pence: the sum is in hundredths of a penny, rounded half-up once
        parts = (p.sl_day_hours * day, p.sl_waking_night_hours * night, p.sl_sleep_in_nights * 100 * sleep_in)
        for name, part in zip(SL_PARTS, parts):
            v[name] = (part + 50) // 100  # each part shown to the penny; the total is rounded once, from the exact sum
        reference = v["sl_reference_weekly"] = (sum(parts) + 50) // 100
        v["sl_over_reference_weekly"] = (p.sl_weekly_cost or 0) - reference


def _nhs_contributions(p: Placement, book: Rulebook, d: Derived, fnc_used: int | None) -> None:
    v = d.values
    recorded = v["nhs_contribution_recorded"] = p.nhs_contribution_weekly is not None
    contribution = v["nhs_contribution_or_zero_weekly"] = p.nhs_contribution_weekly or 0
    fnc_counts = d.param("isp.fnc_counts_as_nhs_contribution") and bool(fnc_used)
    v["isp_nhs_contribution_weekly"] = (
        contribution + (fnc_used or 0) if fnc_counts else (contribution if recorded else None)
    )
    v["expected_nhs_share_weekly"] = None
    if p.s117:
        council_share = d.param("isp.s117_council_share")
        gross = v["gross_weekly_cost"]
        if council_share is not None and gross is not None:
            v["expected_nhs_share_weekly"] = int(round_half_up((1 - council_share) * gross))
