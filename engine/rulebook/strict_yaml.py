"""A strict YAML loader for the rule files.

Duplicate keys are refused, dates stay dates, decimals stay exact (``Decimal``, never float), and every
mapping remembers the line of each key so the rulebook loader can say where a problem is.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

_READ: ContextVar[set[Path] | None] = ContextVar("rule_files_read", default=None)
# Each file's text and what it parsed to, by path: a rulebook loaded again after one file changed (the server
# swapping in a new edition, api/serve/edition.py) parses only that file. Parsing is ~97% of loading; a copy of
# the cached result costs ~2% of parsing it. Keyed by the whole text, so a cached result is never stale.
_PARSED: dict[Path, tuple[str, Any]] = {}
_PARSED_FILES = 1024  # a few rulebooks' worth of files; the oldest parsed is forgotten first


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


# libyaml's parser where PyYAML was built with it: ~8× faster on the rule files than PyYAML's own, with the same
# constructors below, so the same values, lines and key lines (compared on every file in rules/, examples/ and
# cases/). PyYAML's own parser still reads a file libyaml refuses, or one with a character PyYAML refuses
# (``_REFUSED``), so that what a file is refused for, and the words that say so, are as they were.
_FAST_BASE: type[yaml.SafeLoader] | None = getattr(yaml, "CSafeLoader", None)
_REFUSED = yaml.reader.Reader.NON_PRINTABLE


def _loader_for(path: Path, base: type[yaml.SafeLoader] = yaml.SafeLoader) -> type[yaml.SafeLoader]:
    class StrictLoader(base):  # type: ignore[valid-type,misc]
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
        text = str(loader.construct_scalar(node))
        try:
            number = Decimal(text.replace("_", ""))
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite():  # YAML's .inf and .nan: never a rate, a threshold or a share
            raise RulebookError(path, node.start_mark.line + 1, f"{text!r} is not a finite number")
        return number

    def construct_date(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
        try:
            value = yaml.SafeLoader.construct_yaml_timestamp(loader, node)
        except ValueError as exc:
            raise RulebookError(path, node.start_mark.line + 1, f"{node.value!r} is not a real date: {exc}") from None
        if isinstance(value, datetime) or not isinstance(value, date):
            raise RulebookError(
                path, node.start_mark.line + 1, f"{node.value!r} has a time of day: rulebook dates are YYYY-MM-DD"
            )
        return value

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", construct_date)
    StrictLoader.add_constructor("tag:yaml.org,2002:float", construct_decimal)
    return StrictLoader


def load_yaml(path: Path) -> Any:
    read = _READ.get()
    if read is not None:
        read.add(path.resolve())
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        at = data.count(b"\n", 0, exc.start) + 1
        reason = f"byte 0x{data[exc.start]:02x} is not UTF-8 text (save the file as UTF-8)"
        raise RulebookError(path, at, reason) from None
    cached = _PARSED.get(path)
    if cached is not None and cached[0] == text:
        return copy.deepcopy(cached[1])  # a copy: callers may change what they are given
    parsed = _fast_parse(path, text)
    try:
        if parsed is _NOT_PARSED:
            parsed = yaml.load(text, Loader=_loader_for(path))
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise RulebookError(path, line, f"not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:  # e.g. a character YAML does not allow
        raise RulebookError(path, None, f"not valid YAML: {exc}") from None
    _PARSED.pop(path, None)
    if len(_PARSED) >= _PARSED_FILES:
        del _PARSED[next(iter(_PARSED))]
    _PARSED[path] = (text, copy.deepcopy(parsed))
    return parsed


_NOT_PARSED = object()


def _fast_parse(path: Path, text: str) -> Any:
    """The file parsed by libyaml, or ``_NOT_PARSED`` when it is not there or the file is refused (by libyaml, a
    constructor, or PyYAML's character check): PyYAML's own parser then reads it and says why, as before."""
    if _FAST_BASE is None or _REFUSED.search(text):
        return _NOT_PARSED
    try:
        return yaml.load(text, Loader=_loader_for(path, _FAST_BASE))
    except (yaml.YAMLError, RulebookError):
        return _NOT_PARSED


@contextmanager
def recording() -> Iterator[set[Path]]:
    """Every file ``load_yaml`` reads inside the block (resolved paths)."""
    read: set[Path] = set()
    token = _READ.set(read)
    try:
        yield read
    finally:
        _READ.reset(token)


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
