"""Writing an audit: results CSV (pounds as exact text), Excel, KPIs as JSON, the HTML report, and the
readable KPI table printed on the console."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa

from engine.audit.books.problems import Group, error_lines_text, errors_table
from engine.audit.kpis.providers import SOURCING_FIGURES
from engine.audit.lists.tables import list_masks, list_rows, list_table, side_lists
from engine.audit.memory import hand_back
from engine.audit.outputs.csv_out import write_csv, write_csv_subsets
from engine.audit.outputs.excel_out import (
    EXCEL_MAX_ROWS,
    activity_cost_table,
    activity_table,
    kpi_series_table,
    kpi_table,
    typed_inputs,
    write_workbook,
)
from engine.audit.outputs.parquet_out import write_parquet
from engine.audit.outputs.show import show
from engine.explain.decision import dumps

if TYPE_CHECKING:
    from engine.audit.outputs.renderer import ReportRenderer
    from engine.audit.reference import Progress
    from engine.audit.result import AuditResult

__all__ = ["kpi_lines", "write_csv", "write_excel", "write_outputs", "write_parquet"]


def write_excel(table: pa.Table, path: Path, sheet: str = "Results") -> None:
    """One typed sheet (see ``engine.audit.outputs.excel_out``)."""
    write_workbook(path, [(sheet, table)])


@dataclass
class WrittenRows:
    """Counts the rows written, told a block at a time, and tells ``progress`` (stage ``write``)."""

    progress: Progress | None
    total: int
    done: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)  # the lists are written on a thread of their own

    def __call__(self, rows: int) -> None:
        with self.lock:
            self.done += rows
            if self.progress is not None:
                self.progress("write", self.done, self.total)


def _write_report(audit: AuditResult, path: Path) -> None:
    from engine.audit.outputs.report import render_report

    path.write_text(render_report(audit), encoding="utf-8")


def write_outputs(
    audit: AuditResult,
    out_dir: Path | str,
    excel: bool | None = None,
    report: bool = True,
    renderer: ReportRenderer | None = None,
    format: Literal["csv", "parquet"] = "csv",
    progress: Progress | None = None,
) -> dict[str, Path]:
    """results.csv, results.xlsx (Results, KPIs and one sheet per list; any book that fits a sheet unless
    excel=False), one CSV per list, errors.csv, kpis.json, report.html. ``format="parquet"``: the results, lists,
    errors and what-if changes as Parquet files instead of CSV (see ``engine.audit.outputs.parquet_out``). A
    ``renderer`` (started before the audit, see ``engine.audit.outputs.renderer``) draws the report on the other
    core while the rest is written. ``progress`` is told the rows written so far, a block at a time (stage
    ``write``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "csv" if format == "csv" else "parquet"
    if excel is not False and audit.rows > EXCEL_MAX_ROWS:
        audit.warnings.append(f"{audit.rows:,} rows is more than an Excel sheet holds: results.{suffix} only")
    charts = None
    if renderer is not None and report:  # first: the charts are drawn on the other core while the lists are made
        from engine.audit.outputs.report import chart_context

        charts = chart_context(audit)
        renderer.draw(charts)
    summary = audit.summary()  # once: the report, kpis.json and the workbook's KPIs read it
    masks = list_masks(audit)
    isp = list_table(audit, masks["isp_no_nhs_contribution"])  # also makes what every list reads (list_rows)
    if renderer is not None and report:
        from engine.audit.outputs.report import report_context

        context = report_context(audit, summary=summary, masks=masks, isp=isp, charts=charts)
        renderer.render(context, out / "report.html")
    if (renderer is not None or not report) and _let_go_own_figures(audit):
        hand_back()  # before the lists' texts: the pages freed go back, not held beside them
    workbook = excel is not False and audit.rows <= EXCEL_MAX_ROWS
    # a list of placements is made just before it is written and let go after (all at once held them all), unless
    # the workbook needs them too
    others = {name: rows for name, rows in masks.items() if name != "isp_no_nhs_contribution"}
    lists: dict[str, pa.Table | np.ndarray] = {"isp_no_nhs_contribution": isp, **others, **side_lists(audit)}
    if workbook:
        lists = {name: _made(audit, item) for name, item in lists.items()}
    errors = errors_table(audit.error_lines())
    paths = {f"results_{suffix}": out / f"results.{suffix}"}
    first = paths[f"results_{suffix}"]
    ahead = format == "csv" and audit.results_csv is not None and audit.results_csv.resolve() == first.resolve()
    tables = [] if ahead else [("results", audit.table)]  # else run_audit wrote results.csv during the KPIs
    tables += [*lists.items(), ("errors", errors)]
    whatif = [] if audit.whatif_changes is None else [("whatif_changes", audit.whatif_changes)]
    sheets: list[tuple[str, pa.Table]] = []
    if workbook:
        series = [("KPI series", kpi_series_table(summary["series"]))] if "series" in summary else []
        activity = [
            ("Activity", activity_table(summary["activity"])),
            ("Activity cost", activity_cost_table(summary["activity"])),
        ]
        made = [(name, _made(audit, item)) for name, item in lists.items()]
        sheets = [("Results", audit.table), ("KPIs", kpi_table(summary)), *series, *made, ("errors", errors)]
        sheets += activity
    total = sum(_rows(t) for _, t in [*tables, *whatif]) + sum(t.num_rows for _, t in sheets)
    rows = WrittenRows(progress, total)
    write = write_csv if format == "csv" else write_parquet
    for name, _ in tables:
        paths[f"{name}_{suffix}"] = out / f"{name}.{suffix}"
    # the lists of placements from one text of each listed row (often in several lists), on a thread of their own
    # while the other files and kpis.json are written; with a workbook they are made already: written as they are
    subsets = format == "csv" and not workbook
    with ThreadPoolExecutor(max_workers=1) as behind:
        if subsets:
            of_rows = {paths[f"{k}_csv"]: mask for k, mask in masks.items()}
            listed = behind.submit(write_csv_subsets, partial(list_rows, audit), of_rows, rows)
            tables = [(name, item) for name, item in tables if name not in masks]
        for name, table in tables:
            write(_made(audit, table), paths[f"{name}_{suffix}"], written=rows)
        del tables
        _write_rest(audit, paths, out, summary, sheets, whatif, write, rows, workbook, suffix)
        if subsets:
            listed.result()
    if report:
        paths["report_html"] = out / "report.html"
        if renderer is None or not renderer.wait():  # no renderer, or it failed: render it in this process
            _write_report(audit, paths["report_html"])
    elif renderer is not None:
        renderer.close()
    return paths


def _write_rest(
    audit: AuditResult,
    paths: dict[str, Path],
    out: Path,
    summary: dict[str, Any],
    sheets: list[tuple[str, pa.Table]],
    whatif: list[tuple[str, pa.Table]],
    write: Callable[..., None],
    rows: WrittenRows,
    workbook: bool,
    suffix: str,
) -> None:
    """results.xlsx, the what-if changes and kpis.json."""
    if workbook:
        paths["results_xlsx"] = out / "results.xlsx"
        typed = {"Results": typed_inputs(audit.table, audit.parsed)}
        write_workbook(paths["results_xlsx"], sheets, typed, written=rows)
    for _, table in whatif:
        paths[f"whatif_{suffix}"] = out / f"whatif_changes.{suffix}"
        write(table, paths[f"whatif_{suffix}"], written=rows)
    paths["kpis_json"] = out / "kpis.json"
    paths["kpis_json"].write_text(dumps(summary) + "\n", encoding="utf-8")


def _let_go_own_figures(audit: AuditResult) -> bool:
    """A big lean audit (its rows evaluated in blocks, results.csv written during the KPIs), once the KPIs and the
    report's context are made: the rows' own figures that read a date are let go (derived again if read), but
    those the summary's sourced-late list reads again; the lists read the KPI date's. Whether any were."""
    return audit.make_table is not None and audit.views.let_go_own_figures(SOURCING_FIGURES)


def _made(audit: AuditResult, item: pa.Table | np.ndarray) -> pa.Table:
    """A list's table: made from its rows (a mask), or as it is."""
    return list_table(audit, item) if isinstance(item, np.ndarray) else item


def _rows(item: pa.Table | np.ndarray) -> int:
    return int(item.sum()) if isinstance(item, np.ndarray) else int(item.num_rows)


def kpi_lines(summary: dict[str, Any]) -> list[str]:
    """The KPIs as a readable fixed-width table."""
    period = summary["period"]
    lines = [
        f"KPIs for {period['start']} to {period['end']} (previous period {period['previous_start']} to "
        f"{period['previous_end']}); rulebook {summary['rulebook_version']}, {summary['engine']} evaluator",
        f"{summary['rows']:,} rows, {summary['error_rows']:,} could not be decided (input errors)",
        "",
    ]
    header = f"{'KPI':<48} {'value':>12}  {'target':<31} {'met':<4}"
    lines += [header, "-" * len(header)]
    for kpi in summary["kpis"]:
        met = {True: "yes", False: "NO", None: "–"}[kpi["target_met"]]
        counts = ", ".join(f"{k.replace('_', ' ')} {show(v)}" for k, v in kpi["counts"].items())
        money = ", ".join(f"{k.replace('_', ' ')} {show(v)}" for k, v in kpi["pounds_weekly"].items())
        line = f"{kpi['name']:<48} {show(kpi['value'], kpi['unit']):>12}  {kpi['target'] or '–':<31} {met:<4}"
        if kpi.get("small_number"):  # a share of fewer people than the rulebook's small-number count
            line += f" small number: {show(kpi['numerator'])} of {show(kpi['denominator'])}"
        lines.append(line)
        lines.append(
            f"    {counts}" if counts or "not_available" not in kpi else f"    not available: {kpi['not_available']}"
        )
        if money:
            lines.append(f"    £ a week: {money}")
    outcomes = summary["breakdowns"]["outcomes"]
    lines += ["", "Outcomes: " + ", ".join(f"{k} {v:,}" for k, v in outcomes.items())]
    for module, counts in summary["breakdowns"]["by_module"].items():
        lines.append(f"  {module:<30} " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    lists = summary.get("lists", {})
    if lists:
        lines += ["", f"Lists at the KPI date {summary['kpi_date']} (placements active then):"]
        lines += [f"  {name:<26} {count:>7,}" for name, count in lists.items()]
    groups = summary.get("errors", [])
    if groups:
        lines += ["", "Rows that could not be decided, by field (row numbers as in the spreadsheet):"]
        lines += error_lines_text([Group(**g) for g in groups])
    whatif = summary.get("whatif")
    if whatif:
        lines += [
            "",
            f"What-if (rulebook {whatif['whatif_version']} vs {whatif['base_version']}): "
            f"{whatif['placements_outcome_changed']:,} placements change outcome",
        ]
        lines += [f"  {k}: {v:,}" for k, v in whatif["transitions"].items()]
        lines += [f"  {k.replace('_', ' ')}: {show(v)}" for k, v in whatif["pounds_weekly"].items()]
        lines += [f"  {k.replace('_', ' ')}: {show(v)}" for k, v in whatif.get("charging_weekly", {}).items()]
    return lines
