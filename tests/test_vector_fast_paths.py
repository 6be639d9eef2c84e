"""The vector evaluator's shortcuts give what the plain numpy would: parameters' editions looked up in a table of
the rows' days (the same as searching every row's day)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.language.vector_parameters import ParameterColumns
from engine.rulebook.loader import load_rulebook


@pytest.mark.parametrize("spread", [40, 400, 60_000])  # days between the first row's and the last's
def test_editions_looked_up_by_day_are_those_searched_row_by_row(spread: int) -> None:
    book = load_rulebook()
    columns = ParameterColumns(book)
    first = min(int(dates[0]) for dates in columns._dates.values())  # around it, rows before any edition: -1
    change = min(int(dates[1]) for dates in columns._dates.values() if len(dates) > 1)  # a second edition's day
    rng = np.random.default_rng(spread)
    days = np.concatenate(
        [rng.integers(around - spread // 2, around + spread // 2 + 1, 10_000) for around in (first, change)]
    )
    looked_up = []
    with columns.one_evaluation():
        table = columns._days(days) is not None  # a table of the days, or every row searched
        assert table == (int(days.max() - days.min()) < len(days)) and table == (spread < 60_000)
        for name in book.parameters:
            looked_up.append((name, columns.index(name, days), columns.param(name, days)))
    assert any(-1 in index for _, index, _ in looked_up) and any(np.max(index) > 0 for _, index, _ in looked_up)
    for name, index, value in looked_up:
        searched = np.searchsorted(columns._dates[name], days, side="right") - 1
        assert index.dtype == searched.dtype and np.array_equal(index, searched), name
        plain = ParameterColumns(book).param(name, days)  # outside an evaluation: every row searched
        for got, want in ((value.v, plain.v), (value.ok, plain.ok)):
            assert got.dtype == want.dtype and np.array_equal(np.broadcast_to(got, 20_000), want), name

