"""``carerules columns template``: a column map of every field with its description and common aliases."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

columns = typer.Typer(no_args_is_help=True, help="Column maps: other names for the fields in a placement book.")


@columns.command("template")
def template_command(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the template to this file (default: print it).")
    ] = None,
) -> None:
    """A column map (YAML) naming every field, its description and the names LAS, Mosaic and ContrOCC-style
    exports commonly give it, each with its source (or marked a guess). Edit it, then audit with --columns."""
    from engine.audit.books.column_template import template_text

    text = template_text()
    if out is None:
        typer.echo(text, nl=False)
        return
    if out.exists():
        typer.echo(f"carerules: {out} already exists: nothing written", err=True)
        raise typer.Exit(2)
    out.write_text(text, encoding="utf-8")
    typer.echo(f"carerules: wrote a column map template to {out}", err=True)
