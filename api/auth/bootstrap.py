"""The first administrator of a fresh decision log, from a secret the operator gives (README, "Settings").

A container starts on an empty volume: ``carerules serve --host 0.0.0.0`` rightly refuses to serve anyone with no
users, and nobody can run ``carerules users add`` inside it first. So, when the database has never had a user and
``CARERULES_ADMIN_TOKEN_FILE`` (a secret file, e.g. a Docker or systemd credential) or ``CARERULES_ADMIN_TOKEN``
is set, ``serve`` adds ``CARERULES_ADMIN_NAME`` with ``CARERULES_ADMIN_ROLES`` and that token, before any worker
starts. There is no default token: with none given, nothing is added and the refusal stands. Once the database
has had a user the secret is never read again (change tokens with ``carerules users token``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api.auth.identity import (
    TOKEN_PREFIX,
    Authenticator,
    auth_config,
    check_roles,
    declared_approvers,
    new_token,
    token_digest,
    token_key,
)
from api.store.decision_log import DecisionLog
from api.store.workflow import UserExists, WorkflowStore, now_utc

MIN_SECRET_CHARS = 32  # the random part of a token: 43 characters from new_token (256 bits); fewer is refused


class BootstrapError(ValueError):
    """The bootstrap secret is set but cannot be used (a clear message for ``serve``, never a traceback)."""


def fresh_token() -> str:
    """A token in the form the server accepts, for the operator to put in the secret file."""
    return new_token()[0]


def admin_token(settings: Any) -> str | None:
    """The bootstrap token from the file or the variable, checked; None when neither is set."""
    from_file: Path | None = settings.admin_token_file
    from_env: str = settings.admin_token.get_secret_value()
    if from_file is not None and from_env:
        raise BootstrapError("set CARERULES_ADMIN_TOKEN_FILE or CARERULES_ADMIN_TOKEN, not both")
    if from_file is not None and not from_file.exists():
        return None  # no secret mounted (e.g. a single-sign-on set-up): the refusal, if any, names the setting
    if from_file is not None:
        try:
            token = from_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            message = f"cannot read the admin token file {from_file} (CARERULES_ADMIN_TOKEN_FILE): {reason}"
            raise BootstrapError(message) from None
    elif from_env:
        token = from_env.strip()
    else:
        return None
    if token_key(token) is None or len(token.split("_", 2)[2]) < MIN_SECRET_CHARS:
        raise BootstrapError(
            f"the admin token is not a carerules token ({TOKEN_PREFIX}_<key>_<at least {MIN_SECRET_CHARS} random "
            "characters>): make one with 'carerules users new-token'"
        )
    return token


def bootstrap_admin(settings: Any) -> str | None:
    """Add the first administrator to a database that has never had a user, if a token is given. Returns what
    was done, for the operator, or None when nothing was (no token given, or the database has had users)."""
    log = DecisionLog(settings.database_url, settings.db_timeout_seconds)
    try:
        log.upgrade()
        store = WorkflowStore(log.engine)
        if store.user_count() > 0 or Authenticator(store, auth_config(settings)).had_users():
            return None
        token = admin_token(settings)
        if token is None:
            return None
        name = settings.admin_name.strip()
        if not name or len(name) > 100 or not name.isprintable():
            raise BootstrapError("CARERULES_ADMIN_NAME must be 1 to 100 printable characters")
        try:
            roles = check_roles(list(settings.admin_roles), declared_approvers(settings.rules_dir))
        except ValueError as exc:
            raise BootstrapError(f"CARERULES_ADMIN_ROLES: {exc}") from None
        key = token_key(token)
        assert key is not None  # admin_token checked it
        try:
            store.add_user(name, roles, key, token_digest(token), now_utc())
        except UserExists:  # another server on the same database added it first
            return None
        return f"added the first user {name!r} ({', '.join(roles)}) from the admin token given"
    finally:
        log.dispose()
