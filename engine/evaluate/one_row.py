"""The vectorised evaluator's rule masks on one placement: the single-decision evaluator where durable_rules is not
installed (Python 3.13), or where ``--engine vector`` asks for it.

It takes the same derived values the durable evaluator is given (``engine/evaluate/derive.py``), makes each a
one-row column, and fires a rule where its compiled mask (``engine.language.vector_conditions``, the batch path's
own) holds. A comparison is true only where every value it reads is non-null, as in durable_rules; so the same
rules fire, and the decision built from them is the same JSON (``tests/test_single_evaluators.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.language import conditions, vector_conditions
from engine.rulebook.book import Module
from engine.rulebook.loader import Rulebook
from engine.validate.batch import Col

_ONE = 1  # rows in the columns this evaluator builds


def _cell(value: Any) -> Col:
    """One value (a boolean, an integer in engine units, an enum name, or None for null) as a one-row column."""
    if value is None:
        return Col(np.zeros(_ONE, np.int64), np.zeros(_ONE, bool))
    if isinstance(value, bool):
        return Col(np.full(_ONE, value), np.ones(_ONE, bool))
    if isinstance(value, int):
        return Col(np.full(_ONE, value, np.int64), np.ones(_ONE, bool))
    if isinstance(value, str):
        return Col(np.full(_ONE, value, object), np.ones(_ONE, bool))
    raise TypeError(f"rules read booleans, integers and text, not {type(value).__name__}")


class OneRowVector:
    """``fire(modules, values)`` as ``DurableEvaluator.fire``: the ids of the rules that fire for one placement."""

    def __init__(self, book: Rulebook) -> None:
        # a module's rules read only these names: only they are made into columns
        self._read = {
            module.name: tuple(sorted(set().union(*(conditions.names_in(rule.condition) for rule in module.rules))))
            for module in book.modules
            if module.rules
        }

    def fire(self, modules: tuple[Module, ...], values: dict[str, Any]) -> set[str]:
        fired: set[str] = set()
        for module in modules:
            if module.name not in self._read:
                continue
            columns = {name: _cell(values.get(name)) for name in self._read[module.name]}
            # the module-wide ``when`` is part of every rule's condition: when it is false none can fire
            if module.guard is not None and not vector_conditions.mask(module.guard, columns, _ONE)[0]:
                continue
            fired.update(rule.id for rule in module.rules if vector_conditions.mask(rule.condition, columns, _ONE)[0])
        return fired
