"""The KPIs read at the KPI date only (the ISP KPI, NHS and s117, charging), with the rows at that date: an audit
computes them on its second core while the rows are evaluated at their own dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from engine.audit.charging_kpis import charging_kpis
from engine.audit.kpis_health import health_kpis
from engine.audit.lists import AtKpiDate, at_kpi_date
from engine.evaluate.vector import VectorResult
from engine.rulebook.loader import Rulebook
from engine.validate.batch import ParsedBook


@dataclass(frozen=True)
class AtKpiDateKpis:
    """The rows at the KPI date and the KPIs read there only."""

    at: AtKpiDate
    health: list[dict[str, Any]]
    charging: list[dict[str, Any]]


def kpis_at_kpi_date(
    book: Rulebook, parsed: ParsedBook, day: date, own: tuple[np.ndarray, VectorResult] | None = None
) -> AtKpiDateKpis:
    """``own``: the rows' evaluation days and result, reused when they are all the KPI date."""
    at = at_kpi_date(book, parsed, day, own)
    return AtKpiDateKpis(at, health_kpis(book, parsed, at), charging_kpis(book.kpis, at))
