"""An Excel book parsed ahead on a thread while the command line starts (engine/audit/books/excel_ahead.py): the
book read is the one read without it, a file changed after the parse started is read afresh, a book refused is
refused in the same words, and the command line starts without importing the engine (what lets the parse run
while the engine is imported)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

from engine.audit.books import excel_ahead
from engine.audit.books.read import BookError, Limits, load_book

HEADER = ["placement_id", "service", "start_date", "age", "care_type", "core_weekly_fee"]


def _book(path: Path, fees: list[str], title: bool = False) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    if title:
        sheet.append(["Placements at 1 May"])
    sheet.append(HEADER)
    for n, fee in enumerate(fees):
        sheet.append([f"P-{n}", "care_home", "2026-05-04", 82, "nursing", fee])
    workbook.save(path)
    return path


def _read(path: Path, sheet: str | None = None) -> tuple[list[list[object]], list[int], list[str]]:
    book = load_book(path, None, sheet)
    return book.table.to_pylist(), book.row_numbers.tolist(), book.notes


@pytest.mark.parametrize("title", [False, True])
def test_a_book_parsed_ahead_is_the_book_read_without_it(tmp_path: Path, title: bool) -> None:
    path = _book(tmp_path / "book.xlsx", ["1040.00", "980.50", ""], title)
    expected = _read(path)
    excel_ahead.read_ahead(path)
    key = excel_ahead._identity(path, None, Limits())
    assert key in excel_ahead._ahead  # started
    assert _read(path) == expected
    assert key not in excel_ahead._ahead  # taken up by the read, once


def test_the_parse_ahead_is_what_the_read_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _book(tmp_path / "book.xlsx", ["1040.00"])
    excel_ahead.read_ahead(path)
    excel_ahead._ahead[excel_ahead._identity(path, None, Limits())].result()  # the parse has finished
    parsed = []
    monkeypatch.setattr(excel_ahead, "check_workbook", lambda *args: parsed.append(args))  # not checked again
    import engine.audit.books.excel_in as excel_in

    monkeypatch.setattr(excel_in, "check_workbook", lambda *args: parsed.append(args))
    assert _read(path)[0][0]["core_weekly_fee"] == "1040.00" and parsed == []


def test_a_book_changed_after_its_parse_began_is_read_afresh(tmp_path: Path) -> None:
    path = _book(tmp_path / "book.xlsx", ["1040.00"])
    excel_ahead.read_ahead(path)
    excel_ahead._ahead[excel_ahead._identity(path, None, Limits())].result()
    other = _book(tmp_path / "other.xlsx", ["2000.00", "3000.00"])
    os.replace(other, path)  # another file at the same path (new inode, size and time)
    assert [row["core_weekly_fee"] for row in _read(path)[0]] == ["2000.00", "3000.00"]


def test_another_sheet_or_other_limits_are_not_served_by_the_parse_ahead(tmp_path: Path) -> None:
    path = _book(tmp_path / "book.xlsx", ["1040.00"])
    excel_ahead.read_ahead(path, limits=Limits(max_rows=5))
    assert excel_ahead.taken(path, None, Limits()) is None
    assert excel_ahead.taken(path, "Sheet", Limits(max_rows=5)) is None
    assert excel_ahead.taken(path, None, Limits(max_rows=5)) is not None
    assert excel_ahead.taken(path, None, Limits(max_rows=5)) is None  # given once


def _refusal(path: Path, ahead: bool, limits: Limits | None = None) -> str:
    if ahead:
        excel_ahead.read_ahead(path, limits=limits)
    with pytest.raises(BookError) as caught:
        load_book(path, None, None, limits)
    return str(caught.value)


def test_a_refused_book_is_refused_in_the_same_words(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.xlsx"
    damaged.write_bytes(b"PK\x03\x04 not really a zip")
    assert _refusal(damaged, True) == _refusal(damaged, False) and "cannot read" in _refusal(damaged, False)
    wide = _book(tmp_path / "wide.xlsx", ["1040.00"] * 3)
    small = Limits(max_rows=1)
    refusal = _refusal(wide, False, small)
    assert _refusal(wide, True, small) == refusal and "over the limit" in refusal
    big = tmp_path / "big.xlsx"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b" " * 5_000)
    tight = Limits(max_xlsx_bytes=1_000)
    assert _refusal(big, True, tight) == _refusal(big, False, tight) and "decompressed" in _refusal(big, False, tight)


def test_the_command_line_starts_without_the_engine() -> None:
    """`carerules audit` starts its book's parse before the engine is imported: the command line itself imports
    none of the heavy modules (each command imports what it uses when it runs)."""
    heavy = ["numpy", "pandas", "pyarrow", "pydantic", "matplotlib", "jinja2", "engine.decide"]
    heavy += ["engine.rulebook.loader"]
    code = "import sys, engine.cli.main; print(' '.join(m for m in sys.argv[1:] if m in sys.modules))"
    run = subprocess.run([sys.executable, "-c", code, *heavy], capture_output=True, text=True, check=True)
    assert run.stdout.split() == []


def test_the_console_script_leaves_with_everything_written_and_printed(tmp_path: Path) -> None:
    """From the console script an audit leaves without the interpreter's teardown (engine/cli/leave.py): the same
    exit code, the same printed KPIs and paths, the same files as the same audit run in process (``app()``)."""
    sample = Path(__file__).resolve().parents[1] / "examples" / "sample_placements.csv"
    runs = {}
    for name, code in (
        ("script", "from engine.cli.main import main; main()"),
        ("app", "from engine.cli.main import app; app()"),
    ):
        out = tmp_path / name
        done = subprocess.run(
            [sys.executable, "-c", code, "audit", str(sample), "--out", str(out)], capture_output=True, text=True
        )
        files = {path.name: path.read_bytes() for path in sorted(out.iterdir()) if path.suffix != ".xlsx"}
        runs[name] = (done.returncode, done.stdout.replace(str(out), "OUT"), files)
    assert runs["script"] == runs["app"]
    code, printed, files = runs["script"]
    assert code in (0, 1) and printed.rstrip().endswith("OUT/report.html") and "report.html" in files
