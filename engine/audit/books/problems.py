"""Errors a person can fix: rows that could not be decided, grouped by field with counts, the spreadsheet's own
row numbers, example values and a hint where a pattern is recognisable; ``errors.csv`` one line per message."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.audit.books.columns import Matched
from engine.audit.outputs.safe import may_hold_control_characters
from engine.validate.batch import SPECS, ParsedBook


class Audited(Protocol):
    """What the error lines read of an audit (``engine.audit.result.AuditResult``)."""

    @property
    def results(self) -> pa.Table: ...
    @property
    def table(self) -> pa.Table: ...
    @property
    def column_names(self) -> list[str]: ...
    @property
    def row_numbers(self) -> np.ndarray: ...
    @property
    def parsed(self) -> ParsedBook: ...


# C0 control characters other than tab, line feed and carriage return (which a cell may hold), and DEL
CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
CONTROL_MESSAGE = "must not contain control characters"
EXAMPLES = 3
FIRST_ROWS = 10

GOT = re.compile(r",? got .*$", re.DOTALL)
MONTH_FIRST = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})\s*$")
DECIMAL_COMMA = re.compile(r"^\s*£?\s*-?\d+(\.\d{3})*,(\d{1,2}|\d{4})\s*$|^\s*£?\s*-?\d+,(\d{1,2}|\d{4})\s*$")


def control_character_rows(table: pa.Table) -> dict[int, dict[str, list[str]]]:
    """Rows with a control character in any cell (other than placement_id, which the model checks itself)."""
    found: dict[int, dict[str, list[str]]] = {}
    for name in table.column_names:
        if name == "placement_id":
            continue
        column = table.column(name)
        if not may_hold_control_characters(column):
            continue
        hits = pc.fill_null(pc.match_substring_regex(column, CONTROL), False).to_numpy(zero_copy_only=False)
        for index in np.flatnonzero(hits).tolist():
            found.setdefault(index, {})[name] = [f"{CONTROL_MESSAGE} (NUL, bell, escape and the like)"]
    return found


def missing_column_warnings(matched: Matched) -> list[str]:
    warnings = []
    for name in matched.missing_required:
        close = matched.suggestions.get(name) or []
        hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
        warnings.append(f"no {name} column: every row needs one{hint}")
    return warnings


def hint(name: str, values: list[str]) -> str | None:
    """A hint for a pattern recognisable in a field's bad values."""
    kind = SPECS[name].kind if name in SPECS else None
    if kind == "day":
        swapped = [m for m in map(MONTH_FIRST.match, values) if m and int(m.group(2)) > 12 >= int(m.group(1))]
        if swapped:
            return "dates look month-first (month/day/year): write them day-first, e.g. 13/05/2026 for 13 May"
    if kind in ("pence", "quantity", "share") and any(DECIMAL_COMMA.match(v) for v in values):
        return "decimal commas are not accepted: write 1040.00 (or 1,040.00), not 1.040,00 or 1040,00"
    return None


@dataclass
class Group:
    field: str
    message: str
    count: int = 0
    rows: list[int] = dataclasses.field(default_factory=list)
    examples: list[str] = dataclasses.field(default_factory=list)
    hint: str | None = None


def error_lines(audit: Audited) -> list[tuple[int, str, str, str]]:
    """(spreadsheet row, field, value as written, message) for every message of every row not decided. The values
    of the rows not decided are taken a column at a time: indexing a chunked column one row at a time walks its
    chunks each time (tens of µs a value on a 1,000,000-row book)."""
    table, numbers = audit.results, audit.row_numbers  # the whole results table, or the columns read here
    errors_column = table.column("errors")
    rows = np.flatnonzero(np.asarray(errors_column.is_valid()))
    if not len(rows):
        return []
    taken = pa.array(rows)
    texts = errors_column.take(taken).to_pylist()
    fields = [_fields(audit, index, text) for index, text in zip(rows.tolist(), texts, strict=True)]
    names = {name for row_fields in fields for name in row_fields} & set(audit.column_names)
    if not names <= set(table.column_names):  # a field named as a result column not kept: the whole table
        table = audit.table
    written = {name: table.column(name).take(taken).to_pylist() for name in sorted(names)}
    lines = []
    for position, (index, row_fields) in enumerate(zip(rows.tolist(), fields, strict=True)):
        for name, messages in row_fields.items():
            value = written[name][position] if name in written else None
            shown = "" if value is None else str(value)
            for message in messages:
                lines.append((int(numbers[index]), name, shown, message))
    return lines


def _fields(audit: Audited, index: int, text: str | None) -> dict[str, list[str]]:
    fields = audit.parsed.errors.get(index)
    if fields is None:
        return {"row": [text or ""]}
    return fields


def group_errors(lines: list[tuple[int, str, str, str]]) -> list[Group]:
    """By field and message, most common first; each with its count, first rows, examples and a hint."""
    groups: dict[tuple[str, str], Group] = {}
    for row, name, value, message in lines:
        kind = GOT.sub("", message)  # the same mistake with different values is one group; examples show them
        group = groups.setdefault((name, kind), Group(name, kind))
        group.count += 1
        if len(group.rows) < FIRST_ROWS:
            group.rows.append(row)
        if value and value not in group.examples and len(group.examples) < EXAMPLES:
            group.examples.append(value)
    for group in groups.values():
        found = hint(group.field, group.examples)
        said = any(words in group.message for words in ("decimal comma", "month-first"))
        group.hint = None if said else found  # the message may already say it
    return sorted(groups.values(), key=lambda g: (-g.count, g.field, g.message))


def errors_table(lines: list[tuple[int, str, str, str]]) -> pa.Table:
    rows, fields, values, messages = zip(*lines) if lines else ((), (), (), ())
    return pa.table(
        {
            "row": pa.array(rows, pa.int64()),
            "field": pa.array(fields, pa.string()),
            "value": pa.array(values, pa.string()),
            "message": pa.array(messages, pa.string()),
        }
    )


def error_summary(groups: list[Group]) -> list[dict[str, Any]]:
    return [
        {
            "field": g.field,
            "message": g.message,
            "count": g.count,
            "rows": g.rows,
            "examples": g.examples,
            "hint": g.hint,
        }
        for g in groups
    ]


def error_lines_text(groups: list[Group], limit: int = 12) -> list[str]:
    """The groups as console lines."""
    lines = []
    for g in groups[:limit]:
        more = "…" if g.count > len(g.rows) else ""
        rows = ", ".join(map(str, g.rows)) + more
        examples = ", ".join(repr(e) for e in g.examples)
        lines.append(f"  {g.field}: {g.message} — {g.count:,} row{'s' if g.count != 1 else ''} (rows {rows})")
        if examples:
            lines.append(f"      e.g. {examples}")
        if g.hint:
            lines.append(f"      hint: {g.hint}")
    if len(groups) > limit:
        lines.append(f"  … and {len(groups) - limit} more kinds of error (see errors.csv)")
    return lines
