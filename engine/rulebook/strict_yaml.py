"""A strict YAML loader for the rule files.

Duplicate keys are refused, dates stay dates, decimals stay exact (``Decimal``, never float), and every
mapping remembers the line of each key so the rulebook loader can say where a problem is.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml


class RulebookError(ValueError):
    """A rule or parameter file the rulebook refuses to load: ``file:line: reason``."""

    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        self.path, self.line, self.reason = str(path), line, reason
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {reason}")


class Node(dict):  # type: ignore[type-arg]
    """A mapping that knows the file and line of itself and of each key."""

    path: str = ""
    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)

    def error(self, reason: str, key: str | None = None) -> RulebookError:
        return RulebookError(self.path, self.line_of(key) if key else self.line, reason)


def _loader_for(path: Path) -> type[yaml.SafeLoader]:
    class StrictLoader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Node:
        result = Node()
        result.path, result.line, result.key_lines = str(path), node.start_mark.line + 1, {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in result:
                raise RulebookError(path, key_node.start_mark.line + 1, f"duplicate key {key!r}")
            result[key] = loader.construct_object(value_node, deep=True)
            result.key_lines[str(key)] = key_node.start_mark.line + 1
        return result

    def construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
        return Decimal(str(loader.construct_scalar(node)).replace("_", ""))

    def construct_date(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
        try:
            return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
        except ValueError as exc:
            raise RulebookError(path, node.start_mark.line + 1, f"{node.value!r} is not a real date: {exc}") from None

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", construct_date)
    StrictLoader.add_constructor("tag:yaml.org,2002:float", construct_decimal)
    return StrictLoader


def load_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as stream:
            return yaml.load(stream, Loader=_loader_for(path))
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise RulebookError(path, line, f"not valid YAML: {exc.problem}") from None


def check_keys(node: Any, required: set[str], optional: set[str], what: str) -> Node:
    """Refuse a mapping that lacks a required key or has one not in the schema."""
    if not isinstance(node, Node):
        raise RulebookError(getattr(node, "path", "?"), getattr(node, "line", None), f"{what} must be a mapping")
    for key in node:
        if key not in required | optional:
            allowed = ", ".join(sorted(required | optional))
            raise node.error(f"unknown key {key!r} in {what} (allowed: {allowed})", key)
    for key in sorted(required - set(node)):
        raise node.error(f"{what} has no {key!r}")
    return node
