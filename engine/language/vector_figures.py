"""The figure language compiled for a whole book: each checked expression becomes a numpy function over columns.

A value is a ``Num``: int64 (or bool, or enum codes) values, a mask of non-null cells and, for an exact
fraction, its int64 denominators (> 0). The null semantics are those of ``engine/language/scalar_figures.py``:
a comparison with a null is false, ``coalesce`` takes the first non-null, everything else is null when any
argument is. Rounding is exact integer arithmetic, half away from zero, as Decimal ROUND_HALF_UP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.arrays import everywhere, pick
from engine.language.figure_language import E
from engine.language.scalar_figures import whole_quotient as _quotient
from engine.language.vocabulary import ENUMS, Kind
from engine.rulebook.figures import Figure
from engine.validate.batch import Col

if TYPE_CHECKING:
    from engine.rulebook.book import Rulebook  # the loaded rulebook this compiles (annotations only)


@dataclass
class Num:
    v: Any  # np.ndarray or a Python scalar (a constant)
    ok: Any  # np.ndarray of bool, or True
    den: Any = None  # None: a whole number; else the denominators of a fraction
    cats: tuple[Any, ...] | None = None


class Context:
    """What a compiled figure reads: the book's columns, the figures so far, parameters at each row's date."""

    def __init__(
        self,
        cols: dict[str, Col],
        values: dict[str, Col],
        param: Callable[[str], Col],
        index: Callable[[str], np.ndarray],
        n: int,
        as_at: np.ndarray | None = None,
    ) -> None:
        self.cols, self.values, self.param, self.index, self.n = cols, values, param, index, n
        self.as_at = np.zeros(n, np.int64) if as_at is None else as_at  # each row's decision date (day number)
        self.bands: dict[str, tuple[np.ndarray, tuple[str, ...]]] = {}  # table → (approver index per row, names)


Compiled = Callable[[Context], Num]
_CMP = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}


def _col(col: Col) -> Num:
    return Num(col.v, col.ok, None, col.cats)


def _whole(x: Num) -> tuple[Any, Any]:
    return x.v, (1 if x.den is None else x.den)


def _round(x: Num, divisor: int, how: str) -> Any:
    numerator, denominator = _whole(x)
    denominator = denominator * divisor
    if how == "floor":
        return numerator // denominator
    if how == "ceil":
        return -((-numerator) // denominator)
    magnitude = (2 * np.abs(numerator) + denominator) // (2 * denominator)
    negative = numerator < 0
    if isinstance(magnitude, np.ndarray) and np.shape(negative) == magnitude.shape and not np.any(negative):
        return magnitude  # no negative numerator: the magnitudes as they are (a new column already)
    return pick(negative, -magnitude, magnitude)


def compile_vector(book: Rulebook, figures: dict[str, Figure]) -> dict[str, dict[str, Compiled]]:
    """figure → service → a function of the Context giving that service's formula over every row."""

    def build(e: E, service: str) -> Compiled:  # noqa: C901 - one branch per operation of the language
        op, args = e.op, e.args
        parts = [build(a, service) if isinstance(a, E) else a for a in args]
        if op == "field":
            return lambda c: _col(c.cols[args[0]])
        if op == "figure":
            name = args[0]
            if service not in figures[name].formulas:
                return lambda c: Num(0, False)
            return lambda c: _col(c.values[name])
        if op == "param":
            name = args[0]
            if e.t.exact:
                return lambda c: _fraction_param(book, name, c)
            return lambda c: _col(c.param(name))
        if op == "param_by":
            key, names = parts[1], args[2]

            def param_by(c: Context) -> Num:
                k = key(c)
                out_v, out_ok = np.zeros(c.n, np.int64), np.zeros(c.n, bool)
                for value, name in names.items():
                    rows = k.ok & (k.v == value)
                    if rows.any():  # each value's rows are its own and start at 0: added in, no masked copy
                        found = c.param(name)  # (a parameter may be one value spread over the rows)
                        out_v += np.multiply(found.v, rows, dtype=np.int64)
                        out_ok |= rows if everywhere(found.ok) else rows & found.ok
                return Num(out_v, out_ok)

            return param_by
        if op == "const" and e.t.enum and isinstance(args[0], str):
            code, cats = ENUMS[e.t.enum].index(args[0]), ENUMS[e.t.enum]  # an enum figure's value: its code
            return lambda c: Num(np.int8(code), True, None, cats)
        if op in ("literal", "const"):
            value = args[0]
            return lambda c: Num(value, True)
        if op == "null":
            return lambda c: Num(0, False)
        if op == "scale":
            inner, factor = parts[0], args[1]
            return lambda c: _times(inner(c), factor)
        if op in ("+", "-"):
            left, right = parts
            sign = 1 if op == "+" else -1
            return lambda c: _add(left(c), right(c), sign)
        if op == "*":
            left, right = parts
            return lambda c: _mul(left(c), right(c))
        if op == "/":
            left, right = parts
            return lambda c: _div(left(c), right(c))
        quotient = _quotient(args[0], args[1]) if op in ("round_half_up", "ceil", "floor") else None
        if quotient is not None:  # a rounded quotient of whole numbers: integers only, no fraction arrays
            dividend, divisor = build(quotient[0], service), build(quotient[1], service)
            factor, how = quotient[2], op

            def rounded_quotient(c: Context) -> Num:
                a, b = dividend(c), divisor(c)
                ok = a.ok & b.ok & (b.v != 0)
                numerator, denominator = a.v * factor, pick(b.v != 0, b.v, 1)
                negative = denominator < 0
                numerator, denominator = pick(negative, -numerator, numerator), np.abs(denominator)
                return Num(_round(Num(numerator, ok, denominator), 1, how), ok)

            return rounded_quotient
        if op in ("round_half_up", "ceil", "floor"):
            inner, shift = parts[0], args[1]

            def rounded(c: Context) -> Num:
                x = inner(c)
                if shift < 0:
                    x = _times(x, 10**-shift)
                if x.den is None and shift <= 0:
                    return Num(x.v, x.ok)
                return Num(_round(x, 10 ** max(shift, 0), op), x.ok)

            return rounded
        if op in ("min", "max"):
            bound = np.minimum if op == "min" else np.maximum

            def extreme(c: Context) -> Num:
                values = [f(c) for f in parts]
                out = values[0]
                for x in values[1:]:
                    out = Num(bound(out.v, x.v), out.ok & x.ok)
                return out

            return extreme
        if op == "coalesce":

            def coalesce(c: Context) -> Num:
                values = [f(c) for f in parts]
                out = values[-1]
                for x in reversed(values[:-1]):
                    out = Num(pick(x.ok, x.v, out.v), x.ok | out.ok, None, x.cats or out.cats)
                return out

            return coalesce
        if op == "known":
            return lambda c: Num(np.logical_and.reduce([np.broadcast_to(f(c).ok, c.n) for f in parts]), True)
        if op == "if":
            cond, yes, no = parts

            if args[2].op == "null":  # "x if condition else null": no need to pick values, only the mask

                def when(c: Context) -> Num:
                    test, a = _mask(cond(c)), yes(c)
                    return Num(a.v, test & a.ok, a.den, a.cats)

                return when

            def choose(c: Context) -> Num:
                test, a, b = _mask(cond(c)), yes(c), no(c)
                den = None if a.den is None and b.den is None else pick(test, _whole(a)[1], _whole(b)[1])
                return Num(pick(test, a.v, b.v), pick(test, a.ok, b.ok), den, a.cats or b.cats)

            return choose
        if op == "cmp":
            compare, left, right = _CMP[args[0]], parts[1], parts[2]
            enum = args[1].t.enum or args[2].t.enum

            def comparison(c: Context) -> Num:
                a, b = left(c), right(c)
                av, bv = a.v, b.v
                if enum is not None:
                    av, bv = _code(av, enum), _code(bv, enum)
                if a.den is not None or b.den is not None:
                    av, bv = av * _whole(b)[1], bv * _whole(a)[1]
                return Num(_present(compare(av, bv), a.ok, b.ok, c.n), True)

            return comparison
        if op in ("and", "or"):
            combine = np.logical_and if op == "and" else np.logical_or
            return lambda c: Num(combine.reduce([np.broadcast_to(_mask(f(c)), c.n) for f in parts]), True)
        if op == "not":
            inner = parts[0]
            return lambda c: Num(~_mask(inner(c)), True)
        if op in ("truth", "falsity"):
            inner, want = parts[0], op == "truth"
            return lambda c: Num((inner(c).v == want) & inner(c).ok, True)
        if op == "band":
            return _band(book, args[0], parts[1], 10 ** args[1].t.scale)
        if op == "category_fixes":
            inner, fixed = parts[0], args[2]
            codes = ENUMS.get(args[1]) if e.t.kind is Kind.ENUM else None

            kind = np.int8 if codes else bool
            ids = sorted(fixed) if fixed and all(type(k) is int for k in fixed) else None  # looked up at once
            keys = np.array(ids or [], np.int64)
            fixes = np.array([codes.index(fixed[k]) if codes else fixed[k] for k in ids or []], kind)

            def category_fixes(c: Context) -> Num:
                x = inner(c)
                if ids and isinstance(x.v, np.ndarray) and x.v.dtype.kind == "i" and x.v.shape == (c.n,):
                    at = np.minimum(np.searchsorted(keys, x.v), len(keys) - 1)  # each row's id among the ids
                    hit = (keys[at] == x.v) & x.ok
                    return Num(np.where(hit, fixes[at], kind(0)), hit, None, codes)
                out, found = np.zeros(c.n, kind), np.zeros(c.n, bool)
                for category_id, value in fixed.items():
                    rows = x.ok & (x.v == category_id)
                    out[rows], found[rows] = codes.index(value) if codes else value, True
                return Num(out, found, None, codes)

            return category_fixes
        if op == "as_at":
            return lambda c: Num(c.as_at, True)
        if op == "add_days":
            day, days = parts
            return lambda c: _add(day(c), days(c), 1)
        raise AssertionError(f"no vector form for {op}")

    return {name: {s: build(e, s) for s, e in figure.formulas.items()} for name, figure in figures.items()}


def _code(value: Any, enum: str) -> Any:
    """A quoted name compared with an enum column becomes its code (a name not listed matches nothing)."""
    if isinstance(value, str):
        return ENUMS[enum].index(value) if value in ENUMS[enum] else -1
    return value


def _flags(x: Any) -> bool:
    return isinstance(x, (bool, np.bool_)) or (isinstance(x, np.ndarray) and x.dtype == np.bool_)


def _mask(x: Num) -> Any:
    return x.v if x.ok is True else x.v & x.ok


def _times(x: Num, factor: int) -> Num:
    return Num(x.v * factor, x.ok, x.den)


def _present(hit: Any, a_ok: Any, b_ok: Any, n: int) -> Any:
    """``hit & a_ok & b_ok``: in place on a fresh column of the rows, leaving out flags true everywhere."""
    if not (isinstance(hit, np.ndarray) and hit.shape == (n,) and hit.dtype == np.bool_):
        return hit & a_ok & b_ok
    for ok in (a_ok, b_ok):
        if not everywhere(ok):
            hit &= ok
    return hit


def _add(a: Num, b: Num, sign: int) -> Num:
    if a.den is None and b.den is None:
        if not (_flags(a.v) or _flags(b.v)):  # whole numbers: one pass, no column of -b
            return Num(a.v + b.v if sign == 1 else a.v - b.v, a.ok & b.ok)
        return Num(a.v + sign * b.v, a.ok & b.ok)
    (an, ad), (bn, bd) = _whole(a), _whole(b)
    return Num(an * bd + sign * bn * ad, a.ok & b.ok, ad * bd)


def _mul(a: Num, b: Num) -> Num:
    den = None if a.den is None and b.den is None else _whole(a)[1] * _whole(b)[1]
    return Num(a.v * b.v, a.ok & b.ok, den)


def _div(a: Num, b: Num) -> Num:
    (an, ad), (bn, bd) = _whole(a), _whole(b)
    ok = a.ok & b.ok & (bn != 0)
    numerator, denominator = an * bd, ad * bn
    negative = denominator < 0
    return Num(pick(negative, -numerator, numerator), ok, pick(denominator == 0, 1, np.abs(denominator)))


def _fraction_param(book: Rulebook, name: str, c: Context) -> Num:
    """A ratio parameter per row as exact fractions (numerators and denominators by the edition in force)."""
    values = [None if v is None else Fraction(v) for v in book.parameters[name].values] + [None]
    index = c.index(name)
    numerators = np.array([0 if f is None else f.numerator for f in values], np.int64)
    denominators = np.array([1 if f is None else f.denominator for f in values], np.int64)
    present = np.array([f is not None for f in values])
    if isinstance(index, np.ndarray) and index.ndim == 1 and index.strides == (0,) and len(index):
        at, rows = int(index[0]), index.shape  # one edition for every row: its value spread, not copied
        spread = [np.broadcast_to(column[at], rows) for column in (numerators, present, denominators)]
        return Num(spread[0], spread[1], spread[2])
    return Num(numerators[index], present[index], denominators[index])


def _band(book: Rulebook, name: str, percent: Compiled, scale: int) -> Compiled:
    """The band number holding each row's exact percentage, rows tried in the table's order (its hit policy)."""
    parameter = book.parameters[name]

    def band(c: Context) -> Num:
        x = percent(c)
        numerator, denominator = _whole(x)
        numerator, denominator = np.broadcast_to(numerator, c.n), np.broadcast_to(denominator * scale, c.n)
        index = c.index(name)
        out, found = np.zeros(c.n, np.int64), np.zeros(c.n, bool)
        approver = np.full(c.n, -1, np.int64)
        names: list[str] = []
        for k in np.unique(index[np.broadcast_to(x.ok, c.n)]).tolist():
            bands = parameter.values[k] if k >= 0 else None
            if bands is None:
                continue
            todo = x.ok & (index == k)
            for row in bands:
                above = Fraction(row.above_percent)
                hit = todo & (numerator * above.denominator > above.numerator * denominator)
                if row.up_to_percent is not None:
                    up = Fraction(row.up_to_percent)
                    hit &= numerator * up.denominator <= up.numerator * denominator
                if row.approver not in names:
                    names.append(row.approver)
                out[hit], found[hit], approver[hit] = row.band, True, names.index(row.approver)
                todo &= ~hit
        c.bands[name] = (approver, tuple(names))
        return Num(out, found)

    return band
