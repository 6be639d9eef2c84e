"""``carerules users``: the people who may use the web page and the API, and their roles.

Users live in the decision-log database (``CARERULES_DATABASE_URL``). Adding a user prints a token once: it is
kept only as a SHA-256 digest, so a lost token is replaced (``users token``), never shown again. A change bites on
the next request on every worker of a running server.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

users = typer.Typer(no_args_is_help=True, help=__doc__)

Name = Annotated[str, typer.Argument(help="The user's name, as the decision log will show it.")]


def _store() -> Any:
    from api.serve.settings import Settings
    from api.store.decision_log import DecisionLog, LogUnavailable
    from api.store.workflow import WorkflowStore

    log = DecisionLog(Settings.from_env().database_url)
    try:
        log.upgrade()
    except LogUnavailable as exc:
        typer.echo(f"carerules: {exc}", err=True)
        raise typer.Exit(2) from None
    return WorkflowStore(log.engine)


def _name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100 or not name.isprintable():
        typer.echo("carerules: a user name is 1 to 100 printable characters", err=True)
        raise typer.Exit(2)
    return name


def _print_token(name: str, token: str) -> None:
    typer.echo(token)
    typer.echo(
        f"carerules: the token for {name} is shown once and kept only as a digest. Use it as "
        "'Authorization: Bearer <token>' with the API, or with the name to sign in to the web page.",
        err=True,
    )


@users.command("add")
def add(
    name: Name,
    role: Annotated[
        list[str],
        typer.Option(
            "--role", help="A role (repeat for more): broker, finance, admin or an approver role of the rulebook."
        ),
    ],
) -> None:
    """Add a user with one or more roles and print their token (once)."""
    from api.auth.identity import check_roles, declared_approvers, new_token
    from api.serve.settings import Settings
    from api.store.workflow import UserExists, now_utc
    from engine.rulebook.strict_yaml import RulebookError

    name = _name(name)
    try:
        approvers = declared_approvers(Settings.from_env().rules_dir)
        roles = check_roles([part.strip() for value in role for part in value.split(",") if part.strip()], approvers)
    except RulebookError as exc:
        typer.echo(f"carerules: the approver roles are the rulebook's, and it does not load: {exc}", err=True)
        raise typer.Exit(3) from None
    except ValueError as exc:
        typer.echo(f"carerules: {exc}", err=True)
        raise typer.Exit(2) from None
    token, key, hashed = new_token()
    try:
        _store().add_user(name, roles, key, hashed, now_utc())
    except UserExists:
        typer.echo(
            f"carerules: there is already a user {name!r} (use 'carerules users token' for a new token)", err=True
        )
        raise typer.Exit(2) from None
    _print_token(name, token)


@users.command("token")
def token(name: Name) -> None:
    """Give a user a new token (the old one stops working; their web sessions end)."""
    from api.auth.identity import new_token

    name = _name(name)
    fresh, key, hashed = new_token()
    if not _store().set_token(name, key, hashed):
        typer.echo(f"carerules: no user {name!r}", err=True)
        raise typer.Exit(2)
    _print_token(name, fresh)


@users.command("remove")
def remove(name: Name) -> None:
    """Remove a user (their token stops working; their web sessions end)."""
    store = _store()
    if not store.remove_user(_name(name)):
        typer.echo(f"carerules: no user {name!r}", err=True)
        raise typer.Exit(2)
    typer.echo(f"removed {name}")
    if store.user_count() == 0:
        typer.echo(
            "carerules: there are no users left. This database never goes back to the local single user: nobody "
            "can sign in until a user is added (carerules users add NAME --role ROLE).",
            err=True,
        )


@users.command("new-token")
def new_token_command() -> None:
    """Print a fresh token, touching no database: for CARERULES_ADMIN_TOKEN_FILE (the first administrator)."""
    from api.auth.bootstrap import fresh_token

    typer.echo(fresh_token())


@users.command("list")
def listing() -> None:
    """Every user and their roles."""
    for user in _store().users():
        typer.echo(f"{user.name}\t{' '.join(user.roles)}")
