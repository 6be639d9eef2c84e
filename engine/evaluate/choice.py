"""Which evaluator decides one placement: durable_rules where it is installed, else the vectorised evaluator's
masks on one row (``engine/evaluate/one_row.py``). Both fire the same rules (SPEC §2, ``engine/evaluate/
equivalence.py``); durable_rules does not build on every Python (not on 3.13), so it is optional."""

from __future__ import annotations

import platform
from functools import lru_cache
from typing import Literal

Evaluator = Literal["durable", "vector"]
EVALUATORS: tuple[Evaluator, ...] = ("durable", "vector")


class EvaluatorUnavailable(RuntimeError):
    """The durable evaluator was asked for where durable_rules cannot be imported."""


@lru_cache(maxsize=1)
def durable_problem() -> str | None:
    """Why durable_rules cannot run in this Python, or None when it can (imported here, once, to find out)."""
    try:
        import engine.evaluate.durable  # noqa: F401
    except ImportError as exc:
        return f"durable_rules cannot be imported in this Python ({platform.python_version()}): {exc}"
    return None


def durable_available() -> bool:
    return durable_problem() is None


def choose(evaluator: Evaluator | None) -> Evaluator:
    """The evaluator asked for, or by default durable where it runs, else vector. Asking for durable where it
    cannot run raises EvaluatorUnavailable, with the reason."""
    if evaluator is None:
        return "durable" if durable_available() else "vector"
    if evaluator not in EVALUATORS:
        raise ValueError(f"the evaluator is durable or vector, not {evaluator!r}")
    if evaluator == "durable" and (problem := durable_problem()) is not None:
        raise EvaluatorUnavailable(f"{problem}; the vector evaluator gives the same decisions")
    return evaluator
