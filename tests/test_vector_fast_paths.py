"""The vector evaluator's shortcuts give what the plain numpy would: parameters' editions looked up in a table of
the rows' days (the same as searching every row's day), ``pick`` with flags true everywhere or one side on every
row (``np.where``), and a comparison's null flags left out where they are true everywhere (``cmp & ok & ok``)."""

from __future__ import annotations

import itertools
from datetime import date

import numpy as np
import pytest

from engine.arrays import everywhere, pick
from engine.evaluate.vector import VectorEvaluator
from engine.language import conditions
from engine.language.vector_conditions import mask
from engine.language.vector_parameters import ParameterColumns
from engine.rulebook.loader import load_rulebook
from engine.validate.batch import Col, day_number
from tests.conftest import parsed_sample


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


def _flag_sides(n: int) -> list[object]:
    rng = np.random.default_rng(n)
    return [True, False, np.True_, np.False_, rng.random(n) < 0.5, np.broadcast_to(np.True_, (n,)),
            np.broadcast_to(np.False_, (n,)), np.ones(n, bool)]  # fmt: skip


def test_pick_of_flags_and_of_one_side_is_np_where() -> None:
    n = 257
    rng = np.random.default_rng(7)
    tests = [rng.random(n) < share for share in (0.0, 0.01, 0.5, 0.99, 1.0)]
    for test, a, b in itertools.product(tests, _flag_sides(n), _flag_sides(n)):
        got, want = pick(test, a, b), np.where(test, a, b)
        assert got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want)
    whole = [rng.integers(-(2**62), 2**62, n), np.broadcast_to(np.int64(5), (n,)), 0, -3]
    for test, a, b in itertools.product(tests, whole, whole):
        if isinstance(a, int) and isinstance(b, int):
            continue
        got, want = pick(test, a, b), np.where(test, a, b)
        assert got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want)
        assert got is not a and got is not b  # a new column, never one of the sides


def test_everywhere_reads_no_row_and_says_no_when_unsure() -> None:
    assert everywhere(True) and everywhere(np.True_) and everywhere(np.broadcast_to(np.True_, (4,)))
    assert not everywhere(np.ones(4, bool))  # true everywhere, but only reading it would tell
    assert not everywhere(False) and not everywhere(np.broadcast_to(np.False_, (4,)))
    assert not everywhere(np.broadcast_to(np.True_, (0,))) and not everywhere(1)


def test_a_comparison_is_false_where_either_side_is_null() -> None:
    n = 300
    rng = np.random.default_rng(3)
    values = rng.integers(0, 10, n)
    for left_ok, right_ok in itertools.product(_flag_sides(n)[4:], repeat=2):
        v = {"x": Col(values, left_ok), "y": Col(values[::-1].copy(), right_ok)}
        for op in ("<", "==", ">="):
            got = mask(conditions.Cmp(op, conditions.Ref("x"), conditions.Ref("y")), v, n)
            want = {"<": np.less, "==": np.equal, ">=": np.greater_equal}[op](values, values[::-1]) & left_ok & right_ok
            assert got.dtype == np.bool_ and np.array_equal(got, want)


@pytest.mark.parametrize("day", ["2025-06-01", "2026-11-01"])
def test_rows_at_one_day_are_evaluated_as_rows_at_several(day: str) -> None:
    """Every row at one day takes the shortcuts for one edition in force (parameters spread, not looked up per
    row); with one more row at another day none applies: the shared rows' figures and rules are the same."""
    book, parsed = parsed_sample(1_500, seed=29)
    one = np.full(parsed.n, day_number(date.fromisoformat(day)), np.int64)
    other = one.copy()
    other[-1] = day_number(date(2019, 4, 1))  # before most editions: another edition of almost every parameter
    evaluator = VectorEvaluator(book)
    at_one = evaluator.evaluate(parsed, one)
    mixed = evaluator.evaluate(parsed, other)
    rows = slice(0, parsed.n - 1)
    assert np.array_equal(at_one.fired[rows], mixed.fired[rows]) and at_one.fired[rows].any()
    assert np.array_equal(at_one.outcome[rows], mixed.outcome[rows])
    assert np.array_equal(at_one.band_approver[rows], mixed.band_approver[rows])
    for name in book.figures:
        for got, want in (
            (at_one.values[name].v, mixed.values[name].v),
            (at_one.values[name].ok, mixed.values[name].ok),
        ):
            got, want = np.broadcast_to(got, (parsed.n,)), np.broadcast_to(want, (parsed.n,))
            assert got.dtype == want.dtype and np.array_equal(got[rows], want[rows]), name


def test_outcome_is_each_rows_most_severe_acting_rule() -> None:
    """The outcome (each rule's rank set where it fired by a maximum with 0 elsewhere, not a masked maximum) is,
    row by row, the most severe action of the rules that fired for their own action (not for information
    only), else proceed."""
    from engine.evaluate.vector import SEVERITY

    book, parsed = parsed_sample(4000, seed=29)
    result = VectorEvaluator(book).evaluate(parsed, np.full(parsed.n, day_number(date(2026, 3, 31)), np.int64))
    acting = [result.acting(k) for k in range(len(book.rules))]
    want = np.full(parsed.n, SEVERITY["proceed"], np.int8)
    for i in range(parsed.n):
        for k, rule in enumerate(book.rules):
            if acting[k][i] and rule.action != "info":
                want[i] = max(want[i], SEVERITY[rule.action])
    assert result.outcome.dtype == np.int8 and np.array_equal(result.outcome, want)
    assert len(set(want.tolist())) >= 3  # several outcomes in the sample: the test can tell them apart


@pytest.mark.parametrize("spread", [0, 900])  # every row at one day (each Lot's median spread), or rows' own days
def test_a_value_by_key_is_each_rows_own_parameter(spread: int) -> None:
    """``benchmark(lot)`` (a parameter chosen by each row's key, added in where the key matches rather than a
    masked copy) is, row by row, the Lot's parameter in force at the row's day; null where the Lot is null or
    has none, or the row is not a care home."""
    book, parsed = parsed_sample(3000, seed=31)
    rng = np.random.default_rng(spread)
    days = day_number(date(2025, 6, 1)) + rng.integers(0, spread + 1, parsed.n)
    evaluator = VectorEvaluator(book)
    derived = evaluator.derive(parsed, days, only=["benchmark_weekly"])
    got, lot, service = derived["benchmark_weekly"], derived["lot"], parsed.cols["service"]  # the Lot as read
    names = {category.id: category.benchmark for category in book.categories.items}
    params = {lot_id: evaluator.param(name, days) for lot_id, name in names.items()}
    care_home = list(service.cats or ()).index("care_home")
    seen = set()
    for i in range(parsed.n):
        want_ok, want_v = False, 0
        if service.v[i] == care_home and lot.ok[i] and int(lot.v[i]) in params:
            found = params[int(lot.v[i])]
            want_ok, want_v = bool(found.ok[i]), int(found.v[i]) if found.ok[i] else 0
            seen.add(int(lot.v[i]))
        assert bool(got.ok[i]) == want_ok, i
        if want_ok:
            assert int(got.v[i]) == want_v, i
    assert len(seen) >= 2 and not lot.ok.all()  # several Lots and some not known: the test can tell them apart
