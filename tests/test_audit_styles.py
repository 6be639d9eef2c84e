"""The same placement book written the ways council systems and people write it gives the same outcomes, row
for row, as the clean book: Title Case + UK dates + £ + Yes/No + labels in Windows-1252; an .xlsx with a title
row and real date and number cells; a CSV export with title and blank rows above its header; `;` + BOM + UPPER_CASE +
date-times at midnight + `82.0`."""

from __future__ import annotations

import csv
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import xlsxwriter

from engine.audit.books.read import BookError, table_from_records
from engine.audit.run import run_audit

CLEAN: list[dict[str, str]] = [
    {"placement_id": "P1", "service": "care_home", "start_date": "2026-05-04", "age": "84", "care_type": "nursing",
     "dementia": "false", "core_weekly_fee": "990.00", "s117": "false"},
    {"placement_id": "P2", "service": "care_home", "start_date": "2026-06-01", "age": "88", "care_type": "residential",
     "dementia": "true", "core_weekly_fee": "1100.00", "top_up_weekly": "60.00", "top_up_payer": "third_party",
     "top_up_agreement_signed": "true", "top_up_affordability_confirmed": "false"},
    {"placement_id": "P3", "service": "care_home", "start_date": "2026-02-01", "age": "79", "care_type": "nursing",
     "core_weekly_fee": "2900.00", "one_to_one_weekly": "400.00"},
    {"placement_id": "P4", "service": "care_home", "start_date": "2026-07-01", "age": "91", "care_type": "nursing",
     "core_weekly_fee": "2800.00", "one_to_one_weekly": "300.00", "nhs_contribution_weekly": "0.00"},
    {"placement_id": "P5", "service": "supported_living", "start_date": "2026-05-15", "age": "34",
     "sl_day_hours": "40", "sl_weekly_cost": "1040.00", "s117": "true", "nhs_contribution_weekly": "300.00"},
    {"placement_id": "P6", "service": "care_home", "start_date": "2026-06-10", "age": "70", "care_type": "residential",
     "core_weekly_fee": "-5.00"},
]  # fmt: skip
AS_AT = date(2026, 7, 31)
COMPARED = ("placement_id", "row", "outcome", "rule_ids", "approvers", "gross_weekly_cost", "comparable_weekly",
            "benchmark_weekly", "over_benchmark_percent", "errors")  # fmt: skip
BOOLS = {"true": "Yes", "false": "No"}
LABELS = {"care_home": "Care Home", "supported_living": "Supported Living", "nursing": "Nursing",
          "residential": "Residential", "third_party": "Third Party"}  # fmt: skip
MONEY = ("_fee", "_weekly", "_cost")


def header() -> list[str]:
    return list(dict.fromkeys(k for row in CLEAN for k in row))


def outcomes(audit) -> list[tuple]:  # type: ignore[no-untyped-def]
    return [tuple(row[c] for c in COMPARED) for row in audit.table.select(list(COMPARED)).to_pylist()]


@pytest.fixture(scope="module")
def clean() -> list[tuple]:
    return outcomes(run_audit(table_from_records(CLEAN), as_at=AS_AT))


def uk(value: str) -> str:
    return date.fromisoformat(value).strftime("%d/%m/%Y")


def pounds(value: str) -> str:
    amount = Decimal(value)
    return f"-£{-amount:,.2f}" if amount < 0 else f"£{amount:,.2f}"


def people_style(name: str, value: str) -> str:
    if name.endswith("_date"):
        return uk(value)
    if name.endswith(MONEY):
        return pounds(value)
    return BOOLS.get(value, LABELS.get(value, value))


def test_title_case_uk_dates_pounds_yes_no_labels_windows_1252(tmp_path: Path, clean: list[tuple]) -> None:
    path = tmp_path / "Placements.csv"
    names = header()
    with path.open("w", newline="", encoding="cp1252") as handle:
        writer = csv.writer(handle)
        writer.writerow([name.replace("_", " ").title() for name in names])
        for row in CLEAN:
            writer.writerow([people_style(k, row[k]) if k in row else "" for k in names])
    assert "£1,100.00" in path.read_bytes().decode("cp1252") and "04/05/2026" in path.read_text("cp1252")
    audit = run_audit(path, as_at=AS_AT)
    assert any("Windows-1252" in note for note in audit.notes)
    assert outcomes(audit) == clean


@pytest.mark.parametrize(
    ("separator", "above"),
    [
        # Excel's "CSV (Comma delimited)" of a sheet with a title in A1 and a blank row: every row as wide as
        # the sheet, and a note beyond the last column of the header
        (",", [["Placements report, all open packages (£ a week)", *[""] * 10, "Printed 06/12/2026"], [""] * 12]),
        # a system's export: a title line, an empty line, then the header; semicolons, and commas in the title
        (";", [["Care placements; run 06/12/2026, 09:14"], []]),
    ],
)
def test_a_csv_export_with_title_rows_above_the_header_is_read_as_excel_reads_it(
    tmp_path: Path, clean: list[tuple], separator: str, above: list[list[str]]
) -> None:
    path = tmp_path / "Placements export.csv"
    names = header()
    with path.open("w", newline="", encoding="cp1252") as handle:
        writer = csv.writer(handle, delimiter=separator)
        writer.writerows(above)
        writer.writerow([name.replace("_", " ").title() for name in names])
        for row in CLEAN:
            writer.writerow([people_style(k, row[k]) if k in row else "" for k in names])
    audit = run_audit(path, as_at=AS_AT)
    assert any("Windows-1252" in note for note in audit.notes)
    assert any(note.startswith("rows 1–2 above the header skipped (") for note in audit.notes)
    assert any(note.endswith("the header is row 3") for note in audit.notes)
    # the spreadsheet's own row numbers: title rows 1 and 2, header row 3, placements from row 4
    assert [row[1] for row in outcomes(audit)] == [row[1] + 2 for row in clean]
    assert [row[:1] + row[2:] for row in outcomes(audit)] == [row[:1] + row[2:] for row in clean]
    assert not audit.warnings  # no nameless column from the title's width


def test_a_csv_with_no_header_in_its_first_20_rows_is_refused_with_the_columns_expected(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text("Title,,\n" + "a note,,\n" * 25 + "placement_id,service,age\n", encoding="utf-8")
    with pytest.raises(BookError, match="no required column was recognised"):
        run_audit(path)


def test_xlsx_with_a_title_row_and_real_date_and_number_cells(tmp_path: Path, clean: list[tuple]) -> None:
    path = tmp_path / "Placements.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Care placements")
    when = workbook.add_format({"num_format": "dd/mm/yyyy"})
    money = workbook.add_format({"num_format": "£#,##0.00"})
    sheet.write(0, 0, "Placements report — all open packages")
    names = header()
    for col, name in enumerate(names):
        sheet.write_string(1, col, name.replace("_", " ").title())
    for r, row in enumerate(CLEAN, start=2):
        for col, name in enumerate(names):
            value = row.get(name)
            if value is None:
                continue
            if name.endswith("_date"):
                sheet.write_datetime(r, col, datetime.fromisoformat(value), when)
            elif name.endswith(MONEY) or name in ("age", "sl_day_hours"):
                sheet.write_number(r, col, float(value), money if name.endswith(MONEY) else None)
            else:
                sheet.write_string(r, col, people_style(name, value))
    workbook.close()
    audit = run_audit(path, as_at=AS_AT)
    assert any("rows 1–1 above the header skipped" in note for note in audit.notes)
    # the spreadsheet's own row numbers: title row 1, header row 2, placements from row 3
    assert [row[1] for row in outcomes(audit)] == [row[1] + 1 for row in clean]
    assert [row[:1] + row[2:] for row in outcomes(audit)] == [row[:1] + row[2:] for row in clean]


def test_semicolons_bom_upper_case_midnight_date_times_and_whole_numbers_with_point_zero(
    tmp_path: Path, clean: list[tuple]
) -> None:
    path = tmp_path / "PLACEMENTS.CSV"
    names = header()

    def styled(name: str, value: str) -> str:
        if name.endswith("_date"):
            return f"{value} 00:00:00"
        if name in ("age", "sl_day_hours"):
            return f"{value}.0"
        return value.upper() if name in ("service", "care_type", "top_up_payer") else value

    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow([name.upper() for name in names])
        for row in CLEAN:
            writer.writerow([styled(k, row[k]) if k in row else "" for k in names])
    audit = run_audit(path, as_at=AS_AT)
    assert any("UTF-8 with BOM, semicolon-separated" in note for note in audit.notes)
    assert outcomes(audit) == clean
