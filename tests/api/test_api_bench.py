"""`carerules bench api` runs end to end on a tiny load: every request decided and stored, and the CPU each
decision cost the server and the load generator read from /proc (a benchmark's figures are not asserted)."""

from __future__ import annotations

import sys

import pytest

from api.bench.benchmark import api_benchmark
from api.bench.loadgen import cpu_seconds


def test_bench_api_runs_and_reports_cpu_per_decision(tmp_path):
    result = api_benchmark(single=20, concurrent=60, connections=4, database_url=f"sqlite:///{tmp_path / 'b.db'}")
    assert result["non_201_replies"] == 0
    assert result["one_connection"]["requests"] == 20 and result["concurrent"]["requests"] == 60
    # the warm-up's too (it sends the 60 requests once): every 201 is a row in the log, counted by the benchmark
    assert result["decisions_answered_201"] == result["decisions_in_the_log"] == 60 + 20 + 60
    assert result["every_answered_decision_stored"] is True
    assert result["sqlite_synchronous"] == "full"  # the server's default, measured unless asked otherwise
    assert 0 <= result["concurrent"]["machine_idle_share"] <= 1
    if sys.platform == "linux":
        assert result["concurrent"]["server_cpu_us_per_decision"] > 0
        assert result["concurrent"]["load_generator_cpu_us_per_decision"] >= 0


@pytest.mark.skipif(sys.platform != "linux", reason="/proc is Linux's")
def test_cpu_seconds_counts_a_process_and_the_processes_under_it():
    import os
    import subprocess

    busy = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    parent = subprocess.Popen(
        [sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {busy!r}])"]
    )
    try:
        used = 0.0
        while parent.poll() is None:  # the child's time counts while it runs under the parent
            used = max(used, cpu_seconds(parent.pid) or 0.0)
    finally:
        parent.wait()
    assert used >= 0.2
    assert cpu_seconds(os.getpid()) is not None and cpu_seconds(2**22 + 7) is None  # no such process


def test_bench_api_compares_with_a_bare_endpoint_served_the_same_way_on_the_port_asked(tmp_path):
    from api.bench.loadgen import free_port

    port = free_port()
    result = api_benchmark(
        single=10,
        concurrent=30,
        connections=2,
        database_url=f"sqlite:///{tmp_path / 'b.db'}",
        workers=2,
        port=port,
        compare_bare=True,
    )
    bare = result["bare_fastapi_endpoint"]
    assert bare["non_201_replies"] == 0 and bare["workers"] == 2 and bare["requests_per_s"] > 0
    ratio = result["ratio_to_bare"]
    assert ratio["throughput_concurrent"] == round(result["concurrent"]["decisions_per_s"] / bare["requests_per_s"], 3)
    assert ratio["target_throughput_concurrent"] == 0.3
    assert result["every_answered_decision_stored"] is True


def test_the_bare_endpoint_reads_the_json_and_answers_201():
    from fastapi.testclient import TestClient

    from api.bench.bare import bare_app

    with TestClient(bare_app()) as client:
        answer = client.post("/v1/decisions", json={"service": "care_home", "lot": 1})
        assert answer.status_code == 201 and answer.json() == {"received": 2}
        assert client.get("/healthz").status_code == 200
        assert (
            client.post("/v1/decisions", content=b"{not json", headers={"content-type": "application/json"}).status_code
            >= 400
        )


def test_bench_api_options_parse(monkeypatch):
    from typer.testing import CliRunner

    import api.bench.benchmark as benchmark
    from engine.cli.main import app

    seen = {}

    def fake(*args):
        seen["args"] = args
        return {"ok": True}

    monkeypatch.setattr(benchmark, "api_benchmark", fake)
    result = CliRunner().invoke(app, ["bench", "api", "--workers", "2", "--port", "8123", "--compare-bare"])
    assert result.exit_code == 0, result.output
    assert seen["args"][-3:] == (8123, True, "full") and seen["args"][5] == 2
    result = CliRunner().invoke(app, ["bench", "api", "--sqlite-synchronous", "normal"])
    assert result.exit_code == 0, result.output
    assert seen["args"][-1] == "normal"
    assert CliRunner().invoke(app, ["bench", "api", "--sqlite-synchronous", "off"]).exit_code == 2
    assert CliRunner().invoke(app, ["bench", "api", "--port", "0"]).exit_code == 2


def test_bench_api_rounds_alternate_with_the_bare_endpoint_and_give_each_round_and_the_medians(monkeypatch):
    """``--rounds``: the whole benchmark again and again (each round the API then the bare endpoint), every round's
    figures kept and the ratio's median, range and the rounds within the target reported from them."""
    import json

    from typer.testing import CliRunner

    import api.bench.benchmark as benchmark
    from engine.cli.main import app

    figures = iter([(0.71, 3600, 12000, 400, True), (1.20, 3000, 12500, 480, True), (0.80, 4200, 12600, 390, False)])
    calls = []

    def fake(*args):
        calls.append(args)
        median_ms, per_s, bare, cpu, stored = next(figures)
        return {
            "benchmark": "HTTP API",
            "workers": args[5],
            "request_log": "off",
            "database": "sqlite (temporary file)",
            "sqlite_synchronous": args[9],
            "one_connection": {"median_ms": median_ms, "target_median_ms": 1},
            "concurrent": {
                "connections": args[2],
                "decisions_per_s": per_s,
                "server_cpu_us_per_decision": cpu,
                "machine_idle_share": 0.05,
            },
            "non_201_replies": 0 if stored else 2,
            "every_answered_decision_stored": stored,
            "bare_fastapi_endpoint": {"requests_per_s": bare},
            "ratio_to_bare": {"throughput_concurrent": round(per_s / bare, 3), "target_throughput_concurrent": 0.3},
            "machine": {"cores": 2},
        }

    monkeypatch.setattr(benchmark, "api_benchmark", fake)
    result = CliRunner().invoke(app, ["bench", "api", "--workers", "2", "--compare-bare", "--rounds", "3"])
    assert result.exit_code == 0, result.output
    assert len(calls) == 3 and all(args[-2] is True for args in calls)  # each round compares with the bare endpoint
    said = json.loads(result.output)
    assert [one["ratio_throughput_concurrent"] for one in said["rounds"]] == [0.3, 0.24, 0.333]
    assert said["ratio_to_bare"] == {
        "throughput_concurrent_median": 0.3,
        "throughput_concurrent_range": [0.24, 0.333],
        "rounds_within_target": 2,
        "target_throughput_concurrent": 0.3,
    }
    assert said["median_ms_one_connection"] == 0.8 and said["rounds_within_median_ms"] == 2
    assert said["decisions_per_s_median"] == 3600 and said["server_cpu_us_per_decision_median"] == 400
    # one round with an answered decision missing from the log: the whole run says so
    assert said["every_answered_decision_stored"] is False and said["non_201_replies"] == 2
    assert CliRunner().invoke(app, ["bench", "api", "--rounds", "0"]).exit_code == 2


def test_the_shell_bench_drives_the_whole_app_and_times_both_halves(monkeypatch, tmp_path):
    """api/bench/shell.py: every request answered 201 through the whole ASGI app (it stops otherwise), the shell
    alone cheaper than a request with its decision."""
    from api.bench import shell

    monkeypatch.setattr(shell.tempfile, "mkdtemp", lambda prefix="": str(tmp_path))
    timed = shell.main(requests=50, rounds=1)
    assert len(timed["shell"]) == len(timed["request"]) == 1
    assert 0 < timed["shell"][0] < timed["request"][0]
