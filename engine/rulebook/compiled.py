"""The compiled rulebook: everything worked out once per rulebook so that a single decision is fast.

It replaces a free-form cache dict: each lookup is a named attribute, built when the rulebook is first used
(``Rulebook.compiled``). A what-if copy of a rulebook (``dataclasses.replace``) compiles afresh.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from engine.language.scalar_figures import FigureFunction, compile_scalar
from engine.language.vocabulary import ENUMS, Kind

if TYPE_CHECKING:
    from engine.rulebook.book import Module, Rulebook

VALUES_AT_KEPT = 4096  # distinct as-at dates whose parameter values are kept (a memory bound, not policy)


class CompiledRulebook:
    def __init__(self, book: Rulebook) -> None:
        services = ENUMS["service"]
        self.modules: dict[str, tuple[Module, ...]] = {
            service: tuple(module for module in book.modules if service in module.services) for service in services
        }
        # the parameters the rules for a service read, with their names in a rule's vocabulary
        self.rule_parameters: dict[str, tuple[tuple[str, str], ...]] = {
            service: tuple(
                (name, f"params.{name}")
                for name in sorted(
                    {
                        n
                        for module in self.modules[service]
                        for rule in module.rules
                        if not rule.services or service in rule.services
                        for n in rule.parameters
                    }
                )
            )
            for service in services
        }
        self.figure_functions: dict[str, FigureFunction]
        self.figure_functions, self.figures_source = compile_scalar(book, book.figures)
        # the figures a decision shows for a service, in the order of figures.yaml, with the flag that shows them
        self.shown: dict[str, tuple[tuple[str, str], ...]] = {
            service: tuple(
                (name, figure.shown)
                for name, figure in book.figures.items()
                if figure.shown and service in figure.formulas
            )
            for service in services
        }
        self.figure_kinds: dict[str, Kind] = {name: figure.kind for name, figure in book.figures.items()}
        self._parameters = book.parameters
        self._values_at: dict[date, dict[str, tuple[Any, date] | tuple[None, None]]] = {}
        # memo tables filled by engine/explain/decision.py: a rule's message split into literal text and writers,
        # and each parameter read (name, edition) as the immutable entry a decision lists
        self.message_templates: dict[str, Any] = {}
        self.parameter_reads: dict[tuple[str, date | None], Any] = {}
        self.figure_writers: dict[str, Any] = {}  # figure name → how the decision writes its value

    def values_at(self, as_at: date) -> dict[str, tuple[Any, date] | tuple[None, None]]:
        """Every parameter's value and effective date at ``as_at`` ((None, None) when not in force)."""
        found = self._values_at.get(as_at)
        if found is None:
            if len(self._values_at) > VALUES_AT_KEPT:
                self._values_at.clear()
            found = self._values_at[as_at] = {name: p.at(as_at) or (None, None) for name, p in self._parameters.items()}
        return found
