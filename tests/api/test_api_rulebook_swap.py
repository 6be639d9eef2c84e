"""The server serves the edition in force (SPEC §18, first point; api/serve/edition.py): a changed rulebook folder is
swapped in on every worker within a second, atomically between requests; a broken one is refused, logged with its
file and line, and the previous edition keeps serving; /healthz, each page and each decision name the edition."""

from __future__ import annotations

import http.client
import json
import logging
import os
import signal
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from api.bench.loadgen import served
from api.serve.workers import spreads_connections
from engine.decide import Engine
from engine.rulebook.loader import load_rulebook
from engine.rulebook.strict_yaml import load_yaml
from tests.api.conftest import add_user, make_client
from tests.conftest import copy_rules, placement

MEDIAN = Path("parameters/care_homes/benchmark/lot_1.yaml")  # the LaingBuisson median for Lot 1
LOT_1 = placement(care_type="residential", core_weekly_fee="960.00")  # a residential placement: Lot 1
RAISE = Decimal("60.00")  # the new median is the old one and this: the outcome changes with it
SWAP_SECONDS = 1.0


def write_atomically(path: Path, text: str) -> None:
    """As an editor or ``rates import`` saves: a whole new file renamed over the old one."""
    part = path.with_name(path.name + ".part")
    part.write_text(text, encoding="utf-8")
    os.replace(part, path)


def raise_median(rules: Path, atomically: bool = True) -> Decimal:
    """The Lot 1 median's latest value raised by RAISE, in the file; the new value."""
    path = rules / MEDIAN
    text = path.read_text(encoding="utf-8")
    values = load_yaml(path)["values"]
    latest = max(values)
    old = Decimal(str(values[latest]))
    new = old + RAISE
    line = f"{latest.isoformat()}: {old:.2f}"
    assert line in text
    changed = text.replace(line, f"{latest.isoformat()}: {new:.2f}")
    if atomically:
        write_atomically(path, changed)
    else:
        path.write_text(changed, encoding="utf-8")
    return new


def break_median(rules: Path) -> int:
    """A value that is not a number in the median's file; the line it is on."""
    path = rules / MEDIAN
    lines = path.read_text(encoding="utf-8").splitlines()
    last = max(index for index, line in enumerate(lines) if line.strip()[:4].isdigit())
    lines[last] = lines[last].split(":")[0] + ": nine hundred"
    write_atomically(path, "\n".join(lines) + "\n")
    return last + 1


def expected(rules: Path) -> tuple[str, dict[str, Any]]:
    """The rulebook's version and LOT_1's decision on it, as the server's JSON gives them."""
    engine = Engine(load_rulebook(rules))
    return engine.book.version, json.loads(engine.decide(LOT_1).to_json(indent=None))


def wait_for(check: Any, seconds: float) -> float:
    """Seconds until ``check()`` is true; fails after ``seconds``."""
    started = time.monotonic()
    while not check():
        elapsed = time.monotonic() - started
        assert elapsed < seconds, f"not within {seconds} s"
        time.sleep(0.02)
    return time.monotonic() - started


# One process (the test client): the watcher, the refusal, the reload route, the page and the metrics


def test_a_changed_rulebook_is_served_within_a_second_and_named_everywhere(tmp_path):
    rules = copy_rules(tmp_path / "rules")
    old_version, old_decision = expected(rules)
    with make_client(f"sqlite:///{tmp_path / 'log.db'}", rules_dir=rules) as client:
        first = client.post("/v1/decisions", json=LOT_1).json()
        assert first["rulebook_version"] == old_version
        health = client.get("/healthz").json()
        assert health["rulebook_version"] == health["edition"]["version"] == old_version
        assert health["refused"] is None and health["edition"]["published_at"]
        new_median = raise_median(rules, atomically=False)  # saved in place, as a text editor may
        new_version, new_decision = expected(rules)
        assert new_decision["figures"]["benchmark_weekly"] == float(new_median)
        assert new_decision["outcome"] != old_decision["outcome"]  # the change matters to this placement
        wait_for(lambda: client.get("/healthz").json()["rulebook_version"] == new_version, SWAP_SECONDS)
        answer = client.post("/v1/decisions", json=LOT_1)
        decision = answer.json()
        assert decision["rulebook_version"] == new_version
        assert (decision["outcome"], decision["figures"]) == (new_decision["outcome"], new_decision["figures"])
        stored = client.get(answer.headers["Location"]).json()
        assert stored["rulebook_version"] == new_version and stored["decision"]["outcome"] == decision["outcome"]
        page = client.get("/").text
        assert f'data-version="{new_version}"' in page and "published" in page
        assert client.get("/openapi.json").json()["info"]["version"] == new_version
        metrics = client.get("/metrics").text  # local single-user mode: every role
        assert f'carerules_rulebook_info{{version="{new_version}"}} 1.0' in metrics
        assert f'carerules_rulebook_info{{version="{old_version}"}} 0.0' in metrics


def test_a_broken_rulebook_is_refused_logged_with_file_and_line_and_the_old_one_serves(tmp_path, caplog):
    rules = copy_rules(tmp_path / "rules")
    version, decision = expected(rules)
    caplog.set_level(logging.ERROR, logger="carerules.api")
    with make_client(f"sqlite:///{tmp_path / 'log.db'}", rules_dir=rules) as client:
        line = break_median(rules)
        wait_for(lambda: client.get("/healthz").json()["refused"] is not None, SWAP_SECONDS)
        health = client.get("/healthz").json()
        assert health["rulebook_version"] == version
        refused = health["refused"]
        assert refused["file"].endswith(MEDIAN.name) and refused["line"] == line and refused["reason"]
        served_now = client.post("/v1/decisions", json=LOT_1).json()
        assert served_now["rulebook_version"] == version and served_now["outcome"] == decision["outcome"]
        logged = [one for one in caplog.records if getattr(one, "fields", {}).get("event") == "rulebook_refused"]
        assert len(logged) == 1  # once per change, not once per look
        fields = logged[0].fields  # type: ignore[attr-defined]
        assert fields["file"] == refused["file"] and fields["line"] == line and fields["serving"] == version
        # mended: the refusal is gone, and the mended edition serves
        new_median = raise_median(copy_rules(tmp_path / "mended"))
        write_atomically(rules / MEDIAN, (tmp_path / "mended" / MEDIAN).read_text(encoding="utf-8"))
        new_version, _ = expected(rules)
        wait_for(lambda: client.get("/healthz").json()["rulebook_version"] == new_version, SWAP_SECONDS)
        assert client.get("/healthz").json()["refused"] is None
        assert client.post("/v1/decisions", json=LOT_1).json()["figures"]["benchmark_weekly"] == float(new_median)


def test_reload_route_is_for_an_admin_and_swaps_at_once(tmp_path):
    rules = copy_rules(tmp_path / "rules")
    with make_client(f"sqlite:///{tmp_path / 'log.db'}", rules_dir=rules) as client:
        client.app.state.editions.stop()  # type: ignore[attr-defined]  # no watcher: only the route reloads
        admin = add_user(client, "ada", "admin")
        broker = add_user(client, "bo", "broker")
        assert client.post("/v1/rulebook/reload", headers=broker).status_code == 403
        unchanged = client.post("/v1/rulebook/reload", headers=admin)
        assert unchanged.status_code == 200 and unchanged.json()["swapped"] is False
        raise_median(rules)
        new_version, _ = expected(rules)
        assert client.get("/healthz").json()["rulebook_version"] != new_version  # nobody looked yet
        swapped = client.post("/v1/rulebook/reload", headers=admin).json()
        assert swapped["swapped"] is True and swapped["edition"]["version"] == new_version
        line = break_median(rules)
        refused = client.post("/v1/rulebook/reload", headers=admin)
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "rulebook_refused"
        assert f"{MEDIAN.name}:{line}" in refused.json()["error"]["message"]
        assert client.get("/healthz").json()["rulebook_version"] == new_version


# Two worker processes under 16 concurrent clients


CLIENTS = 16


def healthz_of_every_worker(base: str, workers: int, wanted: str, seconds: float) -> float:
    """Seconds until every worker's /healthz names ``wanted`` (each asked on a new connection: the kernel spreads
    them; a worker is known by its ``worker`` name)."""
    host, port = base.removeprefix("http://").split(":")
    seen: dict[str, str] = {}
    started = time.monotonic()
    while len(seen) < workers or any(version != wanted for version in seen.values()):
        assert time.monotonic() - started < seconds, f"workers still serving {seen} after {seconds} s"
        one = http.client.HTTPConnection(host, int(port), timeout=5)
        one.request("GET", "/healthz", headers={"Connection": "close"})
        body = json.loads(one.getresponse().read())
        one.close()
        seen[body["worker"]] = body["rulebook_version"]
    return time.monotonic() - started


@pytest.mark.skipif(not spreads_connections(), reason="one socket a worker needs Linux's SO_REUSEPORT")
def test_two_workers_under_load_swap_atomically_and_refuse_a_broken_edition(tmp_path):
    rules = copy_rules(tmp_path / "rules")
    old_version, old_decision = expected(rules)
    log_file = tmp_path / "server.log"
    env = {"CARERULES_RULES_DIR": str(rules)}
    with served(f"sqlite:///{tmp_path / 'log.db'}", workers=2, log_file=log_file, extra_env=env) as (base, _):
        host, port = base.removeprefix("http://").split(":")
        healthz_of_every_worker(base, 2, old_version, 30)
        stop = threading.Event()
        answers: list[tuple[float, int, dict[str, Any], str]] = []  # (started, status, decision, location)
        failures: list[BaseException] = []
        body = json.dumps(LOT_1)

        def client() -> None:
            try:
                connection = http.client.HTTPConnection(host, int(port), timeout=30)
                while not stop.is_set():
                    started = time.monotonic()
                    connection.request("POST", "/v1/decisions", body, {"Content-Type": "application/json"})
                    response = connection.getresponse()
                    answers.append(
                        (started, response.status, json.loads(response.read()), response.getheader("Location") or "")
                    )
                connection.close()
            except BaseException as exc:  # noqa: BLE001 (reported by the test below)
                failures.append(exc)

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(1.0)  # answers from the old edition under load
            raise_median(rules)
            new_version, new_decision = expected(rules)
            took = healthz_of_every_worker(base, 2, new_version, SWAP_SECONDS)
            visible = time.monotonic()  # every worker now serves the new edition
            time.sleep(1.0)  # answers from the new edition under load
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        assert not failures, failures
        assert took < SWAP_SECONDS
        by_version = {old_version: old_decision, new_version: new_decision}
        assert new_decision["outcome"] != old_decision["outcome"]
        assert {status for _, status, _, _ in answers} == {201}
        for started, _, decision, _ in answers:
            # wholly one edition: the outcome, figures and findings of the edition it names
            want = by_version[decision["rulebook_version"]]
            assert (decision["outcome"], decision["figures"], decision["findings"]) == (
                want["outcome"],
                want["figures"],
                want["findings"],
            )
            if started > visible:
                assert decision["rulebook_version"] == new_version
        versions = [decision["rulebook_version"] for _, _, decision, _ in answers]
        assert versions.count(old_version) > CLIENTS and versions.count(new_version) > CLIENTS
        # the log records each decision with the edition that made it
        checked = http.client.HTTPConnection(host, int(port), timeout=10)
        for _, _, decision, location in answers[:: max(1, len(answers) // 200)]:
            checked.request("GET", location)
            stored = json.loads(checked.getresponse().read())
            assert stored["rulebook_version"] == decision["rulebook_version"]
            assert stored["decision"] == decision
        checked.close()

        # a broken edition: refused on every worker, logged with file and line; the new one keeps serving
        line = break_median(rules)
        deadline = time.monotonic() + 5
        refusals: dict[str, dict[str, Any]] = {}
        while len(refusals) < 2:
            assert time.monotonic() < deadline, f"refused on {len(refusals)} worker(s) only"
            one = http.client.HTTPConnection(host, int(port), timeout=5)
            one.request("GET", "/healthz", headers={"Connection": "close"})
            health = json.loads(one.getresponse().read())
            one.close()
            assert health["rulebook_version"] == new_version
            if health["refused"]:
                refusals[health["worker"]] = health["refused"]
        for refused in refusals.values():
            assert refused["file"].endswith(MEDIAN.name) and refused["line"] == line
        one = http.client.HTTPConnection(host, int(port), timeout=5)
        one.request("POST", "/v1/decisions", body, {"Content-Type": "application/json"})
        assert json.loads(one.getresponse().read())["rulebook_version"] == new_version
        one.close()
        time.sleep(0.3)  # the log lines are flushed as written; give the workers a moment
    lines = [json.loads(text) for text in log_file.read_text(encoding="utf-8").splitlines() if text.startswith("{")]
    refused_lines = [entry for entry in lines if entry.get("event") == "rulebook_refused"]
    assert len(refused_lines) == 2  # one per worker
    assert all(entry["line"] == line and entry["file"].endswith(MEDIAN.name) for entry in refused_lines)
    assert all(entry["serving"] == new_version and entry["level"] == "error" for entry in refused_lines)


def test_wake_loads_the_folder_at_once(tmp_path):
    """SIGHUP's handler (api/serve/server.py) only calls ``wake``: the watcher looks at once, not at its next turn."""
    rules = copy_rules(tmp_path / "rules")
    with make_client(f"sqlite:///{tmp_path / 'log.db'}", rules_dir=rules) as client:
        editions = client.app.state.editions  # type: ignore[attr-defined]
        editions.stop()
        editions.check_seconds = 3600.0  # its own turn would never come within the test
        editions.start()
        time.sleep(0.1)  # the watcher is waiting for its turn
        raise_median(rules)
        new_version, _ = expected(rules)
        editions.wake()
        wait_for(lambda: client.get("/healthz").json()["rulebook_version"] == new_version, SWAP_SECONDS)


@pytest.mark.skipif(not spreads_connections(), reason="one socket a worker needs Linux's SO_REUSEPORT")
def test_sighup_reaches_every_worker_and_stops_no_process(tmp_path):
    """SIGHUP to ``carerules serve``: its default action would end the server; here the parent passes it on and
    every worker looks at its rulebook folder again (a forced load of an unchanged folder swaps nothing)."""
    rules = copy_rules(tmp_path / "rules")
    version, _ = expected(rules)
    env = {"CARERULES_RULES_DIR": str(rules)}
    with served(f"sqlite:///{tmp_path / 'log.db'}", workers=2, extra_env=env) as (base, pid):
        healthz_of_every_worker(base, 2, version, 30)
        os.kill(pid, signal.SIGHUP)
        time.sleep(1.0)
        assert os.waitpid(pid, os.WNOHANG) == (0, 0)  # the server is still running
        healthz_of_every_worker(base, 2, version, 5)
