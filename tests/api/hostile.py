"""Hostile upload books, as found by the adversarial tests of issue 13 (built here, not stored)."""

from __future__ import annotations

import io
import zipfile

import openpyxl

HEADER = ["placement_id", "service", "start_date", "age", "care_type", "core_weekly_fee"]
ROW = ["P-1", "care_home", "2026-05-04", 82, "nursing", "1040.00"]


def wide_header_csv(columns: int = 60_000) -> bytes:
    """A ~470 KB CSV whose header has tens of thousands of columns (a quadratic duplicate check spins on it)."""
    header = ",".join([*HEADER, *(f"x{index}" for index in range(columns))])
    return (header + "\n" + ",".join(str(cell) for cell in ROW) + "\n").encode()


def xlsx(rows: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def one_huge_cell_xlsx(megabytes: int = 400) -> bytes:
    """A few hundred KB .xlsx holding one cell of ``megabytes`` MB (it unpacks to that much)."""
    plain = xlsx([HEADER, [*ROW[:-1], "PLACEHOLDER"]])
    source = zipfile.ZipFile(io.BytesIO(plain))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info.filename)
            if b"PLACEHOLDER" not in data:
                archive.writestr(info, data)
                continue
            before, after = data.split(b"PLACEHOLDER")
            with archive.open(info.filename, "w", force_zip64=True) as member:
                member.write(before)
                chunk = b"1" * (1 << 20)
                for _ in range(megabytes):
                    member.write(chunk)
                member.write(after)
    return out.getvalue()


def many_cells_xlsx(rows: int = 60_000) -> bytes:
    """A small .xlsx (about 1.5 MB) of many short rows: slow for a cell-by-cell reader. The sheet's rows are
    written as XML directly (openpyxl would take seconds to write them)."""
    plain = xlsx([HEADER, ROW])
    source = zipfile.ZipFile(io.BytesIO(plain))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                head, rest = data.split(b'<row r="2">', 1)
                tail = rest.split(b"</sheetData>", 1)[1]
                cells = "".join(
                    f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>P-{r}</t></is></c>'
                    f'<c r="B{r}" t="inlineStr"><is><t>care_home</t></is></c>'
                    f'<c r="C{r}" t="inlineStr"><is><t>2026-05-04</t></is></c><c r="D{r}"><v>82</v></c>'
                    f'<c r="E{r}" t="inlineStr"><is><t>nursing</t></is></c>'
                    f'<c r="F{r}" t="inlineStr"><is><t>1040.00</t></is></c></row>'
                    for r in range(2, rows + 2)
                )
                data = head.replace(b'ref="A1:F2"', f'ref="A1:F{rows + 1}"'.encode()) + cells.encode()
                data += b"</sheetData>" + tail
            archive.writestr(info, data)
    return out.getvalue()
