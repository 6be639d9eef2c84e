"""The library's front door: load the rulebook once, decide one placement at a time."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.evaluate.choice import Evaluator, choose
from engine.evaluate.derive import derive
from engine.evaluate.one_row import OneRowVector
from engine.explain.decision import Decision, build_decision
from engine.rulebook.loader import Rulebook, default_rules_dir, load_rulebook
from engine.validate.placement import InputError, Placement, parse_placement
from engine.validate.register import ProviderRegister, join_record

if TYPE_CHECKING:
    from engine.evaluate.durable import DurableEvaluator


class Engine:
    """A loaded rulebook and the evaluator that fires its rules for one placement: ``evaluator`` durable
    (durable_rules) or vector (the vectorised evaluator's masks on one row); by default durable where
    durable_rules is installed, else vector (engine/evaluate/choice.py). Both give the same decisions.
    Pure: no I/O after loading, never reads the clock. Asking for durable where it cannot run raises
    ``EvaluatorUnavailable``."""

    def __init__(self, book: Rulebook | None = None, evaluator: Evaluator | None = None) -> None:
        self.evaluator: Evaluator = choose(evaluator)
        self.book = book or load_rulebook()
        self.firing: DurableEvaluator | OneRowVector
        if self.evaluator == "durable":
            # durable_rules is imported here, where its evaluator is built, not when the CLI, the vector path,
            # the audit or the server imports this module
            from engine.evaluate.durable import DurableEvaluator

            self.firing = DurableEvaluator(self.book)
        else:
            self.firing = OneRowVector(self.book)

    def decide(
        self,
        placement: Placement | dict[str, Any],
        as_at: date | None = None,
        providers: ProviderRegister | None = None,
    ) -> Decision:
        """One placement (a Placement or its JSON fields) → its decision. Bad input raises InputError. With the
        provider register (``providers``), its facts about the placement's provider are joined by provider_id."""
        if not isinstance(placement, Placement):
            if providers is not None:
                if isinstance(placement, dict):
                    parse_placement(placement, self.book)  # the placement's own fields first: never the register's
                    placement = join_record(placement, providers)
                placement = parse_placement(placement, self.book, register_joined=True)
            else:
                placement = parse_placement(placement, self.book)
        elif problems := placement.rulebook_problems(self.book):  # made without this rulebook's facts
            raise InputError({name: [message] for name, message in problems.items()})
        when = as_at or placement.as_at_date
        if when < self.book.earliest_as_at:
            raise InputError({"as_at": [f"rules are only held from {self.book.earliest_as_at.isoformat()}"]})
        derived = derive(placement, self.book, when)
        fired = self.firing.fire(self.book.modules_for(placement.service), derived.values)
        return build_decision(placement.placement_id, derived, fired, self.book)


def default_engine(rules_dir: Path | None = None) -> Engine:
    """The engine on ``rules_dir`` (default: the rulebook CARERULES_RULES_DIR names, else the shipped one), loaded
    once per folder."""
    return _engine_on(Path(rules_dir) if rules_dir is not None else default_rules_dir())


@lru_cache(maxsize=4)
def _engine_on(rules_dir: Path) -> Engine:
    return Engine(load_rulebook(rules_dir))


def decide(placement: Placement | dict[str, Any], as_at: date | None = None) -> Decision:
    return default_engine().decide(placement, as_at)
