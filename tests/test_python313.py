"""carerules on Python 3.13, where durable_rules cannot be imported: the project installed from this checkout into a
3.13 virtual environment decides a placement with ``check --engine vector`` (and by default, saying so), audits
the sample book, and serves a signed-in decision over HTTP, each the same as this Python gives.

The environment's dependencies are installed once per pyproject.toml and kept under the temporary folder (a few
minutes the first time); this checkout is installed into it afresh on each run. The test skips, saying why, only
where no Python 3.13 is found (on PATH, or under ``pyenv root``/versions/3.13*).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "sample_placements.csv"
CLI = "import sys\nfrom engine.cli.main import app\nsys.argv = ['carerules', *sys.argv[1:]]\napp()\n"
LEFT_OUT = (".git", ".venv", "build", "dist", "out", "*.egg-info", "__pycache__", ".hypothesis", ".pytest_cache")
INSTALL_SECONDS = 1800  # the first install of every dependency on a busy machine


def _is_313(python: Path) -> bool:
    """It runs and is 3.13 (a pyenv shim for a version not selected is on PATH but fails)."""
    try:
        answer = subprocess.run(
            [str(python), "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True, timeout=60
        )
    except OSError:
        return False
    return answer.returncode == 0 and answer.stdout.strip() == "(3, 13)"


def find_python313() -> Path | None:
    """A Python 3.13 that runs: on PATH, else the newest 3.13 pyenv holds (``pyenv root``, $PYENV_ROOT or
    ~/.pyenv), else /usr/local/bin or /usr/bin."""
    candidates = [Path(found)] if (found := shutil.which("python3.13")) else []
    roots = [Path(os.environ["PYENV_ROOT"])] if os.environ.get("PYENV_ROOT") else []
    if shutil.which("pyenv"):
        answer = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=30, check=False)
        if answer.returncode == 0 and answer.stdout.strip():
            roots.append(Path(answer.stdout.strip()))
    roots.append(Path.home() / ".pyenv")
    held = {p for root in roots for p in root.glob("versions/3.13*/bin/python3.13")}
    candidates += sorted(held, key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.parent.name)], reverse=True)
    candidates += [Path("/usr/local/bin/python3.13"), Path("/usr/bin/python3.13")]
    return next((python for python in candidates if _is_313(python)), None)


def _run(args: list[Any], timeout: float = 600, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )


def _must(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"{result.args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _dependencies_venv(python: Path, source: Path) -> Path:
    """A 3.13 environment with the project's runtime dependencies, kept per pyproject.toml, Python and checkout (each
    checkout installs itself into its own); made under a lock, where it stays (a virtual environment names its own
    path in its scripts)."""
    key = f"{REPO / 'pyproject.toml'}\0{(REPO / 'pyproject.toml').read_text()}\0{python.resolve()}"
    key = hashlib.sha256(key.encode()).hexdigest()[:16]
    venv = Path(tempfile.gettempdir()) / f"carerules-py313-{key}"
    with (venv.parent / f"{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run making it: wait for it
        if not (venv / "ready").exists():
            shutil.rmtree(venv, ignore_errors=True)  # a half-made one, from a run that was stopped
            _must(_run([python, "-m", "venv", venv]))
            pip = [venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check", "--quiet"]
            # the checkout (which pulls in every runtime dependency), and what builds it without isolation later
            _must(_run([*pip, "install", "setuptools>=77", source], timeout=INSTALL_SECONDS, cwd=venv))
            (venv / "ready").write_text("")
    return venv


@pytest.fixture(scope="module")
def py313() -> Path:
    python = find_python313()
    if python is None:
        pytest.skip("no Python 3.13 here (not on PATH as python3.13, nor under pyenv's versions/3.13*)")
    # this checkout as it is now, built from a clean copy: a build in the checkout would leave build/ there, whose
    # stale files a later build could pick up
    with tempfile.TemporaryDirectory(prefix="carerules-py313-source-") as scratch:
        source = Path(scratch) / "carerules"
        shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*LEFT_OUT))
        venv = _dependencies_venv(python, source)
        bin_dir = venv / "bin"
        pip = [bin_dir / "python", "-m", "pip", "--disable-pip-version-check", "--quiet"]
        _must(_run([*pip, "install", "--no-deps", "--no-build-isolation", "--force-reinstall", source], cwd=scratch))
    return bin_dir


def _here(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """The same command in this Python (with durable_rules)."""
    return _run([sys.executable, "-c", CLI, *args], cwd=cwd)


def _placement(tmp_path: Path) -> Path:
    case = yaml.safe_load((REPO / "cases" / "spec_example.yaml").read_text())
    cases = case["cases"] if isinstance(case, dict) and "cases" in case else case
    first = cases[0] if isinstance(cases, list) else cases
    path = tmp_path / "placement.json"
    path.write_text(json.dumps(first["input"], default=str))  # YAML dates as ISO text
    return path


def test_it_runs_on_python_313_without_durable_rules(py313: Path, tmp_path: Path) -> None:
    python, carerules = py313 / "python", py313 / "carerules"
    version = _must(_run([python, "-c", "import sys; print(sys.version_info[:2])"])).stdout
    assert version.strip() == "(3, 13)"
    # durable_rules is not installed there (pyproject.toml's marker), and nothing asks for it
    assert _must(_run([python, "-c", "import importlib.util as u; print(u.find_spec('durable'))"])).stdout == "None\n"

    placement = _placement(tmp_path)
    reference = _must(_here("check", str(placement), "--engine", "durable"))
    vector = _must(_run([carerules, "check", placement, "--engine", "vector"], cwd=tmp_path))
    assert vector.stdout == reference.stdout and '"outcome"' in vector.stdout
    assert vector.stderr == ""
    default = _must(_run([carerules, "check", placement], cwd=tmp_path))
    assert default.stdout == reference.stdout
    assert "the vector evaluator decided" in default.stderr
    durable = _run([carerules, "check", placement, "--engine", "durable"], cwd=tmp_path)
    assert durable.returncode == 2 and "Traceback" not in durable.stderr
    assert "durable_rules cannot be imported in this Python (3.13" in durable.stderr

    # the sample book audited (exit 1: it has a few bad rows on purpose), the same files as here
    outputs = {}
    for name, command in (("here", [sys.executable, "-c", CLI]), ("py313", [carerules])):
        out = tmp_path / name
        result = _run([*command, "audit", SAMPLE, "--out", out, "--no-excel"], cwd=REPO)
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        outputs[name] = out
    for file in ("results.csv", "kpis.json", "errors.csv"):
        assert (outputs["py313"] / file).read_bytes() == (outputs["here"] / file).read_bytes(), file

    # the server: a user added, one signed-in decision over HTTP, the same JSON as the CLI's
    environment = {**os.environ, "CARERULES_DATABASE_URL": f"sqlite:///{tmp_path / 'decisions.db'}"}
    token = _must(_run([carerules, "users", "add", "Ann Broker", "--role", "broker"], cwd=tmp_path, env=environment))
    with _server(carerules, tmp_path, environment) as base:
        request = urllib.request.Request(
            f"{base}/v1/decisions",
            data=placement.read_bytes(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token.stdout.strip()}"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 201
            answer = json.loads(response.read(), parse_float=Decimal)
    assert answer == json.loads(reference.stdout, parse_float=Decimal)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _server(carerules: Path, folder: Path, environment: dict[str, str]) -> _ServerContext:
    return _ServerContext(carerules, folder, environment)


class _ServerContext:
    """``carerules serve`` on a free loopback port with one worker, until /healthz answers; stopped afterwards."""

    def __init__(self, carerules: Path, folder: Path, environment: dict[str, str]) -> None:
        self.args = [str(carerules), "serve", "--port", str(_free_port()), "--workers", "1", "--quiet"]
        self.base = f"http://127.0.0.1:{self.args[3]}"
        self.folder, self.environment = folder, environment
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> str:
        self.log = (self.folder / "serve.log").open("w")
        self.process = subprocess.Popen(
            self.args, cwd=self.folder, env=self.environment, stdout=self.log, stderr=subprocess.STDOUT, text=True
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=5) as response:
                    if response.status == 200:
                        return self.base
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        self.__exit__()
        pytest.fail(f"carerules serve did not start:\n{(self.folder / 'serve.log').read_text()[-3000:]}")

    def __exit__(self, *_: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self.log.close()
