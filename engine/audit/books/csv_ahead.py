"""A CSV book read ahead, on a thread, while the command line imports the rest of the engine: Arrow's CSV reader
parses on its own threads and lets go of the GIL, so the imports (most of a second, on one core) and the read
overlap instead of following one another. ``read_cells`` takes up what was read when it reads the same, unchanged
file with the same column map; anything else (another file, a file changed since, another map, a failure ahead)
and it reads the book as it always does, so every refusal reads as before.

Only the reading itself (``read._read_csv``, given by ``read.read_ahead``: the encoding and separator sniffed, the
header found, the cells read) is done ahead; the limits are checked by ``read_cells`` after it takes the book up,
as for any read. This module imports no reader, so that ``read`` can import it."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.audit.books.book import Book
    from engine.audit.books.columns import ColumnMap

CSV_SUFFIXES = (".csv", ".txt", ".tsv")  # what ``read_cells`` reads as CSV


def file_identity(path: Path) -> tuple[Any, ...]:
    """What must be the same for a read ahead to stand for a read: the file's resolved path, size, time and
    inode."""
    resolved = path.resolve()
    return (str(resolved), *stat_identity(resolved.stat()))


def stat_identity(status: os.stat_result) -> tuple[int, int, int]:
    """What of a file's identity (``file_identity``, after its path) its status gives: its size, time and inode."""
    return (status.st_size, status.st_mtime_ns, status.st_ino)


_ahead: dict[tuple[Any, ...], tuple[ColumnMap, Future[Book]]] = {}
_lock = threading.Lock()


def read_ahead(path: Path, columns: ColumnMap, read: Callable[[Path, ColumnMap], Book]) -> None:
    """Start reading a .csv, .txt or .tsv book by ``read`` on a thread with this column map (once per file); other
    files, an empty file and a path that is not a file are left alone. ``engine.audit.books.read.read_ahead``
    gives it the CSV reader."""
    try:
        if path.suffix.lower() not in CSV_SUFFIXES or not path.is_file():
            return
        key = file_identity(path)
    except OSError:
        return
    if key[1] == 0:
        return  # refused as empty by read_cells
    with _lock:
        if key in _ahead:
            return
        future: Future[Book] = Future()
        _ahead[key] = (columns, future)

    def run() -> None:
        try:
            future.set_result(read(path, columns))
        except BaseException as exc:  # noqa: BLE001 - any failure: read_cells reads it again and says why
            future.set_exception(exc)

    threading.Thread(target=run, name="csv-read-ahead", daemon=True).start()


def taken(path: Path, columns: ColumnMap) -> Book | None:
    """The read started ahead for this very file and column map (waiting for it to finish), or None; it is given
    once. A read that failed, another column map or a file changed since the read started gives None."""
    try:
        key = file_identity(path)
    except OSError:
        return None
    with _lock:
        entry = _ahead.pop(key, None)
    if entry is None:
        return None
    mapped, future = entry
    try:
        book = future.result()
    except Exception:  # noqa: BLE001 - read as usual, which refuses the book with its own message
        return None
    if mapped is not columns:
        return None
    try:
        unchanged = file_identity(path) == key
    except OSError:
        return None
    return book if unchanged else None


def settle() -> None:
    """Wait for every read started ahead and drop it (a command that ends before it reads the book)."""
    with _lock:
        entries = list(_ahead.values())
        _ahead.clear()
    for _, future in entries:
        future.exception()  # waits; a failure is of no interest here
