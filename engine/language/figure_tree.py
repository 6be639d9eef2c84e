"""The figure language's checked tree: ``E`` nodes and their types (``T``), what a tree reads, the unit rules that
join two nodes (alike kinds, decimal places aligned), an enum figure's names tagged, and ``not`` pushed down.

``engine/language/figure_language.py`` builds the tree from a formula; ``scalar_figures.py`` and
``engine/language/vector_figures.py`` compile it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engine.language.vocabulary import ENUMS, Kind

NUMBER = (Kind.MONEY, Kind.QUANTITY, Kind.PERCENT, Kind.COUNT, Kind.RATIO)


@dataclass(frozen=True)
class T:
    """An expression's type: a kind; for numbers the decimal places held and whether it may be a fraction."""

    kind: Kind
    scale: int = 0
    exact: bool = False  # a fraction (from / or a ratio): must be rounded before it is a figure
    enum: str | None = None
    param: str | None = None  # for a table


@dataclass(frozen=True)
class E:
    """A checked expression node: ``op`` and its arguments (nodes, names or constants), and its type."""

    op: str
    args: tuple[Any, ...]
    t: T


class FigureError(ValueError):
    pass


def depends_on(expr: E) -> set[str]:
    """The figures an expression reads."""
    if expr.op == "figure":
        return {expr.args[0]}
    return set().union(*(depends_on(a) for a in expr.args if isinstance(a, E)))


def nodes(expr: E) -> Iterator[E]:
    """Every node of an expression's tree, itself first."""
    yield expr
    for arg in expr.args:
        if isinstance(arg, E):
            yield from nodes(arg)


def params_in(expr: E) -> set[str]:
    if expr.op == "param":
        return {expr.args[0]}
    if expr.op == "param_by":
        return set(expr.args[2].values())
    return set().union(*(params_in(a) for a in expr.args if isinstance(a, E)))


def same(left: E, right: E) -> tuple[E, E]:
    """Two sides that must be alike (+ - compare, branches): a literal or null takes the other's unit."""
    if left.op in ("literal", "null") and right.op not in ("literal", "null"):
        left = literal_as(left, right.t)
    elif right.op in ("literal", "null") and left.op not in ("literal", "null"):
        right = literal_as(right, left.t)
    if left.op == "null" or right.op == "null":
        return left, right
    if (left.t.kind in NUMBER) != (right.t.kind in NUMBER) or (
        left.t.kind not in NUMBER and left.t.kind is not right.t.kind
    ):
        raise FigureError(f"a {left.t.kind.value} and a {right.t.kind.value} do not go together")
    if left.t.kind is Kind.ENUM and right.op == "const" and left.t.enum and right.args[0] not in ENUMS[left.t.enum]:
        raise FigureError(f"{right.args[0]!r} is not one of {left.t.enum}: {', '.join(ENUMS[left.t.enum])}")
    scale = max(left.t.scale, right.t.scale) if left.t.kind in NUMBER else 0
    return (rescale(left, scale), rescale(right, scale)) if scale else (left, right)


def literal_as(expr: E, t: T) -> E:
    if expr.op == "null":
        return E("null", (), t)
    if expr.op != "literal" or t.kind not in NUMBER:
        return expr
    return E("literal", expr.args, T(t.kind if t.kind is not Kind.RATIO else Kind.COUNT, expr.t.scale))


def rescale(expr: E, scale: int) -> E:
    if expr.op == "null" or expr.t.kind not in NUMBER or expr.t.scale == scale:
        return expr
    if expr.t.scale > scale:
        raise FigureError("would lose decimal places: round it first")
    return E("scale", (expr, 10 ** (scale - expr.t.scale)), T(expr.t.kind, scale, expr.t.exact, expr.t.enum))


def enum_values(expr: E, enum: str) -> E:
    """The names an enum figure may take (quoted constants, the branches of ``if``, ``coalesce``) tagged
    with its enum, so the vectorised form holds their codes; a name not listed is refused."""
    if expr.op == "const" and isinstance(expr.args[0], str):
        if expr.args[0] not in ENUMS[enum]:
            raise FigureError(f"{expr.args[0]!r} is not one of {enum}: {', '.join(ENUMS[enum])}")
        return E("const", expr.args, T(Kind.ENUM, enum=enum))
    if expr.op == "if":
        cond, yes, no = expr.args
        return E("if", (cond, enum_values(yes, enum), enum_values(no, enum)), T(Kind.ENUM, enum=enum))
    if expr.op == "coalesce":
        return E("coalesce", tuple(enum_values(a, enum) for a in expr.args), T(Kind.ENUM, enum=enum))
    return expr


NEGATED = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}


def negate(cond: E) -> E:
    """``not`` pushed down to the comparisons (as in rule conditions): ``not (x > 5)`` is false when x is null."""
    if cond.op == "cmp":
        return E("cmp", (NEGATED[cond.args[0]], *cond.args[1:]), cond.t)
    if cond.op in ("and", "or"):
        return E("or" if cond.op == "and" else "and", tuple(negate(c) for c in cond.args), cond.t)
    if cond.op == "truth":
        return E("falsity", cond.args, cond.t)
    if cond.op == "falsity":
        return E("truth", cond.args, cond.t)
    return E("not", (cond,), cond.t)  # known(): never null


def result_kind(left: E, right: E) -> Kind:
    for kind in (Kind.MONEY, Kind.QUANTITY, Kind.PERCENT):
        if kind in (left.t.kind, right.t.kind):
            return kind
    return Kind.COUNT
