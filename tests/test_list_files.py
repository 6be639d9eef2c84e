"""The lists of placements written from one text of each listed row (``write_csv_subsets``): every file has the
bytes of one pass of Arrow's writer over its own table, whatever rows the files share."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.audit.lists.tables import list_masks, list_table
from engine.audit.outputs import csv_out
from engine.audit.outputs.safe import neutralise_table
from engine.audit.outputs.write import write_outputs
from engine.audit.run import run_audit

CELLS = ["=SUM(A1)", None, 'say "hi"', "two\nlines", "-5", "@x", "a,b", "plain", "+1", "", "a\r\nb", "£5", "-x"]
N = 40


def _table(n: int = N) -> pa.Table:
    return pa.table(
        {
            "row": pa.array(range(2, n + 2), pa.int64()),
            "text": pa.array([CELLS[k % len(CELLS)] if k % 11 else "plain" for k in range(n)], pa.string()),
            "day": pa.array([date(2026, 1, 1 + k % 28) if k % 5 else None for k in range(n)], pa.date32()),
            "money": pa.array(
                [None if k % 4 == 0 else Decimal(-k * 101) / 100 for k in range(n)], pa.decimal128(18, 2)
            ),
            "none": pa.nulls(n),
        }
    )


def _one_pass(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(neutralise_table(table), sink, write_options=pa_csv.WriteOptions(quoting_style="needed"))
    return csv_out.BOM + sink.getvalue().to_pybytes()


def _check(tmp_path: Path, masks: list[np.ndarray]) -> list[int]:
    """Each mask's file against one pass over its own rows; the rows ``make`` was asked for (each once)."""
    table = _table()
    made: list[int] = []

    def make(rows: np.ndarray) -> pa.Table:
        made.extend(rows.tolist())
        return table.take(pa.array(rows, pa.int64()))

    paths = {tmp_path / f"list{k}.csv": mask for k, mask in enumerate(masks)}
    told: list[int] = []
    csv_out.write_csv_subsets(make, paths, told.append)
    for path, mask in paths.items():
        assert path.read_bytes() == _one_pass(table.take(pa.array(np.flatnonzero(mask), pa.int64())))
    assert sum(told) == sum(int(mask.sum()) for mask in masks)
    return made


def test_files_of_shared_rows_have_the_bytes_of_one_pass_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Formulas, quotes, commas, line breaks (a block with one is written a file at a time in one pass), nulls,
    money and dates; an empty list, a one-row list, every row, lists that overlap; each row made once."""
    monkeypatch.setattr(csv_out, "CSV_BLOCK_ROWS", 7)  # 40 rows: 6 blocks, the last one short
    every = np.ones(N, bool)
    none = np.zeros(N, bool)
    one = none.copy()
    one[3] = True  # "two\nlines": its block is written in one pass a file at a time
    evens = np.arange(N) % 2 == 0
    thirds = np.arange(N) % 3 == 0
    made = _check(tmp_path, [evens, none, one, thirds, every])
    assert made == list(range(N))  # every row made once, in order, whatever lists it is in
    made = _check(tmp_path, [evens, thirds, one])
    assert made == np.flatnonzero(evens | thirds | one).tolist()


def test_no_row_in_any_list_gives_headers_only(tmp_path: Path) -> None:
    none = np.zeros(N, bool)
    assert _check(tmp_path, [none, none]) == []
    assert (tmp_path / "list0.csv").read_bytes() == csv_out.BOM + b'"row","text","day","money","none"\n'


@settings(max_examples=60, deadline=None)
@given(
    block=st.integers(1, 12),
    masks=st.lists(st.lists(st.booleans(), min_size=N, max_size=N), min_size=1, max_size=4),
)
def test_any_lists_and_blocks_give_the_bytes_of_one_pass(
    tmp_path_factory: pytest.TempPathFactory, block: int, masks: list[list[bool]]
) -> None:
    original = csv_out.CSV_BLOCK_ROWS
    csv_out.CSV_BLOCK_ROWS = block
    try:
        chosen = [np.array(mask, bool) for mask in masks]
        made = _check(tmp_path_factory.mktemp("lists"), chosen)
        assert made == np.flatnonzero(np.logical_or.reduce(chosen)).tolist()
    finally:
        csv_out.CSV_BLOCK_ROWS = original


def test_an_audits_list_files_equal_one_pass_over_each_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """write_outputs writes the lists of placements from one text of each listed row: each file has the bytes of
    one pass over ``list_table`` of its list, with formulas and a line break in listed rows and blocks that end
    mid-list."""
    from engine.audit.books.sample import sample_book

    table = sample_book(400, seed=11)
    provider = table.column("provider").to_pylist()
    for k in range(0, 400, 9):
        provider[k] = ["two\nlines", "=HYPERLINK(1)", "-5", 'say "hi"', "@x"][k % 5]
    table = table.set_column(table.column_names.index("provider"), "provider", pa.array(provider, pa.string()))
    audit = run_audit(table)
    masks = list_masks(audit)
    expected = {name: _one_pass(list_table(audit, mask)) for name, mask in masks.items()}
    listed = [mask for mask in masks.values() if mask.any()]
    assert len(listed) >= 3 and sum(int(m.sum()) for m in listed) > int(np.logical_or.reduce(listed).sum())
    monkeypatch.setattr(csv_out, "CSV_BLOCK_ROWS", 13)
    paths = write_outputs(audit, tmp_path, excel=False, report=False)
    for name, body in expected.items():
        assert paths[f"{name}_csv"].read_bytes() == body, name
    assert any(b"two\nlines" in body for body in expected.values())
    assert any(b"'=HYPERLINK(1)" in body for body in expected.values())
