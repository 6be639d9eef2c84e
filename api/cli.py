"""The API's own commands on ``carerules``: ``serve``, ``users`` and (in a checkout) ``bench api``.

The one seam between the engine's command line and the API: ``register`` is the entry point ``api`` of the group
``carerules.commands`` (pyproject.toml), which engine/cli/main.py reads, so nothing in engine/ imports api/. The
API's modules are imported when a command runs, never when ``carerules`` starts.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from typing import Annotated

import typer

from api.auth.users import users
from engine.cli.options import RULES_ENV, RulesDir, load_engine
from engine.explain.json_text import dumps
from engine.rulebook.folders import DEFAULT_RULES_DIR


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``users`` to ``app``, and ``api`` to its ``bench`` group when api/bench/ is here: the wheel
    leaves the benchmark and its load generator out, so an installed ``carerules`` has no ``bench api``."""
    app.command()(serve)
    app.add_typer(users, name="users")
    if find_spec("api.bench") is not None:
        bench = next(group.typer_instance for group in app.registered_groups if group.name == "bench")
        assert bench is not None
        bench.command("api")(bench_api)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Worker processes (default: one per CPU core; durable_rules is serialised in each)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No request log.")] = False,
    rules: RulesDir = DEFAULT_RULES_DIR,
) -> None:
    """Start the HTTP API and the brokerage web page (settings: CARERULES_* environment variables, see README)."""
    from api.auth.identity import refusal_for
    from api.serve.server import serve as run_server
    from api.serve.settings import Settings

    load_engine(rules)  # refuse a broken rulebook here, with its file and line, before any worker starts
    os.environ[RULES_ENV] = str(rules)  # every worker process reads its settings from the environment
    os.environ["CARERULES_HOST"] = host  # the app allows the local single user only on loopback
    from api.auth.bootstrap import BootstrapError, bootstrap_admin
    from api.store.decision_log import LogUnavailable

    try:
        settings = Settings()
        try:
            added = bootstrap_admin(settings)  # a fresh database's first administrator, from a secret file
        except BootstrapError as exc:
            typer.echo(f"carerules: {exc}", err=True)
            raise typer.Exit(2) from None
        if added:
            typer.echo(f"carerules: {added}", err=True)
        refusal = refusal_for(settings)
        if refusal:
            typer.echo(f"carerules: {refusal}", err=True)
            raise typer.Exit(2)
        run_server(host, port, workers or os.cpu_count() or 1, quiet)
    except LogUnavailable as exc:  # the log cannot be reached or migrated: say which and why, no traceback
        typer.echo(f"carerules: {exc}", err=True)
        raise typer.Exit(2) from None


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
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port on 127.0.0.1 to serve on (default: a free one).")
    ] = None,
    compare_bare: Annotated[
        bool,
        typer.Option(help="Also run the same load against a bare FastAPI endpoint served the same way; the ratio."),
    ] = False,
    sqlite_synchronous: Annotated[
        str,
        typer.Option(
            help="A SQLite log's commits: full (synced to the disk before each 201, the default) or normal (in the "
            "log's WAL file before each 201), as CARERULES_SQLITE_SYNCHRONOUS.",
        ),
    ] = "full",
    rounds: Annotated[
        int,
        typer.Option(
            min=1,
            help="Run it this many times, one after the other (with --compare-bare the API and the bare endpoint "
            "alternate): each round's figures and their medians.",
        ),
    ] = 1,
) -> None:
    """HTTP API on loopback: median latency with 1 connection, decisions/s with 32 (every decision stored)."""
    from api.bench.benchmark import api_benchmark, api_rounds
    from api.bench.loadgen import ServerNotStarted
    from api.store.decision_log import LogUnavailable

    if sqlite_synchronous not in ("full", "normal"):
        raise typer.BadParameter("full or normal", param_hint="--sqlite-synchronous")
    processes = workers or os.cpu_count() or 1
    args = (
        single,
        concurrent,
        connections,
        seconds,
        database_url,
        processes,
        request_log,
        port,
        compare_bare,
        sqlite_synchronous,
    )
    try:
        typer.echo(dumps(api_benchmark(*args) if rounds == 1 else api_rounds(rounds, *args)))
    except (LogUnavailable, ServerNotStarted) as exc:  # the log, or the server started on it, is not usable
        typer.echo(f"carerules: {exc}", err=True)
        raise typer.Exit(2) from None
