"""How a command leaves the process. From the ``carerules`` console script (``engine.cli.main.main``), a command
that has written and closed everything may leave at once, without the interpreter's teardown: freeing every
object of a finished audit one by one (the book, its results, the libraries' modules) took about a tenth of a
10,000-row workbook's audit. Run in process (``app()``, a test's CliRunner), it exits as any command does."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import typer

_from_script = False


def from_script() -> None:
    """Called by the console script before it runs the command."""
    global _from_script
    _from_script = True


def leave(code: int) -> NoReturn:
    """Exit with ``code``: at once from the console script (stdout and stderr flushed first), else as usual."""
    if _from_script:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    raise typer.Exit(code)
