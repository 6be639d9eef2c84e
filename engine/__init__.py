"""carerules engine: dated, cited care-placement rules evaluated per placement.

The pipeline, one folder per stage: ``rulebook`` loads ``rules/`` (its conditions and figures written in the
``language``), ``validate`` reads a placement or a book, ``evaluate`` derives the figures and fires the rules,
``explain`` writes the decision; ``decide`` (``engine.decide``) is the front door above them. The names below are
re-exported lazily, so importing ``engine`` (or any module under it) loads none of the stages.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.decide import Engine, default_engine
    from engine.explain.decision import Decision, Finding, ParameterRead
    from engine.rulebook.loader import Rulebook, load_rulebook
    from engine.rulebook.strict_yaml import RulebookError
    from engine.validate.placement import InputError, Placement, parse_placement

_EXPORTS = {
    "Decision": "engine.explain.decision",
    "Engine": "engine.decide",
    "Finding": "engine.explain.decision",
    "InputError": "engine.validate.placement",
    "ParameterRead": "engine.explain.decision",
    "Placement": "engine.validate.placement",
    "Rulebook": "engine.rulebook.loader",
    "RulebookError": "engine.rulebook.strict_yaml",
    "default_engine": "engine.decide",
    "load_rulebook": "engine.rulebook.loader",
    "parse_placement": "engine.validate.placement",
}

__all__ = [
    "Decision",
    "Engine",
    "Finding",
    "InputError",
    "ParameterRead",
    "Placement",
    "Rulebook",
    "RulebookError",
    "default_engine",
    "load_rulebook",
    "parse_placement",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
