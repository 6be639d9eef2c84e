"""``carerules bench``: benchmarks of a decision, of validation, of the HTTP API (and of an audit, from
``engine.cli.audit``); each prints its figures and the machine (docs/benchmarks.md records them)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from engine.cli.audit import bench_audit_command
from engine.cli.options import RulesDir, load_engine
from engine.explain.decision import dumps
from engine.rulebook.loader import DEFAULT_RULES_DIR

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


@bench.command("api")
def bench_api(
    single: Annotated[int, typer.Option(help="Requests timed one at a time on 1 connection.")] = 2000,
    concurrent: Annotated[int, typer.Option(help="Requests sent over the concurrent connections.")] = 20000,
    connections: Annotated[int, typer.Option(help="Concurrent keep-alive connections.")] = 32,
    seconds: Annotated[float, typer.Option(help="Stop each phase after this many seconds.")] = 60.0,
    database_url: Annotated[
        str | None, typer.Option(help="Decision log URL (default: a temporary SQLite file).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Server worker processes (default: the cores, as carerules serve).")
    ] = None,
    request_log: Annotated[
        bool, typer.Option(help="Serve with the request log on (as carerules serve), not --quiet.")
    ] = False,
) -> None:
    """HTTP API on loopback: median latency with 1 connection, decisions/s with 32 (every decision stored)."""
    from api.bench import api_benchmark
    from api.db import LogUnavailable
    from api.loadgen import ServerNotStarted

    processes = workers or os.cpu_count() or 1
    try:
        typer.echo(dumps(api_benchmark(single, concurrent, connections, seconds, database_url, processes, request_log)))
    except (LogUnavailable, ServerNotStarted) as exc:  # the log, or the server started on it, is not usable
        typer.echo(f"carerules: {exc}", err=True)
        raise typer.Exit(2) from None


bench.command("audit")(bench_audit_command)
