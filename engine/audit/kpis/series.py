"""KPIs as a series (SPEC §19, ``carerules audit --by quarter|month``): the audit's KPI period cut into quarters
or months, back from its end, and every KPI of each, counted at that period's own dates (the new placements at
their start dates, the rest over the placements active at the period's last day, each evaluated then). The
previous period of a quarter is the quarter before it, of a month the month before."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from engine.audit.kpis.at_kpi_date import kpis_at_kpi_date
from engine.audit.kpis.compute import Period, kpi_list
from engine.audit.kpis.health import months_before
from engine.audit.views import AuditViews

MONTHS = {"quarter": 3, "month": 1}  # the calendar, not policy
BY = tuple(MONTHS)
POINT_KEYS = ("value", "target_met", "numerator", "denominator", "small_number", "counts")


def periods_by(period: Period, by: str) -> list[Period]:
    """The quarters (or months) of ``period``, oldest first, each ending where the next starts, the last at the
    period's end; calendar quarters and months when the period ends on a month's last day. A first part shorter
    than a quarter (a period that is not whole quarters) is kept, shorter."""
    step, parts, end = MONTHS[by], [], period.end
    while end >= period.start:
        after = end + timedelta(days=1)
        start = months_before(after, step) if after.day == 1 else months_before(end, step) + timedelta(days=1)
        parts.append(Period(max(start, period.start), end))
        end = start - timedelta(days=1)
    return parts[::-1]


def label(part: Period, by: str) -> str:
    """``Jul-Sep 2026``, ``Sep 2026`` for calendar quarters and months; else the dates."""
    start, end = part.start, part.end
    if start.day != 1 or (end + timedelta(days=1)).day != 1 or part.months != MONTHS[by]:
        return f"{start.isoformat()} to {end.isoformat()}"
    if by == "month":
        return f"{start:%b %Y}"
    return f"{start:%b}-{end:%b %Y}" if start.year == end.year else f"{start:%b %Y}-{end:%b %Y}"


def kpi_series(
    views: AuditViews, period: Period, by: str, providers: Any = None, block_beds: Any = None
) -> dict[str, Any]:
    """The ``series`` block of kpis.json: the periods, and for each KPI (by id, in the order of the KPI table)
    its value, target met, parts and counts in each period."""
    parts = periods_by(period, by)
    kpis: dict[str, dict[str, Any]] = {}
    for number, part in enumerate(parts):
        at_kpi = kpis_at_kpi_date(views, part.end)
        for kpi in kpi_list(views, part, at_kpi, providers, block_beds):
            entry = kpis.setdefault(
                kpi["id"],
                {"id": kpi["id"], "name": kpi["name"], "unit": kpi["unit"], "target": kpi["target"], "points": []},
            )
            entry["points"] += [None] * (number - len(entry["points"]))
            entry["points"].append({key: kpi[key] for key in POINT_KEYS if key in kpi})
        if part.end != period.end:
            views.forget_kpi_date(part.end)  # the audit's own KPI date stays: its lists read it
    return {
        "by": by,
        "periods": [
            {
                "label": label(part, by),
                "start": part.start,
                "end": part.end,
                "previous_start": part.previous.start,
                "previous_end": part.previous.end,
            }
            for part in parts
        ],
        "kpis": list(kpis.values()),
    }
