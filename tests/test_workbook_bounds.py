"""A workbook's used range is bounded before calamine loads it (issue 22): one cell at XFD12000 in a 5 KB book
made the audit allocate 7.6 GB (calamine builds the grid from A1 to the last cell). The book is refused with the
limit named, exit 2, and the process's peak memory stays that of reading nothing."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest

from engine.audit.books.read import BookError, Limits, load_book

HEADER = ["placement_id", "service", "start_date", "age", "care_type", "core_weekly_fee"]
ROW = ["P-1", "care_home", "2026-05-04", 82, "nursing", "1040.00"]
CLI = "from engine.cli.main import app; app()"
CAP_BYTES = 2_500_000_000  # the audit under test may not take more address space than this, before or after
MEASURE = """
import json, os, resource, signal, subprocess, sys, tempfile
def cap():
    resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))
with tempfile.TemporaryFile() as err:
    child = subprocess.Popen(
        sys.argv[1:], stdout=subprocess.DEVNULL, stderr=err, preexec_fn=cap, start_new_session=True
    )
    try:
        code = child.wait(timeout=100)
    finally:
        try:
            os.killpg(child.pid, signal.SIGKILL)  # anything it left behind
        except ProcessLookupError:
            pass
    err.seek(0)
    text = err.read().decode(errors="replace")[-2000:]
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps({{"code": code, "stderr": text, "peak": peak}}))
"""


def book_with_cell_at(reference: str, dimension: bool = True) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    sheet.append(ROW)
    sheet[reference] = "x"
    buffer = io.BytesIO()
    workbook.save(buffer)
    if dimension:
        return buffer.getvalue()
    source, out = zipfile.ZipFile(buffer), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.startswith("xl/worksheets/"):
                start = data.index(b"<dimension")
                data = data[:start] + data[data.index(b">", start) + 1 :]
            archive.writestr(info, data)
    return out.getvalue()


def peak_of(*command: str) -> dict[str, object]:
    """Run ``command`` in a fresh process (address space capped) and return its exit code, standard error and
    peak resident memory in bytes (the children's ru_maxrss of a process that ran only it)."""
    script = MEASURE.format(cap=CAP_BYTES)
    answer = subprocess.run(
        [sys.executable, "-c", script, *command], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(answer.stdout)  # type: ignore[no-any-return]


def test_one_cell_at_xfd12000_is_refused_before_loading_with_exit_2_and_little_memory(tmp_path: Path) -> None:
    book = tmp_path / "far.xlsx"
    book.write_bytes(book_with_cell_at("XFD12000"))
    assert book.stat().st_size < 10_000
    ran = peak_of(sys.executable, "-c", CLI, "audit", str(book), "--out", str(tmp_path / "out"))
    assert ran["code"] == 2, ran
    assert "over the limit of 1,000 columns" in str(ran["stderr"]) and "XFD12000" in str(ran["stderr"]), ran
    # Main allocated 7.6 GB here (under the cap it aborts instead); reading nothing costs a Python process.
    assert int(ran["peak"]) < 400_000_000, ran  # type: ignore[call-overload]


@pytest.mark.parametrize("dimension", [True, False], ids=["declared", "cells-only"])
def test_the_real_cells_and_the_declared_dimension_are_both_checked(tmp_path: Path, dimension: bool) -> None:
    book = tmp_path / "far.xlsx"
    book.write_bytes(book_with_cell_at("XFD100", dimension=dimension))  # small, should this regress
    with pytest.raises(BookError, match=r"sheet 'Sheet' (declares its used range as A1:XFD100|has a cell at "
                       r"XFD100), column 16,384: over the limit of 1,000 columns"):  # fmt: skip
        load_book(book)


def test_a_far_row_is_refused_by_the_row_limit_before_loading(tmp_path: Path) -> None:
    book = tmp_path / "deep.xlsx"
    book.write_bytes(book_with_cell_at("A500", dimension=False))
    with pytest.raises(BookError, match=r"has a cell at A500, row 500: over the limit of 100 rows"):
        load_book(book, limits=Limits(max_rows=100))
    assert load_book(book, limits=Limits(max_rows=499)).table.num_rows == 2  # rows 2 to 500 below the header


def test_a_book_within_the_column_limit_still_loads(tmp_path: Path) -> None:
    book = tmp_path / "wide.xlsx"
    book.write_bytes(book_with_cell_at("ALL3"))  # column 1,000: the last one allowed
    loaded = load_book(book)
    assert loaded.table.num_columns == 6 and loaded.table.num_rows == 1  # the far cell is past the header
    with pytest.raises(BookError, match="over the limit of 999 columns"):
        load_book(book, limits=Limits(max_columns=999))


def test_column_letters() -> None:
    from engine.audit.books.excel_in import column_letters, column_number

    assert [column_letters(n) for n in (1, 26, 27, 1000, 16_384)] == ["A", "Z", "AA", "ALL", "XFD"]
    assert all(column_number(column_letters(n)) == n for n in range(1, 20_000, 7))


def test_the_report_renderer_does_not_outlive_an_audit_that_dies() -> None:
    """An audit process that aborts (as calamine does when an allocation fails) left its report renderer waiting
    for ever (holding the audit's output pipes open, so whoever read them waited for ever too)."""
    script = (
        "import os\nfrom engine.audit.outputs.renderer import ReportRenderer\n"
        "print(ReportRenderer.start()._process.pid, flush=True)\nos.abort()\n"
    )
    with tempfile.TemporaryFile() as out:  # not a pipe: on main the renderer kept a pipe open for ever
        dying = subprocess.run([sys.executable, "-c", script], stdout=out, stderr=subprocess.DEVNULL, timeout=60)
        out.seek(0)
        printed = out.read()
    renderer = int(printed.split()[0])
    deadline = time.monotonic() + 20
    while _alive(renderer) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = _alive(renderer)
    if alive:
        os.kill(renderer, signal.SIGKILL)
    assert dying.returncode == -6 and not alive


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_a_sheet_stored_outside_xl_worksheets_is_found_through_the_workbook(tmp_path: Path) -> None:
    source, out = zipfile.ZipFile(io.BytesIO(book_with_cell_at("XFD100", dimension=False))), io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for info in source.infolist():
            data, name = source.read(info.filename), info.filename
            if name == "xl/worksheets/sheet1.xml":
                name = "xl/elsewhere/s.xml"
            if name == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"worksheets/sheet1.xml", b"elsewhere/s.xml")
            archive.writestr(name, data)
    book = tmp_path / "moved.xlsx"
    book.write_bytes(out.getvalue())
    with pytest.raises(BookError, match=r"sheet 'Sheet' has a cell at XFD100, column 16,384: over the limit"):
        load_book(book)
