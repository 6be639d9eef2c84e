"""Writing an audit: results CSV (pounds as exact text), Excel, KPIs as JSON, the HTML report, and the
readable KPI table printed on the console."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pa_csv

from engine.audit.show import show
from engine.explain.decision import dumps

if TYPE_CHECKING:
    from engine.audit.run import AuditResult

EXCEL_ROWS = 50_000  # larger books get CSV only unless Excel is asked for (openpyxl writes ~20k rows/s)
EXCEL_MAX_ROWS = 1_048_575  # Excel's own limit, less the header


def write_csv(table: pa.Table, path: Path) -> None:
    pa_csv.write_csv(table, path, write_options=pa_csv.WriteOptions(quoting_style="needed"))


def write_excel(table: pa.Table, path: Path, sheet: str = "results") -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet)
    worksheet.append(table.column_names)
    money = {k for k, t in enumerate(table.schema.types) if pa.types.is_decimal(t)}
    for batch in table.to_batches(max_chunksize=10_000):
        columns = [column.to_pylist() for column in batch.columns]
        for values in zip(*columns):
            row: list[Any] = list(values)
            for k in money:
                if row[k] is not None:
                    cell = WriteOnlyCell(worksheet, value=row[k])
                    cell.number_format = "#,##0.00"
                    row[k] = cell
            worksheet.append(row)
    workbook.save(path)


def write_outputs(
    audit: AuditResult, out_dir: Path | str, excel: bool | None = None, report: bool = True
) -> dict[str, Path]:
    """results.csv, results.xlsx (books up to EXCEL_ROWS rows unless asked), kpis.json, report.html."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"results_csv": out / "results.csv", "kpis_json": out / "kpis.json"}
    write_csv(audit.table, paths["results_csv"])
    if excel or (excel is None and audit.rows <= EXCEL_ROWS):
        if audit.rows > EXCEL_MAX_ROWS:
            audit.warnings.append(f"{audit.rows:,} rows is more than an Excel sheet holds: results.csv only")
        else:
            paths["results_xlsx"] = out / "results.xlsx"
            write_excel(audit.table, paths["results_xlsx"])
    elif excel is None:
        audit.warnings.append(
            f"{audit.rows:,} rows: results written as CSV only (Excel for books up to "
            f"{EXCEL_ROWS:,} rows; ask for it with --excel)"
        )
    if audit.whatif_changes is not None:
        paths["whatif_csv"] = out / "whatif_changes.csv"
        write_csv(audit.whatif_changes, paths["whatif_csv"])
    paths["kpis_json"].write_text(dumps(audit.summary()) + "\n", encoding="utf-8")
    if report:
        from engine.audit.report import render_report

        paths["report_html"] = out / "report.html"
        paths["report_html"].write_text(render_report(audit), encoding="utf-8")
    return paths


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
        lines.append(f"{kpi['name']:<48} {show(kpi['value'], kpi['unit']):>12}  {kpi['target'] or '–':<31} {met:<4}")
        lines.append(f"    {counts}")
        lines.append(f"    £ a week: {money}")
    outcomes = summary["breakdowns"]["outcomes"]
    lines += ["", "Outcomes: " + ", ".join(f"{k} {v:,}" for k, v in outcomes.items())]
    for module, counts in summary["breakdowns"]["by_module"].items():
        lines.append(f"  {module:<30} " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    reasons = summary["breakdowns"]["not_decided"]["reasons"]
    if reasons:
        lines.append("Not decided (input errors), most common reasons:")
        lines += [f"  {count:>7,}  {reason}" for reason, count in list(reasons.items())[:8]]
    whatif = summary.get("whatif")
    if whatif:
        lines += [
            "",
            f"What-if (rulebook {whatif['whatif_version']} vs {whatif['base_version']}): "
            f"{whatif['placements_outcome_changed']:,} placements change outcome",
        ]
        lines += [f"  {k}: {v:,}" for k, v in whatif["transitions"].items()]
        lines += [f"  {k.replace('_', ' ')}: {show(v)}" for k, v in whatif["pounds_weekly"].items()]
    return lines
