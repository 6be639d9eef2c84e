"""The durable_rules evaluator: the one module that talks to durable_rules (SPEC §2 says how it is contained).

- each rule file becomes one ruleset, registered once on a Host of our own (ruleset names carry a hash);
- the Host's background dispatch and timer threads are never started, so no thread can steal an action;
- one process-wide lock covers assert → actions → retract: the C engine is not thread-safe;
- every evaluation asserts one fact with an explicit ``id`` (so all matching rules fire), and retracts it in
  ``finally``. Measured here (durable_rules 2.0.28, CPython 3.11): creating and deleting a session per
  evaluation, as SPEC §2 suggests, corrupts the C engine's heap within a few thousand mixed placements
  (``free(): invalid pointer`` in ``deleteStateNode``); asserting into one long-lived session per ruleset and
  retracting the fact ran 200,000 mixed evaluations clean with flat memory, and the session cap of 1,024 is
  never approached. ``tests/test_durable_soak.py`` keeps that true;
- ``MessageNotHandledException`` means "no rule fired"; OR rules fire once per true branch (de-duplicated);
- a fact carries only the names its module's rules test (integers, booleans and strings) and no nulls
  (durable never matches a missing field);
- a name on the right of a comparison is guarded with ``$ex``, because durable treats a missing right-hand
  field as if it matched.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

import durable.engine as durable_engine

from engine import conditions
from engine.rulebook import Module, Rulebook

_LOCK = threading.Lock()
_SESSION = "evaluation"
_OPS = {"==": None, "!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_ARITH = {"+": "$add", "-": "$sub", "*": "$mul"}


class _QuietHost(durable_engine.Host):  # type: ignore[misc]
    """A Host without the dispatch and timer threads that Host.__init__ starts."""

    def _run(self) -> None:
        return None


def fact_key(name: str) -> str:
    return name.replace(".", "__")


def _expr(expr: conditions.Expr, guards: list[dict[str, Any]]) -> Any:
    if isinstance(expr, conditions.Const):
        return expr.value
    if isinstance(expr, conditions.Ref):
        guards.append({"$ex": {fact_key(expr.name): 1}})
        return {"$m": fact_key(expr.name)}
    return {_ARITH[expr.op]: {"$l": _expr(expr.left, guards), "$r": _expr(expr.right, guards)}}


def compile_condition(cond: conditions.Cond) -> dict[str, Any]:
    """A condition in negation normal form → durable_rules' JSON condition."""
    if isinstance(cond, conditions.All):
        return {"$and": [compile_condition(item) for item in cond.items]}
    if isinstance(cond, conditions.Any):
        return {"$or": [compile_condition(item) for item in cond.items]}
    assert isinstance(cond.left, conditions.Ref), "the parser puts a name on the left"
    guards: list[dict[str, Any]] = []
    right = _expr(cond.right, guards)
    field = fact_key(cond.left.name)
    test = {field: right} if _OPS[cond.op] is None else {_OPS[cond.op]: {field: right}}
    return {"$and": [*guards, test]} if guards else test


class DurableEvaluator:
    """Fires a rulebook's rules on one placement's values at a time; returns the ids of the rules that fired."""

    _hosts: dict[str, tuple[_QuietHost, dict[str, str], list[str]]] = {}

    def __init__(self, book: Rulebook) -> None:
        definitions = {module.name: self._definition(module) for module in book.modules}
        key = hashlib.sha256(json.dumps(definitions, sort_keys=True).encode()).hexdigest()[:16]
        with _LOCK:
            if key not in self._hosts:
                fired: list[str] = []
                names = {module.name: f"{module.name}_{key}" for module in book.modules}
                host = _QuietHost()
                host.register_rulesets(
                    {
                        names[module.name]: {
                            rule.id: {"all": [{"m": definitions[module.name][rule.id]}], "run": self._action(fired, rule.id)}
                            for rule in module.rules
                        }
                        for module in book.modules
                        if module.rules
                    }
                )
                self._hosts[key] = (host, names, fired)
        self._host, self._names, self._fired = self._hosts[key]
        self._posted = {
            module.name: tuple(sorted(set().union(*(conditions.names_in(rule.condition) for rule in module.rules))))
            for module in book.modules
        }

    @staticmethod
    def _definition(module: Module) -> dict[str, Any]:
        return {rule.id: compile_condition(rule.condition) for rule in module.rules}

    @staticmethod
    def _action(fired: list[str], rule_id: str) -> Any:
        def action(_closure: Any) -> None:
            fired.append(rule_id)

        return action

    def fire(self, modules: tuple[Module, ...], values: dict[str, Any]) -> set[str]:
        fired: set[str] = set()
        with _LOCK:
            for module in modules:
                if module.rules:
                    fired.update(self._fire_module(module, values))
        return fired

    def _fire_module(self, module: Module, values: dict[str, Any]) -> list[str]:
        ruleset = self._names[module.name]
        fact = {fact_key(name): values.get(name) for name in self._posted[module.name]}
        fact = {key: value for key, value in fact.items() if value is not None}
        fact.update(id="placement", sid=_SESSION)
        self._fired.clear()
        try:
            self._host.assert_fact(ruleset, fact)
        except durable_engine.MessageNotHandledException:
            pass  # no rule of this module matched
        finally:
            try:
                self._host.retract_fact(ruleset, fact)
            except durable_engine.MessageNotHandledException:
                pass
        return list(self._fired)
