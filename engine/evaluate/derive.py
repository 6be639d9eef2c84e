"""Derived figures for one placement, computed before any rule fires, by the rulebook's compiled figures.

The figures are declared once in ``rules/figures.yaml``; ``engine/language/scalar_figures.py`` compiles them
to one function per service. This module runs that function and adds the parameters the rules read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter
from typing import Any

from engine.language.scalar_figures import band_of
from engine.language.vocabulary import FIELDS
from engine.rulebook.loader import Rulebook
from engine.rulebook.tables import Band
from engine.validate.placement import Placement

__all__ = ["Derived", "band_of", "derive"]  # band_of: the engine's band lookup, for tests and the price guide


@dataclass
class Derived:
    """Every value a rule may read (fields, derived figures, ``params.<name>``) and what was read to get them."""

    as_at: date
    values: dict[str, Any]
    in_force: Mapping[str, tuple[Any, date | None]]
    shown: tuple[tuple[str, str], ...] = ()
    bands: dict[str, Band] = field(default_factory=dict)  # table parameter → the row a band() lookup hit
    read: dict[str, tuple[Any, date | None]] = field(default_factory=dict)

    def param(self, name: str) -> Any:
        found = self.read[name] = self.in_force[name]
        return found[0]

    @property
    def figures(self) -> tuple[str, ...]:
        """The figures the decision shows: those of the service, each when its ``shown`` flag holds."""
        values = self.values
        return tuple(name for name, flag in self.shown if flag == "always" or values.get(flag) is True)


_FIELD_NAMES = tuple(FIELDS)
_read_fields = itemgetter(*_FIELD_NAMES)  # the fields' values in FIELDS' order, read in one call


def derive(placement: Placement, book: Rulebook, as_at: date) -> Derived:
    compiled = book.compiled
    service = placement.service
    fields = placement.__dict__  # a pydantic model's field values (every name in FIELDS is one of its fields)
    values: dict[str, Any] = dict(zip(_FIELD_NAMES, _read_fields(fields)))
    values["as_at"] = as_at  # the figures' ``as_at``
    values["start_date"] = placement.start_date  # shown in messages (rules read dates only through figures)
    values["provider_id"] = placement.provider_id  # shown in the provider rules' messages
    derived = Derived(as_at, values, compiled.values_at(as_at), compiled.shown[service])
    read, in_force = derived.read, derived.in_force

    def param(name: str) -> Any:  # ``derived.param`` without its attribute look-ups (~30 reads a decision)
        found = read[name] = in_force[name]
        return found[0]

    compiled.figure_functions[service](placement, values, param, derived.bands)
    for name, key in compiled.rule_parameters[service]:
        values[key] = param(name)
    return derived
