"""Parameters as columns for the vectorised evaluator: per row, the value of a dated parameter in force at the
row's as-at date (``np.searchsorted`` over each parameter's dates)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from engine.language.vocabulary import Kind
from engine.validate.batch import Col, day_number

if TYPE_CHECKING:
    from engine.rulebook.book import Parameter, Rulebook  # the loaded rulebook this compiles (annotations only)


class ParameterColumns:
    """Each parameter's values by edition, looked up per row by its as-at day."""

    def __init__(self, book: Rulebook) -> None:
        self.book = book
        self._dates = {
            name: np.array([day_number(d) for d in p.dates], np.int64) for name, p in book.parameters.items()
        }
        # the rows' edition indexes per list of dates, only while one evaluation runs
        self._index_cache: dict[tuple[int, bytes], tuple[np.ndarray, int, int]] | None = None
        self._days_cache: dict[int, tuple[np.ndarray, int, int] | None] = {}  # id(as_at) → ``_days``, likewise
        self._tables: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    @contextmanager
    def one_evaluation(self) -> Iterator[None]:
        """While it lasts, parameters with the same dates share one search of the rows' dates (re-entrant)."""
        if self._index_cache is not None:
            yield
            return
        self._index_cache, self._days_cache = {}, {}
        try:
            yield
        finally:
            self._index_cache, self._days_cache = None, {}

    def index(self, name: str, as_at: np.ndarray) -> np.ndarray:
        """Per row, the index of the parameter's value in force (or -1: none yet); shared by equal date lists."""
        return self._lookup(name, as_at)[0]

    def _lookup(self, name: str, as_at: np.ndarray) -> tuple[np.ndarray, int, int]:
        """The rows' edition indexes and their least and greatest (searched once per distinct list of dates
        while an evaluation runs, and once in all when every row has the same date)."""
        if self._index_cache is None:
            return self._search(self._dates[name], as_at)
        key = (id(as_at), self._dates[name].tobytes())
        if key not in self._index_cache:
            if id(as_at) not in self._days_cache:  # the rows' days from their first, once an evaluation
                self._days_cache[id(as_at)] = self._days(as_at)
            self._index_cache[key] = self._search(self._dates[name], as_at, self._days_cache[id(as_at)])
        return self._index_cache[key]

    @staticmethod
    def _days(as_at: np.ndarray) -> tuple[np.ndarray, int, int] | None:
        """Each row's day counted from the rows' first day, with the first and last days, when the days from
        the first to the last are fewer than the rows (else None): each parameter's editions are then searched
        once for each of those days and looked up per row, not searched for every row."""
        if len(as_at) == 0:
            return None
        first, last = int(as_at.min()), int(as_at.max())
        if first == last or last - first >= len(as_at):
            return None
        return as_at - first, first, last  # int64: numpy indexes by intp without a cast

    @staticmethod
    def _search(
        dates: np.ndarray, as_at: np.ndarray, days: tuple[np.ndarray, int, int] | None = None
    ) -> tuple[np.ndarray, int, int]:
        if len(as_at) == 0:
            return np.zeros(0, np.int64), 0, 0
        if days is not None:  # each day's edition from the first day to the last, then each row's by its day
            offsets, first, last = days
            editions = np.searchsorted(dates, np.arange(first, last + 1, dtype=np.int64), side="right") - 1
            return editions[offsets], int(editions[0]), int(editions[-1])
        first, last = int(as_at.min()), int(as_at.max())
        if first == last:  # one date for every row: one search, spread over the rows without copying
            found = int(np.searchsorted(dates, first, side="right")) - 1
            return np.broadcast_to(np.int64(found), as_at.shape), found, found
        index = np.searchsorted(dates, as_at, side="right") - 1
        return (
            index,
            int(np.searchsorted(dates, first, side="right")) - 1,
            int(np.searchsorted(dates, last, side="right")) - 1,
        )

    def param(self, name: str, as_at: np.ndarray) -> Col:
        index, low, high = self._lookup(name, as_at)
        if name not in self._tables:
            self._tables[name] = self._table(self.book.parameters[name])
        table, present = self._tables[name]
        n = len(index)
        editions = slice(low, high + 1)
        if low == high or (
            low >= 0 and (table[editions] == table[low]).all() and (present[editions] == present[low]).all()
        ):
            # one edition's value for every row (read-only views: nothing writes into a parameter's column)
            return Col(np.broadcast_to(table[low], (n,)), np.broadcast_to(present[low], (n,)))
        if low >= 0 and present[editions].all():
            return Col(table[index], np.broadcast_to(np.True_, (n,)))
        return Col(table[index], present[index])

    @staticmethod
    def _table(parameter: Parameter) -> tuple[np.ndarray, np.ndarray]:
        """A parameter's values by edition (and a last slot for "none yet") and which are in force."""
        present = np.array([v is not None for v in parameter.values] + [False])
        if parameter.kind is Kind.BOOL:
            table = np.array([bool(v) for v in parameter.values] + [False])
        elif parameter.kind in (Kind.MONEY, Kind.QUANTITY, Kind.COUNT):
            table = np.array([0 if v is None else int(v) for v in parameter.values] + [0], np.int64)
        else:
            table = np.arange(len(parameter.values) + 1)  # ratio and table values: the index, used by derive
        return table, present
