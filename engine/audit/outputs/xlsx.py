"""A SpreadsheetML (.xlsx) writer that builds each sheet's XML a whole column at a time with Arrow string kernels.

XlsxWriter spends about 5 µs of Python on every cell, which made ``results.xlsx`` the slowest output of an audit
(issue 8). The package written here is the one XlsxWriter writes in constant-memory mode — inline strings, the
same parts, styles and worksheet elements in the schema's order — but each cell's XML is made by vector
operations over the column, and the rows are joined and deflated in blocks, so memory stays bounded.

A sheet is a list of columns; a column is a title, a width and a list of *cell kinds*, each an Arrow array with
nulls where that kind has no value for the row: the first kind with a value gives the cell (a typed number,
falling back to the text as written). Text is escaped for XML, and characters XML cannot hold are written as
Excel's ``_xHHHH_`` escapes, as Excel itself does.
"""

from __future__ import annotations

import html
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from enum import IntEnum
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

BLOCK_ROWS = 20_000  # rows joined and deflated at a time
EXCEL_EPOCH = date(1899, 12, 30)  # serial 1 = 1900-01-01 (Excel's 1900 leap-year quirk lies before serial 61)
EXCEL_DAY_ZERO = (date(1970, 1, 1) - EXCEL_EPOCH).days  # Arrow's day 0 as an Excel serial day
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"
OFFICE = "application/vnd.openxmlformats-officedocument"
HEADER = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def escape(data: str) -> str:
    """``xml.sax.saxutils.escape``: &, < and > as entities (the same text; that module imports urllib.request and
    ssl, a tenth of a second of an audit's start-up)."""
    return html.escape(data, quote=False)


def quoteattr(data: str) -> str:
    """``xml.sax.saxutils.quoteattr``: the text escaped, new lines, returns and tabs as character references, in
    double quotes (single quotes when it holds a double quote and no single one)."""
    data = escape(data).replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    if '"' not in data:
        return f'"{data}"'
    if "'" not in data:
        return f"'{data}'"
    return '"{}"'.format(data.replace('"', "&quot;"))


# characters XML 1.0 cannot hold, and text that Excel would read as one of its own escapes
UNWRITABLE = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9A-Fa-f]{4}_")
UNWRITABLE_RE2 = r"[\x00-\x08\x0b-\x1f\x{FFFE}\x{FFFF}]|_x[0-9A-Fa-f]{4}_"  # the same, as Arrow's RE2 writes it


class Style(IntEnum):
    """The cell formats (``cellXfs`` in styles.xml, in this order)."""

    PLAIN = 0
    BOLD = 1
    MONEY = 2
    DATE = 3
    DECIMAL = 4
    QUANTITY = 5  # hours, miles and shares


@dataclass(frozen=True)
class Column:
    """One sheet column: its title, its width in characters and its cell kinds (see the module's docstring)."""

    title: str
    width: float
    kinds: tuple[Kind, ...]


@dataclass(frozen=True)
class Kind:
    """Values of one type for a column, null where the row has none of this type."""

    values: pa.Array
    style: Style = Style.PLAIN

    def slice(self, start: int, length: int) -> Kind:
        return Kind(self.values.slice(start, length), self.style)


def column_letters(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _excel_escape(match: re.Match[str]) -> str:
    text = match.group(0)
    return f"_x{ord(text):04X}_" if len(text) == 1 else "_x005F" + text


# The bytes that may need a cell's text changed: controls but tab and newline (``UNWRITABLE``), &, <, >; U+FFFE and
# U+FFFF begin 0xEF 0xBF, an escape Excel would read begins "_x". A column with none of them is written as it is.
_MAY_CHANGE = np.zeros(256, bool)
_MAY_CHANGE[[*range(ord("\t")), *range(ord("\n") + 1, ord(" ")), ord("&"), ord("<"), ord(">")]] = True


def _needs_escaping(values: pa.Array) -> bool:
    """Whether any string of ``values`` may need escaping: one pass over its bytes (all of its data buffer, so a
    slice is looked at with its neighbours: never a false no)."""
    data = values.buffers()[2]
    if data is None:
        return False
    if _MAY_CHANGE[np.frombuffer(data, np.uint8)].any():
        return True
    text = data.to_pybytes()
    return b"_x" in text or b"\xef\xbf" in text


def escape_text(values: pa.Array) -> pa.Array:
    """Text made safe for XML element content; the rare cell XML cannot hold goes through Python."""
    values = pc.cast(values, pa.string())
    if not _needs_escaping(values):
        return values
    if pc.any(pc.match_substring_regex(values, UNWRITABLE_RE2)).as_py():
        values = pa.array([None if v is None else UNWRITABLE.sub(_excel_escape, v) for v in values.to_pylist()])
    for raw, safe in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        if pc.any(pc.match_substring(values, raw)).as_py():
            values = pc.replace_substring(values, raw, safe)
    return values


TEXT = (' t="inlineStr"><is><t xml:space="preserve">', "</t></is></c>")  # a cell's text: after its style, its end


def _value_text(kind: Kind) -> tuple[pa.Array, str, str]:
    """The text of each ``<v>`` or ``<t>``, the attributes and tags before it, and those after it."""
    values = kind.values
    style = f' s="{int(kind.style)}"' if kind.style else ""
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        values = pc.if_else(pc.equal(values, ""), pa.scalar(None, values.type), values)
        return escape_text(values), style + TEXT[0], TEXT[1]
    if pa.types.is_boolean(values.type):
        return pc.if_else(values, "1", "0"), f'{style} t="b"><v>', "</v></c>"
    if pa.types.is_date32(values.type):
        days = pc.add(pc.cast(pc.cast(values, pa.int32()), pa.int64()), EXCEL_DAY_ZERO)
        return pc.cast(days, pa.string()), f"{style}><v>", "</v></c>"
    if pa.types.is_floating(values.type):
        values = pc.if_else(pc.is_finite(values), values, pa.scalar(None, values.type))
    return pc.cast(values, pa.string()), f"{style}><v>", "</v></c>"


def _cells(kinds: Iterable[Kind], letter: str, rows: pa.Array) -> pa.Array:
    """Each row's ``<c>`` element for one column (null where the row has no value)."""
    cells = None
    for kind in reversed(list(kinds)):  # the first kind with a value wins
        text, opening, closing = _value_text(kind)
        made = pc.binary_join_element_wise(f'<c r="{letter}', rows, f'"{opening}', text, closing, "")
        cells = made if cells is None else pc.coalesce(made, cells)
    return pa.nulls(len(rows), pa.string()) if cells is None else cells


def _concatenated(values: pa.Array) -> bytes:
    """Every string of an Arrow string array, end to end, straight from its buffers."""
    values = values.cast(pa.string())
    if values.offset:
        values = pa.concat_arrays([values])
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32, count=len(values) + 1)
    data = values.buffers()[2]
    return b"" if data is None else data.to_pybytes()[: int(offsets[-1])]


def _header_row(columns: list[Column]) -> str:
    opening, closing = TEXT
    cells = "".join(
        f'<c r="{column_letters(i)}1" s="{int(Style.BOLD)}"{opening}{escape(column.title)}{closing}'
        for i, column in enumerate(columns)
    )
    return f'<row r="1">{cells}</row>'


def _sheet_rows(columns: list[Column], rows: int) -> Iterator[bytes]:
    for start in range(0, rows, BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, rows)
        numbers = pc.cast(pa.array(np.arange(start + 2, stop + 2, dtype=np.int64)), pa.string())
        cells = [
            _cells((kind.slice(start, stop - start) for kind in column.kinds), column_letters(i), numbers)
            for i, column in enumerate(columns)
        ]
        row = pc.binary_join_element_wise('<row r="', numbers, '">', *cells, "</row>", "", null_handling="replace")
        yield _concatenated(row)  # a cell with no value (null) is left out


def _made_ahead(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """The blocks, each made on another thread while the one before it is compressed and written (Arrow's
    kernels and zlib release the GIL)."""
    with ThreadPoolExecutor(max_workers=1) as maker:
        coming = maker.submit(next, blocks, None)
        while (block := coming.result()) is not None:
            coming = maker.submit(next, blocks, None)
            yield block


def _reference(columns: list[Column], rows: int, absolute: bool = False) -> str:
    """The sheet's cells, header included: ``A1:BI501`` (or ``$A$1:$BI$501``)."""
    mark = "$" if absolute else ""
    return f"{mark}A{mark}1:{mark}{column_letters(max(len(columns) - 1, 0))}{mark}{rows + 1}"


def _sheet_start(columns: list[Column], rows: int, selected: bool) -> str:
    widths = "".join(
        f'<col min="{i + 1}" max="{i + 1}" width="{column.width:g}" customWidth="1"/>'
        for i, column in enumerate(columns)
    )
    shown = ' tabSelected="1"' if selected else ""
    return (
        f'{HEADER}<worksheet xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}"><dimension ref="{_reference(columns, rows)}"/>'
        f'<sheetViews><sheetView{shown} workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft"/></sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
        f"{'<cols>' + widths + '</cols>' if widths else ''}<sheetData>{_header_row(columns)}"
    )


def _sheet_end(columns: list[Column], rows: int) -> str:
    return (
        f'</sheetData><autoFilter ref="{_reference(columns, rows)}"/>'
        '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>'
    )


def _styles(money: str, day: str, quantity: str) -> str:
    font = '<sz val="11"/><name val="Calibri"/><family val="2"/>'
    formats = {Style.PLAIN: 0, Style.BOLD: 0, Style.MONEY: 164, Style.DATE: 165, Style.DECIMAL: 2, Style.QUANTITY: 166}
    bold, numbered = ' applyFont="1"', ' applyNumberFormat="1"'
    cells = "".join(
        f'<xf numFmtId="{number}" fontId="{int(style is Style.BOLD)}" fillId="0" borderId="0" xfId="0"'
        f"{bold if style is Style.BOLD else ''}{numbered if number else ''}/>"
        for style, number in formats.items()
    )
    return (
        f'{HEADER}<styleSheet xmlns="{MAIN}"><numFmts count="3"><numFmt numFmtId="164" formatCode={quoteattr(money)}/>'
        f'<numFmt numFmtId="165" formatCode={quoteattr(day)}/>'
        f'<numFmt numFmtId="166" formatCode={quoteattr(quantity)}/></numFmts>'
        f'<fonts count="2"><font>{font}</font><font><b/>{font}</font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/>'
        '</fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        f'<cellXfs count="{len(formats)}">{cells}</cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        '<dxfs count="0"/><tableStyles count="0"/></styleSheet>'
    )


def _package(names: list[str], sheets: list[tuple[list[Column], int]]) -> dict[str, str]:
    """Every part but the worksheets."""
    count = len(names)
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" ContentType="{OFFICE}.spreadsheetml.worksheet+xml"/>'
        for i in range(count)
    )
    relations = "".join(
        f'<Relationship Id="rId{i + 1}" Type="{RELATIONSHIPS}/worksheet" Target="worksheets/sheet{i + 1}.xml"/>'
        for i in range(count)
    )
    entries = "".join(
        f'<sheet name={quoteattr(name)} sheetId="{i + 1}" r:id="rId{i + 1}"/>' for i, name in enumerate(names)
    )
    filters = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
        f"{escape(_quoted(name))}!{_reference(columns, rows, absolute=True)}</definedName>"
        for i, (name, (columns, rows)) in enumerate(zip(names, sheets))
    )
    return {
        "[Content_Types].xml": (
            f'{HEADER}<Types xmlns="{TYPES}"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
            'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{OFFICE}.spreadsheetml.sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{OFFICE}.spreadsheetml.styles+xml"/>{overrides}</Types>'
        ),
        "_rels/.rels": (
            f'{HEADER}<Relationships xmlns="{PACKAGE}"><Relationship Id="rId1" '
            f'Type="{RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'{HEADER}<workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}"><bookViews><workbookView/></bookViews>'
            f"<sheets>{entries}</sheets><definedNames>{filters}</definedNames></workbook>"
        ),
        "xl/_rels/workbook.xml.rels": (
            f'{HEADER}<Relationships xmlns="{PACKAGE}">{relations}<Relationship Id="rId{count + 1}" '
            f'Type="{RELATIONSHIPS}/styles" Target="styles.xml"/></Relationships>'
        ),
    }


def _quoted(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def write_xlsx(
    path: Path,
    sheets: list[tuple[str, list[Column], int]],
    money: str,
    day: str,
    quantity: str,
    written: Callable[[int], None] | None = None,
) -> None:
    """A workbook of ``(sheet name, columns, rows)``; the first sheet is the one shown on opening. ``written`` is
    told the rows of each block once it is written (a progress bar)."""
    names = [name for name, _, _ in sheets]
    shapes = [(columns, rows) for _, columns, rows in sheets]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, text in _package(names, shapes).items():
            archive.writestr(name, text)
        archive.writestr("xl/styles.xml", _styles(money, day, quantity))
        for index, (_, columns, rows) in enumerate(sheets):
            with archive.open(f"xl/worksheets/sheet{index + 1}.xml", "w", force_zip64=True) as part:
                part.write(_sheet_start(columns, rows, index == 0).encode("utf-8"))
                for start, block in enumerate(_made_ahead(_sheet_rows(columns, rows))):
                    part.write(block)
                    if written is not None:
                        written(min(BLOCK_ROWS, rows - start * BLOCK_ROWS))
                part.write(_sheet_end(columns, rows).encode("utf-8"))
