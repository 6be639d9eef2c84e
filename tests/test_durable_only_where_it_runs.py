"""durable_rules is imported only where its evaluator is built (``Engine`` with the durable evaluator): the CLI,
the vectorised path, the audit and the server's modules import without it, and a vectorised audit runs, byte for
byte the same, in a Python where importing ``durable`` fails."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "sample_placements.csv"
WITHOUT_DURABLE = (
    "import sys\nfor name in ('durable', 'durable.engine', 'durable_rules_engine'):\n    sys.modules[name] = None\n"
)
CLI = "from engine.cli.main import app\nsys.argv = ['carerules', *sys.argv[1:]]\napp()\n"


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_cli_the_vector_path_the_audit_and_the_server_import_without_durable() -> None:
    modules = ("engine", "engine.cli.main", "engine.decide", "engine.evaluate.vector", "engine.audit.run", "api.main")
    code = "import importlib, sys\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    code += "print(sorted(m for m in sys.modules if m.split('.')[0] in ('durable', 'durable_rules_engine')))\n"
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_planted_failure_is_felt_where_durable_runs() -> None:
    """The wrapper works: a single decision through durable_rules fails under it (a clear error, exit 2; without
    ``--engine`` a single decision goes to the vector evaluator instead: tests/test_single_evaluators.py)."""
    result = _python(
        WITHOUT_DURABLE + CLI, "check", str(REPO / "examples" / "spec_example.json"), "--engine", "durable"
    )
    assert result.returncode == 2
    assert "durable_rules cannot be imported" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_vectorised_audit_runs_without_durable_and_writes_the_same_files(tmp_path: Path) -> None:
    runs = {}
    for name, prelude in (("with", "import sys\n"), ("without", WITHOUT_DURABLE)):
        out = tmp_path / name
        runs[name] = _python(prelude + CLI, "audit", str(SAMPLE), "--engine", "vector", "--out", str(out), "--no-excel")
        assert "Traceback" not in runs[name].stderr, runs[name].stderr
    assert runs["with"].returncode == runs["without"].returncode
    files = sorted(path.name for path in (tmp_path / "with").iterdir())
    assert "results.csv" in files and "kpis.json" in files
    assert files == sorted(path.name for path in (tmp_path / "without").iterdir())
    for name in files:
        assert (tmp_path / "with" / name).read_bytes() == (tmp_path / "without" / name).read_bytes(), name
