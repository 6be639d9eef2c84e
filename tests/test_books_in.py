"""Books in other formats than CSV and .xlsx (issue 28): .xls, .xlsb and .ods through calamine, UTF-16 CSV as
Excel saves "Unicode text", and Parquet; each read as the same book written as CSV is, with the same bounds.

The files are made here: .xls with xlwt, .ods with odfpy (both test dependencies), .xlsb record by record from
MS-XLSB (no Python library writes it: ``_xlsb`` below is the smallest workbook calamine reads), Parquet with
pyarrow.
"""

from __future__ import annotations

import struct
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.audit.books.arrow_in import table_from_frame, text_array
from engine.audit.books.read import BookError, Limits, cell_text, load_book, table_from_records, table_from_rows
from engine.audit.run import run_audit
from tests.test_audit_exports import clean_book, outcomes

TITLE = "Care placements export, run 2026-08-01"


def _grid(rows: list[dict[str, str]]) -> list[list[str]]:
    """A title row, a blank row, then the header in people's spelling and the rows: as a council's export."""
    header = list(dict.fromkeys(k for r in rows for k in r))
    return [[TITLE], [], [name.replace("_", " ").title() for name in header]] + [
        [row.get(name, "") for name in header] for row in rows
    ]


def _xls(path: Path, grid: list[list[str]], numbers: bool = False) -> None:
    import xlwt

    workbook = xlwt.Workbook()
    workbook.add_sheet("Read me").write(0, 0, "notes only")
    sheet = workbook.add_sheet("Placements")
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            if value == "":
                continue
            if numbers and r > 2 and value.replace(".", "", 1).isdigit():
                sheet.write(r, c, float(value))  # a number cell, as Excel keeps a typed amount
            else:
                sheet.write(r, c, value)
    workbook.save(str(path))


def _ods(path: Path, grid: list[list[str]]) -> None:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    document = OpenDocumentSpreadsheet()
    notes = Table(name="Read me")
    row = TableRow()
    cell = TableCell(valuetype="string")
    cell.addElement(P(text="notes only"))
    row.addElement(cell)
    notes.addElement(row)
    document.spreadsheet.addElement(notes)
    table = Table(name="Placements")
    for cells in grid:
        row = TableRow()
        for value in cells:
            cell = TableCell(valuetype="string") if value else TableCell()
            if value:
                cell.addElement(P(text=value))
            row.addElement(cell)
        table.addElement(row)
    document.spreadsheet.addElement(table)
    document.save(str(path))


def _record(kind: int, payload: bytes = b"") -> bytes:
    """One MS-XLSB record: its type and size as 7-bit groups, low first (§2.1.4), then the payload."""

    def number(value: int) -> bytes:
        out = bytearray()
        while True:
            byte, value = value & 0x7F, value >> 7
            out.append(byte | (0x80 if value else 0))
            if not value:
                return bytes(out)

    return number(kind) + number(len(payload)) + payload


def _wide(text: str) -> bytes:
    return struct.pack("<I", len(text)) + text.encode("utf-16-le")


def _xlsb(path: Path, grid: list[list[str]], declared: tuple[int, int] | None = None) -> None:
    """A one-sheet .xlsb: workbook.bin lists the sheet (BrtBundleSh), the sheet holds BrtWsDim and a BrtCellSt per
    cell (inline text, no shared strings, no styles part: calamine needs neither)."""
    last_row = len(grid) - 1 if declared is None else declared[0] - 1
    last_column = max(len(r) for r in grid) - 1 if declared is None else declared[1] - 1
    sheet = _record(0x81) + _record(0x94, struct.pack("<4I", 0, last_row, 0, last_column)) + _record(0x91)
    for r, cells in enumerate(grid):
        sheet += _record(0x00, struct.pack("<I", r) + bytes(13))  # BrtRowHdr
        for c, value in enumerate(cells):
            if value:
                sheet += _record(0x06, struct.pack("<II", c, 0) + _wide(value))  # BrtCellSt
    sheet += _record(0x92) + _record(0x82)
    book = (
        _record(0x83)
        + _record(0x8F)
        + _record(0x9C, struct.pack("<II", 0, 1) + _wide("rId1") + _wide("Placements"))
        + _record(0x90)
        + _record(0x84)
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/worksheet" Target="worksheets/sheet1.bin"/></Relationships>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.bin", book)
        archive.writestr("xl/_rels/workbook.bin.rels", rels)
        archive.writestr("xl/worksheets/sheet1.bin", sheet)


WRITERS = {".xls": _xls, ".ods": _ods, ".xlsb": _xlsb}


@pytest.mark.parametrize("suffix", list(WRITERS))
def test_xls_xlsb_and_ods_are_read_as_xlsx_is(tmp_path: Path, suffix: str) -> None:
    """The header found below the title rows, the rows numbered as the sheet numbers them, the outcomes those of
    the same book as a table."""
    path = tmp_path / f"book{suffix}"
    WRITERS[suffix](path, _grid(clean_book()))
    book = load_book(path)
    assert any("rows 1–2 above the header skipped" in note and TITLE in note for note in book.notes)
    assert book.row_numbers.tolist() == [4, 5, 6, 7, 8, 9]
    assert book.table.column("core_weekly_fee").to_pylist()[:2] == ["990.00", "1040.00"]
    assert outcomes(run_audit(path)) == outcomes(run_audit(table_from_records(clean_book())))


def test_xls_number_cells_are_read_as_excel_shows_them(tmp_path: Path) -> None:
    path = tmp_path / "book.xls"
    _xls(path, _grid(clean_book()), numbers=True)
    table = load_book(path, sheet="Placements").table
    assert table.column("core_weekly_fee").to_pylist()[:2] == ["990", "1040"]
    assert outcomes(run_audit(path)) == outcomes(run_audit(table_from_records(clean_book())))


@pytest.mark.parametrize("suffix", list(WRITERS))
def test_a_damaged_spreadsheet_is_a_clear_error(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"book{suffix}"
    path.write_bytes(b"PK\x03\x04 not a workbook at all" * 10)
    kind = "OpenDocument" if suffix == ".ods" else "Excel"
    with pytest.raises(BookError, match=f"cannot read as {kind}"):
        load_book(path)


def test_the_spreadsheets_are_bounded(tmp_path: Path) -> None:
    grid = _grid(clean_book())
    for suffix, writer in WRITERS.items():
        path = tmp_path / f"book{suffix}"
        writer(path, grid)
        with pytest.raises(BookError, match="6 rows, over the limit of 5 rows"):
            load_book(path, limits=Limits(max_rows=5))
        with pytest.raises(BookError, match="over the limit of 3 columns"):
            load_book(path, limits=Limits(max_columns=3))
    for suffix in (".ods", ".xlsb"):  # zip packages: the decompressed size, before calamine opens them
        with pytest.raises(BookError, match="bytes once decompressed, over the limit of 100 bytes"):
            load_book(tmp_path / f"book{suffix}", limits=Limits(max_xlsx_bytes=100))
    with pytest.raises(BookError, match="over the limit of 100 bytes"):
        load_book(tmp_path / "book.xls", limits=Limits(max_xlsx_bytes=100))


def test_an_xlsb_sheet_declaring_a_huge_used_range_is_refused_before_it_is_loaded(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsb"
    _xlsb(path, _grid(clean_book()), declared=(1_048_576, 16_384))
    with pytest.raises(BookError, match="declares 16,384 columns, over the limit of 1,000 columns; the sheet was not"):
        load_book(path)
    _xlsb(path, _grid(clean_book()), declared=(1_048_576, 10))
    with pytest.raises(BookError, match="declares 1,048,576 rows, over the limit of 1,000 rows"):
        load_book(path, limits=Limits(max_rows=1000))


def _tab_text(rows: list[dict[str, str]]) -> str:
    header = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["\t".join(header)] + ["\t".join(row.get(name, "") for name in header) for row in rows]
    return "\r\n".join(lines) + "\r\n"


def test_utf16_unicode_text_as_excel_saves_it_is_read(tmp_path: Path) -> None:
    """Excel's "Unicode text": UTF-16 little-endian with its BOM, TAB-separated, CRLF line ends."""
    rows = [{**r, "provider": "Café Lodge – £ rooms"} for r in clean_book()]
    path = tmp_path / "book.txt"
    path.write_bytes(b"\xff\xfe" + _tab_text(rows).encode("utf-16-le"))
    book = load_book(path)
    assert book.notes[0] == "read as CSV: UTF-16 with BOM (Excel's Unicode text), tab-separated"
    assert book.table.column("provider").to_pylist()[0] == "Café Lodge – £ rooms"
    assert book.table.column_names[0] == "placement_id"
    assert outcomes(run_audit(path)) == outcomes(run_audit(table_from_records(rows)))


@pytest.mark.parametrize("codec, name", [("utf-16-be", "big-endian"), ("utf-16-le", "little-endian")])
def test_utf16_without_a_bom_and_big_endian_are_read(tmp_path: Path, codec: str, name: str) -> None:
    path = tmp_path / "book.csv"
    path.write_bytes(_tab_text(clean_book()).replace("\t", ",").encode(codec))
    book = load_book(path)
    assert name in book.notes[0] and "comma-separated" in book.notes[0]
    assert outcomes(run_audit(path)) == outcomes(run_audit(table_from_records(clean_book())))
    path.write_bytes("\ufeff".encode(codec) + _tab_text(clean_book()).encode(codec))
    assert outcomes(run_audit(path)) == outcomes(run_audit(table_from_records(clean_book())))


def test_a_binary_file_named_csv_is_not_taken_for_utf16(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    path.write_bytes(bytes(range(256)) * 4 + b"\x00" * 2000)  # NUL bytes on both parities: not text
    with pytest.raises(BookError) as refused:
        load_book(path)
    assert "UTF-16" not in str(refused.value)


def test_utf16_cut_in_half_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "book.txt"
    path.write_bytes(b"\xff\xfe" + _tab_text(clean_book()).encode("utf-16-le") + b"\x00\xd8")  # a lone surrogate
    with pytest.raises(BookError, match="cannot read as UTF-16|cannot read as CSV"):
        load_book(path)


def _typed_book() -> pa.Table:
    """The clean book as a warehouse keeps it: money as decimal(12,2), dates as dates, ages as integers."""
    rows = clean_book()
    header = list(dict.fromkeys(k for r in rows for k in r))
    columns = {}
    for name in header:
        values = [row.get(name) or None for row in rows]
        if name.endswith("_weekly") or name.endswith("_fee"):
            columns[name] = pa.array([Decimal(v) if v else None for v in values], pa.decimal128(12, 2))
        elif name.endswith("_date"):
            columns[name] = pa.array([date.fromisoformat(v) if v else None for v in values], pa.date32())
        elif name == "age":
            columns[name] = pa.array([int(v) if v else None for v in values], pa.int32())
        else:
            columns[name] = pa.array(values, pa.string())
    return pa.table(columns)


def test_parquet_is_read_with_typed_columns_as_text(tmp_path: Path) -> None:
    path = tmp_path / "book.parquet"
    pq.write_table(_typed_book(), path)
    book = load_book(path)
    assert book.notes[0] == "read as Parquet: 6 rows, 9 columns"
    assert book.table.column("core_weekly_fee").to_pylist()[:2] == ["990.00", "1040.00"]
    assert book.table.column("start_date").to_pylist()[0] == "2026-05-04"
    assert book.table.column("age").to_pylist()[0] == "82"
    assert book.row_numbers.tolist() == [2, 3, 4, 5, 6, 7]
    assert outcomes(run_audit(path)) == outcomes(run_audit(table_from_records(clean_book())))


def test_a_parquet_float_money_column_is_refused_naming_the_cast(tmp_path: Path) -> None:
    typed = _typed_book()
    at = typed.column_names.index("core_weekly_fee")
    floats = typed.set_column(at, "Core Weekly Fee", typed.column(at).cast(pa.float64()))
    pq.write_table(floats, tmp_path / "book.parquet")
    with pytest.raises(BookError, match=r"'Core Weekly Fee' \(core_weekly_fee\) is a double float column: money"):
        load_book(tmp_path / "book.parquet")


def test_parquet_is_bounded_and_a_damaged_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "book.parquet"
    pq.write_table(_typed_book(), path)
    with pytest.raises(BookError, match="6 rows, over the limit of 5 rows"):
        load_book(path, limits=Limits(max_rows=5))
    with pytest.raises(BookError, match="9 columns, over the limit of 3"):
        load_book(path, limits=Limits(max_columns=3))
    with pytest.raises(BookError, match="over the limit of 100 bytes"):
        load_book(path, limits=Limits(max_xlsx_bytes=100))
    with pytest.raises(BookError, match="--sheet is for spreadsheets"):
        load_book(path, sheet="x")
    path.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(BookError, match="cannot read as Parquet"):
        load_book(path)


SAMPLES = [
    "text",
    "",
    None,
    0,
    -7,
    2**40,
    True,
    False,
    1092.0000000000002,
    1040.5,
    0.1 + 0.2,
    1e20,
    -3.0,
    float("nan"),
    Decimal("1040.00"),
    date(2026, 4, 1),
    datetime(2026, 4, 1),
    datetime(2026, 4, 1, 10, 30),
]


@pytest.mark.parametrize("value", SAMPLES, ids=repr)
def test_arrow_columns_become_the_text_cell_text_gives(value: object) -> None:
    """Column by column through Arrow, each value becomes the text that cell by cell gave (the old conversion)."""
    frame = pd.DataFrame({"x": [value, value]})
    by_arrow = table_from_frame(frame).column("x").to_pylist()
    assert by_arrow == table_from_rows(["x"], [[value], [value]]).column("x").to_pylist()
    assert by_arrow == [cell_text(value)] * 2


def test_a_frame_mixing_types_in_a_column_and_typed_columns_is_converted() -> None:
    frame = pd.DataFrame(
        {
            "mixed": ["A", 3, None],
            "when": pd.to_datetime(["2026-04-01", "2026-04-02 09:00", None], format="ISO8601"),
            "cat": pd.Categorical(["a", "b", "a"]),
            "big": pd.array([1, None, 3], dtype="Int64"),
        }
    )
    table = table_from_frame(frame)
    assert table.column("mixed").to_pylist() == ["A", "3", None]
    assert table.column("when").to_pylist() == ["2026-04-01", "2026-04-02T09:00:00", None]
    assert table.column("cat").to_pylist() == ["a", "b", "a"]
    assert table.column("big").to_pylist() == ["1", None, "3"]
    assert text_array(pa.array([b"\x01"], pa.binary())).to_pylist() == [cell_text(b"\x01")]


def test_run_audit_of_a_frame_equals_the_audit_of_the_same_rows() -> None:
    frame = pd.DataFrame(clean_book())
    assert outcomes(run_audit(frame)) == outcomes(run_audit(table_from_records(clean_book())))
    typed = _typed_book()
    assert outcomes(run_audit(typed)) == outcomes(run_audit(table_from_records(clean_book())))


def test_a_frame_of_text_is_converted_by_arrow_not_cell_by_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 28: 50,000 text rows took 1.7 s to convert cell by cell. Columns Arrow can type never reach the
    cell-by-cell conversion."""
    from engine.audit.books import arrow_in, read

    def cell_by_cell(value: object) -> str | None:
        raise AssertionError("a column Arrow can type was converted cell by cell")

    monkeypatch.setattr(read, "cell_text", cell_by_cell)
    monkeypatch.setattr(arrow_in, "cell_text", cell_by_cell)
    frame = pd.DataFrame(clean_book())
    assert outcomes(run_audit(frame)) == outcomes(run_audit(frame.astype("str")))
    assert table_from_frame(frame.astype(object)).column("age").to_pylist()[0] == "82"
