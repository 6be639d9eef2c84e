"""The KPIs' breakdown by service (SPEC §16.1): for each service the rulebook declares, the people active at the
KPI date, their gross cost and the council's net cost a week, each evaluated at that date; and the rows the
new-placement and benchmark KPIs leave out (stays that are not permanent; in-house provision), counted apart."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.audit.kpis.health import gbp
from engine.audit.views import AtKpiDate
from engine.rulebook.loader import Rulebook
from engine.validate.batch import SPECS, ParsedBook

PERMANENT, INDEPENDENT = "permanent", "independent"


def permanent(parsed: ParsedBook) -> np.ndarray:
    """Rows of a permanent stay (the new-placement KPIs count these only; temporary and respite apart)."""
    return np.asarray(parsed.cols["stay_type"].v == SPECS["stay_type"].choices.index(PERMANENT))


def independent(parsed: ParsedBook) -> np.ndarray:
    """Rows of an independent provider (the benchmark KPIs leave in-house provision out)."""
    return np.asarray(parsed.cols["provider_type"].v == SPECS["provider_type"].choices.index(INDEPENDENT))


def apart(parsed: ParsedBook, rows: np.ndarray, benchmark: bool) -> dict[str, int]:
    """Of ``rows`` (before the KPI's own filter), those counted apart: not permanent; in-house (benchmark KPIs)."""
    stays = rows & ~permanent(parsed)
    counts = {"temporary_or_respite_apart": int(stays.sum())}
    if benchmark:
        counts["in_house_apart"] = int((rows & ~stays & ~independent(parsed)).sum())
    return counts


def by_service(book: Rulebook, at: AtKpiDate) -> dict[str, dict[str, Any]]:
    """Per declared service: people active at the KPI date, gross £ a week, and the council's net £ a week (from
    the payment lines where a financial assessment is recorded, else its arranged cost less any NHS contribution)."""
    v, service = at.values, at.parsed.cols["service"].v
    gross, net, arranged = v["gross_weekly_cost"], v["council_net_weekly"], v["council_arranged_weekly"]
    nhs = v["nhs_contribution_or_zero_weekly"].v
    council = np.where(net.ok, net.v, np.maximum(0, np.where(arranged.ok, arranged.v, 0) - nhs))
    out: dict[str, dict[str, Any]] = {}
    for declared in book.services:
        rows = at.active & (service == SPECS["service"].choices.index(declared.id))
        out[declared.id] = {
            "label": declared.label,
            "people": int(rows.sum()),
            "gross_weekly": gbp(int(gross.v[rows & gross.ok].sum())),
            "council_net_weekly": gbp(int(council[rows].sum())),
        }
    return out
