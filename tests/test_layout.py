"""The layout by pipeline stage: no import circle among the modules of engine/ and api/, and nothing in engine/
imports the API (the engine is a library the API is a thin layer over).

Every import statement is an edge, wherever it is written: at module level, inside a function or a method
(a late import still ties the two modules together, it only hides the circle until the call), under ``try`` or
``if``. Only the imports under ``if TYPE_CHECKING:`` are left out: they never run, they name types for mypy.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from engine.audit.outputs import report
from engine.cli.main import COMMANDS, app

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "api")


def _module(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Imports(ast.NodeVisitor):
    """The modules named by every import statement of a module that can run (all but ``if TYPE_CHECKING:``)."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.package = module if is_package else module.rpartition(".")[0]
        self.names: list[str] = []

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for statement in node.orelse:
                self.visit(statement)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.names += [alias.name for alias in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:  # relative: from the module's package, one level up per extra dot
            package = self.package.split(".")[: len(self.package.split(".")) - (node.level - 1)]
            base = ".".join([*package, *([base] if base else [])])
        self.names += [base, *(f"{base}.{alias.name}" for alias in node.names)]


def imports(source: str, module: str = "m", is_package: bool = False) -> list[str]:
    visitor = _Imports(module, is_package)
    visitor.visit(ast.parse(source))
    return visitor.names


def import_graph(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """Each module under the packages → the modules (of the same packages) its import statements name."""
    paths = {_module(path, root): path for top in packages for path in sorted((root / top).rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        named = imports(path.read_text(encoding="utf-8"), name, path.name == "__init__.py")
        graph[name] = {target for target in named if target in paths and target != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle: the strongly connected components of more than one module (Tarjan's algorithm, kept
    iterative), each sorted, in sorted order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph.get(target, ())))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def _described(found: list[list[str]], graph: dict[str, set[str]]) -> str:
    lines = []
    for component in found:
        members = set(component)
        edges = [f"{a} → {b}" for a in component for b in sorted(graph[a] & members)]
        lines.append(f"{len(component)} modules: {', '.join(component)}\n    " + "\n    ".join(edges))
    return "\n".join(lines)


def test_no_import_circle_in_the_engine_or_the_api() -> None:
    graph = import_graph()
    assert len(graph) > 100
    found = circles(graph)
    assert not found, f"{len(found)} import circle(s):\n{_described(found, graph)}"


def test_the_engine_never_imports_the_api() -> None:
    graph = import_graph()
    offenders = sorted(
        f"{name} → {target}"
        for name, targets in graph.items()
        if name.split(".")[0] == "engine"
        for target in targets
        if target.split(".")[0] == "api"
    )
    assert not offenders, "\n".join(offenders)


def test_the_front_door_package_loads_no_stage_until_a_name_is_asked_for() -> None:
    """``import engine`` is light (its names are re-exported lazily), and each name it offers resolves."""
    code = (
        "import sys, engine\nprint(sorted(m for m in sys.modules if m.startswith('engine')))\n"
        "print(all(getattr(engine, name) is not None for name in engine.__all__))\n"
        "print(engine.Engine.__module__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == ["['engine']", "True", "engine.decide"]


def test_the_walker_finds_a_planted_circle_through_late_imports(tmp_path: Path) -> None:
    """Two modules importing each other only inside functions, and a third in a circle through a relative import
    in a method, are found; imports for type checking alone make no circle."""
    package = tmp_path / "planted"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from planted.b import g\n    return g\n")
    (package / "b.py").write_text("def g():\n    import planted.a\n    return planted.a\n")
    (package / "c.py").write_text("class C:\n    def m(self):\n        from . import d\n")
    (package / "d.py").write_text("try:\n    from planted.c import C\nexcept ImportError:\n    pass\n")
    (package / "e.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from planted.f import F\n")
    (package / "f.py").write_text("import planted.e\n")
    graph = import_graph(tmp_path, ("planted",))
    assert circles(graph) == [["planted.a", "planted.b"], ["planted.c", "planted.d"]]
    assert graph["planted.e"] == set()
    assert graph["planted.f"] == {"planted.e"}


def test_the_circle_finder_reports_every_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"e"}, "e": {"d", "f"}, "f": set(), "g": {"g"}}
    assert circles(graph) == [["a", "b", "c"], ["d", "e"]]
    assert circles({"a": {"b"}, "b": set()}) == []
    source = (
        "import typing\nimport engine.money\nif typing.TYPE_CHECKING:\n    import api.main\nelse:\n    import api.x\n"
        "def f():\n    import api.routes.service\n"
    )
    assert sorted(imports(source)) == ["api.routes.service", "api.x", "engine.money", "typing"]
    assert "engine.language.conditions" in imports("from engine.language import conditions")
    assert imports("from . import book", "engine.rulebook.loader") == ["engine.rulebook", "engine.rulebook.book"]
    assert imports("from ..language import vocabulary", "engine.rulebook.loader") == [
        "engine.language",
        "engine.language.vocabulary",
    ]


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


def test_the_report_template_sits_beside_the_report() -> None:
    assert report.TEMPLATES == ROOT / "engine" / "audit" / "outputs" / "templates"
    assert (report.TEMPLATES / "report.html").is_file()
