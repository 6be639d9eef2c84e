"""engine/audit/ is rooms by responsibility with no import circle among its modules (late imports and imports
for type checking included), and the report's template is found where the report module looks for it."""

from __future__ import annotations

import ast
from pathlib import Path

from engine.audit.outputs import report

ROOT = Path(__file__).resolve().parents[1]
AUDIT = ROOT / "engine" / "audit"


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that the file imports anywhere in it (in a function or under TYPE_CHECKING)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in modules:
                found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules}
    return found


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of ``graph``: its strongly connected components of more than one module, or one that
    imports itself (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        on_stack.add(name)
        for other in sorted(graph[name]):
            if other not in index:
                visit(other)
                low[name] = min(low[name], low[other])
            elif other in on_stack:
                low[name] = min(low[name], index[other])
        if low[name] == index[name]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == name:
                    break
            if len(component) > 1 or name in graph[name]:
                found.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return found


def audit_graph() -> dict[str, set[str]]:
    paths = {_module(path): path for path in AUDIT.rglob("*.py")}
    return {name: _imports(path, set(paths)) - {name} for name, path in paths.items()}


def test_no_module_of_the_audit_imports_itself_back() -> None:
    graph = audit_graph()
    assert len(graph) > 20 and "engine.audit.views" in graph["engine.audit.kpis.compute"]
    assert circles(graph) == []


def test_a_planted_circle_is_found() -> None:
    graph = audit_graph()
    graph["engine.audit.views"] = graph["engine.audit.views"] | {"engine.audit.run"}  # a late import, say
    (circle,) = circles(graph)
    assert {"engine.audit.views", "engine.audit.run"} <= set(circle)


def test_the_report_template_sits_beside_the_report() -> None:
    assert report.TEMPLATES == AUDIT / "outputs" / "templates"
    assert (report.TEMPLATES / "report.html").is_file()
