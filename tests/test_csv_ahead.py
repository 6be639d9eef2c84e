"""A CSV book read ahead on a thread while the command line imports the rest of the engine
(engine/audit/books/csv_ahead.py): the book taken up is the book read without it, a file changed after the read
began or another column map is read afresh, a refused book is refused in the same words, and `carerules audit`
starts the read before it imports pandas and the audit's modules, and reads the book once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.audit.books import csv_ahead
from engine.audit.books.columns import column_map, load_column_map
from engine.audit.books.read import BookError, load_book, read_ahead


@pytest.fixture(autouse=True)
def _nothing_left_ahead() -> object:
    """A read left ahead by a test (a changed file's, never taken up) is waited for and dropped after it."""
    yield
    csv_ahead.settle()


HEADER = "placement_id,service,start_date,age,care_type,core_weekly_fee\n"


def _book(path: Path, fees: list[str], title: bool = False, separator: str = ",") -> Path:
    lines = ["Placements at 1 May\n", "\n"] if title else []
    lines.append(HEADER.replace(",", separator))
    lines += [
        separator.join([f"P-{n}", "care_home", "2026-05-04", "82", "nursing", fee]) + "\n" for n, fee in enumerate(fees)
    ]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _read(path: Path, columns: object = None) -> tuple[list[dict[str, object]], list[int], list[str]]:
    book = load_book(path, columns)  # type: ignore[arg-type]
    return book.table.to_pylist(), book.row_numbers.tolist(), book.notes


@pytest.mark.parametrize(("title", "separator"), [(False, ","), (True, ";"), (False, "\t")])
def test_a_book_read_ahead_is_the_book_read_without_it(tmp_path: Path, title: bool, separator: str) -> None:
    path = _book(tmp_path / "book.csv", ["1040.00", "980.50", ""], title, separator)
    expected = _read(path)
    columns = column_map()
    read_ahead(path, columns)
    key = csv_ahead.file_identity(path)
    assert key in csv_ahead._ahead  # started
    assert _read(path, columns) == expected
    assert key not in csv_ahead._ahead  # taken up by the read, once


def test_the_read_ahead_is_what_the_read_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _book(tmp_path / "book.csv", ["1040.00"])
    columns = column_map()
    read_ahead(path, columns)
    csv_ahead._ahead[csv_ahead.file_identity(path)][1].result()  # the read has finished
    import engine.audit.books.read as read

    again: list[Path] = []
    monkeypatch.setattr(read, "_read_csv", lambda path, columns: again.append(path))  # not read again
    assert _read(path, columns)[0][0]["core_weekly_fee"] == "1040.00" and again == []


def test_a_book_changed_after_its_read_began_is_read_afresh(tmp_path: Path) -> None:
    path = _book(tmp_path / "book.csv", ["1040.00"])
    columns = column_map()
    read_ahead(path, columns)
    csv_ahead._ahead[csv_ahead.file_identity(path)][1].result()
    other = _book(tmp_path / "other.csv", ["2000.00", "3000.00"])
    os.replace(other, path)  # another file at the same path (new inode, size and time)
    assert [row["core_weekly_fee"] for row in _read(path, columns)[0]] == ["2000.00", "3000.00"]


def test_another_column_map_is_not_served_by_the_read_ahead(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    path.write_text(
        "Client Ref,service,start_date,age,care_type,Weekly Fee\nC-1,care_home,2026-05-04,82,nursing,1040.00\n"
    )
    plain, mapped = column_map(), load_column_map({"placement_id": ["Client Ref"], "core_weekly_fee": ["Weekly Fee"]})
    read_ahead(path, plain)
    assert csv_ahead.taken(path, mapped) is None  # read ahead with another map: read afresh
    read_ahead(path, mapped)
    assert csv_ahead.taken(path, mapped) is not None
    assert csv_ahead.taken(path, mapped) is None  # given once
    assert _read(path, mapped)[0] == [
        {
            "placement_id": "C-1",
            "service": "care_home",
            "start_date": "2026-05-04",
            "age": "82",
            "care_type": "nursing",
            "core_weekly_fee": "1040.00",
        }
    ]


def test_other_files_are_not_read_ahead(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    for path in (empty, tmp_path / "missing.csv", tmp_path, _book(tmp_path / "book.parquet", ["1"])):
        read_ahead(path, column_map())
    assert csv_ahead._ahead == {}


def _refusal(path: Path, ahead: bool) -> str:
    columns = column_map()
    if ahead:
        read_ahead(path, columns)
    with pytest.raises(BookError) as caught:
        load_book(path, columns)
    return str(caught.value)


def test_a_refused_book_is_refused_in_the_same_words(tmp_path: Path) -> None:
    headless = tmp_path / "headless.csv"
    headless.write_text("\nP-1,care_home\n")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text(HEADER + "P-1,care_home,2026-05-04,82,nursing,1040.00,extra,more\n")
    bare = tmp_path / "bare.csv"
    bare.write_text(HEADER)
    for path in (headless, ragged, bare):
        refusal = _refusal(path, False)
        assert _refusal(path, True) == refusal
        assert csv_ahead._ahead == {}


def test_settle_waits_for_a_read_not_taken_up(tmp_path: Path) -> None:
    path = _book(tmp_path / "book.csv", ["1040.00"])
    read_ahead(path, column_map())
    future = csv_ahead._ahead[csv_ahead.file_identity(path)][1]
    csv_ahead.settle()
    assert future.done() and csv_ahead._ahead == {}


SPY = """
import atexit, sys
import engine.audit.books.read as read
late = ["pandas", "engine.audit.run", "engine.audit.outputs.write", "engine.audit.outputs.report", "matplotlib"]
seen, reads = [], []
start, parse = read.read_ahead, read._read_csv
def read_ahead(path, columns):
    seen.extend(name for name in late if name in sys.modules)
    seen.append("started")
    start(path, columns)
def _read_csv(path, columns):
    reads.append(str(path))
    return parse(path, columns)
read.read_ahead, read._read_csv = read_ahead, _read_csv
atexit.register(lambda: print("SPY", " ".join(seen), len(reads)))
from engine.cli.main import app
app()
"""


def test_the_audit_starts_reading_before_it_imports_the_audit_and_reads_once(tmp_path: Path) -> None:
    """`carerules audit BOOK.csv` starts the read before pandas, the audit's modules and the report's libraries
    are imported in its process (so that they are imported while Arrow reads), and reads the book once."""
    sample = Path(__file__).resolve().parents[1] / "examples" / "sample_placements.csv"
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-c", SPY, "audit", str(sample), "--no-excel", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode in (0, 1), done.stderr
    assert done.stdout.splitlines()[-1] == "SPY started 1"
    assert (out / "results.csv").is_file() and (out / "report.html").is_file()
