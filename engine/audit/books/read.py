"""Placement books in: CSV and Excel as tables of text cells (no float money), read as a person would read them.

Columns are matched ignoring case and punctuation (engine/audit/books/columns.py); a CSV's separator and encoding are
sniffed; an Excel sheet's header row is found below any title rows (engine/audit/books/excel_in.py). Reading is
bounded: rows, characters in a cell and (Excel) decompressed bytes are limits passed in, and going over one is
a ``BookError`` naming it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from engine.audit.books import csv_ahead
from engine.audit.books.book import (
    HEADER_SEARCH_ROWS,
    Book,
    BookError,
    CsvSource,
    Limits,
    cell_text,
    check_header,
)
from engine.audit.books.columns import (
    REQUIRED,
    ColumnError,
    ColumnMap,
    column_map,
    header_names,
    match_header,
    refusal,
)
from engine.audit.books.excel_in import header_at, read_excel, skipped_note

__all__ = [
    "Book",
    "BookError",
    "Limits",
    "cell_text",
    "check_header",
    "decimal_array",
    "load_book",
    "read_ahead",
    "read_cells",
    "read_book",
    "recognise",
    "table_from_records",
    "table_from_rows",
]


def table_from_rows(header: list[str], rows: Iterable[Iterable[Any]]) -> pa.Table:
    columns: list[list[str | None]] = [[] for _ in header]
    for row in rows:
        cells = list(row)
        cells += [None] * (len(header) - len(cells))
        for column, value in zip(columns, cells):
            column.append(cell_text(value))
    return pa.table({name: pa.array(column, pa.string()) for name, column in zip(header, columns)})


def table_from_records(records: list[dict[str, Any]]) -> pa.Table:
    header = list(dict.fromkeys(key for record in records for key in record))
    return table_from_rows(header, ([record.get(key) for key in header] for record in records))


def recognise(book: Book, columns: ColumnMap) -> Book:
    """Rename recognised columns to their fields; refuse a book in which no required column is recognised."""
    header = book.table.column_names
    try:
        matched = match_header(header, columns)
    except ColumnError as exc:
        raise BookError(str(exc)) from None
    if len(matched.missing_required) == len(REQUIRED):
        raise BookError(refusal(matched, header))
    book.table = book.table.rename_columns(matched.names)
    book.matched = matched
    if matched.recognised:
        shown = ", ".join(f"{text!r} → {name}" for name, text in matched.recognised.items())
        book.notes.append(f"columns recognised: {shown}")
    return book


def _longest_bytes(column: pa.ChunkedArray) -> int | None:
    """The most bytes a cell of the column holds; None when every cell is empty. A text column's cells are read
    off their offsets (a null's slot counts as the bytes it spans, at most what a cell could: ``check_limits``
    then counts the characters of the cells themselves)."""
    if column.null_count == len(column):
        return None
    if not pa.types.is_string(column.type):
        return int(pc.max(pc.binary_length(column)).as_py())
    longest = 0
    for chunk in column.chunks:
        if len(chunk):
            offsets = np.frombuffer(chunk.buffers()[1], np.int32)[chunk.offset : chunk.offset + len(chunk) + 1]
            longest = max(longest, int(np.diff(offsets).max()))
    return longest


def check_limits(book: Book, limits: Limits) -> None:
    table = book.table
    if table.num_rows > limits.max_rows:
        raise BookError(f"the book has {table.num_rows:,} rows, over the limit of {limits.max_rows:,} rows")
    with ThreadPoolExecutor(max_workers=2) as pool:  # the columns on both cores (Arrow's kernels release the GIL)
        longest_bytes = list(pool.map(_longest_bytes, table.columns))
    for name, column, longest in zip(table.column_names, table.columns, longest_bytes):
        if longest is not None and longest > limits.max_cell_chars:  # bytes ≥ characters: then count characters
            chars = pc.fill_null(pc.utf8_length(column), 0)
            index = int(np.argmax(chars.to_numpy(zero_copy_only=False)))
            if chars[index].as_py() > limits.max_cell_chars:
                raise BookError(
                    f"row {int(book.row_numbers[index])}, column {name!r}: a cell of {chars[index].as_py():,} "
                    f"characters is over the limit of {limits.max_cell_chars:,} characters"
                )


def read_cells(
    path: Path | str,
    columns: ColumnMap,
    sheet: str | None = None,
    limits: Limits | None = None,
) -> Book:
    """Read a CSV, spreadsheet or Parquet file as text cells, its header row found by the column map's names (below
    any title rows), within the limits; nothing renamed. BookError if it cannot be read. ``load_book`` reads a
    placement book with it; ``carerules rates import`` reads a rates file with it."""
    path = Path(path)
    limits = limits or Limits()
    if not path.exists():
        raise BookError(f"{path}: no such file")
    if path.is_dir():
        raise BookError(f"{path}: is a folder, not a CSV or Excel file")
    if path.stat().st_size == 0:
        raise BookError(f"{path}: the file is empty")
    suffix = path.suffix.lower()
    if suffix in SPREADSHEETS:
        book = read_excel(path, columns, sheet, limits)
    elif suffix in (".csv", ".txt", ".tsv", ".parquet"):
        if sheet is not None:
            raise BookError(f"{path}: --sheet is for spreadsheets; this is a {suffix[1:].upper()} file")
        if suffix == ".parquet":
            from engine.audit.books.arrow_in import read_parquet

            book = read_parquet(path, columns, limits)
        else:
            book = csv_ahead.taken(path, columns) or _read_csv(path, columns)  # a read started ahead, else now
    else:
        raise BookError(f"{path}: give a {BOOK_SUFFIXES} file (got {suffix or 'no extension'})")
    check_limits(book, limits)
    return book


def read_ahead(path: Path, columns: ColumnMap) -> None:
    """Start reading a CSV book on a thread (engine/audit/books/csv_ahead.py): ``read_cells`` takes it up when it
    reads the same, unchanged file with the same column map. Other files are left alone."""
    csv_ahead.read_ahead(path, columns, _read_csv)


def load_book(
    path: Path | str,
    columns: ColumnMap | None = None,
    sheet: str | None = None,
    limits: Limits | None = None,
) -> Book:
    """Read a CSV, spreadsheet or Parquet placement book as text cells with its fields recognised; BookError if
    it cannot be."""
    columns = columns or column_map()
    book = read_cells(path, columns, sheet, limits)
    if book.table.num_rows == 0:
        raise BookError(f"{path}: the file has a header but no placements")
    return recognise(book, columns)


SPREADSHEETS = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")  # what calamine reads
BOOK_SUFFIXES = ".csv, .xlsx, .xlsm, .xlsb, .xls, .ods or .parquet"


def read_book(path: Path | str, columns: ColumnMap | None = None, sheet: str | None = None) -> pa.Table:
    """The table of a book (see ``load_book``)."""
    return load_book(path, columns, sheet).table


SEPARATORS = (",", ";", "\t", "|")
SAMPLE_BYTES = 1 << 16


def _encoding(path: Path, sample: bytes) -> str:
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with its BOM: Excel's "Unicode text"
        return "utf-16"
    half = len(sample) // 2
    odd, even = sample[1::2].count(0), sample[0::2].count(0)
    if half >= 2 and max(odd, even) * 2 > half and min(odd, even) * 20 < half:  # no BOM, every other byte NUL
        return "utf-16-le" if odd > even else "utf-16-be"  # (text mostly in Latin letters, as a book's is)
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # not just a character cut by the end of the sample
            return "cp1252"
    return "utf-8"


def sniff_separator(lines: list[str]) -> str:
    """The separator among , ; tab | that gives the header most columns and the rows the same count."""

    def score(separator: str) -> tuple[bool, int, int]:
        counts = [len(row) for row in csv.reader(lines, delimiter=separator)]
        return counts[0] > 1, sum(count == counts[0] for count in counts), counts[0]

    return max(SEPARATORS, key=score) if lines else ","


ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "cp1252": "Windows-1252",
    "utf-16": "UTF-16 with BOM (Excel's Unicode text)",
    "utf-16-le": "UTF-16 little-endian without BOM",
    "utf-16-be": "UTF-16 big-endian without BOM",
}


def _read_csv(path: Path, columns: ColumnMap) -> Book:
    before = csv_ahead.file_identity(path)
    with open(path, "rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    encoding = _encoding(path, sample)
    try:
        book = _parse_csv(path, sample, encoding, columns)
        if book.source is not None and book.source.identity != before:
            book.source = None  # the file changed while it was read: its cells are not known to be its bytes
        return book
    except (UnicodeDecodeError, pa.ArrowInvalid) as exc:
        if encoding == "utf-8" and ("UTF8" in str(exc) or isinstance(exc, UnicodeDecodeError)):
            try:
                return _parse_csv(path, sample, "cp1252", columns)
            except UnicodeDecodeError:
                pass
            except pa.ArrowInvalid as again:
                raise BookError(f"{path}: cannot read as CSV: {str(again).splitlines()[0]}") from None
        if encoding.startswith("utf-16") and isinstance(exc, UnicodeDecodeError):
            raise BookError(f"{path}: cannot read as {ENCODING_NAMES[encoding]}: {exc.reason}") from None
        if isinstance(exc, UnicodeDecodeError) or "UTF8" in str(exc):
            raise BookError(f"{path}: not a text CSV file (neither UTF-8 nor Windows-1252)") from None
        raise BookError(f"{path}: cannot read as CSV: {str(exc).splitlines()[0]}") from None


LINE_BREAK = re.compile(r"\r\n|\r|\n")  # what the CSV parser takes for the end of a line


def _titled_header(text: str, cut: bool, columns: ColumnMap) -> tuple[str, int, list[str], list[list[str]]] | None:
    """A header below title, note or blank rows, found as an Excel sheet's is (the first of the first 20 rows
    naming two known columns), under the separator that finds it naming the most: the separator, the lines
    through the header, its cells and the rows above it. None when no such row is found."""

    lines = LINE_BREAK.split(text)
    if cut and len(lines) > 1:
        lines = lines[:-1]
    found: list[tuple[int, int, str, int, list[list[str]]]] = []
    for rank, separator in enumerate(SEPARATORS):
        reader = csv.reader(lines, delimiter=separator)
        rows: list[list[str]] = []
        try:
            for row in reader:
                rows.append(row)
                if len(rows) == HEADER_SEARCH_ROWS:
                    break
        except csv.Error:
            pass
        at = header_at(rows, columns)
        if at is not None:
            reader = csv.reader(lines, delimiter=separator)
            for _ in range(at + 1):
                next(reader)
            found.append((-columns.known_count(rows[at]), rank, separator, reader.line_num, rows[: at + 1]))
    if not found:
        return None
    _, _, separator, through, rows = min(found, key=lambda entry: entry[:2])
    return separator, through, rows[-1], rows[:-1]


def _parse_csv(path: Path, sample: bytes, encoding: str, columns: ColumnMap) -> Book:
    text = sample.decode(encoding, errors="ignore" if len(sample) == SAMPLE_BYTES else "strict")
    lines = text.splitlines()
    if len(sample) == SAMPLE_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut by the sample's end
    separator = sniff_separator(lines[:50]) if lines else ","
    first = next(csv.reader(io.StringIO(lines[0] + "\n"), delimiter=separator)) if lines else []
    skip, notes = 1, []
    titled = _titled_header(text, len(sample) == SAMPLE_BYTES, columns) if columns.known_count(first) < 2 else None
    if titled is not None:  # the header is below title rows, as an Excel sheet's may be (SPEC §11)
        separator, skip, first, above = titled
        if skip > 1:
            notes.append(skipped_note(above, skip))
    elif not lines or not lines[0].strip():
        raise BookError(f"{path}: the first line is empty: expected a header row of column names")
    names = header_names(first)
    check_header(names)
    width = len(names)
    names += [f"column_{k + 1}" for k in range(width, len(first))]  # nameless columns after the header's last name
    table = pa_csv.read_csv(
        path,
        read_options=pa_csv.ReadOptions(
            block_size=1 << 24,
            column_names=names,
            skip_rows=skip,
            encoding="utf8" if encoding.startswith("utf-8") else encoding,
        ),
        parse_options=pa_csv.ParseOptions(delimiter=separator),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            strings_can_be_null=True,
            null_values=[""],
            quoted_strings_can_be_null=True,
        ),
    )
    start = _cells_start(sample, skip) if encoding.startswith("utf-8") and separator == "," else None
    if table.num_columns > width:
        table, start = table.select(range(width)), None
    shown = {",": "comma", ";": "semicolon", "\t": "tab", "|": "bar"}[separator]
    notes.insert(0, f"read as CSV: {ENCODING_NAMES[encoding]}, {shown}-separated")
    source = None if start is None else CsvSource(path, csv_ahead.file_identity(path), start)
    return Book(table, np.arange(skip + 1, table.num_rows + skip + 1, dtype=np.int64), notes, source=source)


def _cells_start(sample: bytes, lines: int) -> int | None:
    """The byte after the first ``lines`` line feeds of the file's first bytes (the header and any rows above it),
    where its rows of cells begin; None when they are not all in the sample or hold a quoted cell across lines."""
    at = 0
    for _ in range(lines):
        found = sample.find(b"\n", at)
        if found < 0:
            return None
        at = found + 1
    return at if sample.count(b'"', 0, at) % 2 == 0 else None


def decimal_array(values: Any, ok: Any, scale: int = 2) -> pa.Array:
    """int64 pence (or another scale: ten-thousandths for hours) → an exact decimal128 array, written as
    ``1040.00`` in CSV. No floats."""
    values = np.ascontiguousarray(values, dtype=np.int64)
    ok = np.asarray(ok, dtype=bool)
    data = np.empty(2 * len(values), np.int64)
    data[0::2], data[1::2] = values, values >> 63
    bitmap = np.packbits(ok, bitorder="little")
    return pa.Array.from_buffers(
        pa.decimal128(18, scale),
        len(values),
        [pa.py_buffer(bitmap), pa.py_buffer(data)],  # the arrays' own memory, not copies
        null_count=int((~ok).sum()),
    )
