"""Options shared by several ``carerules`` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

RULES_ENV = "CARERULES_RULES_DIR"

RulesDir = Annotated[
    Path,
    typer.Option(
        "--rules",
        envvar=RULES_ENV,
        show_envvar=True,
        help="Folder of rule and parameter files (default: the shipped rulebook).",
    ),
]
