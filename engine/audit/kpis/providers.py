"""The Delivery Plan KPIs a placement book alone cannot answer (SPEC §17): CQC ratings from the provider
register, sourcing within timescale, block-bed occupancy, the mean price of every placement active, and the
supported-living records. A KPI that needs the register or the block-bed file and was not given it is "not
available", with the reason, never a 0%."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from engine.audit.kpis.health import gbp, months_before, percent
from engine.audit.kpis.health import window_of as window
from engine.audit.kpis.services import permanent
from engine.audit.kpis.small_numbers import fraction, small_number_below
from engine.audit.views import AtKpiDate, AuditViews, FiguresAt
from engine.language.vocabulary import ENUMS
from engine.money import round_half_up
from engine.rulebook.facts import Kpi
from engine.validate.batch import ParsedBook, active_at, day_number
from engine.validate.register import ProviderRegister

if TYPE_CHECKING:
    from engine.audit.books.block_beds import BlockBooking
    from engine.audit.kpis.compute import Period

GOOD = ("outstanding", "good")
NOT_INSPECTED = "not_yet_inspected"
NEEDS_REGISTER = "needs the provider register (--providers, or upload it beside the book)"
NEEDS_BLOCK_BEDS = "needs the block-bed file (--block-beds, or upload it beside the book)"
SOURCED = ("care_home", "supported_living")  # the services whose sourcing the Delivery Plan's KPIs count
CONTRACTED = ("contracted", "managed_budget", "self_directed")


def provider_kpis(
    views: AuditViews,
    at: AtKpiDate,
    period: Period,
    register: ProviderRegister | None,
    blocks: Sequence[BlockBooking] | None,
) -> list[dict[str, Any]]:
    specs, parsed = views.book.kpis, views.parsed
    supported = at.active & np.asarray(at.values["is_supported_living"].v, bool)
    kpis = [
        _cqc_homes(specs["cqc_nursing_good_share"], register, "nursing"),
        _cqc_homes(specs["cqc_residential_good_share"], register, "residential"),
        _cqc_supported_living(specs["cqc_sl_good_share"], register, at, parsed, supported),
        _sourced(specs["care_home_sourced_in_time"], views, period, "care_home"),
        _sourced(specs["sl_sourced_in_time"], views, period, "supported_living"),
        _block_beds(specs["block_beds_occupied"], blocks, at, parsed),
    ]
    for care in ENUMS["care_type"]:
        kpis.append(_mean_all_active(specs["mean_price_all_active"], views, at, care))
    kpis += _supported_living_records(specs, parsed, at, supported)
    below = small_number_below(at)  # a share of fewer than this many is marked a small number (SPEC §19)
    for kpi in kpis:
        if "denominator" in kpi:
            kpi.update(fraction(kpi["numerator"], kpi["denominator"], below))
    return kpis


def not_available(spec: Kpi, reason: str, unit: str = "percent", **fill: Any) -> dict[str, Any]:
    return {
        **spec.head(None, **fill),
        "value": None,
        "unit": unit,
        "counts": {},
        "pounds_weekly": {},
        "not_available": reason,
    }


def _share(
    spec: Kpi, hit: int, of: int, counts: dict[str, int], pounds: dict[str, Any] | None = None, **fill: Any
) -> dict[str, Any]:
    value = percent(hit, of)
    return {
        **spec.head(value, **fill),
        "value": value,
        "unit": "percent",
        "counts": counts,
        "pounds_weekly": pounds or {},
        "numerator": hit,
        "denominator": of,
    }


def _cqc_homes(spec: Kpi, register: ProviderRegister | None, home_type: str) -> dict[str, Any]:
    if register is None:
        return not_available(spec, NEEDS_REGISTER)
    homes = [p for p in register.providers.values() if p.in_area and p.home_type == home_type]
    inspected = [p for p in homes if p.cqc_rating is not None and p.cqc_rating != NOT_INSPECTED]
    good = sum(p.cqc_rating in GOOD for p in inspected)
    counts = {"homes_in_area": len(homes), "inspected": len(inspected), "outstanding_or_good": good}
    return _share(spec, good, len(inspected), counts)


def _cqc_supported_living(
    spec: Kpi, register: ProviderRegister | None, at: AtKpiDate, parsed: ParsedBook, supported: np.ndarray
) -> dict[str, Any]:
    if register is None:
        return not_available(spec, NEEDS_REGISTER, kpi_date=at.day)
    with_active = {key for key in provider_ids(parsed, np.flatnonzero(supported)) if key}
    services = [p for key in sorted(with_active) if (p := register.get(key)) is not None and p.on_framework(at.day)]
    inspected = [p for p in services if p.cqc_rating is not None and p.cqc_rating != NOT_INSPECTED]
    good = sum(p.cqc_rating in GOOD for p in inspected)
    counts = {
        "services_with_active_placements": len(services),
        "inspected": len(inspected),
        "outstanding_or_good": good,
        "providers_not_in_register": sum(register.get(key) is None for key in with_active),
    }
    return _share(spec, good, len(inspected), counts, kpi_date=at.day)


def provider_ids(parsed: ParsedBook, rows: np.ndarray) -> list[str | None]:
    """These rows' provider_id as given (trimmed), None where none is (only these rows become Python strings)."""
    if parsed.provider_id is None:
        return [None] * len(rows)
    ids: list[str | None] = parsed.provider_id.take(pa.array(rows, pa.int64())).to_pylist()
    return ids


SOURCING_FIGURES = ("sourcing_target_days", "sourced_within_timescale", "sourcing_recorded")  # what it reads


def sourced_late(views: AuditViews, period: Period, service: str) -> tuple[np.ndarray, np.ndarray]:
    """New permanent placements of the service with both sourcing dates and a target in force at their start date,
    and of those the ones sourced within it (the figures at each row's start date); temporary and respite stays
    are counted apart (SPEC §16.1)."""
    parsed, at_start = views.parsed, views.at_start()
    start = parsed.cols["start_date"].v
    of_service = parsed.valid & (parsed.cols["service"].v == ENUMS["service"].index(service)) & permanent(parsed)
    target, within, recorded = (at_start[name] for name in SOURCING_FIGURES)
    assessed = of_service & period.mask(start) & recorded.v & target.ok
    return assessed, assessed & within.ok & within.v


def _sourced(spec: Kpi, views: AuditViews, period: Period, service: str) -> dict[str, Any]:
    parsed = views.parsed
    start = parsed.cols["start_date"].v
    every = parsed.valid & (parsed.cols["service"].v == ENUMS["service"].index(service)) & period.mask(start)
    new = every & permanent(parsed)
    assessed, within = sourced_late(views, period, service)
    both = views.at_start()["sourcing_recorded"].v
    counts = {
        "new_placements": int(new.sum()),
        "assessed": int(assessed.sum()),
        "within_timescale": int(within.sum()),
        "late": int((assessed & ~within).sum()),
        "dates_not_recorded": int((new & ~both).sum()),
        "temporary_or_respite_apart": int((every & ~new).sum()),
    }
    return _share(spec, int(within.sum()), int(assessed.sum()), counts)


def occupancy(blocks: Sequence[BlockBooking], at: AtKpiDate, parsed: ParsedBook) -> list[dict[str, Any]]:
    """Per provider with beds active and in payment at the KPI date: beds, occupied, empty, £ a week of the
    empty beds (at each block's price; None when a block with empty beds gives no price)."""
    paid = [b for b in blocks if b.in_payment and b.active_at(at.day)]
    if not paid:
        return []
    booked = at.active & parsed.cols["block_booked"].v & parsed.cols["block_booked"].ok
    placed: dict[str, int] = {}
    for key in provider_ids(parsed, np.flatnonzero(booked)):
        if key:
            placed[key] = placed.get(key, 0) + 1
    rows = []
    for provider_id in dict.fromkeys(b.provider_id for b in paid):
        mine = [b for b in paid if b.provider_id == provider_id]
        beds = sum(b.beds for b in mine)
        occupied = min(beds, placed.get(provider_id, 0))
        empty = beds - occupied
        cost: int | None = 0
        left = empty  # the empty beds are taken from the dearest block first: the £ shown is never understated
        for block in sorted(mine, key=lambda b: -(b.weekly_price or 0)):
            take = min(left, block.beds)
            left -= take
            if take and block.weekly_price is None:
                cost = None
            elif cost is not None:
                cost += take * (block.weekly_price or 0)
        rows.append(
            {"provider_id": provider_id, "beds": beds, "occupied": occupied, "empty": empty, "empty_weekly": cost}
        )
    return rows


def _block_beds(spec: Kpi, blocks: Sequence[BlockBooking] | None, at: AtKpiDate, parsed: ParsedBook) -> dict[str, Any]:
    if blocks is None:
        return not_available(spec, NEEDS_BLOCK_BEDS, kpi_date=at.day)
    rows = occupancy(blocks, at, parsed)
    beds, occupied = sum(r["beds"] for r in rows), sum(r["occupied"] for r in rows)
    costs = [r["empty_weekly"] for r in rows if r["empty"]]
    empty_cost = None if any(c is None for c in costs) else sum(costs)
    counts = {"beds_in_payment": beds, "occupied": occupied, "empty": beds - occupied, "providers": len(rows)}
    return _share(spec, occupied, beds, counts, {"empty_beds": gbp(empty_cost)}, kpi_date=at.day)


def _mean(values: np.ndarray) -> int | None:
    return None if len(values) == 0 else int(round_half_up(Decimal(int(values.sum())) / Decimal(len(values))))


MEAN_FIGURES = ("care_type", "is_care_home", "comparable_weekly")


def _mean_all_active(spec: Kpi, views: AuditViews, at: AtKpiDate, care: str) -> dict[str, Any]:
    parsed = views.parsed
    before_day = months_before(at.day, window(spec))
    # a year before: the few figures this KPI reads, by the audit's own evaluator (no whole evaluation)
    before = FiguresAt(views.evaluator, parsed, np.full(parsed.n, day_number(before_day), np.int64), MEAN_FIGURES)
    code = ENUMS["care_type"].index(care)

    def rows(active: np.ndarray, values: Mapping[str, Any]) -> np.ndarray:
        care_type, home = values["care_type"], values["is_care_home"]
        chosen: np.ndarray = active & home.v & care_type.ok & (care_type.v == code)
        return np.asarray(values["comparable_weekly"].v[chosen])

    now, then = rows(at.active, at.values), rows(active_at(parsed, before_day), before)
    mean_now, mean_then = _mean(now), _mean(then)
    change = None if mean_now is None or mean_then is None else mean_now - mean_then
    return {
        **spec.head(change, f"_{care}", care=care, kpi_date=at.day, year_before=before_day),
        "value": gbp(mean_now),
        "unit": "GBP/week",
        "counts": {"active_at_kpi_date": len(now), "active_a_year_before": len(then)},
        "pounds_weekly": {"mean_now": gbp(mean_now), "mean_a_year_before": gbp(mean_then), "change": gbp(change)},
    }


def _supported_living_records(
    specs: dict[str, Kpi], parsed: ParsedBook, at: AtKpiDate, supported: np.ndarray
) -> list[dict[str, Any]]:
    cols = parsed.cols
    gross = at.values["gross_weekly_cost"].v
    review = cols["sl_service_review_date"]
    reviewed = supported & review.ok & (review.v <= day_number(at.day))
    contract = cols["sl_contract_type"]
    contracted = supported & contract.ok & np.isin(contract.v, [ENUMS["sl_contract_type"].index(c) for c in CONTRACTED])
    tenancy = cols["sl_tenancy_agreement"]
    tenancy_names = ENUMS["sl_tenancy_agreement"]
    declined = supported & tenancy.ok & (tenancy.v == tenancy_names.index("declined"))
    asked = supported & ~declined
    agreed = asked & tenancy.ok & (tenancy.v == tenancy_names.index("true"))
    affordable_col = cols["sl_affordable_accommodation"]
    affordable = supported & affordable_col.ok & affordable_col.v
    out = []
    for spec_id, hit, population, extra in (
        ("sl_service_reviews_completed", reviewed, supported, {}),
        ("sl_appropriately_contracted", contracted, supported, {"not_recorded": int((supported & ~contract.ok).sum())}),
        ("sl_tenancy_agreement", agreed, asked, {"declined_consent": int(declined.sum())}),
        (
            "sl_affordable_accommodation",
            affordable,
            supported,
            {"not_recorded": int((supported & ~affordable_col.ok).sum())},
        ),
    ):
        counts = {
            "services": int(population.sum()),
            "counted": int(hit.sum()),
            "not_counted": int((population & ~hit).sum()),
            **extra,
        }
        pounds = {"weekly_cost_not_counted": gbp(int(gross[population & ~hit].sum()))}
        out.append(_share(specs[spec_id], int(hit.sum()), int(population.sum()), counts, pounds, kpi_date=at.day))
    return out
