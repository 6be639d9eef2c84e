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
from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from typing import Any

import durable.engine as durable_engine
import durable_rules_engine as _rules  # the C engine under durable.engine

from engine.language import conditions
from engine.language.scalar_conditions import compiled
from engine.rulebook.loader import Module, Rulebook

_LOCK = threading.Lock()
_SESSION = "evaluation"
_HEAD = f'"id":"placement","sid":"{_SESSION}"'
_RULES_OK = 0
_OPS = {"==": None, "!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_ARITH = {"+": "$add", "-": "$sub", "*": "$mul"}


class _QuietHost(durable_engine.Host):  # type: ignore[misc]
    """A Host without the dispatch and timer threads that Host.__init__ starts."""

    def _run(self) -> None:
        return None


_KEYS: dict[str, str] = {}  # a name → its short key in facts and conditions: the C engine hashes every key it reads
_KEYS_LOCK = threading.Lock()


def fact_key(name: str) -> str:
    """The name's key in durable's facts and conditions: ``k`` and a number given on first use (the same in every
    fact and ruleset of the process; never ``id`` or ``sid``, which durable keeps for itself)."""
    key = _KEYS.get(name)
    if key is None:
        with _KEYS_LOCK:
            key = _KEYS.setdefault(name, f"k{len(_KEYS):x}")
    return key


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
    op = _OPS[cond.op]
    test: dict[str, Any] = {field: right} if op is None else {op: {field: right}}
    return {"$and": [*guards, test]} if guards else test


class DurableEvaluator:
    """Fires a rulebook's rules on one placement's values at a time; returns the ids of the rules that fired."""

    _compiled: dict[str, dict[str, int]] = {}

    def __init__(self, book: Rulebook) -> None:
        definitions = {
            module.name: {rule.id: compile_condition(rule.condition) for rule in module.rules}
            for module in book.modules
            if module.rules
        }
        key = hashlib.sha256(json.dumps(definitions, sort_keys=True).encode()).hexdigest()[:16]
        with _LOCK:
            if key not in self._compiled:
                host = _QuietHost()
                names = {module: f"{module}_{key}" for module in definitions}
                host.register_rulesets(
                    {
                        names[module]: {
                            rule_id: {"all": [{"m": cond}], "run": _never} for rule_id, cond in rules.items()
                        }
                        for module, rules in definitions.items()
                    }
                )
                self._compiled[key] = {module: host.get_ruleset(names[module])._handle for module in definitions}
        self._handles = self._compiled[key]
        self._guards = {module.name: compiled(module.guard) for module in book.modules if module.guard is not None}
        # a fact carries only what its module's rules test, under durable-safe keys, written straight to JSON by
        # one function per module, generated once (a loop over the names cost a third of ``fire``)
        self._posted = {
            module.name: _fact_writer(
                tuple(sorted(set().union(*(conditions.names_in(rule.condition) for rule in module.rules))))
            )
            for module in book.modules
            if module.rules
        }

    def fire(self, modules: tuple[Module, ...], values: dict[str, Any]) -> set[str]:
        fired: set[str] = set()
        handles, posted, guards = self._handles, self._posted, self._guards
        for module in modules:
            # every rule of the module tests its module-wide ``when``: when that is false none can fire, so the
            # fact is not asserted at all (the charging module, with no financial assessment, costs nothing)
            if module.guard is not None and not guards[module.name](values):
                continue
            if module.name in handles:
                text = posted[module.name](values)
                with _LOCK:
                    fired.update(self._run(handles[module.name], text))
        return fired

    @staticmethod
    def _run(handle: int, text: str) -> list[str]:
        """Assert, collect the rule (action) names that fire, then retract — all under the caller's lock."""
        fired: list[str] = []
        try:
            code, state = _rules.assert_fact(handle, text)
            if code == _RULES_OK:
                _drain(handle, state, fired)
        finally:
            code, state = _rules.retract_fact(handle, text)
            if code == _RULES_OK:
                _drain(handle, state, [])
        return fired


def _fact_writer(names: tuple[str, ...]) -> Callable[[dict[str, Any]], str]:
    """``values`` → the fact's JSON text: each name's value under its durable-safe key, nulls left out, in the
    order of ``names``. Booleans and integers are written inline; anything else goes through ``_json_scalar``."""
    lines = ["def fact(values):", "    get = values.get", f"    out = {'{' + _HEAD!r}"]
    for name in names:
        key = f',"{fact_key(name)}":'
        lines += [
            f"    v = get({name!r})",
            "    if v is not None:",
            f"        out += {key!r} + ("
            "('true' if v else 'false') if v.__class__ is bool else str(v) if v.__class__ is int else _json_scalar(v))",
        ]
    lines.append("    return out + '}'")
    namespace: dict[str, Any] = {"_json_scalar": _json_scalar}
    exec(compile("\n".join(lines), "<durable fact>", "exec"), namespace)  # noqa: S102 - names from the checked rulebook
    return namespace["fact"]  # type: ignore[no-any-return]


def _json_scalar(value: Any) -> str:
    """A fact value as JSON: booleans, integers (pence, ten-thousandths, counts) and enum names; nothing else
    is posted."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return str(value)
    if isinstance(value, str):
        return encode_basestring_ascii(value)  # as json.dumps(value): its default encoder's own string writer
    raise TypeError(f"durable_rules facts take booleans, integers and text, not {type(value).__name__}")


def _drain(handle: int, state: int, fired: list[str]) -> None:
    """Take every pending action off the state: each is one rule that fired (an OR rule may come twice)."""
    started = _rules.start_action_for_state(handle, state)
    messages = started[1] if started else None
    while messages:
        # the message is {"<rule id>": {matched facts}}; rule ids are plain ASCII (the loader checks their form)
        fired.append(messages[2 : messages.index('"', 2)])
        messages = _rules.complete_and_start_action(handle, state)


def _never(_closure: Any) -> None:
    raise AssertionError("actions are taken off the C engine directly, never dispatched by durable's Host")
