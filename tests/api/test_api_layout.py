"""api/ by responsibility: no import circle among its modules, late imports (inside functions) included; nothing in
engine/ imports api/ at any level; the API's commands reach ``carerules`` through one seam (the entry point group
``carerules.commands``, read by engine/cli/main.py)."""

from __future__ import annotations

import ast
from importlib.metadata import entry_points
from pathlib import Path

import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from engine.cli.main import COMMANDS, app

ROOT = Path(__file__).resolve().parents[2]


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def every_import(tree: ast.Module, module: str = "", package: bool = False) -> set[str]:
    """Every module an import statement anywhere in the tree names: at module level, in functions, under
    ``if TYPE_CHECKING:`` alike (a late import is still an edge: it only moves the circle to run time)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package upwards
                parts = module.split(".")[: len(module.split(".")) - node.level + (1 if package else 0)]
                base = ".".join([*parts, *([base] if base else [])])
            names |= {base, *(f"{base}.{alias.name}" for alias in node.names)}
    return names


def import_graph(*tops: str) -> dict[str, set[str]]:
    """Each module under ``tops`` → the modules of this repository it imports anywhere."""
    paths = {_module(path): path for top in ("engine", "api") for path in (ROOT / top).rglob("*.py")}
    graph = {}
    for name, path in paths.items():
        if name.split(".")[0] in tops:
            tree = ast.parse(path.read_text(encoding="utf-8"))
            graph[name] = every_import(tree, name, path.name == "__init__.py") & set(paths) - {name}
    return graph


def circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_api_has_no_import_circle_late_imports_included() -> None:
    graph = import_graph("api")
    assert len(graph) > 40
    assert circle(graph) is None, " → ".join(circle(graph) or [])


def test_nothing_in_the_engine_imports_the_api_at_any_level() -> None:
    graph = import_graph("engine")
    offenders = {name: sorted(t for t in targets if t.split(".")[0] == "api") for name, targets in graph.items()}
    assert not {name: targets for name, targets in offenders.items() if targets}


def test_the_check_finds_a_planted_circle_through_a_late_import() -> None:
    """The guard once imported the sign-in page inside a function, and the sign-in page imported the guard."""
    guard = ast.parse("from api.auth.identity import Forbidden\ndef refused():\n    from api.web.signin import page\n")
    signin = ast.parse("from api.auth.guard import csrf_ok\n")
    modules = {"api.auth.guard", "api.auth.identity", "api.web.signin"}
    graph = {
        "api.auth.guard": every_import(guard, "api.auth.guard") & modules,
        "api.web.signin": every_import(signin, "api.web.signin") & modules,
    }
    assert circle(graph) == ["api.auth.guard", "api.web.signin", "api.auth.guard"]
    assert every_import(ast.parse("from .. import guard\n"), "api.web.signin") == {"api", "api.auth.guard"}
    assert every_import(ast.parse("from . import pages\n"), "api.web", package=True) == {"api.web", "api.web.pages"}


def test_the_api_commands_come_in_through_one_entry_point() -> None:
    (point,) = [point for point in entry_points(group=COMMANDS) if point.name == "api"]
    assert point.value == "api.cli:register"
    command = typer.main.get_command(app)
    assert isinstance(command, TyperGroup)
    # where `carerules --help` listed them when engine/cli/ defined serve and users itself
    assert list(command.commands)[3:6] == ["init", "serve", "test"] and list(command.commands)[-1] == "users"
    bench = command.commands["bench"]
    assert isinstance(bench, TyperGroup)
    assert list(bench.commands) == ["decision", "validate", "api", "audit"]  # a checkout has api/bench/
    assert CliRunner().invoke(app, ["users", "--help"]).exit_code == 0
