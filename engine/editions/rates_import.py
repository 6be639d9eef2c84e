"""``carerules rates import``: add dated values (a new edition) to parameters from a rates file, validated.

The rates file has the columns ``parameter,effective_from,value`` and is read as the audit reads a book (SPEC §11:
a CSV in any encoding the audit accepts, or a spreadsheet with title rows above its header), its dates as people
write them (``01/04/2027``, ``1 April 2027``, ``2027-04-01``). Each row adds one dated value to that parameter's
YAML file, edited as YAML (block or flow style) with its comments and layout kept. Nothing is written unless every
row is valid and the rulebook, with all rows added, still loads; then every file is written atomically (a temporary
file in the same folder, renamed over the old one), and a failure part way puts back the files already renamed.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import sys
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from ruamel.yaml.representer import RoundTripRepresenter

from engine.audit.books.book import BookError
from engine.audit.books.columns import ColumnMap, normalise
from engine.audit.books.read import read_cells
from engine.language.vocabulary import Kind
from engine.money import MoneyError, pounds, to_decimal, to_pence
from engine.rulebook.book import Parameter
from engine.rulebook.loader import DEFAULT_RULES_DIR, INSTALLED_RULES_DIR, RULES_ENV, engine_value, load_rulebook
from engine.rulebook.strict_yaml import RulebookError
from engine.validate.values import parse_date, parse_flag, parse_whole

COLUMNS = ("parameter", "effective_from", "value")
RATES_COLUMNS = ColumnMap({normalise(name): name for name in COLUMNS}, examples=COLUMNS)


class RatesImportError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class NewValue:
    parameter: str
    effective_from: date
    text: str  # as it will be written to YAML (pounds with 2 decimals, a plain number, true/false)


@dataclass(frozen=True)
class Written:
    """What ``write_edition`` wrote: each parameter file, and the version of the rulebook it made."""

    version: str
    files: tuple[Path, ...]


def target_rules_dir(named: Path | None) -> Path:
    """The rulebook folder to write into: the one named (``--rules`` or CARERULES_RULES_DIR), else the default,
    which in a source checkout is its ``rules/`` (the developer's own copy, under git). Never the installed
    package's own rulebook: an upgrade would replace it, and it is not the council's to edit in place."""
    folder = DEFAULT_RULES_DIR if named is None else named
    if folder.resolve() == INSTALLED_RULES_DIR.resolve():
        raise RatesImportError(
            [
                f"will not write into the installed package's own rulebook ({folder}): copy it with "
                f"`carerules init FOLDER` and pass `--rules FOLDER` (or set {RULES_ENV}=FOLDER)"
            ]
        )
    return folder


def read_rows(path: Path, rules_dir: Path, replace: bool, sheet: str | None = None) -> list[NewValue]:
    """The rows of a rates file (CSV, Excel and the other books the audit reads), each checked against the
    rulebook in ``rules_dir``; RatesImportError listing every problem."""
    try:
        book = load_rulebook(rules_dir)
    except RulebookError as exc:
        raise RatesImportError([f"the rulebook in {rules_dir} refused to load: {exc}"]) from None
    try:
        cells = read_cells(path, RATES_COLUMNS, sheet)
    except BookError as exc:
        raise RatesImportError([str(exc)]) from None
    header = cells.table.column_names
    found: dict[str, str] = {}
    for title in header:
        name = RATES_COLUMNS.field(title)
        if name is not None:
            if name in found:
                raise RatesImportError([f"{path}: columns {found[name]!r} and {title!r} both give {name}"])
            found[name] = title
    missing = [name for name in COLUMNS if name not in found]
    if missing:
        shown = ", ".join(repr(title) for title in header if title.strip()) or "none"
        raise RatesImportError(
            [f"{path}: missing column(s) {', '.join(missing)} (need {', '.join(COLUMNS)}; found {shown})"]
        )
    columns = [cells.table.column(found[name]).to_pylist() for name in COLUMNS]
    rows = [
        (int(number), [str(cell or "").strip() for cell in row])
        for number, *row in zip(cells.row_numbers.tolist(), *columns)
    ]
    rows = [(number, row) for number, row in rows if any(row)]
    if not rows:
        raise RatesImportError([f"{path}: no rows below the header"])
    problems: list[str] = []
    values: list[NewValue] = []
    seen: dict[tuple[str, date], int] = {}
    for number, (name, when_text, value) in rows:
        where = f"row {number}"
        parameter = book.parameters.get(name)
        if parameter is None:
            problems.append(f"{where}: unknown parameter {name!r}")
            continue
        if parameter.kind is Kind.TABLE:
            problems.append(f"{where}: {name} is a table: edit its YAML file")
            continue
        try:
            when = parse_date(when_text)
        except ValueError as exc:
            problems.append(f"{where}: effective_from {when_text!r} is not a date: {exc}")
            continue
        if (name, when) in seen:
            problems.append(f"{where}: {name} from {when} is also given in row {seen[name, when]}")
            continue
        seen[name, when] = number
        if when in parameter.dates and not replace:
            problems.append(f"{where}: {name} already has a value from {when} (use --replace to change it)")
            continue
        try:
            text = _written(value, parameter)
        except (MoneyError, ValueError) as exc:
            problems.append(f"{where}: {value!r} is not a {parameter.unit} value: {exc}")
            continue
        values.append(NewValue(name, when, text))
    if problems:
        raise RatesImportError(problems)
    return values


def _written(text: str, parameter: Parameter) -> str:
    """The value as it will be written to YAML, checked as the rulebook loader checks it."""
    if not text:
        raise ValueError("the value is empty")
    kind = parameter.kind
    if kind is Kind.BOOL:
        flag = parse_flag(text)
        engine_value(flag, kind)
        return "true" if flag else "false"
    if kind is Kind.COUNT:
        whole = parse_whole(text)
        engine_value(whole, kind)
        return str(whole)
    if kind is Kind.MONEY:
        return f"{pounds(to_pence(text)):f}"  # £1,040 → 1040.00
    engine_value(text, kind)
    return f"{to_decimal(text):f}"


def apply(values: list[NewValue], rules_dir: Path) -> str:
    """Write the new values; return the new rulebook version (see ``write_edition``)."""
    return write_edition(values, rules_dir).version


def write_edition(values: list[NewValue], rules_dir: Path) -> Written:
    """Write the new values into their parameter files, validated on a copy of the rulebook first; every file is
    replaced atomically, and a failure part way leaves the old files."""
    try:
        bases = load_rulebook(rules_dir).bases
    except RulebookError as exc:
        raise RatesImportError([f"the rulebook in {rules_dir} refused to load: {exc}"]) from None
    texts = edited_files(values, rules_dir)
    with tempfile.TemporaryDirectory() as scratch:
        trial = _trial_copy(rules_dir, bases, Path(scratch))
        for path, (_, new) in texts.items():
            (trial / path.relative_to(rules_dir)).write_text(new, encoding="utf-8")
        try:
            load_rulebook(trial)
        except RulebookError as exc:
            shown = str(exc).replace(str(trial), str(rules_dir))
            raise RatesImportError([f"the rulebook would not load: {shown}"]) from None
    replace_all(texts)
    try:
        version = load_rulebook(rules_dir).version
    except RulebookError as exc:  # changed by someone else in the meantime
        raise RatesImportError([f"written, but the rulebook in {rules_dir} now refuses to load: {exc}"]) from None
    return Written(version, tuple(texts))


def _trial_copy(rules_dir: Path, bases: tuple[Path, ...], scratch: Path) -> Path:
    """A copy of the rulebook folder in ``scratch`` with each base it extends copied where its relative
    ``extends:`` finds it: every folder at its place under the folders' common parent. The copy's folder."""
    folders = [rules_dir.resolve(), *bases]
    top = Path(os.path.commonpath(folders))
    for folder in folders:
        shutil.copytree(
            folder, scratch / folder.relative_to(top), ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True
        )
    return scratch / folders[0].relative_to(top)


def edited_files(values: list[NewValue], rules_dir: Path) -> dict[Path, tuple[str, str]]:
    """Each parameter file to change → its text now and its text with the new values."""
    book = load_rulebook(rules_dir)
    by_file: dict[Path, list[NewValue]] = {}
    for value in values:
        path = Path(book.parameters[value.parameter].path)
        if not path.resolve().is_relative_to(rules_dir.resolve()):
            own = Path("parameters", *value.parameter.split(".")).with_suffix(".yaml")
            raise RatesImportError(
                [
                    f"{value.parameter} is read from {path}, in the base this rulebook extends, not from {rules_dir}: "
                    f"change the base there, or write the council's own {own} in {rules_dir} (it replaces the "
                    f"base's) and import into that"
                ]
            )
        by_file.setdefault(rules_dir / path.resolve().relative_to(rules_dir.resolve()), []).append(value)
    texts = {}
    for path, changes in by_file.items():
        try:
            old = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RatesImportError([f"cannot read {path}: {exc}"]) from None
        texts[path] = (old, _with_values(old, path, changes))
    return texts


class _Representer(RoundTripRepresenter):
    pass


def _represent_number(representer: RoundTripRepresenter, number: Decimal) -> Any:
    # a plain scalar, as a person writes it (922.50, not 922.5): YAML reads it back as a number
    return representer.represent_scalar("tag:yaml.org,2002:float", f"{number:f}")


_Representer.add_representer(Decimal, _represent_number)


def _round_trip() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Representer = _Representer
    yaml.preserve_quotes = True
    yaml.width = sys.maxsize  # never fold a long description or reference onto a second line
    yaml.indent(mapping=2, sequence=4, offset=2)  # as the rule files are written (a list's dash indented 2)
    return yaml


def _yaml_value(text: str) -> object:
    if text in ("true", "false"):
        return text == "true"
    number = Decimal(text)
    return int(number) if number == number.to_integral_value() and "." not in text else number


def _with_values(text: str, path: Path, changes: list[NewValue]) -> str:
    yaml = _round_trip()
    try:
        document = yaml.load(text)
    except YAMLError as exc:
        raise RatesImportError([f"{path}: cannot read as YAML: {str(exc).splitlines()[0]}"]) from None
    values = document.get("values") if isinstance(document, CommentedMap) else None
    if not isinstance(values, CommentedMap):
        raise RatesImportError([f"{path}: has no 'values:' mapping of dates to values"])
    for change in changes:
        value = _yaml_value(change.text)
        if change.effective_from in values:
            values[change.effective_from] = value  # in place: the line's comment stays
        else:
            position = sum(1 for key in values if isinstance(key, date) and key < change.effective_from)
            values.insert(position, change.effective_from, value)
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def replace_all(texts: dict[Path, tuple[str, str]]) -> None:
    """Stage every new file beside its old one, then rename each over the old; on a failure, remove what was staged
    and put back the files already renamed."""
    staged: list[tuple[Path, Path]] = []
    renamed: list[Path] = []
    try:
        for path, (_, new) in texts.items():
            staged.append((path, _stage(path, new)))
        for path, temporary in staged:
            os.replace(temporary, path)
            renamed.append(path)
    except OSError as exc:
        for _, temporary in staged:
            with suppress(OSError):
                temporary.unlink()
        unrestored = [path for path in renamed if not _restore(path, texts[path][0])]
        failed = exc.filename or "a parameter file"
        if unrestored:
            listed = ", ".join(str(path) for path in unrestored)
            raise RatesImportError(
                [f"cannot write {failed}: {exc.strerror or exc}; these files could not be put back: {listed}"]
            ) from None
        raise RatesImportError([f"cannot write {failed}: {exc.strerror or exc}; no file was changed"]) from None


def _stage(path: Path, text: str) -> Path:
    """The text in a new temporary file in ``path``'s folder (so that renaming it is atomic), flushed to disk,
    with the old file's permissions."""
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        with suppress(OSError):
            os.chmod(temporary, stat.S_IMODE(path.stat().st_mode))
    except BaseException:
        with suppress(OSError):
            temporary.unlink()
        raise
    return temporary


def _restore(path: Path, text: str) -> bool:
    try:
        os.replace(_stage(path, text), path)
    except OSError:
        return False
    return True
