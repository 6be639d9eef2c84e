"""carerules engine: dated, cited care-placement rules evaluated per placement."""

from engine.decision import Decision, Finding, ParameterRead
from engine.evaluate import Engine, decide, default_engine
from engine.placement import InputError, Placement, parse_placement
from engine.rulebook import Rulebook, load_rulebook
from engine.strict_yaml import RulebookError

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
