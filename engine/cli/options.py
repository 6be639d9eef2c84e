"""Options shared by several ``carerules`` commands, and the engine they load."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.decide import Engine
from engine.rulebook.loader import RULES_ENV as RULES_ENV
from engine.rulebook.loader import load_rulebook
from engine.rulebook.strict_yaml import RulebookError

RulesDir = Annotated[
    Path,
    typer.Option(
        "--rules",
        envvar=RULES_ENV,
        show_envvar=True,
        help="Folder of rule and parameter files (default: the shipped rulebook).",
    ),
]


def load_engine(rules: Path) -> Engine:
    """The engine on the rulebook in ``rules``; a rulebook that refuses to load exits 3 with its file and line."""
    try:
        return Engine(load_rulebook(rules))
    except RulebookError as exc:
        typer.echo(f"carerules: the rulebook refused to load: {exc}", err=True)
        raise typer.Exit(3) from None
