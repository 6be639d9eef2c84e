"""The condition language of a rule's ``when``.

A ``when`` is an expression over placement fields, derived figures and parameters (``params.<name>``):
comparisons (``== != < <= > >=``), ``and``/``or``/``not``, ``+ - *`` and parentheses. A bare boolean name
means ``name == true``. It is parsed with Python's ``ast`` into a small tree (no ``eval``), type-checked
against the vocabulary, and put into negation normal form.

Null semantics (SPEC §2): **any comparison with a null is false**, and ``not`` is pushed down to the
comparisons first, so ``not (x > 5)`` is ``x <= 5`` and is false when ``x`` is null — the way
durable_rules behaves, and the vectorised evaluator copies it on purpose.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from decimal import Decimal

from engine.language.vocabulary import Kind
from engine.money import QUANTITY_PLACES

Value = int | str | bool


@dataclass(frozen=True)
class Ref:
    name: str


@dataclass(frozen=True)
class Const:
    value: Value


@dataclass(frozen=True)
class Arith:
    op: str  # + - *
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Cmp:
    op: str  # == != < <= > >=
    left: Expr
    right: Expr


@dataclass(frozen=True)
class All:
    items: tuple[Cond, ...]


@dataclass(frozen=True)
class Any:
    items: tuple[Cond, ...]


Expr = Ref | Const | Arith
Cond = Cmp | All | Any

NEGATED = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}
MIRRORED = {"==": "==", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<="}
_CMP_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_ARITH_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*"}
_NUMERIC = {Kind.MONEY, Kind.QUANTITY, Kind.COUNT}


class ConditionError(ValueError):
    pass


def parse(text: str, vocabulary: dict[str, Kind], enums: dict[str, tuple[str, ...]]) -> Cond:
    """Parse, type-check and normalise one ``when``; raise ConditionError with a readable reason."""
    source = " ".join(str(text).split())
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError as exc:
        raise ConditionError(f"cannot parse condition {source!r}: {exc.msg}") from None
    return _Parser(vocabulary, enums).condition(tree, negate=False)


class _Parser:
    def __init__(self, vocabulary: dict[str, Kind], enums: dict[str, tuple[str, ...]]) -> None:
        self.vocabulary, self.enums = vocabulary, enums

    def condition(self, node: ast.AST, negate: bool) -> Cond:
        if isinstance(node, ast.BoolOp):
            items = tuple(self.condition(value, negate) for value in node.values)
            is_and = isinstance(node.op, ast.And) != negate
            return All(items) if is_and else Any(items)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return self.condition(node.operand, not negate)
        if isinstance(node, ast.Compare):
            if len(node.ops) != 1 or type(node.ops[0]) not in _CMP_OPS:
                raise ConditionError(f"use one comparison at a time: {ast.unparse(node)!r}")
            op = _CMP_OPS[type(node.ops[0])]
            return self.comparison(NEGATED[op] if negate else op, node.left, node.comparators[0])
        if isinstance(node, (ast.Name, ast.Attribute)):
            ref = self.ref(node)
            if self.vocabulary[ref.name] is not Kind.BOOL:
                raise ConditionError(f"{ref.name!r} is not true/false: compare it with something")
            return Cmp("!=" if negate else "==", ref, Const(True))
        raise ConditionError(f"not a condition: {ast.unparse(node)!r}")

    def comparison(self, op: str, left_node: ast.AST, right_node: ast.AST) -> Cmp:
        left, right = self.expr(left_node), self.expr(right_node)
        kind = self.kind_of(left) or self.kind_of(right)
        if kind is None:
            raise ConditionError(f"compares two constants: {ast.unparse(left_node)} {op} {ast.unparse(right_node)}")
        left, right = self.typed(left, kind), self.typed(right, kind)
        if kind in (Kind.BOOL, Kind.ENUM) and op not in ("==", "!="):
            raise ConditionError(f"{kind.value} values can only be compared with == or !=")
        if not isinstance(left, Ref) and not isinstance(right, Ref):
            raise ConditionError(
                f"one side of {ast.unparse(left_node)} {op} {ast.unparse(right_node)} must be a single name "
                "(put the arithmetic on the other side, or add a derived figure)"
            )
        if not isinstance(left, Ref):
            left, right, op = right, left, MIRRORED[op]
        if kind is Kind.ENUM:
            allowed = self.enums[left.name]  # type: ignore[union-attr]
            if isinstance(right, Const) and right.value not in allowed:
                raise ConditionError(f"{right.value!r} is not one of {left.name}: {', '.join(allowed)}")  # type: ignore[union-attr]
        return Cmp(op, left, right)

    def expr(self, node: ast.AST) -> Expr:
        if isinstance(node, (ast.Name, ast.Attribute)):
            if isinstance(node, ast.Name) and node.id in ("true", "false"):
                return Const(node.id == "true")
            return self.ref(node)
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, (int, float, str))
            and not isinstance(node.value, bool)
        ):
            return Const(node.value if isinstance(node.value, str) else Decimal(repr(node.value)))  # type: ignore[arg-type]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
            inner = self.expr(node.operand)
            if isinstance(inner, Const) and isinstance(inner.value, Decimal):
                return Const(-inner.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITH_OPS:
            return Arith(_ARITH_OPS[type(node.op)], self.expr(node.left), self.expr(node.right))
        raise ConditionError(f"not allowed in a condition: {ast.unparse(node)!r}")

    def ref(self, node: ast.AST) -> Ref:
        parts = dotted(node)
        if parts is None:
            raise ConditionError(f"not a name: {ast.unparse(node)!r}")
        name = ".".join(parts)
        if name not in self.vocabulary:
            what = "parameter" if parts[0] == "params" else "field or derived figure"
            raise ConditionError(f"unknown {what} {name!r}")
        if self.vocabulary[name] in (Kind.RATIO, Kind.TABLE, Kind.PERCENT, Kind.DATE):
            raise ConditionError(f"{name!r} is a {self.vocabulary[name].value}: use it through a derived figure")
        return Ref(name)

    def kind_of(self, expr: Expr) -> Kind | None:
        if isinstance(expr, Ref):
            return self.vocabulary[expr.name]
        if isinstance(expr, Const):
            return None
        left, right = self.kind_of(expr.left), self.kind_of(expr.right)
        for kind in (left, right):
            if kind is not None and kind not in _NUMERIC:
                raise ConditionError(f"arithmetic on a {kind.value} value")
        if expr.op == "*" and left is not None and right is not None and Kind.COUNT not in (left, right):
            raise ConditionError("multiply by a count or a constant only")
        if left is not None and right is not None and left != right and expr.op != "*":
            raise ConditionError(f"adds or subtracts {left.value} and {right.value}")
        if expr.op == "*":
            return next((k for k in (left, right) if k is not None and k is not Kind.COUNT), left or right)
        return left or right

    def typed(self, expr: Expr, kind: Kind) -> Expr:
        """Check every name has ``kind``; constants take it (money scaled to pence, quantities to ten-thousandths).

        In ``a * b`` one factor is a count (a count name or a constant) and the other has ``kind``.
        """
        if isinstance(expr, Const):
            return Const(scale_literal(expr.value, kind))
        if isinstance(expr, Arith):
            left_kind = right_kind = kind
            if expr.op == "*":
                right_is_factor = isinstance(expr.right, Const) or self.kind_of(expr.right) is Kind.COUNT
                left_kind, right_kind = (kind, Kind.COUNT) if right_is_factor else (Kind.COUNT, kind)
            return Arith(expr.op, self.typed(expr.left, left_kind), self.typed(expr.right, right_kind))
        if self.vocabulary[expr.name] != kind:
            raise ConditionError(f"compares {expr.name!r} ({self.vocabulary[expr.name].value}) with a {kind.value}")
        return expr


def dotted(node: ast.AST) -> list[str] | None:
    """The parts of a dotted name (``params.isp.protocol_in_force``), or None when it is not one."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.insert(0, node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *parts]


def scale_literal(value: Value, kind: Kind) -> Value:
    if kind in (Kind.MONEY, Kind.QUANTITY):
        if not isinstance(value, Decimal):
            raise ConditionError(f"{value!r} is not a number")
        places = 2 if kind is Kind.MONEY else QUANTITY_PLACES
        scaled = value.scaleb(places)
        if scaled != scaled.to_integral_value():
            raise ConditionError(f"{value} has more than {places} decimal places")
        return int(scaled)
    if kind is Kind.COUNT:
        if not isinstance(value, Decimal) or value != value.to_integral_value():
            raise ConditionError(f"{value!r} is not a whole number")
        return int(value)
    if kind is Kind.BOOL and not isinstance(value, bool):
        raise ConditionError(f"{value!r} is not true or false")
    if kind is Kind.ENUM and not isinstance(value, str):
        raise ConditionError(f"{value!r} is not a quoted name")
    return value


def names_in(node: Cond | Expr) -> set[str]:
    if isinstance(node, Ref):
        return {node.name}
    if isinstance(node, Const):
        return set()
    if isinstance(node, (Arith, Cmp)):
        return names_in(node.left) | names_in(node.right)
    return set().union(*(names_in(item) for item in node.items))


def conjoin(*conditions: Cond | None) -> Cond:
    items: list[Cond] = []
    for condition in conditions:
        if isinstance(condition, All):
            items.extend(condition.items)
        elif condition is not None:
            items.append(condition)
    return All(tuple(items))


def evaluate(node: Cond, values: dict[str, Value | None]) -> bool:
    """Reference interpreter over one record (integers in engine units; None for null)."""
    if isinstance(node, All):
        return all(evaluate(item, values) for item in node.items)
    if isinstance(node, Any):
        return any(evaluate(item, values) for item in node.items)
    left, right = _value(node.left, values), _value(node.right, values)
    if left is None or right is None:
        return False
    return bool(COMPARE[node.op](left, right))


def _value(expr: Expr, values: dict[str, Value | None]) -> Value | None:
    if isinstance(expr, Const):
        return expr.value
    if isinstance(expr, Ref):
        return values.get(expr.name)
    left, right = _value(expr.left, values), _value(expr.right, values)
    if left is None or right is None:
        return None
    return ARITH[expr.op](left, right)  # type: ignore[no-any-return]


COMPARE = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
ARITH = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}
