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


def test_the_shell_bench_drives_the_whole_app_and_times_both_halves(monkeypatch, tmp_path):
    """api/bench/shell.py: every request answered 201 through the whole ASGI app (it stops otherwise), the shell
    alone cheaper than a request with its decision."""
    from api.bench import shell

    monkeypatch.setattr(shell.tempfile, "mkdtemp", lambda prefix="": str(tmp_path))
    timed = shell.main(requests=50, rounds=1)
    assert len(timed["shell"]) == len(timed["request"]) == 1
    assert 0 < timed["shell"][0] < timed["request"][0]
