"""``carerules test [PATH…]``: run the YAML worked cases without pytest, for policy officers.

One line per case (PASS or FAIL, file and case name); a failing case is followed by what differs; exit 1 when
any case fails, 2 when a case file cannot be read, 3 when the rulebook does not load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.rulebook.folders import DEFAULT_RULES_DIR

DEFAULT_CASES_DIR = DEFAULT_RULES_DIR.parent / "cases"


def test_command(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Case files or folders (default: the cases folder).", show_default=False)
    ] = None,
    rules: Annotated[Path, typer.Option("--rules", help="Folder of rule and parameter files.")] = DEFAULT_RULES_DIR,
) -> None:
    """Run YAML worked cases: one line per case, the difference when one fails, exit 1 on any failure."""
    from engine.explain.cases import CaseFileError, CaseRunner, case_files, describe, load_cases
    from engine.rulebook.loader import load_rulebook
    from engine.rulebook.strict_yaml import RulebookError

    try:
        runner = CaseRunner(load_rulebook(rules))
    except RulebookError as exc:
        typer.echo(f"carerules: the rulebook refused to load: {exc}", err=True)
        raise typer.Exit(3) from None
    roots = paths or [DEFAULT_CASES_DIR]
    missing = [str(path) for path in roots if not path.exists()]
    if missing:
        typer.echo(f"carerules: no such case file or folder: {', '.join(missing)}", err=True)
        raise typer.Exit(2)
    passed = failed = 0
    for path in case_files(roots):
        try:
            cases = load_cases(path)
        except (CaseFileError, RulebookError) as exc:
            typer.echo(f"carerules: cannot read the cases: {exc}", err=True)
            raise typer.Exit(2) from None
        for case in cases:
            try:
                outcome = runner.run(case)
            except RulebookError as exc:  # a pinned parameter that is unknown or not of its unit
                typer.echo(f"ERROR {path}: {case.name}: {exc}")
                failed += 1
                continue
            shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
            typer.echo(f"{'PASS' if outcome.ok else 'FAIL'} {shown}: {case.name}")
            if outcome.ok:
                passed += 1
            else:
                failed += 1
                typer.echo("\n".join("    " + line for line in describe(case, outcome)))
    typer.echo(f"{passed} passed, {failed} failed")
    raise typer.Exit(1 if failed else 0)
