"""The decision-log database under trouble: a SQLite file only its owner can read; a SQLite lock held by another
process never stops the event loop; a frozen or locked PostgreSQL gives a 503 on every route within the
configured timeout, and the server recovers when it answers again."""

from __future__ import annotations

import http.client
import json
import os
import sqlite3
import stat
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from conftest import FIXED_NOW, P_1001, FreezableProxy, make_client, postgres_schema, postgres_url
from sqlalchemy import create_engine, text

from api.bench.loadgen import served

TIMEOUT = 2.0  # CARERULES_DB_TIMEOUT_SECONDS of the servers below
MARGIN = 1.5  # scheduling on a busy two-core machine


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
            timeout: float = 4 * TIMEOUT) -> tuple[int, float]:  # fmt: skip
    """(status, seconds taken); status 0 when no answer came within ``timeout``."""
    began = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body, headers or {})
        reply = connection.getresponse()
        reply.read()
        return reply.status, time.monotonic() - began
    except (TimeoutError, OSError):
        return 0, time.monotonic() - began
    finally:
        connection.close()


# ---- the SQLite file's mode ----


def test_a_new_sqlite_log_and_its_wal_and_shm_are_readable_by_their_owner_only(tmp_path):
    before = os.umask(0o022)  # the usual umask, under which files are made world-readable
    try:
        path = tmp_path / "new-folder" / "log.db"
        with make_client(f"sqlite:///{path}") as client:
            assert client.post("/v1/decisions", json=P_1001).status_code == 201
            made = [path, path.parent / "log.db-wal", path.parent / "log.db-shm"]
            assert all(one.exists() for one in made), sorted(path.parent.iterdir())
            for one in made:
                assert stat.S_IMODE(one.stat().st_mode) == 0o600, (one.name, oct(one.stat().st_mode))
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    finally:
        os.umask(before)


def test_an_existing_world_readable_log_loses_the_worlds_permissions(tmp_path):
    path = tmp_path / "log.db"
    sqlite3.connect(path).close()
    path.chmod(0o644)
    with make_client(f"sqlite:///{path}") as client:
        assert client.get("/healthz").status_code == 200
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


# ---- a SQLite lock held by another process ----


def test_a_sqlite_lock_held_elsewhere_never_stops_the_event_loop(tmp_path, monkeypatch):
    """Another connection holds BEGIN EXCLUSIVE: a decision waits at most the timeout and gets a 503, while
    /healthz and a stored decision keep being answered at once; once the lock goes, decisions are stored."""
    monkeypatch.setenv("CARERULES_DB_TIMEOUT_SECONDS", str(TIMEOUT))
    path = tmp_path / "log.db"
    with served(f"sqlite:///{path}", workers=1) as (base, _pid):
        port = int(base.rsplit(":", 1)[1])
        body, json_headers = json.dumps(P_1001).encode(), {"Content-Type": "application/json"}
        assert request(port, "POST", "/v1/decisions", body, json_headers)[0] == 201
        holder = sqlite3.connect(path, isolation_level=None, timeout=0)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            writes: list[tuple[int, float]] = []

            def write() -> None:
                writes.append(request(port, "POST", "/v1/decisions", body, json_headers))

            writers = [threading.Thread(target=write) for _ in range(3)]
            for one in writers:
                one.start()
            time.sleep(0.3)  # the decisions are waiting for the lock
            others = []
            while any(one.is_alive() for one in writers):
                others.append(request(port, "GET", "/healthz"))
                others.append(request(port, "GET", "/v1/decisions/1"))
            for one in writers:
                one.join()
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert [status for status, _ in writes] == [503, 503, 503]
        assert all(took < TIMEOUT + MARGIN for _, took in writes), writes
        assert len(others) >= 4 and {status for status, _ in others} == {200}, others
        assert max(took for _, took in others) < 0.5, others
        assert request(port, "POST", "/v1/decisions", body, json_headers)[0] == 201


# ---- PostgreSQL that does not answer ----


@contextmanager
def postgres_server(url: str, proxy: FreezableProxy | None) -> Iterator[tuple[int, dict[str, str], dict[str, str]]]:
    """A server on ``url`` (through ``proxy``) with two users: (port, a token's headers seen before the trouble,
    another user's headers never seen)."""
    from api.auth.identity import new_token
    from api.store.decision_log import DecisionLog
    from api.store.workflow import WorkflowStore

    log = DecisionLog(url)
    log.upgrade()
    store, tokens = WorkflowStore(log.engine), {}
    for name, roles in (("seen", ("broker", "finance")), ("unseen", ("broker",))):
        token, key, hashed = new_token()
        store.add_user(name, roles, key, hashed, FIXED_NOW)
        tokens[name] = {"Authorization": f"Bearer {token}"}
    log.dispose()
    served_url = url
    if proxy is not None:
        parts = urllib.parse.urlsplit(url)
        user = parts.netloc.rsplit("@", 1)[0]
        served_url = urllib.parse.urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{proxy.port}"))
    with served(served_url, workers=1) as (base, _pid):
        port = int(base.rsplit(":", 1)[1])
        body, headers = json.dumps(P_1001).encode(), {**tokens["seen"], "Content-Type": "application/json"}
        assert request(port, "POST", "/v1/decisions", body, headers)[0] == 201
        # Many reads at once, so that the pool keeps several open connections: a request under trouble meets a
        # connection that was working (a new one would be bounded by connect_timeout alone).
        readers = [
            threading.Thread(target=request, args=(port, "GET", "/v1/decisions/1"), kwargs={"headers": tokens["seen"]})
            for _ in range(12)
        ]
        for one in readers:
            one.start()
        for one in readers:
            one.join()
        yield port, tokens["seen"], tokens["unseen"]


def every_route(port: int, seen: dict[str, str], unseen: dict[str, str]) -> dict[str, tuple[int, float]]:
    json_headers = {**seen, "Content-Type": "application/json"}
    csrf = {"Cookie": "carerules_csrf=abc", "Content-Type": "application/x-www-form-urlencoded"}
    return {
        "healthz": request(port, "GET", "/healthz"),
        "decide": request(port, "POST", "/v1/decisions", json.dumps(P_1001).encode(), json_headers),
        "list": request(port, "GET", "/v1/decisions", headers=seen),
        "one": request(port, "GET", "/v1/decisions/1", headers=seen),
        "replay": request(port, "GET", "/v1/decisions/1/replay", headers=seen),
        "page": request(port, "GET", "/decisions", headers=seen),
        "audit file": request(port, "GET", "/v1/audits/abcdef/files/results.csv", headers=seen),
        "token sign-in": request(port, "GET", "/v1/decisions", headers=unseen),
        "page sign-in": request(port, "POST", "/signin", b"name=unseen&token=x&csrf_token=abc", csrf),
    }


def answered_in_time(answers: dict[str, tuple[int, float]]) -> None:
    late = {route: got for route, got in answers.items() if got[0] != 503 or got[1] > TIMEOUT + MARGIN}
    assert not late, f"not a 503 within {TIMEOUT + MARGIN:g} s: {late}"


@pytest.fixture
def postgres(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("CARERULES_DB_TIMEOUT_SECONDS", str(TIMEOUT))
    with postgres_schema(postgres_url()) as url:
        yield url


def test_a_frozen_postgresql_gives_every_route_a_503_within_the_timeout(postgres):
    """As a SIGSTOP of the server: connections open, nothing answered (a relay that stops passing bytes)."""
    parts = urllib.parse.urlsplit(postgres)
    proxy = FreezableProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    try:
        with postgres_server(postgres, proxy) as (port, seen, unseen):
            body = json.dumps(P_1001).encode()
            proxy.frozen.set()
            answered_in_time(every_route(port, seen, unseen))
            proxy.frozen.clear()
            time.sleep(0.5)
            assert request(port, "GET", "/healthz")[0] == 200
            assert request(port, "POST", "/v1/decisions", body, {**seen, "Content-Type": "application/json"})[0] == 201
    finally:
        proxy.close()


def test_a_locked_postgresql_gives_every_route_a_503_within_the_timeout(postgres):
    """Another connection holds ACCESS EXCLUSIVE locks on every table of the log (users included)."""
    with postgres_server(postgres, None) as (port, seen, unseen):
        body = json.dumps(P_1001).encode()
        engine = create_engine(postgres)
        try:
            with engine.connect() as holder:
                tables = (
                    holder.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
                    .scalars()
                    .all()
                )
                holder.execute(text(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE"))
                answers = every_route(port, seen, unseen)
                holder.rollback()
        finally:
            engine.dispose()
        answered_in_time({route: got for route, got in answers.items() if route != "healthz"})
        assert answers["healthz"][0] == 200  # SELECT 1 needs no table
        assert request(port, "POST", "/v1/decisions", body, {**seen, "Content-Type": "application/json"})[0] == 201


def test_a_pooled_connection_cut_after_its_call_is_connected_afresh_not_a_503(postgres):
    """The deadlines' watcher cut a connection whose call then ended and which went back to the pool: the next
    checkout connects afresh (the database answers) instead of taking the old cut for a database that does not."""
    from api.store.decision_log import Deadlines, _watch_calls

    engine = create_engine(postgres, pool_size=1, max_overflow=0)
    deadlines = Deadlines(TIMEOUT)
    _watch_calls(engine, deadlines)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
            dbapi = connection.connection.dbapi_connection
        deadlines._cut(dbapi)  # as the watcher, late: the connection is idle in the pool
        assert deadlines.expired(dbapi)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
            assert connection.connection.dbapi_connection is not dbapi
    finally:
        engine.dispose()
