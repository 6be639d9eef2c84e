"""``engine.arrays.pick`` is ``np.where``: the same values and the same dtype, whichever way it takes (flags,
whole numbers at the edges of their dtype where the arithmetic wraps, a Python int on either side, rows mostly
one way or mixed)."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from engine.arrays import pick

DTYPES = (np.dtype(np.int8), np.dtype(np.int16), np.dtype(np.int32), np.dtype(np.int64))


def _same(test: np.ndarray, a: Any, b: Any) -> None:
    want, got = np.where(test, a, b), pick(test, a, b)
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    assert np.array_equal(got, want)


@st.composite
def _case(draw: st.DrawFn) -> tuple[np.ndarray, Any, Any]:
    n = draw(st.integers(1, 200))
    share = draw(st.sampled_from([0.0, 0.02, 0.5, 0.98, 1.0]))
    test = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).random(n) < share
    kind = draw(st.sampled_from(["flags", "whole"]))
    if kind == "flags":
        sides = [hnp.arrays(np.bool_, n), st.booleans()]
    else:
        dtype: np.dtype[np.signedinteger[Any]] = draw(st.sampled_from(DTYPES))
        info = np.iinfo(dtype)
        whole = st.integers(int(info.min), int(info.max))
        edges = st.sampled_from([int(info.min), int(info.max), 0, -1])
        sides = [hnp.arrays(dtype, n, elements=whole | edges), whole | edges]
    a = draw(sides[0] if draw(st.booleans()) else st.one_of(*sides))
    b = draw(sides[0] if not isinstance(a, np.ndarray) else st.one_of(*sides))
    return test, a, b


@settings(max_examples=400, deadline=None)
@given(_case())
def test_pick_is_np_where(case: tuple[np.ndarray, Any, Any]) -> None:
    _same(*case)


def test_pick_wraps_exactly_at_the_edges_of_int64() -> None:
    low, high = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    test = np.array([True, False] * 50)
    a = np.full(100, high, np.int64)
    b = np.full(100, low, np.int64)
    _same(test, a, b)  # a - b overflows; b + (a - b) is still a
    _same(test, b, a)
    _same(test, a, low)


def test_pick_leaves_what_it_does_not_speed_up_to_np_where() -> None:
    test = np.array([True, False, True, False])
    _same(test, np.arange(4, dtype=np.int8), np.arange(4, dtype=np.int64))  # dtypes differ: NumPy promotes
    _same(test, np.arange(4.0), 1.5)  # not whole numbers
    _same(test, np.arange(4, dtype=np.int8), 1000)  # 1000 is not an int8: NumPy raises or promotes
    _same(np.array([[True], [False]]), np.arange(4).reshape(2, 2), 0)  # not one row per value
    _same(test, 3, 4)  # no column
