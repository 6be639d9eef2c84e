"""The layout by pipeline stage: no import cycles among the engine's modules at import time, and nothing in
engine/ imports the API at import time (the engine is a library the API is a thin layer over). Imports inside a
function or under ``if TYPE_CHECKING:`` happen later or never, so they are not edges of the graph."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(tree: ast.Module) -> list[str]:
    """Modules named by the import statements that run when the module is imported."""
    names: list[str] = []
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
            todo += node.body + node.orelse
        elif isinstance(node, ast.Try):
            todo += node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]
    return names


def import_graph(package: str = "engine") -> dict[str, set[str]]:
    """Each module of the package → the modules (of this repository) it imports at import time."""
    paths = {_module(path): path for top in ("engine", "api") for path in (ROOT / top).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        if not name.startswith(package):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[name] = {target for target in _top_level_imports(tree) if target in paths}
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None."""
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


def test_the_engine_has_no_import_cycles() -> None:
    graph = import_graph()
    assert len(graph) > 50
    assert cycle(graph) is None, " → ".join(cycle(graph) or [])


def test_the_engine_does_not_import_the_api_at_import_time() -> None:
    graph = import_graph()
    offenders = {name: sorted(t for t in targets if t.split(".")[0] == "api") for name, targets in graph.items()}
    assert not {name: targets for name, targets in offenders.items() if targets}


def test_the_cycle_check_finds_a_cycle_and_reads_only_import_time_statements() -> None:
    """The checks above can fail: a planted cycle is found, and imports in functions or for type checking are not
    import-time edges."""
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None
    source = (
        "from typing import TYPE_CHECKING\nimport engine.money\nif TYPE_CHECKING:\n    import api.main\n"
        "def f():\n    import api.service\n"
    )
    assert sorted(_top_level_imports(ast.parse(source))) == ["engine.money", "typing", "typing.TYPE_CHECKING"]
