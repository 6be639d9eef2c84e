"""carerules engine: dated, cited care-placement rules evaluated per placement."""

from engine.evaluate.engine import Engine, decide, default_engine
from engine.explain.decision import Decision, Finding, ParameterRead
from engine.rulebook.loader import Rulebook, load_rulebook
from engine.rulebook.strict_yaml import RulebookError
from engine.validate.placement import InputError, Placement, parse_placement

__all__ = [
    "Decision",
    "Engine",
    "Finding",
    "InputError",
    "ParameterRead",
    "Placement",
    "Rulebook",
    "RulebookError",
    "decide",
    "default_engine",
    "load_rulebook",
    "parse_placement",
]
