"""Install the built wheel as a council's IT would: ``python -m build``, then ``pip install dist/*.whl`` in a clean
virtual environment, and run every command from an empty folder outside the repository (slow: built once)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "spec_example.json"


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


class Installed:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.work = root / "work"  # an empty folder outside the repository
        self.work.mkdir()
        self.bin = root / "venv" / "bin"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("CARERULES_", "PYTHON", "VIRTUAL_ENV"))}

    def run(self, *args: str, extra: dict[str, str] | None = None, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.bin / "carerules"), *args],
            cwd=self.work,
            env={**self.env, **(extra or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "Traceback" not in result.stderr
        if ok:
            assert result.returncode == 0, result.stderr
        return result


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("install")
    dist = root / "dist"
    build_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    output = _run([sys.executable, "-m", "build", "--outdir", str(dist), str(REPO)], cwd=root, env=build_env)
    warnings = [line for line in output.splitlines() if "warn" in line.lower()]
    assert not warnings, "\n".join(warnings)  # e.g. setuptools' "Package 'api.web.static' is absent"
    (wheel,) = dist.glob("*.whl")
    _run([sys.executable, "-m", "venv", str(root / "venv")], cwd=root)
    _run([str(root / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)], cwd=root)
    return Installed(root)


def test_the_wheel_is_installed_not_the_checkout(installed: Installed) -> None:
    where = subprocess.run(
        [str(installed.bin / "python"), "-c", "import engine, api; print(engine.__file__, api.__file__)"],
        cwd=installed.work,
        env=installed.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(REPO) not in where and "site-packages" in where
    files = {p.relative_to(installed.root / "venv") for p in (installed.root / "venv").rglob("*") if p.is_file()}
    names = {p.as_posix().split("site-packages/", 1)[-1] for p in files}
    for expected in ("engine/py.typed", "api/py.typed", "api/web/static/style.css", "api/web/templates/base.html",
                     "api/store/migrations/versions/0001_decision_log.py", "api/store/migrations/script.py.mako",
                     "engine/rulebook/shipped/modules/1_care_home_pricing.yaml",
                     "engine/rulebook/shipped/national/base.yaml",
                     "engine/rulebook/shipped/national/parameters/charging/mig/index.yaml"):  # fmt: skip
        assert expected in names
    assert any(name.endswith("dist-info/licenses/LICENSE") for name in names)
    assert not [name for name in names if name.startswith("api/bench/")]  # the API benchmark stays in the checkout


def test_the_api_commands_come_in_through_their_entry_point_but_not_the_api_benchmark(installed: Installed) -> None:
    listed = installed.run("--help").stdout
    assert "serve" in listed and "users" in listed
    assert "--workers" in installed.run("serve", "--help").stdout
    assert "add" in installed.run("users", "--help").stdout
    assert "decision" in installed.run("bench", "--help").stdout
    missing = installed.run("bench", "api", "--help", ok=False)
    assert missing.returncode == 2 and "No such command" in missing.stderr


def test_version(installed: Installed) -> None:
    assert installed.run("--version").stdout.strip() == "carerules 0.1.0"


def test_check_rules_parameters_sample_and_audit_work_outside_the_repository(installed: Installed) -> None:
    decision = json.loads(installed.run("check", str(EXAMPLE)).stdout)
    assert decision["placement_id"] == "P-1001" and decision["outcome"]
    assert "CHP-01" in installed.run("rules").stdout
    assert "care_homes.minimum_age" in installed.run("parameters", "--as-at", "2026-06-01").stdout
    installed.run("sample", "--rows", "40", "--out", "book.csv")
    audited = installed.run("audit", "book.csv", "--out", "out", ok=False)
    assert audited.returncode in (0, 1), audited.stderr  # 1: the sample book has a few bad rows, on purpose
    assert (installed.work / "out" / "results.csv").is_file()


def test_init_writes_a_council_rulebook_and_every_command_takes_it(installed: Installed) -> None:
    installed.run("init", "myrules")
    assert installed.run("init", "myrules", ok=False).returncode == 2  # never over an existing rulebook
    assert not (installed.work / "myrules" / "national").exists()  # it extends the base installed with carerules
    extends = (installed.work / "myrules" / "rulebook.yaml").read_text(encoding="utf-8").split("\nextends: ")[1]
    base = (installed.work / "myrules" / extends.splitlines()[0]).resolve()
    assert base.as_posix().endswith("site-packages/engine/rulebook/shipped/national") and (base / "base.yaml").is_file()
    lot_1 = installed.work / "myrules" / "parameters" / "care_homes" / "benchmark" / "lot_1.yaml"
    lot_1.write_text(lot_1.read_text(encoding="utf-8") + "\n# edited by the council\n", encoding="utf-8")
    shipped = json.loads(installed.run("rules", "--json").stdout)["rulebook_version"]
    by_option = json.loads(installed.run("rules", "--json", "--rules", "myrules").stdout)["rulebook_version"]
    by_env = json.loads(installed.run("rules", "--json", extra={"CARERULES_RULES_DIR": "myrules"}).stdout)[
        "rulebook_version"
    ]
    assert by_option == by_env != shipped
    decided = json.loads(installed.run("check", str(EXAMPLE), extra={"CARERULES_RULES_DIR": "myrules"}).stdout)
    assert decided["rulebook_version"] == by_env
    broken = installed.run("check", str(EXAMPLE), extra={"CARERULES_RULES_DIR": "nowhere"}, ok=False)
    assert broken.returncode == 3 and "nowhere" in broken.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(installed: Installed) -> Iterator[str]:
    port = _free_port()
    env = {**installed.env, "CARERULES_DATABASE_URL": f"sqlite:///{installed.work / 'log' / 'decisions.db'}"}
    process = subprocess.Popen(
        [str(installed.bin / "carerules"), "serve", "--port", str(port), "--workers", "1"],
        cwd=installed.work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1):
                    break
            except OSError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_serve_migrates_its_log_and_decides(installed: Installed, server: str) -> None:
    with urllib.request.urlopen(server + "/healthz", timeout=5) as answer:
        health = json.loads(answer.read())
    assert health["database"] == "ok"
    request = urllib.request.Request(
        server + "/v1/decisions", data=EXAMPLE.read_bytes(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 201
        assert json.loads(answer.read())["rulebook_version"] == health["rulebook_version"]
    with urllib.request.urlopen(server + "/docs", timeout=5) as answer:
        assert b"/static/docs.js" in answer.read()
    assert (installed.work / "log" / "decisions.db").is_file()
