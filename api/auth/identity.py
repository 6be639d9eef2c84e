"""Who is asking, and may they: users and roles from the decision-log database.

A request is signed in by, in this order:
1. ``Authorization: Bearer <token>``: the token printed once by ``carerules users add``. A token is 256 random
   bits, not a password, so the database keeps its SHA-256 digest (a slow hash would only make every check cost
   64 MiB and half a second, for anyone who sends one); an argon2 hash from before is checked once, on the token's
   first use, and replaced by the digest;
2. a user header set by a trusted single-sign-on proxy: only when the request's socket peer is a configured
   proxy address (never on the strength of a forwarded header) and, when a shared secret is set, carries it;
3. the web page's session cookie (a random id; the database keeps only its SHA-256).
Every signed-in request is checked against the database (one indexed read): nothing is remembered per worker,
so removing a user, a new token or signing out bites on the next request on every worker.
With no users ever, on a loopback address and with no proxy configured, the server runs as one local user with
every role (and every page says so); once the database has had a user (``auth_state``, migration 0003), never
again ("no user yet" is re-read once a second, so the first user added ends it within a second). Otherwise an
anonymous request gets 401 and a missing role 403. A name the client sends (``X-User``) is never believed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from api.serve.forwarded import SOCKET_PEER
from api.serve.hosts import first_header
from api.store.decision_log import LogUnavailable
from api.store.workflow import SESSIONS, User, WorkflowStore, now_utc, session_hash, user_from_row
from api.store.workflow import USERS as USER_TABLE
from engine.rulebook.approvers import Approvers
from engine.rulebook.contents import load_contents

BROKER, FINANCE, ADMIN, POLICY_OFFICER = "broker", "finance", "admin", "policy_officer"
SYSTEM_ROLES = (BROKER, FINANCE, POLICY_OFFICER, ADMIN)  # the approver roles are the rulebook's (rules/contents.yaml)


@dataclass(frozen=True)
class Needs:
    """What a kind of route needs: any one of ``system``, or (``approvers``) any approver role the rulebook of
    the edition in force declares, or (``publishers``) any approver role it declares may publish editions."""

    system: frozenset[str] = frozenset()
    approvers: bool = False
    publishers: bool = False

    def roles(self, approvers: Approvers) -> frozenset[str]:
        """The roles that meet this need under ``approvers``: the last answer is kept for the same ``approvers``
        (an edition's, made once and never changed), so that a signed-in request makes no sets."""
        last = _LAST_ROLES.get(self)
        if last is not None and last[0] is approvers:
            return last[1]
        found = set(self.system)
        if self.approvers:
            found |= set(approvers.order)
        if self.publishers:
            found |= set(approvers.publishers)
        roles = frozenset(found)
        _LAST_ROLES[self] = (approvers, roles)
        return roles


_LAST_ROLES: dict[Needs, tuple[Approvers, frozenset[str]]] = {}  # each need's last answer, and for which approvers


CHECK = Needs(frozenset({BROKER}), approvers=True)  # decide placements
# read decisions, replay them, the rules and parameters (admin: users only)
READ = Needs(frozenset({BROKER, FINANCE, POLICY_OFFICER}), approvers=True)
APPROVE = Needs(approvers=True)  # and the band's role or one that approves for it, checked per decision
AUDIT = Needs(frozenset({FINANCE}))  # audits of a whole book, the log as CSV
USERS = Needs(frozenset({ADMIN}))  # users only
DRAFT = Needs(frozenset({POLICY_OFFICER}))  # draft an edition of the rates (SPEC §18)
PUBLISH = Needs(frozenset({ADMIN}), publishers=True)  # publish or reject someone else's draft
EDITIONS = Needs(frozenset({POLICY_OFFICER, ADMIN}), publishers=True)  # see the editions


def declared_approvers(rules_dir: Path) -> Approvers:
    """The approver roles the rulebook in ``rules_dir`` declares (its contents.yaml), or RulebookError."""
    contents = load_contents(rules_dir)
    return Approvers(contents.approver_roles, contents.also_approves, contents.publishers)


def all_roles(approvers: Approvers) -> tuple[str, ...]:
    """Every role a user may hold: the system roles and the rulebook's approver roles (in this order)."""
    return (BROKER, *approvers.order, FINANCE, POLICY_OFFICER, ADMIN)


LOCAL_USER = "local"
SESSION_COOKIE = "carerules_session"
TOKEN_PREFIX = "crt"
DIGEST = "sha256$"  # how a token's digest is stored: sha256$<64 hex digits>
PROXY_SECRET_HEADER = "X-Carerules-Proxy-Secret"
# Local mode re-reads "no user yet" this often, not on every request (the benchmarked path): the first user added
# ends it within this long on every worker. Nothing signed in is remembered at all.
LOCAL_RECHECK_SECONDS = 1.0

T = TypeVar("T")
_legacy_hasher = PasswordHasher()  # only to check, once, a token issued before digests (then replaced)
AUTH_STATE = sa.table("auth_state", sa.column("id", sa.Integer), sa.column("users_seen", sa.Boolean))


@dataclass(frozen=True)
class Identity:
    name: str
    roles: frozenset[str]
    via: str  # token | session | sso | local
    approvers: Approvers = field(default_factory=Approvers, compare=False)  # those of the edition the request uses

    def holds(self, allowed: Needs) -> bool:
        return bool(self.roles & allowed.roles(self.approvers))

    def acting_role(self, needed: list[str]) -> str | None:
        """The role in which this identity approves every one of ``needed`` (the most junior that does), or None."""
        return self.approvers.acting_role(self.roles, needed)


class NotSignedIn(Exception):
    """401: nobody is signed in."""


class Forbidden(Exception):
    """403: signed in without a role the route needs."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def token_digest(token: str) -> str:
    """What the database keeps of a token: its SHA-256 (the token is 256 random bits: nothing to brute-force)."""
    return DIGEST + hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str, str]:
    """(token to print once, its public key, its digest)."""
    key = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}_{key}_{secrets.token_urlsafe(32)}"
    return token, key, token_digest(token)


def token_key(token: str) -> str | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


def is_legacy(stored: str) -> bool:
    """An argon2 hash kept before tokens were digested (replaced by the digest on the token's first use)."""
    return stored.startswith("$argon2")


def digest_matches(stored: str, token: str) -> bool:
    """Does ``token`` match a stored digest (in constant time)? False for a legacy hash: see ``legacy_matches``."""
    return stored.startswith(DIGEST) and hmac.compare_digest(stored.encode(), token_digest(token).encode())


def legacy_matches(stored: str, token: str) -> bool:
    try:
        return _legacy_hasher.verify(stored, token)
    except (VerificationError, InvalidHashError):
        return False


def check_roles(roles: list[str], approvers: Approvers) -> list[str]:
    """The roles given, once each, or ValueError: each must be a system role or an approver role of the rulebook."""
    known = all_roles(approvers)
    unknown = [role for role in roles if role not in known]
    if unknown or not roles:
        raise ValueError(f"unknown role(s) {', '.join(unknown) or '(none given)'}: choose from {', '.join(known)}")
    return list(dict.fromkeys(roles))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class AuthConfig:
    """The sign-in settings (api/serve/settings.py) the authenticator reads."""

    host: str
    trusted_proxies: tuple[str, ...]
    sso_user_header: str
    sso_roles_header: str  # optional: roles sent by the proxy, comma-separated; else the users table's
    sso_secret: str  # optional: the proxy also sends this in PROXY_SECRET_HEADER
    secure_cookies: bool
    signin_attempts_per_client: int
    signin_attempts_per_name: int
    signin_window_seconds: float
    db_timeout_seconds: float


class StartRefused(RuntimeError):
    """The server must not start as configured (message says why and what to do)."""


def auth_config(settings: Any) -> AuthConfig:
    return AuthConfig(
        host=settings.host,
        trusted_proxies=tuple(settings.trusted_proxies),
        sso_user_header=settings.sso_user_header,
        sso_roles_header=settings.sso_roles_header,
        sso_secret=settings.sso_secret.get_secret_value(),
        secure_cookies=settings.secure_cookies,
        signin_attempts_per_client=settings.signin_attempts_per_client,
        signin_attempts_per_name=settings.signin_attempts_per_name,
        signin_window_seconds=settings.signin_window_seconds,
        db_timeout_seconds=settings.db_timeout_seconds,
    )


# The reads made on every signed-in request, built once (half the cost of building them per request).
_ACCOUNT = (USER_TABLE.c.name, USER_TABLE.c.roles, USER_TABLE.c.token_key, USER_TABLE.c.token_hash)
BY_KEY = sa.select(*_ACCOUNT).where(USER_TABLE.c.token_key == sa.bindparam("value"))
BY_NAME = sa.select(*_ACCOUNT).where(USER_TABLE.c.name == sa.bindparam("value"))
BY_SESSION = (
    sa.select(*_ACCOUNT, SESSIONS.c.expires_at)
    .join(SESSIONS, SESSIONS.c.user_name == USER_TABLE.c.name)
    .where(SESSIONS.c.id_hash == sa.bindparam("value"))
)


class Authenticator:
    def __init__(self, store: WorkflowStore, config: AuthConfig, clock: Callable[[], Any] = now_utc) -> None:
        self.store, self.config, self.clock = store, config, clock
        self.proxies = [ipaddress.ip_network(proxy, strict=False) for proxy in config.trusted_proxies]
        self.loopback = is_loopback(config.host)
        self.users_seen = False  # once the database has had a user it always has: remembered for good once seen
        self.no_users_until = 0.0  # local mode: "no user yet" is re-read after LOCAL_RECHECK_SECONDS
        self.users_check: tuple[asyncio.AbstractEventLoop, asyncio.Future[bool]] | None = None  # that read, running
        self.local: Identity | None = None  # local mode's identity for the approvers it was last made with
        self.legacy_turn = asyncio.Semaphore(1)  # one argon2 check (64 MiB) at a time per worker
        self.attempts = Attempts(
            config.signin_attempts_per_client, config.signin_attempts_per_name, config.signin_window_seconds
        )

    # -- the database, read on every request (each call runs on a worker thread)
    def account_by_key(self, key: str) -> User | None:
        return self._account(BY_KEY, {"value": key})

    def account_by_session(self, session_id: str) -> User | None:
        row = self._row(BY_SESSION, {"value": session_hash(session_id)})
        if row is None or _utc(row.expires_at) <= self.clock():
            return None
        return user_from_row(row)

    def account_by_name(self, name: str) -> User | None:
        return self._account(BY_NAME, {"value": name})

    def _account(self, query: Any, values: dict[str, str]) -> User | None:
        row = self._row(query, values)
        return user_from_row(row) if row else None

    def _row(self, query: Any, values: dict[str, str]) -> Any:
        with self.store.engine.connect() as connection:
            return connection.execute(query, values).first()

    def rehash(self, account: User, token: str) -> None:
        """Replace a legacy argon2 hash by the token's digest (only if it is still the hash just checked)."""
        with self.store.engine.begin() as connection:
            connection.execute(
                sa.update(USER_TABLE)
                .where(USER_TABLE.c.token_key == account.token_key, USER_TABLE.c.token_hash == account.token_hash)
                .values(token_hash=token_digest(token))
            )

    def had_users(self) -> bool:
        if not self.users_seen:
            with self.store.engine.connect() as connection:
                seen = connection.execute(sa.select(AUTH_STATE.c.users_seen).where(AUTH_STATE.c.id == 1)).scalar()
            self.users_seen = seen is None or bool(seen)  # no row: the table was tampered with; fail closed
        return self.users_seen

    async def read(self, function: Callable[..., T], *args: Any) -> T:
        """Run a look-up on a worker thread, waiting no longer than the database timeout (then 503): a frozen
        database must not hold the request (the thread is left to finish or fail on its own)."""
        try:
            with anyio.fail_after(self.config.db_timeout_seconds):
                return await anyio.to_thread.run_sync(function, *args, abandon_on_cancel=True)
        except TimeoutError:
            raise LogUnavailable("the decision log did not answer the sign-in check in time") from None

    # -- who is asking
    def local_mode_possible(self) -> bool:
        return not self.proxies and self.loopback

    def refusal(self) -> str | None:
        """Why the server must not start, or None."""
        if self.proxies:
            on_loopback = any(
                network.version == loop.version and network.overlaps(loop)
                for network in self.proxies
                for loop in LOOPBACK
            )
            if on_loopback and not self.config.sso_secret:
                return (
                    "carerules will not trust a single-sign-on proxy on a loopback address without a shared secret: "
                    "any process on this machine could send the user header. Set CARERULES_SSO_SECRET and have the "
                    f"proxy send it in {PROXY_SECRET_HEADER} (and drop that header from its clients)."
                )
            return None
        has_users = self.store.user_count() > 0
        if not has_users and self.had_users():
            return (
                "carerules will not start: this database has had users and has none now, and it never goes back to "
                "the local single user (anyone on this machine could then read and write its placements). Add a user "
                "(carerules users add NAME --role ROLE) or configure a trusted single-sign-on proxy."
            )
        if is_loopback(self.config.host) or has_users:
            return None
        return (
            f"carerules will not serve {self.config.host} with no users: anyone who can reach it could read and "
            "write placements. Add users (carerules users add NAME --role ROLE), give the first administrator's token "
            "in a secret file (CARERULES_ADMIN_TOKEN_FILE), configure a trusted single-sign-on proxy "
            "(CARERULES_TRUSTED_PROXIES), or serve on 127.0.0.1 for one local user."
        )

    async def identify(self, connection: HTTPConnection, approvers: Approvers | None = None) -> Identity | None:
        """The signed-in identity, or None; ``approvers``: the approver roles of the edition the request uses."""
        approvers = approvers or Approvers()
        raw = first_header(connection.scope, b"authorization")
        header = None if raw is None else raw.decode("latin-1")  # as connection.headers reads it
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return None
            account = await self.by_token(token.strip())
            return _identity(account, "token", approvers) if account else None
        if self.proxies:
            sso = self._from_proxy(connection)
            if sso is not None:
                return await self._by_sso(*sso, approvers)
        cookies = first_header(connection.scope, b"cookie") is not None  # no cookie parsing for a request without
        session_id = connection.cookies.get(SESSION_COOKIE) if cookies else None
        if session_id:
            account = await self.read(self.account_by_session, session_id)
            if account is not None:
                return _identity(account, "session", approvers)
        if self.local_mode_possible() and not self.users_seen:
            if time.monotonic() >= self.no_users_until and await self._users_check():
                return None
            local = self.local
            if local is None or local.approvers is not approvers:  # made again when the edition changes
                local = self.local = Identity(LOCAL_USER, frozenset(all_roles(approvers)), "local", approvers)
            return local
        return None

    async def _users_check(self) -> bool:
        """Local mode's look, once a second, for a user added since: one read a worker, however many requests
        come while it runs (each waits for that read's answer, as for its own; under 32 connections they were
        some 14 reads a look, each a thread's hop and a connection: docs/benchmarks.md, "The API at one and at 32
        connections")."""
        loop = asyncio.get_running_loop()
        running = self.users_check
        if running is None or running[0] is not loop or running[1].done():
            check = asyncio.ensure_future(self._look_for_users())
            running = self.users_check = (loop, check)
        return await asyncio.shield(running[1])

    async def _look_for_users(self) -> bool:
        try:
            if await self.read(self.had_users):
                return True
            self.no_users_until = time.monotonic() + LOCAL_RECHECK_SECONDS
            return False
        finally:
            self.users_check = None

    async def by_token(self, token: str) -> User | None:
        """The account whose token this is, or None: one read by the token's public key, one digest compared.
        The same work for every well-formed token, whoever's it is (an argon2 hash from before is checked once,
        one at a time per worker, then replaced by the digest)."""
        key = token_key(token) or "-"  # "-" is never a key: the same read for a malformed token
        account = await self.read(self.account_by_key, key)
        if account is None:
            return None
        if digest_matches(account.token_hash, token):
            return account
        if not is_legacy(account.token_hash):
            return None
        async with self.legacy_turn:
            if not await run_in_threadpool(legacy_matches, account.token_hash, token):
                return None
        await self.read(self.rehash, account, token)
        return account

    def peer(self, connection: HTTPConnection) -> str:
        """The socket peer's address (the server never rewrites it from X-Forwarded-For: api/serve/server.py; an allowed
        reverse proxy's forwarded client is kept apart from it: api/serve/forwarded.py)."""
        peer = connection.scope.get(SOCKET_PEER) or connection.client
        return str(peer[0]) if peer else ""

    def from_proxy(self, connection: HTTPConnection) -> bool:
        """Did this request come through a trusted proxy: its socket peer is one (and it sent the secret, if set)."""
        if not self.proxies:
            return False
        try:
            address = ipaddress.ip_address(self.peer(connection))
        except ValueError:
            return False
        if not any(address in network for network in self.proxies):
            return False
        if self.config.sso_secret:
            sent = connection.headers.get(PROXY_SECRET_HEADER, "")
            return hmac.compare_digest(sent.encode(), self.config.sso_secret.encode())
        return True

    def client_address(self, connection: HTTPConnection) -> str:
        """Who is asking, for rate limits: the socket peer or, from a trusted proxy, the address it forwards."""
        if self.from_proxy(connection):
            forwarded = connection.headers.get("x-forwarded-for", "").split(",")[-1].strip()
            if forwarded:
                return forwarded
        return connection.client.host if connection.client else ""  # from an allowed reverse proxy: its client

    def over_https(self, connection: HTTPConnection) -> bool:
        """Should cookies be Secure: a setting, HTTPS to this server, or a trusted proxy saying its client used it."""
        if self.config.secure_cookies or connection.url.scheme == "https":
            return True
        if self.from_proxy(connection):
            return connection.headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower() == "https"
        return False

    def _from_proxy(self, connection: HTTPConnection) -> tuple[str, str | None] | None:
        if not self.from_proxy(connection):
            return None
        name = (connection.headers.get(self.config.sso_user_header) or "").strip()
        if not name or len(name) > 100 or not name.isprintable():
            return None
        roles = connection.headers.get(self.config.sso_roles_header) if self.config.sso_roles_header else None
        return name, roles

    async def _by_sso(self, name: str, roles: str | None, approvers: Approvers) -> Identity:
        if roles is not None:
            known = all_roles(approvers)
            return Identity(
                name, frozenset(r.strip() for r in roles.split(",") if r.strip() in known), "sso", approvers
            )
        account = await self.read(self.account_by_name, name)
        return Identity(name, frozenset(account.roles) if account else frozenset(), "sso", approvers)


LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


class Attempts:
    """Sign-in attempts counted per client address and per name over a sliding window, in this worker's memory.

    Over either limit, a sign-in is refused (429, Retry-After) before any check: the same for a known and an
    unknown name, so the limit tells nothing about who has an account. With N workers an attacker gets at most N
    times the limit (each keeps its own count)."""

    def __init__(self, per_client: int, per_name: int, window_seconds: float, keep: int = 10_000) -> None:
        self.limits = {"client": per_client, "name": per_name}
        self.window, self.keep = window_seconds, keep
        self.attempts: dict[tuple[str, str], deque[float]] = {}
        self.lock = threading.Lock()

    def take(self, client: str, name: str, now: float | None = None) -> int | None:
        """Count a sign-in attempt from ``client`` naming ``name`` and return None, or, over a limit, return the
        seconds until one may be tried again (and count nothing). Checked and counted in one step, so attempts
        sent at once cannot all slip under the limit."""
        now = time.monotonic() if now is None else now
        keys = (("client", client), ("name", name.casefold()))
        wait = 0.0
        with self.lock:
            for key in keys:
                times = self._recent(key, now)
                if times is not None and len(times) >= self.limits[key[0]]:
                    wait = max(wait, times[len(times) - self.limits[key[0]]] + self.window - now)
            if wait > 0:
                return max(1, math.ceil(wait))
            if len(self.attempts) >= self.keep:
                for key in [key for key in self.attempts if self._recent(key, now) is None]:
                    del self.attempts[key]
                for key in list(self.attempts)[: max(0, len(self.attempts) - self.keep // 2)]:
                    del self.attempts[key]  # flooded with distinct names: forget the oldest rather than grow
            for key in keys:
                self.attempts.setdefault(key, deque(maxlen=max(self.limits.values()))).append(now)
        return None

    def _recent(self, key: tuple[str, str], now: float) -> deque[float] | None:
        times = self.attempts.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self.attempts[key]
            return None
        return times


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite keeps no zone; all is written in UTC


def _identity(account: User, via: str, approvers: Approvers) -> Identity:
    return Identity(account.name, frozenset(account.roles), via, approvers)


def refusal_for(settings: Any) -> str | None:
    """Why a server with these settings must not start (checked before any worker starts), or None."""
    from api.store.decision_log import DecisionLog

    log = DecisionLog(settings.database_url)
    try:
        log.upgrade()
        return Authenticator(WorkflowStore(log.engine), auth_config(settings)).refusal()
    finally:
        log.dispose()
