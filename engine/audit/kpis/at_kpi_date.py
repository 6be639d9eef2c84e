"""The KPIs read at the KPI date only (the ISP KPI, NHS and s117, charging), with the rows at that date: an audit
computes them on its second core while the rows are evaluated at their own dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from engine.audit.kpis.charging import charging_kpis
from engine.audit.kpis.health import health_kpis
from engine.audit.kpis.small_numbers import small_number_below
from engine.audit.views import AtKpiDate, AuditViews


@dataclass(frozen=True)
class AtKpiDateKpis:
    """The rows at the KPI date and the KPIs read there only."""

    at: AtKpiDate
    health: list[dict[str, Any]]
    charging: list[dict[str, Any]]


def kpis_at_kpi_date(views: AuditViews, day: date) -> AtKpiDateKpis:
    """The rows at ``day`` (the audit's own evaluation when every row was evaluated then) and the KPIs there."""
    at = views.at_kpi_date(day)
    health = health_kpis(views.book, views.parsed, at, small_number_below(at))
    return AtKpiDateKpis(at, health, charging_kpis(views.book.kpis, at))
