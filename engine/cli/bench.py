"""``carerules bench``: benchmarks of a decision and of validation (an audit's is ``engine.cli.audit``'s, the HTTP
API's is added by api/cli.py in a checkout); each prints its figures and the machine (docs/benchmarks.md records
them)."""

from __future__ import annotations

from typing import Annotated

import typer

from engine.cli.options import RulesDir, load_engine
from engine.explain.json_text import dumps
from engine.rulebook.folders import DEFAULT_RULES_DIR

bench = typer.Typer(no_args_is_help=True, help="Benchmarks: each prints its figures and the machine.")


@bench.command("decision")
def bench_decision(
    runs: Annotated[int, typer.Option(help="Decisions to time.")] = 20000,
    rules: RulesDir = DEFAULT_RULES_DIR,
) -> None:
    """Median time of one decision through the library (durable evaluator, validation included)."""
    from engine.bench.decisions import single_decision

    typer.echo(dumps(single_decision(load_engine(rules), runs)))


@bench.command("validate")
def bench_validate(rows: Annotated[int, typer.Option(help="Rows in the sample book.")] = 200000) -> None:
    """Column-wise validation of a sample book written clean and as council exports write it (£, UK dates,
    Title Case, Yes/No): same rows valid, and the time of each."""
    from engine.bench.validation import validation_benchmark

    typer.echo(dumps(validation_benchmark(rows)))
