"""The annual fee review (SPEC §18): uplift categories of benchmarks and reference rates by a percentage from a
date, and what that costs on the active book, what it does to the KPI shares, and the headroom left in a budget.

Each category's new value is the value in force on the date × (1 + PCT/100), rounded half-up to the penny
(``engine.editions.whatif.uplifted_values``). The book is audited twice through ``run_audit``, without and with
those values as what-if overrides, every row at the review's date (or ``as_at``). A placement's price moves
with its rate: its added weekly cost is the rise in its benchmark cost (its care category's benchmark for a care home,
the cost of its hours at the reference rates for supported living), each as the rulebook's figures compute it,
over the placements active on the date.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from engine.audit.kpis.health import gbp, percent
from engine.audit.result import AuditResult
from engine.audit.run import run_audit
from engine.editions.whatif import parse_uplifts, uplift_categories, uplifted_values
from engine.language.vocabulary import ENUMS
from engine.money import pounds
from engine.rulebook.loader import Rulebook, load_rulebook
from engine.validate.batch import active_at

WEEKS_A_YEAR = 52  # annual cost = weekly × 52 (no rulebook figure or SPEC section gives another)
# by service: the cost at the benchmark or reference rates, and how far the price is above it
PRICED_AT = {"care_home": "benchmark_weekly", "supported_living": "sl_reference_weekly"}
ABOVE = {"care_home": "over_benchmark_weekly", "supported_living": "sl_over_reference_weekly"}


def row_figure(audit: AuditResult, by_service: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Each row's figure (pence) named for its service, and whether it has one (a service priced by no benchmark or
    reference rate, such as home care, has none: a fee review leaves it out)."""
    service = audit.parsed.cols["service"].v
    price, ok = np.zeros(audit.parsed.n, np.int64), np.zeros(audit.parsed.n, bool)
    for code, name in enumerate(ENUMS["service"]):
        if name not in by_service:
            continue
        figure, here = audit.result.figures[by_service[name]], service == code
        price[here], ok[here] = figure.v[here], figure.ok[here]
    return price, ok & audit.parsed.valid


def row_categories(audit: AuditResult) -> np.ndarray:
    """Each row's category: its care type for a care home (its care category's), else its service."""
    care_type = audit.result.values["care_type"]  # a care home's figure only
    names: np.ndarray = np.array(ENUMS["service"], object)[audit.parsed.cols["service"].v]
    names[care_type.ok] = np.array(ENUMS["care_type"], object)[care_type.v[care_type.ok]]
    return names


def _shares(groups: np.ndarray, counted: np.ndarray, before: AuditResult, after: AuditResult) -> dict[str, Any]:
    """Over the active placements of each category: how many are at or below their benchmark (their care
    category's benchmark, or the cost at the reference rates) before and after, and the share."""
    (old, old_ok), (new, new_ok) = row_figure(before, ABOVE), row_figure(after, ABOVE)
    out = {}
    for name in sorted(set(groups[counted].tolist())):
        here = counted & (groups == name)
        within_before, within_after = int((here & old_ok & (old <= 0)).sum()), int((here & new_ok & (new <= 0)).sum())
        out[name] = {
            "placements": int(here.sum()),
            "at_or_below_before": within_before,
            "at_or_below_after": within_after,
            "share_before": percent(within_before, int(here.sum())),
            "share_after": percent(within_after, int(here.sum())),
        }
    return out


def _costs(groups: np.ndarray, added: np.ndarray, counted: np.ndarray) -> dict[str, dict[str, Any]]:
    out = {}
    for name in sorted(set(groups[counted].tolist())):
        here = counted & (groups == name)
        weekly = int(added[here].sum())
        out[name] = {
            "placements": int(here.sum()),
            "placements_affected": int((here & (added != 0)).sum()),
            "added_weekly": pounds(weekly),
            "added_annual": pounds(weekly * WEEKS_A_YEAR),
        }
    return out


def fee_review(
    source: Any,
    uplift: str,
    start: date,
    budget: int | None = None,
    rules: Rulebook | Path | str | None = None,
    as_at: date | None = None,
    **read: Any,
) -> dict[str, Any]:
    """The review as JSON-ready data (Decimals). UpliftError for an uplift the rulebook cannot apply; BookError
    and RulebookError as ``run_audit`` raises them. ``budget`` in pence; ``read``: ``run_audit``'s columns,
    sheet, limits."""
    book = rules if isinstance(rules, Rulebook) else load_rulebook(rules) if rules else load_rulebook()
    uplifts = parse_uplifts(uplift, uplift_categories(book))
    overrides, rates = uplifted_values(book, uplifts, start)
    # the active book on the date, each placement priced then (a review dated after the book is evaluated at its
    # date by run_audit anyway; an earlier one would leave every row decided before it unchanged)
    after = run_audit(source, as_at=as_at or start, parameters=overrides, rules=book, **read)
    before = run_audit(source, as_at=after.as_at, rules=book, **read)  # the same rows at the same dates
    (old, old_ok), (new, new_ok) = row_figure(before, PRICED_AT), row_figure(after, PRICED_AT)
    counted = active_at(after.parsed, start) & old_ok & new_ok
    added = np.where(counted, new - old, 0)
    weekly = int(added.sum())
    categories, services = row_categories(after), np.array(ENUMS["service"], object)[after.parsed.cols["service"].v]
    kpis = [
        {"id": kpi["id"], "name": kpi["name"], "before": kpi["value"], "after": new_kpi["value"]}
        for kpi, new_kpi in zip(before.kpis["kpis"], after.kpis["kpis"])
        if kpi.get("unit") == "percent"
    ]
    return {
        "from": start,
        "evaluated_at": after.as_at,
        "rulebook_version": book.version,
        "whatif_version": after.rulebook_version,
        "weeks_a_year": WEEKS_A_YEAR,
        "rates": [{**rate, "was": pounds(rate["was"]), "now": pounds(rate["now"])} for rate in rates],
        "placements_active": int(counted.sum()),
        "placements_affected": int((added != 0).sum()),
        "added_weekly": gbp(weekly),
        "added_annual": gbp(weekly * WEEKS_A_YEAR),
        "by_category": _costs(categories, added, counted),
        "by_service": _costs(services, added, counted),
        "shares_at_or_below": _shares(categories, counted, before, after),
        "kpis": kpis,  # the Delivery Plan's shares: new placements, each at its own start date
        "budget": None if budget is None else {"budget": gbp(budget), "remaining": gbp(budget - weekly * WEEKS_A_YEAR)},
        "notes": after.notes,
        "warnings": after.warnings,
        "error_rows": after.error_rows,
    }
