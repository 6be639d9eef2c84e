"""results.csv's input columns taken from the book's own bytes (engine/audit/outputs/csv_as_read.py): only when
the file is proved to hold exactly the text Arrow's writer makes of its cells, and then the same bytes as ever."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.audit.books.columns import column_map
from engine.audit.books.read import _read_csv
from engine.audit.outputs import csv_as_read, csv_out, results
from engine.audit.outputs.csv_as_read import AsRead, as_read
from engine.audit.outputs.safe import neutralise_table
from engine.audit.run import run_audit

BLOCK = 4


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (csv_out, csv_as_read, results):
        monkeypatch.setattr(module, "CSV_BLOCK_ROWS", BLOCK)
    monkeypatch.setattr(csv_as_read, "SCAN_BYTES", 64)  # quotes and cells across the scan's pieces


def _writer_text(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(table, sink, write_options=pa_csv.WriteOptions(quoting_style="needed"))
    return bytes(sink.getvalue().to_pybytes())


def _one_pass(table: pa.Table) -> bytes:
    return csv_out.BOM + _writer_text(neutralise_table(table))


def _with_results(table: pa.Table) -> pa.Table:
    """The table with two result-like columns after its own (a line break in none of them)."""
    n = table.num_rows
    table = table.append_column("outcome", pa.array([("proceed", None, "-x")[k % 3] for k in range(n)], pa.string()))
    return table.append_column("gross", pa.array([None if k % 4 == 0 else -k * 101 for k in range(n)], pa.int64()))


def _cells(n: int) -> pa.Table:
    return pa.table(
        {
            "placement_id": pa.array([f"P{k:04d}" for k in range(n)], pa.string()),
            "provider": pa.array([None if k % 5 == 0 else f"Home, £{k} é" for k in range(n)], pa.string()),
            "core_weekly_fee": pa.array(["-120.00" if k == 2 else "=1+1" if k == 9 else f"{k}.50" for k in range(n)]),
            "notes": pa.array([None] * n, pa.string()),
        }
    )


def test_a_book_written_as_the_writer_writes_it_is_taken_as_read_with_the_same_bytes(tmp_path: Path) -> None:
    """A book in the writer's own form (text quoted, empty cells empty, a comma and a line feed): every block is
    read back from the file but the one with a formula-looking cell (a negative number is not one), and
    results.csv has the bytes of one pass over the whole table."""
    table = _cells(14)
    path = tmp_path / "book.csv"
    path.write_bytes(csv_out.BOM + _writer_text(table))
    book = _read_csv(path, column_map())
    assert book.source is not None and book.table.equals(table)
    leading = as_read(book.source, book.table)
    assert leading is not None
    assert [type(block).__name__ for block in leading.blocks] == ["AsRead", "AsRead", "NoneType", "AsRead"]  # row 9
    whole = _with_results(book.table)
    out = tmp_path / "results.csv"
    csv_out.write_csv(whole, out, leading)
    assert out.read_bytes() == _one_pass(whole)
    assert b"'=1+1" in out.read_bytes() and b'"-120.00"' in out.read_bytes()


def test_a_book_with_title_rows_above_its_header_is_taken_as_read_from_its_first_row(tmp_path: Path) -> None:
    """Rows above the header (as an export's title and date lines): the cells begin after the header's line."""
    table = _cells(9)
    path = tmp_path / "titled.csv"
    path.write_bytes(b'"Placement book, all services",,,\n"Exported 1 Dec 2026",,,\n' + _writer_text(table))
    book = _read_csv(path, column_map())
    assert book.table.equals(table) and book.source is not None
    assert book.source.start == path.read_bytes().index(b'"P0000"')
    leading = as_read(book.source, book.table)
    assert leading is not None and all(isinstance(block, AsRead) for block in leading.blocks)
    out = tmp_path / "results.csv"
    csv_out.write_csv(_with_results(book.table), out, leading)
    assert out.read_bytes() == _one_pass(_with_results(book.table))


def test_a_book_in_another_form_is_turned_into_text_as_before(tmp_path: Path) -> None:
    """Unquoted cells (as Excel saves a CSV), a quoted empty cell, a doubled quote, a quoted line break, carriage
    returns, a semicolon-separated file, a blank line and another encoding are not taken as read."""
    table = _cells(6)
    text = _writer_text(table)
    plain = io.StringIO(newline="")
    csv.writer(plain, lineterminator="\n").writerows([table.column_names, *zip(*table.to_pydict().values())])
    forms = {
        "excel": plain.getvalue().encode(),
        "quoted_empty": text.replace(b',,"', b',"","', 1),
        "doubled_quote": text.replace(b'"P0003"', b'"P""3"'),
        "quote_mid_cell": text.replace(b'"P0003"', b'"P0"003'),  # read as P0003: as many bytes as "P0003"
        "line_break": text.replace(b'"P0003"', b'"P0\n3"'),
        "crlf": text.replace(b"\n", b"\r\n"),
        "semicolons": text.replace(b",", b";"),
        "blank_line": text.replace(b'\n"P0003"', b'\n\n"P0003"'),
        "windows_1252": text.replace("£".encode(), "£".encode("cp1252")),
    }
    for name, data in forms.items():
        path = tmp_path / f"{name}.csv"
        path.write_bytes(data)
        book = _read_csv(path, column_map())
        assert book.source is None or as_read(book.source, book.table) is None, name
        leading = csv_out.leading_text(book.table) if book.source is None else as_read(book.source, book.table)
        out = tmp_path / f"{name}_results.csv"
        csv_out.write_csv(_with_results(book.table), out, leading)
        assert out.read_bytes() == _one_pass(_with_results(book.table)), name


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (b'"a",,"b"\n"c","",\n', "a quoted empty cell"),
        (b'"a",,"b"\n"c","d""e",\n', "a doubled quote"),
        (b'"a",,"b"\n"c",d,\n', "an unquoted cell"),
        (b'"a",,"b"\n"c"d,,\n', "text after a closing quote"),
        (b'"a",,"b"\r\n"c",,\r\n', "carriage returns"),
        (b'"a",,"b"\n"c\nd",,\n', "a line feed in a cell"),
        (b'"a",,"b"\n"c",,"d', "a quote not closed"),
    ],
)
def test_the_scan_refuses_any_other_form(tmp_path: Path, text: bytes, why: str) -> None:
    path = tmp_path / "rows.csv"
    path.write_bytes(text)
    with open(path, "rb", buffering=0) as handle:
        assert csv_as_read._scan(handle, 0) is None, why


def test_the_scan_finds_each_rows_end_and_each_cell_that_may_be_a_formula(tmp_path: Path) -> None:
    """Across the scan's 64-byte pieces: every row's line end (the file's end for a last row without one) and the
    opening quote of each cell beginning with a byte that may begin a formula."""
    rows = [
        b'"' + b"a" * 60 + b'","=x"',
        b'"P1","=1+1",,"x"',
        b'"P2",,"-5","' + b"y" * 70 + b'"',
        b',,,"@a"',
        b'"P4","b",,"\xef\xbc\x9d"',
    ]
    text = b"\n".join(rows)
    path = tmp_path / "rows.csv"
    path.write_bytes(text)
    with open(path, "rb", buffering=0) as handle:
        scanned = csv_as_read._scan(handle, 0)
    assert scanned is not None
    ends, size, openers = scanned
    assert ends.tolist() == [*[k for k, byte in enumerate(text) if byte == ord("\n")], len(text)]
    assert size == len(text) + 1  # the last row's line end, written
    assert openers[0] == 63  # the last byte of the scan's first piece
    assert [text[k + 1 : k + 2] for k in openers.tolist()] == [b"=", b"=", b"-", b"@", b"\xef"]


def test_a_book_changed_after_it_was_read_is_not_taken_as_read(tmp_path: Path) -> None:
    """The file changed after the read: not scanned; changed or gone after the scan: each block is turned into text
    from the table instead, the same bytes as the file read."""
    table = _cells(10)
    path = tmp_path / "book.csv"
    path.write_bytes(_writer_text(table))
    book = _read_csv(path, column_map())
    assert book.source is not None
    leading = as_read(book.source, book.table)
    assert leading is not None and isinstance(leading.blocks[0], AsRead)
    path.write_bytes(_writer_text(table).replace(b'"P0001"', b'"X0001"'))
    os.utime(path, ns=(1, 1))
    assert as_read(book.source, book.table) is None
    assert leading.blocks[0].unpacked() is None
    out = tmp_path / "results.csv"
    csv_out.write_csv(_with_results(book.table), out, leading)
    assert out.read_bytes() == _one_pass(_with_results(book.table))
    assert b"X0001" not in out.read_bytes()
    again = _read_csv(path, column_map())
    assert again.source is not None
    leading = as_read(again.source, again.table)
    assert leading is not None and isinstance(leading.blocks[0], AsRead)
    path.unlink()  # gone after the scan: each block from the table read
    assert leading.blocks[0].unpacked() is None
    csv_out.write_csv(_with_results(again.table), out, leading)
    assert out.read_bytes() == _one_pass(_with_results(again.table))


CELL = st.one_of(
    st.none(),
    st.text(alphabet=st.sampled_from(list('ab1é£ ,"=-+@\t\r\n.')), min_size=0, max_size=6),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.tuples(CELL, CELL, CELL), min_size=1, max_size=11),
    form=st.sampled_from(["writer", "writer_no_last_line_feed", "excel", "all_quoted"]),
)
def test_whatever_the_book_results_csv_has_the_bytes_of_one_pass(
    tmp_path: Path, rows: list[tuple[str | None, ...]], form: str
) -> None:
    """Any cells, in any of four forms: taken as read or not, results.csv has the bytes of one pass over the table
    as read; and a book in the writer's form with no quote, line break or carriage return in a cell is taken as
    read."""
    names = ["placement_id", "provider", "core_weekly_fee"]
    given_table = pa.table(
        {name: pa.array([row[k] or None for row in rows], pa.string()) for k, name in enumerate(names)}
    )
    if form.startswith("writer"):
        data = _writer_text(given_table)
        data = data[:-1] if form == "writer_no_last_line_feed" else data
    else:
        plain = io.StringIO(newline="")
        if form == "all_quoted":
            csv.writer(plain, lineterminator="\n", quoting=csv.QUOTE_ALL).writerows([names, *rows])
        else:
            csv.writer(plain, lineterminator="\n").writerows([names, *rows])
        data = plain.getvalue().encode()
    path = tmp_path / "book.csv"
    path.write_bytes(data)
    try:
        book = _read_csv(path, column_map())
    except Exception:  # noqa: BLE001 - a book Arrow cannot read (a blank row only, ...): not this module's concern
        return
    leading = as_read(book.source, book.table) if book.source is not None else None
    plain_cells = all(
        cell is None or not set(cell) & set('"\r\n') for row in rows for cell in row
    ) and book.table.num_rows == len(rows)
    if form.startswith("writer") and plain_cells:
        assert leading is not None
    out = path.with_name("results.csv")
    whole = _with_results(book.table)
    csv_out.write_csv(whole, out, leading)
    assert out.read_bytes() == _one_pass(whole)


def test_an_audit_of_a_book_in_the_writers_form_takes_its_rows_as_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``run_audit`` of a CSV book in the writer's form takes its input text from the file (every block but one with
    a formula-looking cell): results.csv has the bytes of the audit of the same table given in memory."""
    from engine.audit import run as audit_run
    from engine.audit.books.sample import sample_book

    table = sample_book(30, seed=11)
    provider = table.column("provider").to_pylist()
    provider[13] = "=HYPERLINK(1)"
    table = table.set_column(table.column_names.index("provider"), "provider", pa.array(provider, pa.string()))
    monkeypatch.setattr(audit_run, "CSV_BLOCK_ROWS", BLOCK)
    path = tmp_path / "book.csv"
    path.write_bytes(_writer_text(table))
    taken: list[list[bool] | None] = []  # each block made from the file or not, as the scan gave them
    real = csv_as_read.as_read

    def spied(*args: object) -> object:
        leading = real(*args)  # type: ignore[arg-type]
        taken.append(None if leading is None else [block is None for block in leading.blocks])
        return leading

    monkeypatch.setattr(csv_as_read, "as_read", spied)
    read_back: list[int] = []
    unpacked = AsRead.unpacked

    def counted(self: AsRead) -> pa.Array | None:
        read_back.append(self.rows)
        return unpacked(self)

    monkeypatch.setattr(AsRead, "unpacked", counted)
    from_file = run_audit(path, results_csv=tmp_path / "from_file.csv")
    from_memory = run_audit(table, results_csv=tmp_path / "from_memory.csv")
    assert taken == [[k == 13 // BLOCK for k in range(-(-30 // BLOCK))]]
    assert sum(read_back) == 30 - BLOCK  # every block's rows read back from the file but the formula's
    assert (tmp_path / "from_file.csv").read_bytes() == (tmp_path / "from_memory.csv").read_bytes()
    assert b"'=HYPERLINK(1)" in (tmp_path / "from_file.csv").read_bytes()
    assert from_file.table.equals(from_memory.table)
