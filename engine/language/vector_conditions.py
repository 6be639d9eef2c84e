"""A rule's condition (negation normal form) as a boolean mask over the rows. **A comparison is true only where
every value it reads is non-null**, so null semantics are those of durable_rules, on purpose."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from engine.arrays import everywhere
from engine.language import conditions
from engine.validate.batch import Col

_CMP = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}
_ARITH = {"+": np.add, "-": np.subtract, "*": np.multiply}


def _null(n: int, dtype: Any = np.int64) -> Col:
    return Col(np.zeros(n, dtype), np.zeros(n, bool))


def mask(cond: conditions.Cond, v: Mapping[str, Any], n: int) -> np.ndarray:
    """The rows (of ``n``) where the condition holds, reading the columns ``v``."""
    if isinstance(cond, conditions.All):
        result = np.ones(n, bool)
        for item in cond.items:
            result &= mask(item, v, n)
        return result
    if isinstance(cond, conditions.Any):
        result = np.zeros(n, bool)
        for item in cond.items:
            result |= mask(item, v, n)
        return result
    left, left_ok, cats = _expr(cond.left, v, n)
    right, right_ok, right_cats = _expr(cond.right, v, n)
    if cats is not None and right_cats is None and isinstance(right, str):
        right = cats.index(right) if right in cats else -1  # compare codes: a name not listed matches nothing
    elif cats is not None or right_cats is not None:
        left, right = _names(left, cats), _names(right, right_cats)
    hit: np.ndarray = _CMP[cond.op](left, right)
    if not (isinstance(hit, np.ndarray) and hit.shape == (n,)):  # constants alone: spread as before
        return hit & left_ok & right_ok  # type: ignore[no-any-return]
    for ok in (left_ok, right_ok):  # in place, and not at all where every value is present
        if not everywhere(ok):
            hit &= ok
    return hit


def _names(values: Any, cats: tuple[Any, ...] | None) -> Any:
    if cats is None:
        return values
    return np.asarray(cats, dtype=object)[values]


def _expr(expr: conditions.Expr, v: Mapping[str, Any], n: int) -> tuple[Any, Any, tuple[Any, ...] | None]:
    if isinstance(expr, conditions.Const):
        return expr.value, True, None
    if isinstance(expr, conditions.Ref):
        col = v.get(expr.name) or _null(n)
        return col.v, col.ok, col.cats
    left, left_ok, _ = _expr(expr.left, v, n)
    right, right_ok, _ = _expr(expr.right, v, n)
    return _ARITH[expr.op](left, right), left_ok & right_ok, None
