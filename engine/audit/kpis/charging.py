"""Charging KPIs: the people's contributions (client income), the council's net cost and the amount deferred
under deferred payment agreements, a week, over the placements active at the KPI date, each evaluated at that
date (as the ISP KPI and lists are). Their wording, sources and targets are in ``rules/kpis.yaml``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np

from engine.audit.views import AtKpiDate
from engine.money import pounds
from engine.rulebook.facts import Kpi


def _gbp(pence: int) -> Decimal:
    return pounds(int(pence))


def assessed_rows(at: AtKpiDate) -> tuple[np.ndarray, np.ndarray]:
    """The placements active at the KPI date with a financial assessment recorded, and those of them whose
    contribution could be computed (the rows the charging KPIs, and the activity tables' council net, count)."""
    v = at.values  # figures only: the rules at the KPI date are not needed here
    assessed: np.ndarray = at.active & v["financial_assessment"].v & v["financial_assessment"].ok
    computed: np.ndarray = assessed & v["resident_contribution_weekly"].ok
    return assessed, computed


def charging_kpis(define: dict[str, Kpi], at: AtKpiDate) -> list[dict[str, Any]]:
    v = at.values
    contribution, council = v["resident_contribution_weekly"], v["council_net_weekly"]
    assessed, computed = assessed_rows(at)
    free = v["after_care_free"].v & v["after_care_free"].ok  # s117 after-care: nothing is charged, capital or not
    self_funding = computed & v["self_funding"].v & v["self_funding"].ok & ~free
    income = int(contribution.v[computed].sum())
    net = int(council.v[computed & council.ok].sum())
    deferred = v["deferred_weekly"]
    deferring = computed & deferred.ok & (deferred.v > 0)
    counts = {
        "active_at_kpi_date": int(at.active.sum()),
        "with_financial_assessment": int(assessed.sum()),
        "contribution_computed": int(computed.sum()),
        "contribution_not_computed": int((assessed & ~contribution.ok).sum()),
        "self_funding": int(self_funding.sum()),
    }
    return [
        {
            **define["client_income_weekly"].head(None, kpi_date=at.day),
            "value": _gbp(income),
            "unit": "GBP/week",
            "counts": counts,
            "pounds_weekly": {
                "client_income": _gbp(income),
                "of_which_self_funders": _gbp(int(contribution.v[self_funding].sum())),
            },
        },
        {
            **define["council_net_cost_weekly"].head(None, kpi_date=at.day),
            "value": _gbp(net),
            "unit": "GBP/week",
            "counts": counts,
            "pounds_weekly": {
                "council_net": _gbp(net),
                "council_arranged": _gbp(int(np.where(computed, v["council_arranged_weekly"].v, 0).sum())),
            },
        },
        {
            **define["deferred_weekly"].head(None, kpi_date=at.day),
            "value": _gbp(int(deferred.v[deferring].sum())),
            "unit": "GBP/week",
            "counts": {**counts, "deferring": int(deferring.sum())},
            "pounds_weekly": {"deferred": _gbp(int(deferred.v[deferring].sum()))},
        },
    ]
