"""An Excel book checked and parsed ahead, on a thread, while the command line imports the engine and loads the
rulebook: python-calamine releases the GIL while it parses a sheet, so on a machine with a second core the parse
takes no time of its own. ``read_excel`` takes up what was parsed when it reads the same, unchanged file within
the same limits; anything else (another file, a file changed since, a sheet named differently, a failure ahead)
and it reads the book as it always does, so every refusal reads as before.

Also the check every .xlsx passes before calamine is given it (``check_workbook``): its size once decompressed
and each sheet's used range. It needs nothing but the standard library, so that it can run ahead too."""

from __future__ import annotations

import html
import re
import threading
import zipfile
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.audit.books.limits import HEADER_SEARCH_ROWS, BookError, Limits

CHUNK = 1 << 20
OVERLAP = 64  # longer than any cell reference attribute (r="XFD1048576"), so none is cut by a chunk's end
DIMENSION = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?dimension\b[^>]*?\bref="([^"]*)"')
SPACE = b" \t\n\r"
REFERENCE = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})")
AHEAD_SUFFIXES = (".xlsx", ".xlsm", ".ods")  # the zip packages ``check_workbook`` alone bounds


def check_workbook(path: Path, limits: Limits) -> None:
    """Refuse an .xlsx before calamine loads it, in one pass over its parts:

    - its parts hold more than ``limits.max_xlsx_bytes`` once decompressed (the sizes the zip declares are
      checked first, then counted while inflating, so no more than the limit is ever inflated);
    - a sheet's used range reaches past the row limit (plus the title rows a header may sit below) or the column
      limit: calamine builds the whole grid from A1 to the last cell, so one cell at XFD12000 costs 16,384 ×
      12,000 cells (7.6 GB). The sheet's declared dimension is read, and its cells' references are scanned as
      bytes (only a reference long enough to be over a limit is looked at closely), building nothing.
    """
    limit = limits.max_xlsx_bytes
    most_rows = limits.max_rows + HEADER_SEARCH_ROWS + 1
    letters = min(len(column_letters(limits.max_columns)), 3)  # XFD, Excel's last column, has three letters
    digits = min(len(str(most_rows)), 7)  # 1,048,576, Excel's last row, has seven digits
    # A reference with as many letters as the last column allowed, or as many digits as the last row allowed:
    # rare in a book within the limits (a 1,000-column limit: only columns of three letters).
    long_reference = re.compile(rb'r="(?:[A-Za-z]{%d,3}[0-9]{1,7}|[A-Za-z]{1,3}[0-9]{%d,7})"' % (letters, digits))
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            declared = sum(member.file_size for member in members)
            if declared > limit:
                raise BookError(_too_big(path, declared, limit))
            sheets = _worksheet_names(archive)
            total = 0
            for member in members:
                sheet = sheets.get(member.filename)
                with archive.open(member) as part:
                    tail = b""
                    while chunk := part.read(CHUNK):
                        total += len(chunk)
                        if total > limit:
                            raise BookError(_too_big(path, total, limit))
                        if sheet is None:
                            continue
                        if not tail and (dimension := DIMENSION.search(chunk)):
                            extent = dimension.group(1).decode("ascii", "replace")
                            what = f"declares its used range as {extent}"
                            _check_reference(path, sheet, extent.split(":")[-1], what, limits, most_rows)
                        text = tail + chunk  # a reference cut by the last chunk's end is whole here
                        for found in long_reference.finditer(text):
                            if found.start() and text[found.start() - 1] not in SPACE:
                                continue  # the end of another attribute (sqref="…")
                            reference = found.group(0)[3:-1].decode("ascii")
                            _check_reference(path, sheet, reference, f"has a cell at {reference}", limits, most_rows)
                        tail = text[-OVERLAP:]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise BookError(f"{path}: cannot read as {_kind(path)}: {exc}") from None


def _too_big(path: Path, size: int, limit: int) -> str:
    return (
        f"{path}: the workbook holds {'over ' if size > limit else ''}{size:,} bytes once decompressed, over the "
        f"limit of {limit:,} bytes"
    )


def _check_reference(path: Path, sheet: str, reference: str, what: str, limits: Limits, most_rows: int) -> None:
    matched = REFERENCE.fullmatch(reference)
    if matched is None:
        return  # not a cell reference (calamine says so in its own words, if it matters)
    column, row = column_number(matched.group(1)), int(matched.group(2))
    if column > limits.max_columns:
        raise BookError(
            f"{path}: sheet {sheet!r} {what}, column {column:,}: over the limit of {limits.max_columns:,} columns "
            f"(up to column {column_letters(limits.max_columns)}); the sheet was not loaded"
        )
    if row > most_rows:
        raise BookError(
            f"{path}: sheet {sheet!r} {what}, row {row:,}: over the limit of {limits.max_rows:,} rows; the sheet "
            "was not loaded"
        )


SHEET = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?sheet\b[^>]*>")
RELATIONSHIP = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?Relationship\b[^>]*>")
NAME = re.compile(rb'\bname="([^"]*)"')
SHEET_ID = re.compile(rb'\b[A-Za-z_][\w.-]*:id="([^"]*)"')
REL_ID = re.compile(rb'\bId="([^"]*)"')
TARGET = re.compile(rb'\bTarget="([^"]*)"')
WORKBOOK_BYTES = 10_000_000  # a workbook.xml listing sheets is kilobytes; a bigger one is not read for names


def _worksheet_names(archive: zipfile.ZipFile) -> dict[str, str]:
    """Each worksheet part with its sheet's name as the workbook lists it: the parts the workbook names (wherever
    they are) and every part under xl/worksheets/, named by its file when the workbook does not name it."""
    parts = [item.filename for item in archive.infolist() if re.fullmatch(r"xl/worksheets/[^/]+\.xml", item.filename)]
    names: dict[str, str] = {}
    try:
        workbook = _small_part(archive, "xl/workbook.xml")
        rels = _small_part(archive, "xl/_rels/workbook.xml.rels")
    except KeyError:
        workbook = rels = b""
    targets: dict[bytes, str] = {}
    for tag in RELATIONSHIP.findall(rels):
        rel_id, target = REL_ID.search(tag), TARGET.search(tag)
        if rel_id and target:
            text = target.group(1).decode("utf-8", "replace")
            targets[rel_id.group(1)] = text.lstrip("/") if text.startswith(("/", "xl/")) else "xl/" + text
    for tag in SHEET.findall(workbook):
        name, sheet_id = NAME.search(tag), SHEET_ID.search(tag)
        if name and sheet_id and sheet_id.group(1) in targets:
            names[targets[sheet_id.group(1)]] = html.unescape(name.group(1).decode("utf-8", "replace"))
    return {part: names.get(part, part.rsplit("/", 1)[-1]) for part in [*parts, *names]}


def _small_part(archive: zipfile.ZipFile, name: str) -> bytes:
    if archive.getinfo(name).file_size > WORKBOOK_BYTES:
        return b""
    with archive.open(name) as part:
        return part.read(WORKBOOK_BYTES)


def column_number(letters: str) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def column_letters(number: int) -> str:
    """1 → A, 27 → AA, 16,384 → XFD."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _kind(path: Path) -> str:
    return "OpenDocument" if path.suffix.lower() == ".ods" else "Excel"


@dataclass(frozen=True)
class Parsed:
    """A workbook opened and its first sheet (or the one named) parsed; ``rows`` when the sheet is within the
    limits, else None (``read_excel`` refuses it, in its own words)."""

    workbook: Any  # python_calamine.CalamineWorkbook
    name: str
    sheet: Any  # python_calamine.CalamineSheet
    rows: list[list[Any]] | None


def _identity(path: Path, sheet: str | None, limits: Limits) -> tuple[Any, ...]:
    """What must be the same for a parse ahead to stand for a read: the file (its resolved path, size, time and
    inode), the sheet asked for and the limits."""
    resolved = path.resolve()
    status = resolved.stat()
    return (str(resolved), status.st_size, status.st_mtime_ns, status.st_ino, sheet, limits)


def _parse(path: Path, sheet: str | None, limits: Limits) -> Parsed | None:
    from python_calamine import CalamineWorkbook

    check_workbook(path, limits)
    workbook = CalamineWorkbook.from_path(str(path))
    names = list(workbook.sheet_names)
    name = sheet if sheet is not None else (names[0] if names else None)
    if name is None or name not in names:
        return None
    loaded = workbook.get_sheet_by_name(name)  # the long part: calamine lets go of the GIL while it parses
    within = loaded.width <= limits.max_columns and loaded.height - 1 <= limits.max_rows + HEADER_SEARCH_ROWS
    rows = loaded.to_python(skip_empty_area=False) if within else None
    return Parsed(workbook, name, loaded, rows)


_ahead: dict[tuple[Any, ...], Future[Parsed | None]] = {}
_lock = threading.Lock()


def read_ahead(path: Path, sheet: str | None = None, limits: Limits | None = None) -> None:
    """Start checking and parsing an .xlsx, .xlsm or .ods book on a thread (once per file); other files and a
    path that is not a file are left alone."""
    limits = limits or Limits()
    try:
        if path.suffix.lower() not in AHEAD_SUFFIXES or not path.is_file():
            return
        key = _identity(path, sheet, limits)
    except OSError:
        return
    with _lock:
        if key in _ahead:
            return
        future: Future[Parsed | None] = Future()
        _ahead[key] = future

    def run() -> None:
        try:
            future.set_result(_parse(path, sheet, limits))
        except BaseException as exc:  # noqa: BLE001 - any failure: read_excel reads it again and says why
            future.set_exception(exc)

    threading.Thread(target=run, name="read-ahead", daemon=True).start()


def taken(path: Path, sheet: str | None, limits: Limits) -> Parsed | None:
    """The parse started ahead for this very file, sheet and limits (waiting for it to finish), or None; it is
    given once. A parse that failed, or a file changed since it started, gives None."""
    try:
        key = _identity(path, sheet, limits)
    except OSError:
        return None
    with _lock:
        future = _ahead.pop(key, None)
    if future is None:
        return None
    try:
        parsed = future.result()
    except Exception:  # noqa: BLE001 - read as usual, which refuses the book with its own message
        return None
    try:
        unchanged = _identity(path, sheet, limits) == key
    except OSError:
        return None
    return parsed if unchanged else None
