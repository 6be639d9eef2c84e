"""Typed Excel out: numbers as numbers, dates as dates, money in a £ format, a frozen header, filters and widths
fitted to the first rows; the input columns typed where the row was read. Text goes through the formula
neutraliser. The workbook is written by ``engine.audit.outputs.xlsx``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.audit.books.read import decimal_array
from engine.audit.outputs.safe import neutralise_table
from engine.audit.outputs.xlsx import Column, Kind, Style, write_xlsx
from engine.validate.batch import SPECS, ParsedBook
from engine.validate.values import ENGINE_PLACES

MONEY_FORMAT = "£#,##0.00;-£#,##0.00"
DATE_FORMAT = "dd/mm/yyyy"
QUANTITY_FORMAT = "0.00##"  # hours and miles: at least 2 decimals, up to the 4 they may have (40.00, 13.3333)
EXCEL_MAX_ROWS = 1_048_575  # an Excel sheet's rows, less the header
WIDTH_SAMPLE = 500


def _style(title: str, kind: pa.DataType) -> Style:
    if pa.types.is_decimal(kind):
        return Style.DECIMAL if title.endswith("percent") or kind.scale != 2 else Style.MONEY
    return Style.DATE if pa.types.is_date32(kind) else Style.PLAIN


def _width(title: str, kinds: list[Kind]) -> float:
    """Characters: the title or the longest of the first rows' values as shown, between 6 and 60, plus 2."""
    longest = 0
    for kind in kinds:
        sample = kind.values.slice(0, WIDTH_SAMPLE)
        if kind.style is Style.DATE:
            longest = max(longest, 10 if sample.null_count < len(sample) else 0)
            continue
        money = kind.style is Style.MONEY
        shown = pc.max(pc.utf8_length(pc.cast(pc.abs(sample) if money else sample, pa.string()))).as_py() or 0
        if money:  # "1040.00" is shown "-£1,040.00": a sign, the £ and a comma for every three digits
            shown += 2 + shown // 3
        longest = max(longest, shown)
    return float(min(max(len(title), longest, 6) + 2, 60))


def sheet_columns(table: pa.Table, typed: Mapping[str, Kind] | None = None) -> list[Column]:
    """A table's columns as typed sheet columns; a column in ``typed`` shows its typed value where it has one and
    the text as written elsewhere. Text goes through the formula neutraliser first."""
    table = neutralise_table(table)
    columns = []
    for title, column in zip(table.column_names, table.columns):
        values = column.combine_chunks()
        kinds = [Kind(values, _style(title, values.type))]
        if typed and title in typed:
            kinds.insert(0, typed[title])
        columns.append(Column(title, _width(title, kinds), tuple(kinds)))
    return columns


def write_workbook(
    path: Path,
    sheets: list[tuple[str, pa.Table]],
    typed: Mapping[str, Mapping[str, Kind]] | None = None,
    written: Callable[[int], None] | None = None,
) -> None:
    """Typed sheets, frozen header, filters and fitted widths; ``typed`` by sheet name (see ``sheet_columns``);
    ``written`` told the rows of each block written."""
    write_xlsx(
        path,
        [(name[:31], sheet_columns(table, (typed or {}).get(name)), table.num_rows) for name, table in sheets],
        money=MONEY_FORMAT,
        day=DATE_FORMAT,
        quantity=QUANTITY_FORMAT,
        written=written,
    )


def typed_inputs(table: pa.Table, parsed: ParsedBook) -> dict[str, Kind]:
    """The input columns of the rows that were read, as numbers and dates: money in pounds, hours and miles,
    whole numbers, dates. Flags, names and the cells of rows that could not be read stay as written."""
    typed: dict[str, Kind] = {}
    for name in table.column_names:
        spec, col = SPECS.get(name), parsed.cols.get(name)
        if spec is None or col is None or spec.kind not in ("pence", "quantity", "share", "whole", "day"):
            continue
        shown = np.asarray(col.ok, bool) & parsed.valid
        if spec.kind == "pence":
            typed[name] = Kind(decimal_array(col.v, shown), Style.MONEY)
        elif spec.kind in ("quantity", "share"):  # hours, miles and shares: a number, not £
            typed[name] = Kind(decimal_array(col.v, shown, ENGINE_PLACES[spec.kind]), Style.QUANTITY)
        elif spec.kind == "whole":
            typed[name] = Kind(pa.array(np.asarray(col.v, np.int64), pa.int64(), mask=~shown))
        else:
            days = np.asarray(col.v).astype("datetime64[D]")
            typed[name] = Kind(pa.array(days, pa.date32(), mask=~shown), Style.DATE)
    return typed


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
            **_parts(rows),
            "counts": pa.array([text(k["counts"]) for k in rows], pa.string()),
            "pounds_weekly": pa.array([text(k["pounds_weekly"]) for k in rows], pa.string()),
            "definition": pa.array([k["definition"] for k in rows], pa.string()),
            "source": pa.array([k["source"] for k in rows], pa.string()),
            "id": pa.array([k["id"] for k in rows], pa.string()),
        }
    )


def _parts(rows: list[dict[str, Any]]) -> dict[str, pa.Array]:
    """A percentage's numerator and denominator (counts, or £ for a share of money) and its small-number mark."""
    return {
        "numerator": pa.array([_number(k.get("numerator")) for k in rows], pa.float64()),
        "denominator": pa.array([_number(k.get("denominator")) for k in rows], pa.float64()),
        "small_number": pa.array([{True: "small number", False: "", None: ""}[k.get("small_number")] for k in rows]),
    }


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def kpi_series_table(series: dict[str, Any]) -> pa.Table:
    """The KPI series as a sheet: one row per KPI and period, oldest period first within each KPI."""
    periods = series["periods"]
    rows = [(kpi, periods[n], point) for kpi in series["kpis"] for n, point in enumerate(kpi["points"]) if point]
    points = [point for _, _, point in rows]
    return pa.table(
        {
            "kpi": pa.array([kpi["name"] for kpi, _, _ in rows], pa.string()),
            "period": pa.array([period["label"] for _, period, _ in rows], pa.string()),
            "start": pa.array([period["start"] for _, period, _ in rows], pa.date32()),
            "end": pa.array([period["end"] for _, period, _ in rows], pa.date32()),
            "value": pa.array([_number(point["value"]) for point in points], pa.float64()),
            "unit": pa.array([kpi["unit"] for kpi, _, _ in rows], pa.string()),
            "target": pa.array([kpi["target"] for kpi, _, _ in rows], pa.string()),
            "target_met": pa.array([{True: "yes", False: "no", None: ""}[p["target_met"]] for p in points]),
            **_parts(points),
            "counts": pa.array(
                ["; ".join(f"{k.replace('_', ' ')} {v}" for k, v in p["counts"].items()) for p in points]
            ),
            "id": pa.array([kpi["id"] for kpi, _, _ in rows], pa.string()),
        }
    )


def activity_table(activity: dict[str, Any]) -> pa.Table:
    """People at the KPI date and new permanent admissions in the period, by service, setting, age band and area."""
    rows = activity["people_and_admissions"]
    columns = ("service", "setting", "age_band", "in_area")
    counts = ("people_at_kpi_date", "new_permanent_admissions")
    return pa.table(
        {
            **{name: pa.array([r[name] for r in rows], pa.string()) for name in columns},
            **{name: pa.array([r[name] for r in rows], pa.int64()) for name in counts},
        }
    )


def activity_cost_table(activity: dict[str, Any]) -> pa.Table:
    """The gross and council-net cost of each service at the KPI date, a week and a year (money as £)."""
    rows = activity["cost_by_service"]
    money = ("gross_weekly", "gross_annual", "council_net_weekly", "council_net_annual")
    return pa.table(
        {
            "service": pa.array([r["service"] for r in rows], pa.string()),
            "people_at_kpi_date": pa.array([r["people_at_kpi_date"] for r in rows], pa.int64()),
            **{name: _pounds([r[name] for r in rows]) for name in money},
            "council_net_not_known": pa.array([r["council_net_not_known"] for r in rows], pa.int64()),
        }
    )


def _pounds(values: list[Any]) -> pa.Array:
    """Exact pounds (Decimals, None for none) as a money column."""
    pence = np.array([0 if v is None else int(v * 100) for v in values], np.int64)
    return decimal_array(pence, np.array([v is not None for v in values], bool))
