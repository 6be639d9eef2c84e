"""Charging KPIs: the people's contributions (client income) and the council's net cost, a week, over the
placements active at the KPI date, each evaluated at that date (as the ISP KPI and lists are)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np

from engine.audit.lists import AtKpiDate
from engine.money import pounds

PLAN = "Health and Care Delivery Plan 2026/27"


def _gbp(pence: int) -> Decimal:
    return pounds(int(pence))


def charging_kpis(at: AtKpiDate) -> list[dict[str, Any]]:
    v = at.result.values
    assessed = at.active & v["financial_assessment"].v & v["financial_assessment"].ok
    contribution, council = v["resident_contribution_weekly"], v["council_net_weekly"]
    computed = assessed & contribution.ok
    self_funding = computed & v["self_funding"].v & v["self_funding"].ok
    income = int(contribution.v[computed].sum())
    net = int(council.v[computed & council.ok].sum())
    counts = {
        "active_at_kpi_date": int(at.active.sum()),
        "with_financial_assessment": int(assessed.sum()),
        "contribution_computed": int(computed.sum()),
        "contribution_not_computed": int((assessed & ~contribution.ok).sum()),
        "self_funding": int(self_funding.sum()),
    }
    where = (
        f"placements active at the KPI date ({at.day}) with a financial assessment recorded, "
        "each evaluated at that date"
    )
    return [
        {
            "id": "client_income_weekly",
            "name": "Client income a week (assessed contributions)",
            "definition": f"Sum of the people's weekly contributions over the {where}. Placements whose "
            "contribution cannot be computed (a charging parameter not in force) are counted apart.",
            "source": f"{PLAN}, Charging review; Care Act 2014 ss14 and 17; SI 2014/2672",
            "target": None,
            "target_met": None,
            "value": _gbp(income),
            "unit": "GBP/week",
            "counts": counts,
            "pounds_weekly": {
                "client_income": _gbp(income),
                "of_which_self_funders": _gbp(int(contribution.v[self_funding].sum())),
            },
        },
        {
            "id": "council_net_cost_weekly",
            "name": "Council net cost a week (after contributions, top-ups and NHS)",
            "definition": f"Sum over the {where} of the council-arranged weekly cost less the person's contribution, "
            "the top-up and any NHS contribution (never below 0 per placement).",
            "source": f"{PLAN}, Cost Recovery Plan and Charging review; Care Act 2014 s14",
            "target": None,
            "target_met": None,
            "value": _gbp(net),
            "unit": "GBP/week",
            "counts": counts,
            "pounds_weekly": {
                "council_net": _gbp(net),
                "council_arranged": _gbp(int(np.where(computed, v["council_arranged_weekly"].v, 0).sum())),
            },
        },
    ]
