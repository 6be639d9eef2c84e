"""Parameters from a rulebook and the bases it ``extends:`` (SPEC §16.2, "A national base").

A council rulebook names a base folder in its ``rulebook.yaml`` (``extends: national``, a path relative to the
folder of the file that names it); a base is a folder with a ``base.yaml`` (what it is, its reference, and maybe an
``extends:`` of its own) and a ``parameters/`` folder laid out as a rulebook's. The parameters are merged from the
farthest base to the council: a parameter file of the same name replaces the base's wholesale (every dated value
and the reference), so a council overrides a national figure by writing its own file. An override keeps the unit
of the parameter it replaces. A name the base does not have is simply the council's own parameter (the
benchmarks, the approval bands): nothing tells it apart from a misspelt override, so it is not refused here; the
conventions (every parameter used) catch a stray one.

Refused at load with file and line: an ``extends:`` that is not a relative path, a folder that is missing or is
not a base (no ``base.yaml``), and a cycle of bases.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from engine.rulebook.book import Parameter
from engine.rulebook.parameters import check_index, load_parameter, load_reference
from engine.rulebook.strict_yaml import Node, check_keys, load_yaml

BASE_FILE = "base.yaml"
RULEBOOK_FILE = "rulebook.yaml"
EXTENDS = "extends"


def load_parameters(folder: Path) -> dict[str, Parameter]:
    """The parameter files of one folder (its ``parameters/``), by name, each knowing its file; index.yaml checked."""
    params_dir = folder / "parameters"
    parameters = {}
    for path in sorted(params_dir.rglob("*.yaml")):
        name = ".".join(path.relative_to(params_dir).with_suffix("").parts)
        if path.name == "index.yaml":
            check_index(path)
        else:
            parameters[name] = load_parameter(path, name)
    return parameters


def base_chain(root: Path) -> tuple[Path, ...]:
    """The base folders ``root`` extends, nearest first, each resolved; () when its rulebook.yaml extends none."""
    chain: list[Path] = []
    seen = [root.resolve()]
    node = _node(root / RULEBOOK_FILE)
    while node is not None and EXTENDS in node:
        folder = _extended(node, seen)
        base = folder / BASE_FILE
        if not base.is_file():
            raise node.error(
                f"extends: {node[EXTENDS]}: {folder} is not a rulebook base (it has no {BASE_FILE})", EXTENDS
            )
        node = check_keys(load_yaml(base), {"description", "reference"}, {EXTENDS}, BASE_FILE)
        load_reference(node["reference"], node)
        chain.append(folder)
        seen.append(folder)
    return tuple(chain)


def merged_parameters(root: Path, chain: tuple[Path, ...]) -> dict[str, Parameter]:
    """The parameters of the farthest base, replaced by name by each nearer base's and at last by ``root``'s own,
    in the order one folder of all of them would list them."""
    merged: dict[str, Parameter] = {}
    for folder in (*reversed(chain), root):
        for name, parameter in load_parameters(folder).items():
            replaced = merged.get(name)
            if replaced is not None and replaced.unit != parameter.unit:
                node: Node = load_yaml(Path(parameter.path))
                raise node.error(
                    f"{name} replaces the parameter of {replaced.path}, whose unit is {replaced.unit}: an override "
                    f"keeps the unit of the parameter it replaces (not {parameter.unit})",
                    "unit",
                )
            merged[name] = parameter
    return {name: merged[name] for name in sorted(merged, key=lambda name: Path(*name.split(".")))}


def _node(path: Path) -> Node | None:
    if not path.is_file():
        return None  # the facts loader refuses a rulebook without its rulebook.yaml, in its own words
    loaded: Any = load_yaml(path)
    return loaded if isinstance(loaded, Node) else None


def _extended(node: Node, seen: list[Path]) -> Path:
    """The folder an ``extends:`` names, resolved against the folder of the file naming it; refused when it is not a
    relative path, is missing, or leads back to a folder already in the chain."""
    named = node[EXTENDS]
    if not isinstance(named, str) or not named.strip():
        raise node.error("extends must name a folder (a path relative to this file's folder)", EXTENDS)
    if PurePosixPath(named).is_absolute() or PureWindowsPath(named).is_absolute():
        raise node.error(f"extends: {named}: must be a path relative to this file's folder, not absolute", EXTENDS)
    folder = (Path(node.path).parent / named).resolve()
    if not folder.is_dir():
        raise node.error(f"extends: {named}: no such folder ({folder})", EXTENDS)
    if folder in seen:
        cycle = " -> ".join(str(path) for path in (*seen[seen.index(folder) :], folder))
        raise node.error(f"extends: {named}: a cycle of bases ({cycle})", EXTENDS)
    return folder
