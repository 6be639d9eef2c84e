"""A condition (``engine.language.conditions``) compiled to one Python function over one record, for the single
decision's module guards and rules' ``info_when``: the same answers as ``conditions.evaluate`` (the reference
interpreter), nulls included, without walking the tree each time.

Both sides of a comparison and of an arithmetic step are always read, as the interpreter reads them; then a null
on either side makes the comparison false and the arithmetic null.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.language.conditions import All, Arith, Cmp, Cond, Const, Expr, Ref
from engine.language.conditions import Any as AnyOf

Test = Callable[[dict[str, Any]], bool]


def compiled(node: Cond) -> Test:
    """``node``'s function ``values → bool`` (the callers keep it: made once per rulebook)."""
    if not isinstance(node, (All, AnyOf, Cmp)):
        raise TypeError(f"not a condition: {node!r}")
    writer = _Writer()
    body = writer.cond(node)
    source = f"def test(values):\n    get = values.get\n    return {body}\n"
    namespace: dict[str, Any] = dict(writer.constants)
    exec(compile(source, "<condition>", "exec"), namespace)  # noqa: S102 - written from the checked tree only
    return namespace["test"]  # type: ignore[no-any-return]


class _Writer:
    def __init__(self) -> None:
        self.constants: dict[str, Any] = {}
        self.temps = 0

    def temp(self) -> str:
        self.temps += 1
        return f"_t{self.temps}"

    def cond(self, node: Cond) -> str:
        if isinstance(node, All):
            return "(" + " and ".join(self.cond(item) for item in node.items) + ")" if node.items else "True"
        if isinstance(node, AnyOf):
            return "(" + " or ".join(self.cond(item) for item in node.items) + ")" if node.items else "False"
        left, right = self.temp(), self.temp()
        # ``&`` reads both sides first, as the interpreter does; then a null on either side is false
        return (
            f"((({left} := {self.expr(node.left)}) is not None) & (({right} := {self.expr(node.right)}) is not None)"
            f" and bool({left} {node.op} {right}))"
        )

    def expr(self, node: Expr) -> str:
        if isinstance(node, Ref):
            return f"get({node.name!r})"
        if isinstance(node, Const):
            name = f"_c{len(self.constants)}"
            self.constants[name] = node.value
            return name
        assert isinstance(node, Arith)
        left, right = self.temp(), self.temp()
        return (
            f"(None if ((({left} := {self.expr(node.left)}) is None) | (({right} := {self.expr(node.right)}) is None))"
            f" else {left} {node.op} {right})"
        )
