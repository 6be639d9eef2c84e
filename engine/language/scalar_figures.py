"""The figure language compiled for one placement: one plain Python function per service, built once per rulebook.

Each checked expression (``engine/rulebook/figures.py``) becomes a Python expression over the placement's
attributes, the figures already computed (locals) and ``param(name)``, which records the parameter as read.
A null is ``None``; every operation propagates it except the ones the language defines (a comparison with
a null is false, ``coalesce`` and ``known``). Fractions are ``fractions.Fraction`` and are always rounded
before they become a figure, so every figure is an int (pence, ten-thousandths, a count), a bool, a name or a date.
The generated source is kept (``source``) so a reader can see exactly what runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from engine.language.figure_language import E
from engine.language.scalar_runtime import (
    band,
    band_of,
    band_q,
    ceil,
    ceil_quotient,
    floor,
    floor_quotient,
    round_half_up,
    round_half_up_quotient,
    strict_choice,
    to_fraction,
)
from engine.rulebook.figures import Figure, order
from engine.rulebook.tables import Band

if TYPE_CHECKING:
    from engine.rulebook.book import Rulebook  # the loaded rulebook this compiles (annotations only)

__all__ = ["FigureFunction", "band_of", "compile_scalar", "whole_quotient"]  # band_of: derive.py reads it from here

FigureFunction = Callable[[Any, dict[str, Any], Callable[[str], Any], dict[str, Band]], None]


class _Writer:
    def __init__(self, book: Rulebook) -> None:
        self.constants: dict[str, Any] = {
            "_rhu": round_half_up,
            "_ceil": ceil,
            "_floor": floor,
            "_F": Fraction,
            "_frac": to_fraction,
            "_band": band,
            "_band_q": band_q,
            "_round_half_up_q": round_half_up_quotient,
            "_ceil_q": ceil_quotient,
            "_floor_q": floor_quotient,
            "_td": timedelta,
            "_min": strict_choice(min),
            "_max": strict_choice(max),
        }
        self.book = book
        self.temps = 0
        self.service = ""
        self.figures: dict[str, Figure] = {}

    def temp(self) -> str:
        self.temps += 1
        return f"_t{self.temps}"

    def constant(self, value: Any) -> str:
        name = f"_c{len(self.constants)}"
        self.constants[name] = value
        return name

    def operands(self, args: tuple[E, ...], test: str) -> tuple[list[str], list[str]]:
        """Each argument as a constant's text or a temporary, and the ``test`` (``is None``…) of each temporary."""
        names, guards = [], []
        for arg in args:
            constant = _constant(arg)
            if constant is not None:
                names.append(repr(constant))
            else:
                names.append(self.temp())
                guards.append(f"({names[-1]} := {self.expr(arg)}) {test}")
        return names, guards

    def strict(self, template: str, *args: E) -> str:
        """An operation that is null when any argument is null: ``template`` formats the temporaries."""
        names, guards = self.operands(args, "is None")
        if not guards:
            return f"({template.format(*names)})"
        return f"(None if {' or '.join(guards)} else {template.format(*names)})"

    def expr(self, e: E) -> str:  # noqa: C901 - one branch per operation of the language
        op, args = e.op, e.args
        if op == "field":
            return f"p.{args[0]}"
        if op == "figure":
            return f"f_{args[0]}" if self.service in self.figures[args[0]].formulas else "None"
        if op == "param":
            read = f'param("{args[0]}")'
            return f"_frac({read})" if e.t.exact else read
        if op == "param_by":
            key, names = self.temp(), self.constant(args[2])
            return f"(param({names}[{key}]) if ({key} := {self.expr(args[1])}) in {names} else None)"
        if op in ("literal", "const"):
            return repr(args[0])
        if op == "null":
            return "None"
        if op == "scale":
            constant = _constant(e)
            return repr(constant) if constant is not None else self.strict(f"{{0}} * {args[1]}", args[0])
        if op in ("+", "-", "*"):
            return self.strict(f"{{0}} {op} {{1}}", *args)
        if op == "/":
            top, bottom = self.temp(), self.temp()
            return (
                f"(None if ({top} := {self.expr(args[0])}) is None or ({bottom} := {self.expr(args[1])}) "
                f"is None or {bottom} == 0 else _F({top}, {bottom}))"
            )
        if op in ("round_half_up", "ceil", "floor"):
            x, shift = args
            quotient = whole_quotient(x, shift)
            if quotient is not None:  # a quotient of whole numbers: integers only, no Fraction on the hot path
                dividend, divisor, scale = quotient
                return self.strict(f"_{op}_q({{0}} * {scale}, {{1}})", dividend, divisor)
            if shift < 0 and x.t.exact:
                return f"_{'rhu' if op == 'round_half_up' else op}({self.strict(f'{{0}} * {10**-shift}', x)}, 1)"
            if shift < 0:
                return self.strict(f"{{0}} * {10**-shift}", x)
            if shift == 0 and not x.t.exact:
                return self.expr(x)
            return f"_{'rhu' if op == 'round_half_up' else op}({self.expr(x)}, {10**shift})"
        if op in ("min", "max"):
            return f"_{op}({', '.join(self.expr(a) for a in args)})"
        if op == "coalesce":
            text = self.expr(args[-1])
            for arg in reversed(args[:-1]):
                name = self.temp()
                text = f"({name} if ({name} := {self.expr(arg)}) is not None else {text})"
            return text
        if op == "known":
            return f"(None not in ({', '.join(self.expr(a) for a in args)},))"
        if op == "if":
            return f"({self.expr(args[1])} if {self.expr(args[0])} else {self.expr(args[2])})"
        if op == "cmp":
            sides, guards = self.operands(args[1:], "is not None")
            return "(" + " and ".join([*guards, f"{sides[0]} {args[0]} {sides[1]}"]) + ")"
        if op in ("and", "or"):
            return "(" + f" {op} ".join(self.expr(a) for a in args) + ")"
        if op == "not":
            return f"(not {self.expr(args[0])})"
        if op == "truth":
            return f"({self.expr(args[0])} is True)"
        if op == "falsity":
            return f"({self.expr(args[0])} is False)"
        quotient = whole_quotient(args[1], 0) if op == "band" else None
        if quotient is not None:
            dividend, divisor, scale = quotient
            table = args[0]
            fraction = self.strict(f"({{0}} * {scale}, {{1}})", dividend, divisor)
            return f'_band_q(param("{table}"), {fraction}, {10 ** args[1].t.scale}, bands, "{table}")'
        if op == "band":
            return f'_band(param("{args[0]}"), {self.expr(args[1])}, {args[1].t.scale}, bands, "{args[0]}")'
        if op == "category_fixes":
            return f"{self.constant(args[2])}.get({self.expr(args[0])})"
        if op == "as_at":
            return 'v["as_at"]'
        if op == "add_days":
            return self.strict("{0} + _td(days={1})", *args)
        raise AssertionError(f"no scalar form for {op}")


def whole_quotient(e: E, shift: int) -> tuple[E, E, int] | None:
    """``a / b`` (optionally scaled) of two whole numbers, to be divided by 10**shift: (a, b, factor on a)."""
    factor = 1
    if e.op == "scale":
        factor, e = e.args[1], e.args[0]
    if e.op != "/" or e.args[0].t.exact or e.args[1].t.exact:
        return None
    if shift > 0:
        return None
    return e.args[0], e.args[1], factor * 10**-shift


def _constant(e: E) -> Any:
    """The value of a literal or a constant name (possibly scaled), else None."""
    if e.op in ("literal", "const"):
        return e.args[0]
    if e.op == "scale":
        inner = _constant(e.args[0])
        return None if inner is None else inner * e.args[1]
    return None


def compile_scalar(book: Rulebook, figures: dict[str, Figure]) -> tuple[dict[str, FigureFunction], str]:
    """One function per service ``f(placement, values, param, bands)`` that writes every figure into values."""
    writer = _Writer(book)
    writer.figures = figures
    lines: list[str] = []
    for service in sorted({s for figure in figures.values() for s in figure.services}):
        names = order(figures, service)
        writer.service = service
        lines.append(f"def figures_{service}(p, v, param, bands):")
        for name in names:
            lines.append(f"    f_{name} = {writer.expr(figures[name].formulas[service])}")
        others = [name for name in figures if name not in names]
        assigned = [f'"{name}": f_{name}' for name in names] + [f'"{name}": None' for name in others]
        lines.append(f"    v.update({{{', '.join(assigned)}}})")
        lines.append("")
    source = "\n".join(lines)
    namespace: dict[str, Any] = dict(writer.constants)
    exec(compile(source, f"<figures of rulebook {book.version}>", "exec"), namespace)  # noqa: S102 - generated from the checked tree only
    services = sorted({s for figure in figures.values() for s in figure.services})
    return {service: namespace[f"figures_{service}"] for service in services}, source
