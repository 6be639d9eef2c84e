"""The audit's HTML report: one self-contained file (charts as inline PNG, no scripts, no internet assets)."""

from __future__ import annotations

import base64
import html
import io
from typing import TYPE_CHECKING, Any

import numpy as np
from jinja2 import Environment, select_autoescape

from engine.audit_output import _show
from engine.placement import LOTS
from engine.vector_evaluator import ACTIONS

if TYPE_CHECKING:
    from engine.audit import AuditResult

COLOURS = {
    "proceed": "#2e7d32",
    "needs_approval": "#f9a825",
    "refer": "#1565c0",
    "not_permitted": "#c62828",
    "no finding": "#bdbdbd",
}

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Placement audit {{ period.start }} to {{ period.end }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}.num{text-align:right}.no{color:#c62828;font-weight:bold}.yes{color:#2e7d32}
.small{font-size:.85rem;color:#555}img{max-width:100%}.warn{background:#fff3cd;padding:.5rem}
</style></head><body>
<h1>Placement audit</h1>
<p>Period {{ period.start }} to {{ period.end }} (previous {{ period.previous_start }} to {{ period.previous_end }}).
{{ "{:,}".format(rows) }} rows, {{ "{:,}".format(error_rows) }} could not be decided. Rulebook {{ version }}, {{ engine }} evaluator.</p>
{% for w in warnings %}<p class="warn">{{ w }}</p>{% endfor %}
<h2>Key performance indicators</h2>
<table><tr><th>KPI</th><th>value</th><th>target</th><th>met</th><th>counts</th><th>£ a week</th></tr>
{% for k in kpis %}<tr><td><strong>{{ k.name }}</strong><br><span class="small">{{ k.definition }}<br>Source: {{ k.source }}</span></td>
<td class="num">{{ k.shown }}</td><td>{{ k.target or "–" }}</td>
<td class="{{ 'yes' if k.target_met else 'no' if k.target_met is false else '' }}">{{ {True: "yes", False: "no", None: "–"}[k.target_met] }}</td>
<td class="small">{% for n, v in k.counts_shown %}{{ n }}: {{ v }}<br>{% endfor %}</td>
<td class="small">{% for n, v in k.money_shown %}{{ n }}: {{ v }}<br>{% endfor %}</td></tr>{% endfor %}
</table>
<h2>Comparable price against the median, by Lot</h2>
<p class="small">New care-home placements in the period, at their start dates: comparable weekly price (excluding FNC and 1:1)
as a percentage of the LaingBuisson median for the Lot. The line at 100% is the median.</p>
{{ charts.price | safe }}
<h2>Outcomes by module</h2>
{{ charts.modules | safe }}
<h2>ISP: packages over the threshold with no NHS contribution</h2>
{{ charts.isp | safe }}
{% if whatif %}<h2>What-if</h2>
<p>Rulebook {{ whatif.whatif_version }} against {{ whatif.base_version }}:
{{ whatif.placements_outcome_changed }} placements change outcome.</p>
<table><tr><th>parameter</th><th>from</th><th>was</th><th>now</th></tr>
{% for p in whatif.parameters_changed %}<tr><td>{{ p.name }}</td><td>{{ p.from_date }}</td><td>{{ p.was }}</td><td>{{ p.now }}</td></tr>{% endfor %}</table>
<table><tr><th>change of outcome</th><th>placements</th></tr>
{% for t, n in whatif.transitions.items() %}<tr><td>{{ t }}</td><td class="num">{{ n }}</td></tr>{% endfor %}</table>
<table><tr><th>£ a week</th><th></th></tr>{% for n, v in whatif_money %}<tr><td>{{ n }}</td><td class="num">{{ v }}</td></tr>{% endfor %}</table>
<h3>Placements whose outcome changes{% if changes_cut %} (first {{ changes|length }}; all in whatif_changes.csv){% endif %}</h3>
<table><tr>{% for c in change_columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for r in changes %}<tr>{% for c in change_columns %}<td>{{ r[c] if r[c] is not none else "" }}</td>{% endfor %}</tr>{% endfor %}</table>
{% endif %}
<h2>Outcomes by Lot and by provider</h2>
<table><tr><th></th>{% for a in actions %}<th>{{ a }}</th>{% endfor %}</tr>
{% for name, counts in by_lot %}<tr><td>{{ name }}</td>{% for a in actions %}<td class="num">{{ counts.get(a, 0) }}</td>{% endfor %}</tr>{% endfor %}
</table>
<table><tr><th>provider{% if providers_cut %} (largest {{ by_provider|length }}){% endif %}</th>{% for a in actions %}<th>{{ a }}</th>{% endfor %}</tr>
{% for name, counts in by_provider %}<tr><td>{{ name }}</td>{% for a in actions %}<td class="num">{{ counts.get(a, 0) }}</td>{% endfor %}</tr>{% endfor %}
</table>
<h2>Rows that could not be decided</h2>
{% if reasons %}<table><tr><th>reason</th><th>rows</th></tr>{% for r, n in reasons %}<tr><td>{{ r }}</td><td class="num">{{ n }}</td></tr>{% endfor %}</table>
{% else %}<p>None.</p>{% endif %}
</body></html>
"""


def _png(figure: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="chart" src="data:image/png;base64,{encoded}">'


def _price_chart(audit: AuditResult) -> str:
    import matplotlib.pyplot as plt

    from engine.kpis import Period
    from engine.vector_evaluator import VectorEvaluator

    period = audit.kpis["period"]
    parsed = audit.parsed
    start = parsed.cols["start_date"].v
    at_start = VectorEvaluator(audit.book).derive(parsed, start)
    new = Period(period["start"], period["end"]).mask(start) & parsed.valid & at_start["is_care_home"].v
    bench = at_start["benchmark_weekly"]
    stats, labels = [], []
    for lot in sorted(set(LOTS.values())):
        rows = new & bench.ok & (bench.v > 0) & (at_start["lot"].v == lot)
        if rows.any():
            ratio = at_start["comparable_weekly"].v[rows] * 100 / bench.v[rows]
            q1, med, q3 = np.percentile(ratio, [25, 50, 75])
            low, high = np.percentile(ratio, [5, 95])
            stats.append({"med": med, "q1": q1, "q3": q3, "whislo": low, "whishi": high, "fliers": []})
            labels.append(f"Lot {lot}\n(n={int(rows.sum()):,})")
    figure, axes = plt.subplots(figsize=(7, 3.5))
    if stats:
        axes.bxp(stats, showfliers=False)
        axes.set_xticks(range(1, len(labels) + 1), labels)
    axes.axhline(100, color="#c62828", linestyle="--", label="LaingBuisson median")
    axes.set_ylabel("comparable price, % of median")
    axes.legend(loc="upper right")
    axes.set_title("Boxes: quartiles; whiskers: 5th to 95th percentile", fontsize=9)
    return _png(figure)


def _module_chart(audit: AuditResult) -> str:
    import matplotlib.pyplot as plt

    by_module = audit.kpis["breakdowns"]["by_module"]
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


def _isp_chart(audit: AuditResult) -> str:
    import matplotlib.pyplot as plt

    isp = next(k for k in audit.kpis["kpis"] if k["id"] == "isp_no_nhs_contribution")
    labels = ["NHS contribution 0", "not recorded"]
    counts = [isp["counts"]["contribution_zero"], isp["counts"]["contribution_not_recorded"]]
    v = audit.values
    gross, contribution = v["gross_weekly_cost"], v["isp_nhs_contribution_weekly"]
    over = audit.parsed.valid & gross.ok & (gross.v > _threshold_pence(audit))
    zero = over & contribution.ok & (contribution.v == 0)
    unrecorded = over & ~contribution.ok
    pounds = [int(gross.v[zero].sum()) / 100, int(gross.v[unrecorded].sum()) / 100]  # chart scale only
    figure, (left, right) = plt.subplots(1, 2, figsize=(7, 2.8))
    left.bar(labels, counts, color=["#c62828", "#f9a825"])
    left.set_title("packages")
    right.bar(labels, pounds, color=["#c62828", "#f9a825"])
    right.set_title("gross £ a week")
    return _png(figure)


def _threshold_pence(audit: AuditResult) -> int:
    from engine.batch_input import day_number
    from engine.vector_evaluator import VectorEvaluator

    found = VectorEvaluator(audit.book).param(
        "isp.gross_cost_threshold_weekly", np.array([day_number(audit.kpis["period"]["end"])])
    )
    return int(found.v[0]) if found.ok[0] else int(np.iinfo(np.int64).max)


def render_report(audit: AuditResult, max_rows: int = 200) -> str:
    import matplotlib

    matplotlib.use("Agg")
    summary = audit.summary()
    kpis = []
    for kpi in summary["kpis"]:
        kpis.append(
            {
                **kpi,
                "shown": _show(kpi["value"], kpi["unit"]),
                "counts_shown": [(k.replace("_", " "), _show(v)) for k, v in kpi["counts"].items()],
                "money_shown": [(k.replace("_", " "), _show(v)) for k, v in kpi["pounds_weekly"].items()],
            }
        )
    breakdowns = summary["breakdowns"]
    providers = list(breakdowns["by_provider"].items())
    whatif = summary.get("whatif")
    changes = audit.whatif_changes.slice(0, max_rows).to_pylist() if audit.whatif_changes is not None else []
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    return env.from_string(TEMPLATE).render(
        period=summary["period"],
        rows=audit.rows,
        error_rows=audit.error_rows,
        version=audit.rulebook_version,
        engine=audit.engine,
        warnings=audit.warnings,
        kpis=kpis,
        charts={"price": _price_chart(audit), "modules": _module_chart(audit), "isp": _isp_chart(audit)},
        whatif=whatif,
        changes=changes,
        changes_cut=audit.whatif_changes is not None and audit.whatif_changes.num_rows > max_rows,
        change_columns=audit.whatif_changes.column_names if audit.whatif_changes is not None else [],
        whatif_money=[(k.replace("_", " "), _show(v)) for k, v in (whatif or {}).get("pounds_weekly", {}).items()],
        actions=[a for a in ACTIONS if a != "info"],
        by_lot=list(breakdowns["by_lot"].items()),
        by_provider=providers[:50],
        providers_cut=len(providers) > 50,
        reasons=list(breakdowns["not_decided"]["reasons"].items())[:50],
    )


__all__ = ["render_report", "html"]
