"""Fixtures for the API tests: an app on a temporary SQLite log, PostgreSQL when a test server is given,
and a real server process on loopback. Tests that need PostgreSQL or Chromium skip when those are absent,
except under CI=true, where a missing one is a failure (.ci/run installs both)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from api.main import create_app
from api.serve.settings import Settings
from tests.conftest import placement

FIXED_NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
P_1001 = placement()  # the SPEC's worked example


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing(what: str) -> None:
    if in_ci():
        pytest.fail(f"{what} is required under CI=true (scripts/ci-system.sh installs it)")
    pytest.skip(f"{what} not available here")


def postgres_url() -> str:
    url = os.environ.get("CARERULES_TEST_POSTGRES_URL")
    if not url:
        missing("PostgreSQL (CARERULES_TEST_POSTGRES_URL)")
    assert url
    return url


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A new, empty schema for one test, dropped afterwards: the URL given points the app's connections at it.

    Test runs (several checkouts, CI) may share one PostgreSQL database; each test's tables live apart.
    """
    schema = f"test_{uuid.uuid4().hex[:16]}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'decisions.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'decisions.db'}"
        return
    with postgres_schema(postgres_url()) as url:
        yield url


def make_client(url: str, **settings: Any) -> TestClient:
    settings.setdefault("allowed_hosts", ["testserver"])  # the Host header TestClient sends
    return TestClient(create_app(Settings(database_url=url, **settings), clock=lambda: FIXED_NOW))


def add_user(client: TestClient, name: str, *roles: str) -> dict[str, str]:
    """A user in the app's database; the headers that sign in as them (the local single-user mode ends)."""
    from api.auth.identity import new_token

    token, key, hashed = new_token()
    auth = client.app.state.auth  # type: ignore[attr-defined]
    auth.store.add_user(name, roles, key, hashed, FIXED_NOW)
    auth.no_users_until = 0.0  # local mode ends on the next request, not within LOCAL_RECHECK_SECONDS
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient]:
    with make_client(sqlite_url) as test_client:
        yield test_client


@pytest.fixture
def chromium() -> tuple[str, str]:
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not browser or not driver:
        missing("Debian chromium and chromium-driver")
    assert browser and driver
    return browser, driver


class FreezableProxy:
    """A TCP relay to PostgreSQL that can stop passing bytes on (``frozen``), as a stopped server would: the
    connections stay open, nothing is answered."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.frozen = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                while self.frozen.is_set():
                    time.sleep(0.01)
                sink.sendall(data)
        for one in (source, sink):
            with contextlib.suppress(OSError):
                one.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.frozen.clear()
        self.listener.close()
