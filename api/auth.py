"""Who is asking, and may they: users and roles from the decision-log database.

A request is signed in by, in this order:
1. a user header set by a trusted single-sign-on proxy, only when the request comes from a configured proxy address;
2. ``Authorization: Bearer <token>``: the token printed once by ``carerules users add`` (stored only as an argon2
   hash; a verified token is remembered for a short while so argon2 runs once, not on every request);
3. the web page's session cookie (a random id; the database keeps only its SHA-256).
With no users at all, on a loopback address and with no proxy configured, the server runs as one local user with
every role (and every page says so). Otherwise an anonymous request gets 401 and a missing role 403.
A name the client sends (``X-User``) is never believed.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from api.workflow_db import User, WorkflowStore, now_utc

BROKER, FINANCE, ADMIN = "broker", "finance", "admin"
APPROVER_CHAIN = ("team_manager", "head_of_service", "placement_panel")  # a higher role may approve a lower band
APPROVERS = (*APPROVER_CHAIN, "commissioning_manager")
ROLES = (BROKER, *APPROVERS, FINANCE, ADMIN)

# What each kind of route needs: any one of these roles.
CHECK = frozenset({BROKER, *APPROVERS})  # decide placements
READ = frozenset(ROLES) - {ADMIN}  # read decisions, replay them, the rules and parameters (admin: users only)
APPROVE = frozenset(APPROVERS)  # and the band's role or a higher one, checked per decision
AUDIT = frozenset({FINANCE})  # audits of a whole book, the log as CSV
USERS = frozenset({ADMIN})

LOCAL_USER = "local"
SESSION_COOKIE = "carerules_session"
TOKEN_PREFIX = "crt"
REMEMBER_SECONDS = 30.0  # a verified token, a session or a user's roles are re-read after this

_hasher = PasswordHasher()


@dataclass(frozen=True)
class Identity:
    name: str
    roles: frozenset[str]
    via: str  # token | session | sso | local

    def holds(self, allowed: frozenset[str]) -> bool:
        return bool(self.roles & allowed)


class NotSignedIn(Exception):
    """401: nobody is signed in."""


class Forbidden(Exception):
    """403: signed in without a role the route needs."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def new_token() -> tuple[str, str, str]:
    """(token to print once, its public key, its argon2 hash)."""
    key = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}_{key}_{secrets.token_urlsafe(32)}"
    return token, key, _hasher.hash(token)


def token_key(token: str) -> str | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


def verify(token_hash: str, token: str) -> bool:
    try:
        return _hasher.verify(token_hash, token)
    except (VerificationError, InvalidHashError):
        return False


def check_roles(roles: list[str]) -> list[str]:
    unknown = [role for role in roles if role not in ROLES]
    if unknown or not roles:
        raise ValueError(f"unknown role(s) {', '.join(unknown) or '(none given)'}: choose from {', '.join(ROLES)}")
    return list(dict.fromkeys(roles))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def covers(held: frozenset[str], needed: str) -> bool:
    """May a holder of ``held`` approve what needs ``needed``: the role itself or a higher one in the chain."""
    if needed in held:
        return True
    if needed not in APPROVER_CHAIN:
        return False
    return any(role in APPROVER_CHAIN[APPROVER_CHAIN.index(needed) + 1 :] for role in held)


def acting_role(held: frozenset[str], needed: list[str]) -> str | None:
    """The role in which ``held`` approves every one of ``needed`` (the lowest that does), or None."""
    for role in (*APPROVERS,):
        if role in held and all(covers(frozenset({role}), one) for one in needed):
            return role
    return None


class _Memo:
    """A small time-limited memory, so argon2 and the database are not asked on every request."""

    def __init__(self, seconds: float = REMEMBER_SECONDS, size: int = 4096) -> None:
        self.seconds, self.size = seconds, size
        self.items: dict[Any, tuple[float, Any]] = {}

    def get(self, key: Any) -> Any:
        found = self.items.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, key: Any, value: Any) -> None:
        if len(self.items) >= self.size:
            self.items.clear()
        self.items[key] = (time.monotonic() + self.seconds, value)

    def drop(self, key: Any) -> None:
        self.items.pop(key, None)


@dataclass
class AuthConfig:
    host: str = "127.0.0.1"
    trusted_proxies: tuple[str, ...] = ()
    sso_user_header: str = "X-Remote-User"
    sso_roles_header: str = ""  # optional: roles sent by the proxy, comma-separated; else the users table's


class StartRefused(RuntimeError):
    """The server must not start as configured (message says why and what to do)."""


def auth_config(settings: Any) -> AuthConfig:
    return AuthConfig(
        host=settings.host,
        trusted_proxies=tuple(settings.trusted_proxies),
        sso_user_header=settings.sso_user_header,
        sso_roles_header=settings.sso_roles_header,
    )


class Authenticator:
    def __init__(self, store: WorkflowStore, config: AuthConfig, clock: Callable[[], Any] = now_utc) -> None:
        self.store, self.config, self.clock = store, config, clock
        self.tokens, self.sessions, self.named, self.count = _Memo(), _Memo(), _Memo(), _Memo(seconds=5.0)
        self.proxies = [ipaddress.ip_network(proxy, strict=False) for proxy in config.trusted_proxies]
        self.loopback = is_loopback(config.host)

    def local_mode(self) -> bool:
        """One local user: no users, no proxy, served on loopback."""
        return not self.proxies and self.loopback and self.user_count() == 0

    def user_count(self) -> int:
        count = self.count.get("users")
        if count is None:
            count = self.store.user_count()
            self.count.put("users", count)
        return int(count)

    def refusal(self) -> str | None:
        """Why the server must not start, or None."""
        if self.proxies or is_loopback(self.config.host) or self.store.user_count() > 0:
            return None
        return (
            f"carerules will not serve {self.config.host} with no users: anyone who can reach it could read and "
            "write placements. Add users (carerules users add NAME --role ROLE), configure a trusted single-sign-on "
            "proxy (CARERULES_TRUSTED_PROXIES), or serve on 127.0.0.1 for one local user."
        )

    async def identify(self, connection: HTTPConnection) -> Identity | None:
        """The signed-in identity, or None; cached answers come back without a thread hop."""
        header = connection.headers.get("authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return None
            return await self._by_token(token.strip())
        if self.proxies:
            sso = self._from_proxy(connection)
            if sso is not None:
                return await self._by_sso(*sso)
        session_id = connection.cookies.get(SESSION_COOKIE)
        if session_id:
            found = await self._by_session(session_id)
            if found is not None:
                return found
        if self.count.get("users") is None:
            await run_in_threadpool(self.user_count)  # reads the database once in a while, off the event loop
        if self.local_mode():
            return Identity(LOCAL_USER, frozenset(ROLES), "local")
        return None

    def _from_proxy(self, connection: HTTPConnection) -> tuple[str, str | None] | None:
        client = connection.client.host if connection.client else ""
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            return None
        if not any(address in network for network in self.proxies):
            return None
        name = (connection.headers.get(self.config.sso_user_header) or "").strip()
        if not name or len(name) > 100 or not name.isprintable():
            return None
        roles = connection.headers.get(self.config.sso_roles_header) if self.config.sso_roles_header else None
        return name, roles

    async def _by_token(self, token: str) -> Identity | None:
        key = token_key(token)
        if key is None:
            return None
        remembered = self.tokens.get(key)
        if remembered is not None:
            digest, identity = remembered
            return identity if hmac.compare_digest(digest, _digest(token)) else None
        user = await run_in_threadpool(self.store.user_by_token_key, key)
        if user is None or not await run_in_threadpool(verify, user.token_hash, token):
            return None
        identity = _identity(user, "token")
        self.tokens.put(key, (_digest(token), identity))
        return identity

    async def _by_session(self, session_id: str) -> Identity | None:
        remembered = self.sessions.get(session_id)
        if remembered is not None:
            return remembered  # type: ignore[no-any-return]
        name = await run_in_threadpool(self.store.session_user, session_id, self.clock())
        user = await self._user(name) if name else None
        identity = _identity(user, "session") if user else None
        if identity is not None:
            self.sessions.put(session_id, identity)
        return identity

    async def _by_sso(self, name: str, roles: str | None) -> Identity:
        if roles is not None:
            return Identity(name, frozenset(r.strip() for r in roles.split(",") if r.strip() in ROLES), "sso")
        user = await self._user(name)
        return Identity(name, frozenset(user.roles) if user else frozenset(), "sso")

    async def _user(self, name: str) -> User | None:
        remembered = self.named.get(name)
        if remembered is None:
            remembered = (await run_in_threadpool(self.store.user_by_name, name),)
            self.named.put(name, remembered)
        return remembered[0]  # type: ignore[no-any-return]

    def forget_session(self, session_id: str) -> None:
        self.sessions.drop(session_id)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _identity(user: User, via: str) -> Identity:
    return Identity(user.name, frozenset(user.roles), via)


def refusal_for(settings: Any) -> str | None:
    """Why a server with these settings must not start (checked before any worker starts), or None."""
    from api.db import DecisionLog

    log = DecisionLog(settings.database_url)
    try:
        log.upgrade()
        return Authenticator(WorkflowStore(log.engine), auth_config(settings)).refusal()
    finally:
        log.dispose()
