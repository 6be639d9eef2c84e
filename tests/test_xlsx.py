"""The workbook writer (engine/audit/outputs/xlsx.py): what Excel's readers see is what was written — typed cells, text
exactly (XML's special and forbidden characters included), formats, frozen header, filters, widths, every row in
order across blocks — read back with python-calamine (which decodes cells as Excel does) and openpyxl."""

from __future__ import annotations

import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from engine.audit.outputs import xlsx
from engine.audit.outputs.excel_out import MONEY_FORMAT, write_workbook
from engine.audit.outputs.safe import is_formula_like
from engine.audit.outputs.write import write_outputs
from engine.audit.run import run_audit


def _read(path: Path, sheet: str) -> list[list[object]]:
    rows: list[list[object]] = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()
    return rows


def test_column_letters() -> None:
    assert [xlsx.column_letters(i) for i in (0, 25, 26, 51, 52, 701, 702, 16383)] == [
        "A", "Z", "AA", "AZ", "BA", "ZZ", "AAA", "XFD"
    ]  # fmt: skip


def test_every_type_reads_back_typed_with_its_format(tmp_path: Path) -> None:
    table = pa.table(
        {
            "whole": pa.array([1, None, -7], pa.int64()),
            "weekly_fee": pa.array([Decimal("1040.00"), Decimal("-12.50"), None], pa.decimal128(18, 2)),
            "over_percent": pa.array([Decimal("12.34"), None, None], pa.decimal128(18, 2)),
            "start_date": pa.array([date(2026, 5, 4), None, date(1999, 12, 31)], pa.date32()),
            "flag": pa.array([True, False, None]),
            "ratio": pa.array([0.5, float("nan"), None], pa.float64()),
            "text": pa.array(["a", "", None]),
        }
    )
    path = tmp_path / "t.xlsx"
    write_workbook(path, [("Sheet", table)])
    rows = _read(path, "Sheet")
    assert rows[0] == table.column_names
    assert rows[1] == [1, 1040.0, 12.34, date(2026, 5, 4), True, 0.5, "a"]
    assert rows[2] == ["", -12.5, "", "", False, "", ""]  # NaN is no number: an empty cell
    assert rows[3] == [-7, "", "", date(1999, 12, 31), "", "", ""]
    sheet = openpyxl.load_workbook(path)["Sheet"]
    assert sheet["B2"].number_format == MONEY_FORMAT and sheet["C2"].number_format == "0.00"
    assert sheet["D2"].number_format == "dd/mm/yyyy" and sheet["A2"].number_format == "General"
    assert sheet["A1"].font.b and not sheet["A2"].font.b
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:G4"
    assert len("£1,040.00") + 2 <= sheet.column_dimensions["B"].width <= 60  # as shown, not as stored
    assert sheet.column_dimensions["A"].width == 6 + 2 and sheet.column_dimensions["D"].width == len("start_date") + 2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=12)), min_size=1, max_size=8))
def test_any_text_reads_back_as_written(tmp_path_factory: pytest.TempPathFactory, texts: list[str | None]) -> None:
    """XML's own characters, characters XML cannot hold or would change (a carriage return) and Excel's
    ``_x0041_`` escapes: all come back as they were (formula-looking text, as the neutraliser judges it, is left
    out: it gains an apostrophe, as in every output, and tests/test_audit_exports.py checks that)."""
    texts = [t if not is_formula_like(t) else "x" + t for t in texts]
    path = tmp_path_factory.mktemp("x") / "t.xlsx"
    write_workbook(path, [("S", pa.table({"text": pa.array(texts, pa.string())}))])
    read = [row[0] for row in _read(path, "S")[1:]]
    read += [""] * (len(texts) - len(read))  # the reader leaves out empty rows at the end
    assert read == [t or "" for t in texts]


def test_rows_stay_in_order_across_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx, "BLOCK_ROWS", 7)
    n = 30
    table = pa.table({f"c{i}": pa.array([r * 100 + i for r in range(n)], pa.int64()) for i in range(30)})
    path = tmp_path / "t.xlsx"
    write_workbook(path, [("First", table), ("Second's", table.slice(0, 3))])
    rows = _read(path, "First")
    assert rows[-1][-1] == (n - 1) * 100 + 29 and len(rows) == n + 1
    assert [row[0] for row in rows[1:]] == [r * 100 for r in range(n)]
    assert rows[0][-1] == "c29"  # column AD
    assert len(_read(path, "Second's")) == 4
    with zipfile.ZipFile(path) as archive:
        workbook = archive.read("xl/workbook.xml").decode()
        assert archive.testzip() is None
    assert "'Second''s'!$A$1:$AD$4" in workbook


def test_an_empty_table_is_a_header_and_filter(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    write_workbook(path, [("Empty", pa.table({"a": pa.array([], pa.string()), "b": pa.array([], pa.int64())}))])
    assert _read(path, "Empty") == [["a", "b"]]
    assert openpyxl.load_workbook(path)["Empty"].auto_filter.ref == "A1:B1"


def test_results_input_columns_are_typed_where_the_row_was_read(tmp_path: Path) -> None:
    """A finance officer sorts and sums the input columns too: a read row's fee is a £ number and its start date
    a date; a row that could not be read keeps its cells exactly as they were written."""
    book = tmp_path / "book.csv"
    book.write_text(
        "Placement ID,Service,Start Date,Age,Care Type,Lot,Core Weekly Fee,Distance Miles\n"
        'P1,Care Home,04/05/2026,82,Residential,1,"£1,040.00",12.5\n'
        'P2,Care Home,04/05/2026,82.0,Residential,1,"1.040,00",12.5\n',
        encoding="utf-8",
    )
    paths = write_outputs(run_audit(book), tmp_path / "out", report=False)
    header, good, bad = _read(paths["results_xlsx"], "Results")[:3]
    cell = dict(zip(header, good))
    assert cell["core_weekly_fee"] == 1040.0 and cell["start_date"] == date(2026, 5, 4) and cell["age"] == 82
    assert cell["service"] == "Care Home"  # names stay as written
    cell = dict(zip(header, bad))
    assert cell["core_weekly_fee"] == "1.040,00" and cell["age"] == "82.0" and cell["start_date"] == "04/05/2026"
    assert cell["outcome"] == "" and "core_weekly_fee" in str(cell["errors"])
    sheet = openpyxl.load_workbook(paths["results_xlsx"])["Results"]
    fee, miles = header.index("core_weekly_fee"), header.index("distance_miles")
    assert sheet.cell(2, fee + 1).number_format == MONEY_FORMAT
    assert cell["distance_miles"] == "12.5"  # the unread row, as written
    # not £; two decimals at least, up to the four that hours and miles may have (12.50, 13.3333)
    assert sheet.cell(2, miles + 1).value == 12.5 and sheet.cell(2, miles + 1).number_format == "0.00##"


@pytest.mark.parametrize("special", ["&", "<", ">", "\r", "\x01", "\x1f", "_x0041_", "a_x00e9_b"])
def test_a_column_of_plain_text_with_one_character_to_escape_is_escaped(tmp_path: Path, special: str) -> None:
    """A column with nothing to escape is written as it is (one look at its bytes); one cell needing an escape,
    anywhere in it, sends the whole column through the escaping, in a slice of a longer column too."""
    texts = ["plain £ é\ttab\nline", f"x{special}y", "more plain"]
    column = pa.array(["before", *texts, "after"], pa.string()).slice(1, 3)
    assert xlsx._needs_escaping(column) and not xlsx._needs_escaping(pa.array(["plain £ é\ttab\nline"]))
    path = tmp_path / "t.xlsx"
    write_workbook(path, [("S", pa.table({"text": column}))])
    assert [row[0] for row in _read(path, "S")[1:]] == texts


def test_the_noncharacters_are_seen_as_needing_an_escape() -> None:
    assert xlsx._needs_escaping(pa.array(["a\ufffe"])) and xlsx._needs_escaping(pa.array(["\uffffb"]))
    assert not xlsx._needs_escaping(pa.array(["\uff00", "\u20ac", None, ""]))
