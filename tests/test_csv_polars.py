"""A big table's CSV blocks with decimals are written by polars (engine/audit/outputs/csv_out.py): the bytes must be
exactly Arrow's writer's (``quoting_style="needed"``), for every type results.csv, the lists and errors.csv carry,
and anything polars would write otherwise must go to Arrow."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.audit.outputs import csv_out
from engine.audit.outputs.safe import neutralise_table

FIRST_DATE, LAST_DATE = -719_162, 2_932_896  # 0001-01-01 and 9999-12-31 in days since 1970
TEXTS = st.text(alphabet=st.sampled_from(list("ab, \"'\n\r\t=+-@£é€😀\x00\x1f0.9")), max_size=8)


def _arrow(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(table, sink, write_options=pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    return bytes(sink.getvalue().to_pybytes())


@st.composite
def _column(draw: st.DrawFn, rows: int) -> pa.Array:
    kind = draw(st.sampled_from(["decimal", "int", "date", "bool", "string", "null"]))

    def cells(values: st.SearchStrategy[object]) -> list[object]:
        return draw(st.lists(st.none() | values, min_size=rows, max_size=rows))

    if kind == "decimal":
        precision = draw(st.integers(1, 38))
        scale = draw(st.integers(0, min(precision, 6)))
        digits = st.integers(-(10**precision) + 1, 10**precision - 1)
        return pa.array(
            [None if d is None else Decimal(f"{d}E-{scale}") for d in cells(digits)], pa.decimal128(precision, scale)
        )
    if kind == "int":
        return pa.array(cells(st.integers(-(2**63), 2**63 - 1)), pa.int64())
    if kind == "date":
        return pa.array(cells(st.integers(FIRST_DATE, LAST_DATE)), pa.int32()).cast(pa.date32())
    if kind == "bool":
        return pa.array(cells(st.booleans()), pa.bool_())
    if kind == "null":
        return pa.nulls(rows)
    return pa.array(cells(TEXTS), pa.string())


@st.composite
def _tables(draw: st.DrawFn) -> pa.Table:
    rows = draw(st.integers(0, 12))
    columns = [draw(_column(rows)) for _ in range(draw(st.integers(0, 6)))]
    money = pa.array(draw(st.lists(st.none() | st.integers(-(10**17), 10**17), min_size=rows, max_size=rows)))
    columns.insert(
        draw(st.integers(0, len(columns))),
        pa.array([None if p is None else Decimal(f"{p}E-2") for p in money.to_pylist()], pa.decimal128(18, 2)),
    )
    table = pa.table({f"c{k}": column for k, column in enumerate(columns)})
    start = draw(st.integers(0, rows))  # a block is a slice of a bigger table
    return table.slice(start, draw(st.integers(0, rows - start)))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_tables())
def test_polars_writes_a_block_with_decimals_as_arrows_writer_does(table: pa.Table) -> None:
    safe = neutralise_table(table)
    text = csv_out._polars_text(safe)
    assert text is not None  # every type here is one polars writes alike
    assert text.to_pybytes() == _arrow(safe)


def test_what_polars_writes_otherwise_goes_to_arrow() -> None:
    money = pa.array([Decimal("1.50"), Decimal("-0.05")], pa.decimal128(18, 2))
    others = {
        "after the year 9999": pa.array([LAST_DATE, LAST_DATE + 1], pa.int32()).cast(pa.date32()),
        "a scale of 7 (Arrow writes 0E-7)": pa.array([Decimal("0E-7"), None], pa.decimal128(7, 7)),
        "before the year 1": pa.array([FIRST_DATE - 1, 0], pa.int32()).cast(pa.date32()),
        "a negative scale": pa.array([Decimal("100"), Decimal("-200")], pa.decimal128(5, -2)),
        "decimal256": pa.array([Decimal("1.5"), None], pa.decimal256(40, 1)),
        "float": pa.array([0.1, 1e300], pa.float64()),
        "dictionary": pa.array(["a", "b"]).dictionary_encode(),
        "timestamp": pa.array([0, 1], pa.timestamp("s")),
        "large_string": pa.array(["a", "b"], pa.large_string()),
    }
    for name, column in others.items():
        assert csv_out._polars_text(pa.table({"money": money, name: column})) is None, name
    assert csv_out._polars_text(pa.table({"text": ["a", None], "n": [1, 2]})) is None  # no decimal: Arrow's cheaper
    last = pa.array([LAST_DATE, None], pa.int32()).cast(pa.date32())
    assert csv_out._polars_text(pa.table({"money": money, "date": last})) is not None  # 9999-12-31 itself: polars


def test_a_big_tables_later_blocks_written_by_polars_have_the_bytes_of_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A table of ``POLARS_ROWS`` rows or more: each block by polars (its text columns quoted), joined to the
    leading columns' text or whole where a cell has a line break: one pass's bytes; a smaller table: Arrow."""
    monkeypatch.setattr(csv_out, "CSV_BLOCK_ROWS", 7)  # 50 rows: 8 blocks, the last one short
    monkeypatch.setattr(csv_out, "POLARS_ROWS", 50)
    n = 50
    inputs = pa.table({"id": pa.array([f"P{k}" if k != 30 else "two\nlines" for k in range(n)], pa.string())})
    results = inputs
    for name, column in {
        "outcome": pa.array(["proceed", None, 'say "hi"', "", "=x", "-5", "£ é"] * 7 + [None], pa.string()),
        "gross": pa.array([None if k % 4 == 0 else Decimal(f"{-k * 101}E-2") for k in range(n)], pa.decimal128(18, 2)),
        "as_at": pa.array([k * 400 - 9000 for k in range(n)], pa.int32()).cast(pa.date32()),
        "row": pa.array(range(n), pa.int64()),
        "flag": pa.array([k % 3 == 0 if k % 5 else None for k in range(n)], pa.bool_()),
        "note": pa.array(["a\r\nb" if k == 44 else None for k in range(n)], pa.string()),
    }.items():
        results = results.append_column(name, column)
    one_pass = csv_out.BOM + _arrow_with_header(neutralise_table(results))
    used: list[int] = []
    polars = csv_out._polars_text
    monkeypatch.setattr(csv_out, "_polars_text", lambda table: used.append(table.num_rows) or polars(table))
    # every block's text, or with the leading text the results' columns' text, then the whole block's where a
    # cell of those has a line break (rows 42-48)
    for leading, calls in ((None, [1] + [7] * 7), (csv_out.leading_text(inputs), [1] + [7] * 8)):
        used.clear()
        path = tmp_path / "blocks.csv"
        csv_out.write_csv(results, path, leading)
        assert path.read_bytes() == one_pass
        assert sorted(used) == calls
    monkeypatch.setattr(csv_out, "POLARS_ROWS", 51)
    used.clear()
    csv_out.write_csv(results, path)
    assert path.read_bytes() == one_pass
    assert used == []


def _arrow_with_header(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(table, sink, write_options=pa_csv.WriteOptions(quoting_style="needed"))
    return bytes(sink.getvalue().to_pybytes())


def test_an_audits_results_csv_written_by_polars_has_the_bytes_of_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """results.csv of a big audit (here: 60 rows in blocks of 7) written by polars: one pass's bytes by Arrow,
    with bad rows, a line break and formulas in cells."""
    from engine.audit import run as audit_run
    from engine.audit.books.sample import sample_book
    from engine.audit.outputs import results
    from engine.audit.run import run_audit

    table = sample_book(60, seed=7)
    provider = table.column("provider").to_pylist()
    provider[9], provider[20], provider[33] = "two\nlines", "=HYPERLINK(1)", "-5"
    table = table.set_column(table.column_names.index("provider"), "provider", pa.array(provider, pa.string()))
    whole = run_audit(table)
    for module in (csv_out, results, audit_run):
        monkeypatch.setattr(module, "CSV_BLOCK_ROWS", 7)
    monkeypatch.setattr(results, "POLARS_ROWS", 60)
    used: list[int] = []
    polars = csv_out._polars_text
    monkeypatch.setattr(csv_out, "_polars_text", lambda table: used.append(table.num_rows) or polars(table))
    path = tmp_path / "results.csv"
    run_audit(table, results_csv=path)
    assert path.read_bytes() == csv_out.BOM + _arrow_with_header(neutralise_table(whole.table))
    assert len(used) >= 9 and b"'=HYPERLINK(1)" in path.read_bytes()  # every block's result columns at least
