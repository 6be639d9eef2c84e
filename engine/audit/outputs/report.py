"""The audit's HTML report: one self-contained file (charts as inline PNG, no scripts, no internet assets)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.audit.outputs.show import show
from engine.language.vocabulary import ACTIONS

if TYPE_CHECKING:
    import pyarrow as pa

    from engine.audit.result import AuditResult

COLOURS = {
    "proceed": "#2e7d32",
    "needs_approval": "#f9a825",
    "refer": "#1565c0",
    "not_permitted": "#c62828",
    "no finding": "#bdbdbd",
}

TEMPLATES = Path(__file__).resolve().parent / "templates"
ISP_COLUMNS = (
    "row",
    "placement_id",
    "service",
    "provider",
    "start_date",
    "gross_weekly_cost",
    "isp_nhs_contribution_weekly",
)


def _png(figure: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="chart" src="data:image/png;base64,{encoded}">'


def _price_stats(audit: AuditResult) -> tuple[list[dict[str, Any]], list[str]]:
    """The comparable price as a % of its care category's benchmark, by category, over the rows the below-median
    KPI counts (new care-home placements in the period, at or over the minimum age)."""
    from engine.audit.kpis.compute import Period, below_median_rows  # here: the renderer's child needs none of it

    period = audit.kpis["period"]
    at_start = audit.views.at_start()  # the figures the KPIs read, derived once
    new = below_median_rows(audit.views, Period(period["start"], period["end"]))
    bench = at_start["benchmark_weekly"]
    stats, labels = [], []
    for category in audit.book.categories.items:
        rows = new & bench.ok & (bench.v > 0) & (at_start["lot"].v == category.id)
        if rows.any():
            ratio = at_start["comparable_weekly"].v[rows] * 100 / bench.v[rows]
            q1, med, q3 = (float(x) for x in np.percentile(ratio, [25, 50, 75]))
            low, high = (float(x) for x in np.percentile(ratio, [5, 95]))
            stats.append({"med": med, "q1": q1, "q3": q3, "whislo": low, "whishi": high, "fliers": []})
            labels.append(f"{category.scope}\n(n={int(rows.sum()):,})")
    return stats, labels


def _price_chart(stats: list[dict[str, Any]], labels: list[str], benchmark: tuple[str, str]) -> str:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 3.5))
    if stats:
        axes.bxp(stats, showfliers=False)
        axes.set_xticks(range(1, len(labels) + 1), labels)
    axes.axhline(100, color="#c62828", linestyle="--", label=benchmark[0])
    axes.set_ylabel(f"comparable price, % of {benchmark[1]}")
    axes.legend(loc="upper right")
    axes.set_title("Boxes: quartiles; whiskers: 5th to 95th percentile", fontsize=9)
    return _png(figure)


def _module_chart(by_module: dict[str, dict[str, int]]) -> str:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 0.6 + 0.5 * len(by_module)))
    names = list(by_module)
    left = np.zeros(len(names))
    for label, colour in COLOURS.items():
        counts = np.array([by_module[m].get(label, 0) for m in names])
        axes.barh(names, counts, left=left, color=colour, label=label)
        left += counts
    axes.set_xlabel("rows")
    axes.legend(fontsize=8, loc="lower right")
    return _png(figure)


def _isp_figures(audit: AuditResult) -> dict[str, list[Any]]:
    isp = next(k for k in audit.kpis["kpis"] if k["id"] == "isp_no_nhs_contribution")
    counts = [isp["counts"]["contribution_zero"], isp["counts"]["contribution_not_recorded"]]
    at = audit.at_kpi
    gross = at.values["gross_weekly_cost"]
    zero, unrecorded = at.isp_zero, at.isp_unrecorded
    pounds = [int(gross.v[zero].sum()) / 100, int(gross.v[unrecorded].sum()) / 100]  # chart scale only
    return {"counts": counts, "pounds": pounds}


def _isp_chart(counts: list[int], pounds: list[float]) -> str:
    import matplotlib.pyplot as plt

    labels = ["NHS contribution 0", "not recorded"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(7, 2.8))
    left.bar(labels, counts, color=["#c62828", "#f9a825"])
    left.set_title("packages")
    right.bar(labels, pounds, color=["#c62828", "#f9a825"])
    right.set_title("gross £ a week")
    return _png(figure)


def _trend_figures(series: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Each KPI's values over the series' periods (floats: the chart's scale only) and which are small numbers."""
    if series is None:
        return []
    labels = [period["label"] for period in series["periods"]]
    figures = []
    for kpi in series["kpis"]:
        points = kpi["points"] + [None] * (len(labels) - len(kpi["points"]))
        figures.append(
            {
                "name": kpi["name"],
                "unit": kpi["unit"],
                "labels": labels,
                "values": [None if p is None or p["value"] is None else float(p["value"]) for p in points],
                "small": [bool(p and p.get("small_number")) for p in points],
            }
        )
    return figures


def _trend_chart(name: str, unit: str, labels: list[str], values: list[float | None], small: list[bool]) -> str:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 2.2))
    x = np.arange(len(labels))
    y = np.array([np.nan if v is None else v for v in values], float)
    axes.plot(x, y, color="#1565c0", marker="o")
    marked = np.array(small, bool) & ~np.isnan(y)
    if marked.any():
        axes.plot(x[marked], y[marked], "o", color="white", markeredgecolor="#c62828", label="small number")
        axes.legend(fontsize=8, loc="best")
    axes.set_xticks(x, labels, fontsize=8)
    axes.set_ylabel({"percent": "%", "GBP/week": "£ a week"}.get(unit, unit), fontsize=8)
    axes.set_title(name, fontsize=9)
    return _png(figure)


def _activity_shown(activity: dict[str, Any]) -> dict[str, Any]:
    money = ("gross_weekly", "gross_annual", "council_net_weekly", "council_net_annual")
    return {
        **activity,
        "cost_by_service": [
            {**row, **{name: show(row[name]) for name in money}} for row in activity["cost_by_service"]
        ],
    }


def report_context(
    audit: AuditResult,
    max_rows: int = 200,
    summary: dict[str, Any] | None = None,
    masks: dict[str, np.ndarray] | None = None,
    isp: pa.Table | None = None,
    charts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the report shows, as plain data (small and picklable): the charts' figures, not the charts.
    ``summary``, ``masks``, ``isp`` and ``charts``: the audit's summary, list masks, ISP list and
    ``chart_context`` when the caller has them."""
    from engine.audit.lists.tables import PURPOSE, list_masks, list_table  # here: not in the renderer's child

    summary = audit.summary() if summary is None else summary
    kpis = []
    for kpi in summary["kpis"]:
        kpis.append(
            {
                **kpi,
                "shown": show(kpi["value"], kpi["unit"]),
                "counts_shown": [(k.replace("_", " "), show(v)) for k, v in kpi["counts"].items()],
                "money_shown": [(k.replace("_", " "), show(v)) for k, v in kpi["pounds_weekly"].items()],
                "parts_shown": f"{show(kpi['numerator'])} of {show(kpi['denominator'])}" if "numerator" in kpi else "",
            }
        )
    breakdowns = summary["breakdowns"]
    masks = list_masks(audit) if masks is None else masks
    isp = list_table(audit, masks["isp_no_nhs_contribution"]) if isp is None else isp
    isp_rows = isp.slice(0, max_rows)
    isp_rows = isp_rows.select([c for c in ISP_COLUMNS if c in isp_rows.column_names])
    providers = list(breakdowns["by_provider"].items())
    whatif = summary.get("whatif")
    changes = audit.whatif_changes.slice(0, max_rows).to_pylist() if audit.whatif_changes is not None else []
    return {
        "charts": chart_context(audit) if charts is None else charts,
        "series": summary.get("series"),
        "small_number_below": summary["small_number_below"],
        "activity": _activity_shown(summary["activity"]),
        "period": summary["period"],
        "minimum_age": summary["minimum_age"],
        "rows": audit.rows,
        "error_rows": audit.error_rows,
        "version": audit.rulebook_version,
        "engine": audit.engine,
        "warnings": audit.warnings,
        "kpis": kpis,
        "whatif": whatif,
        "changes": changes,
        "changes_cut": audit.whatif_changes is not None and audit.whatif_changes.num_rows > max_rows,
        "change_columns": audit.whatif_changes.column_names if audit.whatif_changes is not None else [],
        "whatif_money": [
            (k.replace("_", " "), show(v))
            for part in ("pounds_weekly", "charging_weekly")
            for k, v in (whatif or {}).get(part, {}).items()
        ],
        "actions": [a for a in ACTIONS if a != "info"],
        "by_lot": list(breakdowns["by_lot"].items()),
        "category_noun": audit.book.categories.noun,
        "benchmark_label": audit.book.categories.benchmark_words()[0],
        "benchmark_short": audit.book.categories.benchmark_words()[1],
        "by_service": [
            (row["label"], row["people"], show(row["gross_weekly"]), show(row["council_net_weekly"]))
            for row in breakdowns["by_service"].values()
        ],
        "by_provider": providers[:50],
        "providers_cut": len(providers) > 50,
        "error_groups": summary["errors"][:50],
        "kpi_date": summary["kpi_date"],
        "lists": [(name, count, PURPOSE[name]) for name, count in summary["lists"].items()],
        "isp_rows": isp_rows.to_pylist(),
        "isp_columns": isp_rows.column_names,
        "isp_cut": int(masks["isp_no_nhs_contribution"].sum()) > max_rows,
    }


def chart_context(audit: AuditResult) -> dict[str, Any]:
    """The charts' figures (``report_context``'s "charts"): they read the KPIs and the book's views only, not the
    lists or the summary, so a renderer can draw them (``draw_charts``) while the lists are made."""
    stats, labels = _price_stats(audit)
    return {
        "price": {"stats": stats, "labels": labels, "benchmark": audit.book.categories.benchmark_words()},
        "modules": {"by_module": audit.kpis["breakdowns"]["by_module"]},
        "isp": _isp_figures(audit),
        "trends": _trend_figures(audit.kpis.get("series")),
    }


def warm_up() -> None:
    """Import what rendering needs (matplotlib takes most of a second): done ahead in a waiting renderer."""
    import jinja2  # noqa: F401 - the templates' engine: imported where the report is drawn, not by every audit
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401


def draw_charts(charts: dict[str, Any]) -> dict[str, Any]:
    """The charts of ``chart_context`` drawn (inline PNG images)."""
    warm_up()
    return {
        "price": _price_chart(**charts["price"]),
        "modules": _module_chart(**charts["modules"]),
        "isp": _isp_chart(**charts["isp"]),
        "trends": [_trend_chart(**trend) for trend in charts["trends"]],
    }


def render_context(context: dict[str, Any], drawn: dict[str, Any] | None = None) -> str:
    """The report's HTML from ``report_context``: the charts drawn here, unless ``drawn`` (``draw_charts`` of
    its charts) already."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    drawn = draw_charts(context["charts"]) if drawn is None else drawn
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))
    return env.get_template("report.html").render({**context, "charts": drawn})


def render_report(audit: AuditResult, max_rows: int = 200) -> str:
    return render_context(report_context(audit, max_rows))


__all__ = ["chart_context", "draw_charts", "html", "render_context", "render_report", "report_context", "warm_up"]
