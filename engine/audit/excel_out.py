"""Typed Excel out (XlsxWriter, constant-memory): numbers as numbers, dates as dates, money in a £ format,
a frozen header, filters and widths fitted to the first rows. Text goes through the formula neutraliser."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from engine.audit.safe import neutralise_table

MONEY_FORMAT = "£#,##0.00;-£#,##0.00"
DATE_FORMAT = "dd/mm/yyyy"
EXCEL_MAX_ROWS = 1_048_575  # an Excel sheet's rows, less the header
EXCEL_DAY_ZERO = 25_569  # 1970-01-01 as an Excel serial day
WIDTH_SAMPLE = 500


def _python_values(column: pa.ChunkedArray) -> tuple[list[Any], str | None]:
    """A column as Python values Excel stores (floats for numbers, serial days for dates) and its format."""
    kind = column.type
    if pa.types.is_decimal(kind):
        values = pc.cast(column, pa.float64()).to_pylist()
        return values, "money"
    if pa.types.is_date32(kind):
        days = pc.cast(pc.cast(column, pa.int32()), pa.int64())
        return pc.add(days, EXCEL_DAY_ZERO).to_pylist(), "date"
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
        return column.to_pylist(), None
    return pc.cast(column, pa.string()).to_pylist(), None


def _width(name: str, values: list[Any], kind: str | None) -> float:
    if kind == "date":
        longest = 10
    elif kind == "money":
        longest = max((len(f"{v:,.2f}") + 1 for v in values[:WIDTH_SAMPLE] if v is not None), default=0)
    else:
        longest = max((len(str(v)) for v in values[:WIDTH_SAMPLE] if v is not None), default=0)
    return float(min(max(len(name), longest, 6) + 2, 60))


def write_sheet(workbook: Any, name: str, table: pa.Table) -> None:
    """One sheet from a table: typed cells, frozen header, autofilter, fitted widths."""
    table = neutralise_table(table)
    sheet = workbook.add_worksheet(name[:31])
    formats = {
        "money": workbook.add_format({"num_format": MONEY_FORMAT}),
        "date": workbook.add_format({"num_format": DATE_FORMAT}),
        "percent": workbook.add_format({"num_format": "0.00"}),
    }
    bold = workbook.add_format({"bold": True})
    columns = []
    for index, title in enumerate(table.column_names):
        values, kind = _python_values(table.column(index))
        if kind == "money" and title.endswith("percent"):
            kind = "percent"
        sheet.set_column(index, index, _width(title, values, kind), formats[kind] if kind else None)
        column_type = table.schema.types[index]
        writer = (
            sheet.write_string
            if pa.types.is_string(column_type)
            else sheet.write_boolean
            if pa.types.is_boolean(column_type)
            else sheet.write_number
        )
        columns.append((values, writer, formats[kind] if kind else None))
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(table.num_rows, 1), max(table.num_columns - 1, 0))
    for index, title in enumerate(table.column_names):
        sheet.write_string(0, index, title, bold)
    _write_rows(sheet, columns, table.num_rows)


def _write_rows(sheet: Any, columns: list[tuple[list[Any], Callable[..., Any], Any]], rows: int) -> None:
    used = [
        (k, writer, style) for k, (values, writer, style) in enumerate(columns) if any(v is not None for v in values)
    ]
    values = [columns[k][0] for k, _, _ in used]
    for excel_row, cells in enumerate(zip(*values), start=1):
        for (index, writer, style), value in zip(used, cells):
            if value is None or value == "":
                continue
            if style is None:
                writer(excel_row, index, value)
            else:
                writer(excel_row, index, value, style)


def write_workbook(path: Path, sheets: list[tuple[str, pa.Table]]) -> None:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
    try:
        for name, table in sheets:
            write_sheet(workbook, name, table)
    finally:
        workbook.close()


def kpi_table(summary: dict[str, Any]) -> pa.Table:
    """The KPIs as a sheet: one row each, value typed, counts and £ spelt out."""
    rows = summary["kpis"]

    def text(items: dict[str, Any]) -> str:
        return "; ".join(f"{k.replace('_', ' ')} {v}" for k, v in items.items())

    numbers = [None if k["value"] is None else float(k["value"]) for k in rows]
    return pa.table(
        {
            "kpi": pa.array([k["name"] for k in rows], pa.string()),
            "value": pa.array(numbers, pa.float64()),
            "unit": pa.array([k["unit"] for k in rows], pa.string()),
            "target": pa.array([k["target"] for k in rows], pa.string()),
            "target_met": pa.array([{True: "yes", False: "no", None: ""}[k["target_met"]] for k in rows]),
            "counts": pa.array([text(k["counts"]) for k in rows], pa.string()),
            "pounds_weekly": pa.array([text(k["pounds_weekly"]) for k in rows], pa.string()),
            "definition": pa.array([k["definition"] for k in rows], pa.string()),
            "source": pa.array([k["source"] for k in rows], pa.string()),
            "id": pa.array([k["id"] for k in rows], pa.string()),
        }
    )
