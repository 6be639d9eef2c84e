"""Column names as people write them: ``Placement ID``, ``PLACEMENT_ID`` and ``placement-id`` all name
``placement_id``; a column map names other spellings (``placement_id: [Client Ref, Package No]``)."""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from engine.validate.batch import SPECS

_NOT_LETTERS = re.compile(r"[\W_]+", re.UNICODE)
REQUIRED = tuple(name for name, spec in SPECS.items() if spec.required)


class ColumnError(ValueError):
    """A column map that cannot be used, or a header that names one field twice."""


def normalise(name: str) -> str:
    """Lower case, with spaces, underscores, hyphens and other punctuation removed."""
    return _NOT_LETTERS.sub("", name).casefold()


@dataclass(frozen=True)
class ColumnMap:
    """Normalised spelling → field name: every field under its own name, plus the map's other spellings."""

    aliases: Mapping[str, str]
    examples: tuple[str, ...] = ("placement_id", "service", "start_date", "age")  # named when no header is found

    def field(self, header: str) -> str | None:
        return self.aliases.get(normalise(header))

    def known_count(self, cells: Sequence[Any]) -> int:
        """How many distinct fields a row of cells names (to find the header row)."""
        return len({self.field(cell) for cell in cells if isinstance(cell, str) and self.field(cell)})


def header_names(cells: Sequence[str]) -> list[str]:
    """A header row's names as a spreadsheet reads them: trimmed, a nameless column within the header named by
    its position (``column_3``); the nameless columns after the last name are not part of the table."""
    names = [cell.strip() for cell in cells]
    while names and not names[-1]:
        names.pop()
    return [name or f"column_{k + 1}" for k, name in enumerate(names)]


def column_map(extra: Mapping[str, Any] | None = None) -> ColumnMap:
    """The fields under their own names, plus ``extra`` (field → a spelling or a list of spellings)."""
    aliases = {normalise(name): name for name in SPECS}
    for name, spellings in (extra or {}).items():
        if name not in SPECS:
            close = difflib.get_close_matches(str(name), list(SPECS), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ColumnError(f"the column map names an unknown field {name!r}{hint}")
        listed = [spellings] if isinstance(spellings, str) else spellings
        if not isinstance(listed, list) or not all(isinstance(s, str) and s.strip() for s in listed):
            raise ColumnError(f"the column map's {name} must be a column name or a list of them")
        for spelling in listed:
            key = normalise(spelling)
            if not key:
                raise ColumnError(f"the column map's {name} lists {spelling!r}, which has no letters or digits")
            if aliases.get(key, name) != name:
                raise ColumnError(f"the column map gives {spelling!r} to both {aliases[key]} and {name}")
            aliases[key] = name
    return ColumnMap(aliases)


def load_column_map(source: Path | str | bytes | Mapping[str, Any] | None) -> ColumnMap:
    """A column map from a YAML file, YAML text (bytes, as uploaded) or a mapping; None → names only."""
    if source is None or isinstance(source, Mapping):
        return column_map(source)
    try:
        text = source.decode("utf-8-sig") if isinstance(source, bytes) else Path(source).read_text("utf-8-sig")
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ColumnError(f"the column map cannot be read: {str(exc).splitlines()[0]}") from None
    if data is None:
        return column_map()
    if not isinstance(data, dict):
        raise ColumnError("the column map must be YAML like 'placement_id: [Client Ref, Package No]'")
    return column_map(data)


def duplicates(header: Sequence[str]) -> list[str]:
    """Names given more than once (linear: a wide header must not cost seconds)."""
    return sorted(name for name, count in Counter(header).items() if count > 1)


@dataclass(frozen=True)
class Matched:
    names: list[str]  # the table's column names: a field's own name where recognised, else as written
    recognised: dict[str, str]  # field → the header as written, where the spelling differs
    missing_required: list[str]
    suggestions: dict[str, list[str]]  # missing required field → the closest header names found


def match_header(header: Sequence[str], columns: ColumnMap) -> Matched:
    """Rename recognised columns to their field names; refuse a header naming one field twice."""
    names: list[str] = []
    given: dict[str, list[str]] = {}
    for text in header:
        name = columns.field(text)
        names.append(name or text)
        if name:
            given.setdefault(name, []).append(text)
    twice = {name: spellings for name, spellings in given.items() if len(spellings) > 1}
    if twice:
        clash = "; ".join(f"{name} from {', '.join(repr(s) for s in spellings)}" for name, spellings in twice.items())
        raise ColumnError(f"more than one column gives the same field: {clash}")
    clashes = duplicates(names)
    if clashes:
        raise ColumnError(f"the header names a column more than once: {', '.join(clashes)}")
    missing = [name for name in REQUIRED if name not in given]
    unknown = [text for text in header if not columns.field(text) and text.strip()]
    suggestions = {}
    for name in missing:
        by_key = {normalise(text): text for text in unknown}
        close = difflib.get_close_matches(normalise(name), list(by_key), n=3, cutoff=0.5)
        suggestions[name] = [by_key[key] for key in close]
    recognised = {given[name][0]: name for name in given if given[name][0] != name}
    return Matched(names, {v: k for k, v in recognised.items()}, missing, suggestions)


def refusal(matched: Matched, header: Sequence[str]) -> str:
    """Why a book with no required column recognised cannot be audited, and what was expected."""
    found = ", ".join(repr(text) for text in header[:30] if text.strip()) or "none"
    hints = "; ".join(
        f"{name}: did you mean {' or '.join(repr(s) for s in close)}?"
        for name, close in matched.suggestions.items()
        if close
    )
    return (
        f"no required column was recognised, so nothing was evaluated. Expected columns: {', '.join(REQUIRED)} "
        f"(any case, spaces or punctuation; other names through a column map). Columns found: {found}"
        + (f". {hints}" if hints else "")
    )
