"""``carerules serve --workers N`` (api/serve/workers.py): each worker has its own socket on the port, so the kernel
spreads connections over the workers; a worker that dies is replaced; workers do not outlive their parent."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from api.bench.loadgen import children_of as children
from api.bench.loadgen import served
from api.serve.workers import spreads_connections
from tests.conftest import placement

pytestmark = pytest.mark.skipif(not spreads_connections(), reason="one socket a worker needs Linux's SO_REUSEPORT")


def connections_held(pid: int, port: int, state: str = "01") -> int:
    """TCP sockets on ``port`` in ``state`` (01: established, 0A: listening) that this process holds (/proc)."""
    established = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                established.add(fields[9])  # the socket's inode
    held = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in established:
            held += 1
    return held


def healthz(base: str) -> int:
    with urllib.request.urlopen(base + "/healthz", timeout=5) as answer:
        return int(answer.status)


def workers_of(pid: int, count: int, timeout: float = 20) -> list[int]:
    """The server's worker processes: its children serving the app (not multiprocessing's helper)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [
            child
            for child in children(pid)
            if "multiprocessing.resource_tracker" not in Path(f"/proc/{child}/cmdline").read_text(errors="replace")
        ]
        if len(found) == count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"expected {count} workers under {pid}, found {children(pid)}")


def test_connections_opened_together_are_spread_over_the_workers(tmp_path):
    """A client opening 32 keep-alive connections at once: both workers serve some (with one shared socket, the
    first worker to wake took them all)."""
    with served(f"sqlite:///{tmp_path / 'log.db'}", workers=2) as (base, pid):
        port = int(base.rsplit(":", 1)[1])
        workers = workers_of(pid, 2)
        deadline = time.monotonic() + 30
        while not all(connections_held(worker, port, "0A") for worker in workers):  # both started listening
            assert time.monotonic() < deadline, "a worker never listened"
            time.sleep(0.1)
        open_ones = [socket.create_connection(("127.0.0.1", port)) for _ in range(32)]
        try:
            for one in open_ones:  # each connection served once, so that each has been accepted
                one.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                assert one.recv(65536).startswith(b"HTTP/1.1 200")
            held = {worker: connections_held(worker, port) for worker in workers}
        finally:
            for one in open_ones:
                one.close()
    assert sum(held.values()) == 32, held
    assert all(count >= 1 for count in held.values()), held


def test_a_worker_that_dies_is_replaced(tmp_path):
    with served(f"sqlite:///{tmp_path / 'log.db'}", workers=2) as (base, pid):
        first, second = workers_of(pid, 2)
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while first in children(pid) or len(workers_of(pid, 2)) != 2 or second not in children(pid):
            assert time.monotonic() < deadline, "the dead worker was not replaced"
            time.sleep(0.1)
        for _ in range(10):
            assert healthz(base) == 200


def test_workers_do_not_outlive_a_parent_that_was_killed(tmp_path):
    with served(f"sqlite:///{tmp_path / 'log.db'}", workers=2) as (_base, pid):
        workers = workers_of(pid, 2)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while any(Path(f"/proc/{one}").exists() and "Z" not in _state(one) for one in workers):
            assert time.monotonic() < deadline, f"workers {workers} still running after their parent was killed"
            time.sleep(0.1)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


@pytest.mark.parametrize("other_shares", [False, True])
def test_a_port_another_server_listens_on_is_refused(tmp_path, other_shares):
    """Another server on the port — even one in a SO_REUSEPORT group of the same user, as another carerules would
    be — is not joined: carerules stops with the reason, as uvicorn's own bind does."""
    from api.serve.workers import bound_socket

    other = bound_socket("127.0.0.1", 0, shared=other_shares)
    other.listen()
    port = other.getsockname()[1]
    try:
        env = {**os.environ, "CARERULES_DATABASE_URL": f"sqlite:///{tmp_path / 'log.db'}"}
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                "from engine.cli.main import app; app()",
                "serve",
                "--port",
                str(port),
                "--workers",
                "2",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        other.close()
    assert done.returncode == 3, done.stdout + done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stdout + done.stderr
    assert "Address already in use" in done.stdout + done.stderr


def test_workers_that_cannot_start_stop_the_server_rather_than_restart_for_ever():
    """An app that cannot be loaded in the workers: the supervisor stops with uvicorn's start-up failure code."""
    code = (
        "import sys; from api.serve.workers import serve_workers; "
        "sys.exit(serve_workers('127.0.0.1', 0, 2, {'app': 'no_such_module:app', 'log_level': 'critical'}))"
    )
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stdout + done.stderr
    assert time.monotonic() - began < 60


def test_every_decision_answered_before_the_server_was_killed_is_in_the_log(database_url):
    """kill -9 of the whole server (parent and both workers) while 32 clients are deciding, on SQLite and on
    PostgreSQL: every decision that was answered 201 is in the log under the id its answer gave, with its own
    placement — a decision is answered only once it is stored (docs/benchmarks.md, "Durability under kill -9")."""
    killed_while_deciding(database_url)


def test_with_sqlite_synchronous_normal_every_decision_answered_before_the_kill_is_in_the_log(tmp_path):
    """The same with ``CARERULES_SQLITE_SYNCHRONOUS=normal``: each commit is in the WAL file before its 201, which
    outlives the server's processes."""
    killed_while_deciding(f"sqlite:///{tmp_path / 'decisions.db'}", {"CARERULES_SQLITE_SYNCHRONOUS": "normal"})


def killed_while_deciding(url: str, extra_env: dict[str, str] | None = None) -> None:
    import http.client
    import json
    import threading

    from api.store.decision_log import DecisionLog

    answered: list[tuple[int, str]] = []
    lock = threading.Lock()

    def client(name: str, port: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for n in range(100_000):
            one = placement(placement_id=f"{name}-{n}")
            try:
                connection.request("POST", "/v1/decisions", json.dumps(one), {"Content-Type": "application/json"})
                reply = connection.getresponse()
                reply.read()
            except (OSError, http.client.HTTPException):
                return  # the server is gone
            if reply.status == 201:
                with lock:
                    answered.append((int(reply.getheader("Location", "").rsplit("/", 1)[1]), one["placement_id"]))

    with served(url, workers=2, extra_env=extra_env) as (base, pid):
        port = int(base.rsplit(":", 1)[1])
        workers = workers_of(pid, 2)
        threads = [threading.Thread(target=client, args=(f"K{index}", port)) for index in range(32)]
        for thread in threads:
            thread.start()
        time.sleep(2)
        for one in (pid, *workers):
            os.kill(one, signal.SIGKILL)
        for thread in threads:
            thread.join(30)
    assert len(answered) > 100, len(answered)
    log = DecisionLog(url)
    try:
        for record_id, placement_id in answered:
            stored = log.get(record_id)
            assert stored is not None and stored.placement_id == placement_id, (record_id, placement_id)
        stored_count = len(log.recent(1_000_000))
        print(f"\n{url.split(':', 1)[0]}: {len(answered)} answered 201, all stored; {stored_count} in the log")
    finally:
        log.dispose()


def test_every_worker_serves_every_audits_downloads(tmp_path):
    """An audit run on one worker: each of its outputs downloaded through 24 new connections (spread over both
    workers by the kernel) is a 200 with the same bytes every time (they were kept in one worker's memory and
    temporary folder, so about half were 404)."""
    import http.client
    import io
    import json

    import pandas as pd

    examples = json.loads((Path(__file__).resolve().parents[2] / "examples" / "placements.json").read_text())
    buffer = io.StringIO()
    pd.DataFrame(examples).to_csv(buffer, index=False)
    boundary = "carerules-test-boundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="book.csv"\r\n'
            f"Content-Type: text/csv\r\n\r\n{buffer.getvalue()}\r\n--{boundary}--\r\n").encode()  # fmt: skip
    with served(f"sqlite:///{tmp_path / 'log.db'}", workers=2) as (base, pid):
        port = int(base.rsplit(":", 1)[1])
        workers_of(pid, 2)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("POST", "/v1/audits", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        reply = connection.getresponse()
        answer = json.loads(reply.read())
        connection.close()
        assert reply.status == 200, answer
        assert len(answer["downloads"]) >= 8
        answers: dict[str, list[tuple[int, bytes]]] = {}
        for name, link in answer["downloads"].items():
            for _ in range(24):
                one = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # a new connection each time
                one.request("GET", link)
                got = one.getresponse()
                answers.setdefault(name, []).append((got.status, got.read()))
                one.close()
    for name, got in answers.items():
        assert [status for status, _ in got] == [200] * 24, (name, [status for status, _ in got])
        assert len({content for _, content in got}) == 1, name
