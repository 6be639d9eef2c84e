"""Files read beside a placement book (SPEC §17: the provider register, the block-bed file): read as a book is
(CSV in any encoding the audit accepts, Excel with title rows above the header, Title Case headers, a column map
for other spellings), each row checked, and every problem grouped by field with its count, first rows and
examples, as a book's errors are. A file with any bad row is refused whole: a wrong register never gives a wrong
answer."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from engine.audit.books.book import BookError, Limits
from engine.audit.books.columns import ColumnError, ColumnMap, normalise
from engine.audit.books.problems import error_lines_text, group_errors
from engine.audit.books.read import read_cells
from engine.validate.register import field as field

T = TypeVar("T")
Row = dict[str, str | None]


class SideFileError(BookError):
    """A side file that cannot be used; ``problems`` holds each line a person reads."""

    def __init__(self, what: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{what}: " + "\n".join(problems))


def side_columns(fields: Sequence[str], extra: Mapping[str, Any] | None = None) -> ColumnMap:
    """The fields under their own names (any case, spaces or punctuation) plus a column map's other spellings."""
    aliases = {normalise(name): name for name in fields}
    for name, spellings in (extra or {}).items():
        if name not in fields:
            close = difflib.get_close_matches(str(name), list(fields), n=1)
            raise ColumnError(
                f"the column map names an unknown column {name!r}" + (f" (did you mean {close[0]}?)" if close else "")
            )
        for spelling in [spellings] if isinstance(spellings, str) else list(spellings):
            aliases[normalise(str(spelling))] = name
    return ColumnMap(aliases, examples=tuple(fields))


def read_side_file(
    path: Path | str,
    what: str,
    fields: Sequence[str],
    required: Sequence[str],
    read_row: Callable[[Row], T],
    columns: Mapping[str, Any] | None = None,
    sheet: str | None = None,
    limits: Limits | None = None,
) -> list[tuple[int, T]]:
    """Each row (with the spreadsheet's row number) read by ``read_row``, which raises ValueError({field:
    message}) for a bad row; SideFileError naming every problem, grouped, when any row is bad."""
    try:
        mapping = side_columns(fields, columns)
        cells = read_cells(path, mapping, sheet, limits)
    except (BookError, ColumnError) as exc:
        raise SideFileError(what, [str(exc).removeprefix(f"{path}: ")]) from None
    header = cells.table.column_names
    found: dict[str, str] = {}
    for title in header:
        name = mapping.field(title)
        if name is not None:
            if name in found:
                raise SideFileError(what, [f"columns {found[name]!r} and {title!r} both give {name}"])
            found[name] = title
    missing = [name for name in required if name not in found]
    if missing:
        shown = ", ".join(repr(title) for title in header if title.strip()) or "none"
        raise SideFileError(
            what, [f"missing column(s) {', '.join(missing)} (expected {', '.join(fields)}; found {shown})"]
        )
    data = {name: cells.table.column(title).to_pylist() for name, title in found.items()}
    lines: list[tuple[int, str, str, str]] = []
    rows: list[tuple[int, T]] = []
    for index, number in enumerate(cells.row_numbers.tolist()):
        row: Row = {name: _clean(data[name][index]) if name in data else None for name in fields}
        if not any(row.values()):
            continue
        try:
            rows.append((int(number), read_row(row)))
        except ValueError as exc:
            problems = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {"row": str(exc)}
            lines += [(int(number), name, row.get(name) or "", message) for name, message in problems.items()]
    if lines:
        raise SideFileError(what, ["rows that cannot be read:", *error_lines_text(group_errors(lines))])
    if not rows:
        raise SideFileError(what, ["no rows below the header"])
    return rows


def _clean(cell: Any) -> str | None:
    text = None if cell is None else str(cell).strip()
    return text or None
