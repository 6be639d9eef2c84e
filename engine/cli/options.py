"""Options shared by several ``carerules`` commands, and the engine they load. The engine's modules are imported
where they are used, so that a command starts without loading what it does not need (``carerules audit`` starts
reading its book ahead before the engine is imported, see ``engine.audit.books.excel_ahead``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from engine.evaluate import choice
from engine.evaluate.choice import EVALUATORS, Evaluator, EvaluatorUnavailable
from engine.rulebook.folders import RULES_ENV as RULES_ENV

if TYPE_CHECKING:
    from engine.audit.books.block_beds import BlockBooking
    from engine.decide import Engine
    from engine.validate.register import ProviderRegister

RulesDir = Annotated[
    Path,
    typer.Option(
        "--rules",
        envvar=RULES_ENV,
        show_envvar=True,
        help="Folder of rule and parameter files (default: the shipped rulebook).",
    ),
]


EngineChoice = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="durable (durable_rules) or vector (the vectorised evaluator on one row): the same decisions. "
        "Default: durable where durable_rules is installed, else vector.",
    ),
]


def evaluator_option(name: str | None, asked_by: str = "--engine durable") -> Evaluator | None:
    """``--engine`` checked: durable or vector (or not given); anything else, or durable where durable_rules cannot
    run, exits 2 with the reason."""
    if name is None:
        return None
    if name not in EVALUATORS:
        typer.echo(f"carerules: --engine must be vector or durable, got {name!r}", err=True)
        raise typer.Exit(2)
    if name == "durable" and (problem := choice.durable_problem()) is not None:
        typer.echo(f"carerules: {asked_by}: {problem}; --engine vector gives the same decisions", err=True)
        raise typer.Exit(2)
    return name


def load_engine(rules: Path, evaluator: Evaluator | None = None) -> Engine:
    """The engine on the rulebook in ``rules``; a rulebook that refuses to load exits 3 with its file and line."""
    from engine.decide import Engine
    from engine.rulebook.loader import load_rulebook
    from engine.rulebook.strict_yaml import RulebookError

    try:
        return Engine(load_rulebook(rules), evaluator)
    except RulebookError as exc:
        typer.echo(f"carerules: the rulebook refused to load: {exc}", err=True)
        raise typer.Exit(3) from None
    except EvaluatorUnavailable as exc:
        typer.echo(f"carerules: {exc}", err=True)
        raise typer.Exit(2) from None


ProvidersFile = Annotated[
    Path | None,
    typer.Option(
        "--providers",
        help="The provider register (CSV or Excel): checks the PRV rules and gives the KPIs that need it.",
    ),
]
BlockBedsFile = Annotated[
    Path | None,
    typer.Option("--block-beds", help="The block-bed file (CSV or Excel): block-bed occupancy and the empty beds."),
]


def load_providers(path: Path | None) -> ProviderRegister | None:
    """The provider register in ``path`` (None: none given); one that cannot be used exits 2 with its problems."""
    from engine.audit.books.providers import load_register

    return _side_file(path, load_register)


def load_blocks(path: Path | None) -> tuple[BlockBooking, ...] | None:
    """The block-bed file in ``path`` (None: none given); one that cannot be used exits 2 with its problems."""
    from engine.audit.books.block_beds import load_block_beds

    return _side_file(path, load_block_beds)


T = TypeVar("T")


def _side_file(path: Path | None, load: Callable[[Path], T]) -> T | None:
    """A file read beside the book by ``load`` (None: none given); one that cannot be used exits 2 with its problems."""
    from engine.audit.books.limits import BookError

    if path is None:
        return None
    try:
        return load(path)
    except BookError as exc:
        typer.echo(f"carerules: {exc}", err=True)
        raise typer.Exit(2) from None
