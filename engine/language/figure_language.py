"""The figure language: a figure's formula parsed and type-checked into a small tree of ``E`` nodes.

A figure's ``formula`` is one expression (parsed with Python's ``ast``, never evaluated by Python) over
placement fields, other figures and ``params.<name>``. The checked tree is compiled twice: to one Python
function per service for single decisions (``engine/language/scalar_figures.py``) and to numpy for books
(``engine/language/vector_figures.py``). docs/design.md describes the language; in short:

- numbers are exact: money is pence, percentages hundredths, quantities ten-thousandths; ``/`` gives an exact fraction
  that must be rounded (``round_half_up(x, places)``, ``ceil(x, places)``, ``floor(x, places)``) before it
  becomes a figure; ``+ -`` align decimal places exactly, a literal there takes the other side's unit;
- ``a if condition else b``; comparisons, ``and``/``or``/``not``: **a comparison with a null is false**;
- every other operation with a null gives null; ``coalesce(a, b, …)`` is the first value that is not null
  (evaluated lazily), ``known(a, …)`` is true when every argument is not null, ``null`` is the null value;
- ``min``/``max``; ``add_days(date, days)``; ``param("care_homes.benchmark.lot_{}", lot)`` the parameter
  named by a key whose values the rulebook lists (a care category, an enum); ``band(table, x)`` the row of a table
  parameter (approval bands) that holds ``x`` percent, by the table's hit policy, as its band number;
  ``category()`` is the first care category whose derivation holds, ``category_fixes(lot, "care_type")`` the
  value a category's derivation fixes for a field and ``benchmark(lot)`` the category's benchmark parameter
  (the care categories table, ``engine/rulebook/categories.py``);
- ``input.<field>`` is the field as given, where a figure of the same name refines it (``care_type``, ``lot``);
- ``as_at`` is the date the placement is decided at (a date: compared with dates, moved by ``add_days``).
"""

from __future__ import annotations

import ast
from decimal import Decimal
from typing import Any

from engine.language.conditions import dotted
from engine.language.figure_tree import (
    NUMBER,
    E,
    FigureError,
    T,
    depends_on,
    enum_values,
    literal_as,
    negate,
    params_in,
    rescale,
    result_kind,
    same,
)
from engine.language.vocabulary import Kind
from engine.money import QUANTITY_PLACES

# the tree's types and readers are imported from here too (figures, the scalar and vector compilers, the tests)
__all__ = ["Checker", "E", "FigureError", "T", "depends_on", "params_in"]

SCALE = {Kind.MONEY: 2, Kind.QUANTITY: QUANTITY_PLACES, Kind.PERCENT: 2, Kind.COUNT: 0}
ROUNDING = ("round_half_up", "ceil", "floor")
INPUT_ONLY = {
    "lot": Kind.COUNT,
    "personal_budget_weekly": Kind.MONEY,
    "start_date": Kind.DATE,
    "permanent_admission_date": Kind.DATE,
    "provider_framework_from": Kind.DATE,
    "provider_framework_to": Kind.DATE,
    "provider_quality_status_from": Kind.DATE,
    "requested_date": Kind.DATE,
    "sourced_date": Kind.DATE,
}  # fields rules read only as figures
_CMP = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


class Checker:
    def __init__(
        self,
        name: str,
        declared: dict[str, tuple[Kind, str | None]],
        fields: dict[str, Kind],
        parameters: dict[str, Any],
        keys: dict[str, tuple[Any, ...]],
        categories: Any = None,
    ) -> None:
        self.own, self.declared, self.fields, self.parameters, self.keys = name, declared, fields, parameters, keys
        self.categories = categories  # the rulebook's care categories (engine/rulebook/categories.py), if any

    def figure(self, text: str, kind: Kind, enum: str | None) -> E:
        source = " ".join(text.split())
        try:
            tree = ast.parse(source, mode="eval").body
        except SyntaxError as exc:
            raise FigureError(f"cannot parse {source!r}: {exc.msg}") from None
        expr = self.expr(tree)
        if kind is Kind.ENUM and enum:
            expr = enum_values(expr, enum)
        expr = literal_as(expr, T(kind, SCALE.get(kind, 0), enum=enum))
        if expr.op != "null":
            if kind in SCALE:
                if expr.t.kind not in NUMBER:
                    raise FigureError(f"a {kind.value} figure needs a number, not a {expr.t.kind.value}")
                if expr.t.exact or expr.t.scale > SCALE[kind]:
                    raise FigureError(f"round it: the formula has {expr.t.scale} decimal places or is a fraction")
                expr = rescale(expr, SCALE[kind])
            elif expr.t.kind is not kind:
                raise FigureError(f"a {kind.value} figure, but the formula gives a {expr.t.kind.value}")
        return expr

    # names --------------------------------------------------------------------------------------------------
    def name(self, node: ast.AST) -> E:
        parts = dotted(node)
        if parts is None:
            raise FigureError(f"not a name: {ast.unparse(node)!r}")
        full = ".".join(parts)
        if parts[0] == "params":
            param = full.removeprefix("params.")
            if param not in self.parameters:
                raise FigureError(f"unknown parameter {full!r}")
            return E("param", (param,), self.param_type(param))
        if parts[0] == "input" and len(parts) == 2:
            return self.field(parts[1])
        if full in self.declared and full != self.own:
            kind, enum = self.declared[full]
            return E("figure", (full,), T(kind, SCALE.get(kind, 0), enum=enum))
        if full in self.fields or full in INPUT_ONLY:
            return self.field(full)
        raise FigureError(f"unknown field, figure or parameter {full!r}")

    def field(self, name: str) -> E:
        kind = self.fields.get(name) or INPUT_ONLY.get(name)
        if kind is None:
            raise FigureError(f"unknown field {name!r}")
        return E("field", (name,), T(kind, SCALE.get(kind, 0), enum=name if kind is Kind.ENUM else None))

    def param_type(self, name: str) -> T:
        kind = self.parameters[name].kind
        if kind is Kind.TABLE:
            return T(kind, param=name)
        if kind is Kind.RATIO:
            return T(kind, 0, exact=True)
        return T(kind, SCALE.get(kind, 0))

    # expressions --------------------------------------------------------------------------------------------
    def expr(self, node: ast.AST) -> E:
        if isinstance(node, (ast.Name, ast.Attribute)):
            if isinstance(node, ast.Name) and node.id in ("true", "false"):
                return E("const", (node.id == "true",), T(Kind.BOOL))
            if isinstance(node, ast.Name) and node.id == "null":
                return E("null", (), T(Kind.ENUM))
            if isinstance(node, ast.Name) and node.id == "as_at":
                return E("as_at", (), T(Kind.DATE))
            return self.name(node)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return E("const", (node.value,), T(Kind.ENUM))
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            number = Decimal(repr(node.value))
            places = max(0, -int(number.as_tuple().exponent))
            return E("literal", (int(number.scaleb(places)),), T(Kind.COUNT, places))
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
            return self.arith(_ARITH[type(node.op)], self.expr(node.left), self.expr(node.right))
        if isinstance(node, ast.IfExp):
            cond = self.condition(node.test)
            yes, no = self.expr(node.body), self.expr(node.orelse)
            yes, no = same(yes, no)
            return E("if", (cond, yes, no), yes.t if yes.op != "null" else no.t)
        if isinstance(node, (ast.Compare, ast.BoolOp)) or (
            isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)
        ):
            return self.condition(node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            return self.call(node.func.id, node.args)
        raise FigureError(f"not allowed in a formula: {ast.unparse(node)!r}")

    def condition(self, node: ast.AST) -> E:
        if isinstance(node, ast.BoolOp):
            items = tuple(self.condition(v) for v in node.values)
            return E("and" if isinstance(node.op, ast.And) else "or", items, T(Kind.BOOL))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return negate(self.condition(node.operand))
        if isinstance(node, ast.Compare):
            if len(node.ops) != 1 or type(node.ops[0]) not in _CMP:
                raise FigureError(f"use one comparison at a time: {ast.unparse(node)!r}")
            left, right = same(self.expr(node.left), self.expr(node.comparators[0]))
            op = _CMP[type(node.ops[0])]
            if left.t.kind in (Kind.BOOL, Kind.ENUM) and op not in ("==", "!="):
                raise FigureError(f"{left.t.kind.value} values are compared with == or != only")
            return E("cmp", (op, left, right), T(Kind.BOOL))
        expr = self.expr(node)
        if expr.t.kind is not Kind.BOOL:
            raise FigureError(f"not a condition: {ast.unparse(node)!r}")
        return E("truth", (expr,), T(Kind.BOOL))

    def arith(self, op: str, left: E, right: E) -> E:
        for side in (left, right):
            if side.t.kind not in NUMBER:
                raise FigureError(f"arithmetic on a {side.t.kind.value} value")
        exact = left.t.exact or right.t.exact
        if op in "+-":
            left, right = same(left, right)
            scale = max(left.t.scale, right.t.scale)
            return E(op, (rescale(left, scale), rescale(right, scale)), T(result_kind(left, right), scale, exact))
        if op == "*":
            return E("*", (left, right), T(result_kind(left, right), left.t.scale + right.t.scale, exact))
        return E("/", (left, right), T(result_kind(left, right), left.t.scale - right.t.scale, True))

    def call(self, fn: str, nodes: list[ast.expr]) -> E:
        if fn in ROUNDING:
            if len(nodes) not in (1, 2) or (len(nodes) == 2 and not isinstance(nodes[1], ast.Constant)):
                raise FigureError(f"{fn}(x) or {fn}(x, decimal places)")
            x = self.expr(nodes[0])
            places = int(nodes[1].value) if len(nodes) == 2 else 0  # type: ignore[attr-defined]
            if x.t.kind not in NUMBER:
                raise FigureError(f"{fn} of a {x.t.kind.value}")
            return E(fn, (x, x.t.scale - places), T(result_kind(x, x), places))
        if fn in ("min", "max", "coalesce") and len(nodes) >= 2:
            args = [self.expr(n) for n in nodes]
            typed = [a for a in args if a.op not in ("literal", "null")]
            if typed:
                args = [literal_as(a, typed[0].t) for a in args]
            if fn != "coalesce" and any(a.t.kind not in NUMBER for a in args):
                raise FigureError(f"{fn} of values that are not numbers")
            if any(a.t.kind != args[0].t.kind or a.t.exact for a in args if a.op != "null"):
                raise FigureError(f"{fn} of values of different kinds")
            scale = max(a.t.scale for a in args)
            return E(fn, tuple(rescale(a, scale) for a in args), T(args[0].t.kind, scale, enum=args[0].t.enum))
        if fn == "known" and nodes:
            return E("known", tuple(self.expr(n) for n in nodes), T(Kind.BOOL))
        if fn == "add_days" and len(nodes) == 2:
            day, days = self.expr(nodes[0]), self.expr(nodes[1])
            if day.t.kind is not Kind.DATE or days.t.kind is not Kind.COUNT or days.t.scale:
                raise FigureError("add_days(a date, a whole number of days)")
            return E("add_days", (day, days), T(Kind.DATE))
        if fn == "param" and len(nodes) == 2 and isinstance(nodes[0], ast.Constant):
            return self.param_by(str(nodes[0].value), self.expr(nodes[1]))
        if fn == "band" and len(nodes) == 2:
            table, x = self.expr(nodes[0]), self.expr(nodes[1])
            if table.op != "param" or table.t.kind is not Kind.TABLE or x.t.kind not in NUMBER:
                raise FigureError("band(params.<table>, a percentage)")
            return E("band", (table.args[0], x), T(Kind.COUNT))
        if fn in ("category", "category_fixes", "benchmark") and not self.categories:
            raise FigureError(f"{fn}() reads the care categories, and the rulebook declares none")
        if fn == "category" and not nodes:
            return self.category()
        if fn == "category_fixes" and len(nodes) == 2 and isinstance(nodes[1], ast.Constant):
            return self.category_fixes(self.expr(nodes[0]), str(nodes[1].value))
        if fn == "benchmark" and len(nodes) == 1:
            names = {category.id: category.benchmark for category in self.categories.items}
            return E("param_by", ("benchmark", self.expr(nodes[0]), names), self.param_type(names[min(names)]))
        raise FigureError(f"unknown function or wrong arguments: {fn}()")

    def category(self) -> E:
        """The first care category whose derivation holds, else null: ``c1 if when1 else c2 if when2 … else null``
        (a derivation's comparisons and ``and``/``or``/``not`` are the figure language's own, so it compiles to
        the scalar and the vector forms like any formula)."""
        result = E("null", (), T(Kind.COUNT))
        for category in reversed(self.categories.items):
            try:
                when = self.condition(ast.parse(category.when, mode="eval").body)
            except (FigureError, SyntaxError) as exc:
                raise FigureError(f"care category {category.id}: {exc}") from None
            result = E("if", (when, E("literal", (category.id,), T(Kind.COUNT)), result), T(Kind.COUNT))
        return result

    def category_fixes(self, key: E, field: str) -> E:
        """The value a care category's derivation fixes for ``field`` (``care_type == "nursing"``), else null."""
        kind = self.fields.get(field)
        if kind not in (Kind.ENUM, Kind.BOOL):
            raise FigureError(f'category_fixes(lot, "field"): {field!r} is not a field of names or true/false')
        fixed = {c.id: c.fixed(field) for c in self.categories.items if c.fixed(field) is not None}
        return E("category_fixes", (key, field, fixed), T(kind, enum=field if kind is Kind.ENUM else None))

    def param_by(self, template: str, key: E) -> E:
        key_name = key.args[0] if key.op in ("field", "figure") else None
        if key_name not in self.keys or template.count("{}") != 1:
            raise FigureError(f'param("name_{{}}", key): the key must be one of {", ".join(self.keys)}')
        names = {value: template.replace("{}", str(value)) for value in self.keys[key_name]}
        missing = [name for name in names.values() if name not in self.parameters]
        if missing:
            raise FigureError(f"no parameter {missing[0]!r} for every {key_name}")
        types = {self.param_type(name) for name in names.values()}
        if len(types) != 1:
            raise FigureError(f"the parameters {template!r} are not all of one unit")
        return E("param_by", (template, key, names), types.pop())
