"""``carerules rates import``: add dated values (a new edition) to parameters from a CSV, validated.

The CSV has the columns ``parameter,effective_from,value``. Each row adds one dated value to that parameter's
YAML file (the file's other lines, comments included, stay as they are). Nothing is written unless every row
is valid and the rulebook, with all rows added, still loads.
"""

from __future__ import annotations

import csv
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from engine.language.vocabulary import Kind
from engine.money import MoneyError
from engine.rulebook.loader import engine_value, load_rulebook
from engine.rulebook.strict_yaml import RulebookError

COLUMNS = ("parameter", "effective_from", "value")


class RatesImportError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class NewValue:
    parameter: str
    effective_from: date
    text: str  # as it will be written to YAML


def read_rows(csv_path: Path, rules_dir: Path, replace: bool) -> list[NewValue]:
    book = load_rulebook(rules_dir)
    try:
        with csv_path.open(encoding="utf-8-sig", newline="") as stream:
            reader = csv.DictReader(stream)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise RatesImportError(
                    [f"{csv_path}: missing column(s) {', '.join(missing)} (need {', '.join(COLUMNS)})"]
                )
            rows = list(reader)
    except OSError as exc:
        raise RatesImportError([f"cannot read {csv_path}: {exc.strerror}"]) from None
    if not rows:
        raise RatesImportError([f"{csv_path}: no rows"])
    problems, values = [], []
    for line, row in enumerate(rows, start=2):
        name, when_text, value = (str(row.get(c) or "").strip() for c in COLUMNS)
        parameter = book.parameters.get(name)
        if parameter is None:
            problems.append(f"line {line}: unknown parameter {name!r}")
            continue
        if parameter.kind is Kind.TABLE:
            problems.append(f"line {line}: {name} is a table: edit its YAML file")
            continue
        try:
            when = date.fromisoformat(when_text)
        except ValueError:
            problems.append(f"line {line}: effective_from {when_text!r} is not a date (YYYY-MM-DD)")
            continue
        if when in parameter.dates and not replace:
            problems.append(f"line {line}: {name} already has a value from {when} (use --replace to change it)")
            continue
        try:
            engine_value(_typed(value, parameter.kind), parameter.kind)
        except (MoneyError, ValueError) as exc:
            problems.append(f"line {line}: {value!r} is not a {parameter.unit} value: {exc}")
            continue
        values.append(NewValue(name, when, value.lower() if parameter.kind is Kind.BOOL else value))
    if problems:
        raise RatesImportError(problems)
    return values


def _typed(text: str, kind: Kind) -> object:
    if kind is Kind.BOOL:
        if text.lower() not in ("true", "false"):
            raise ValueError("must be true or false")
        return text.lower() == "true"
    if kind is Kind.COUNT:
        if not re.fullmatch(r"-?\d+", text):
            raise ValueError("must be a whole number")
        return int(text)
    return text


def apply(values: list[NewValue], rules_dir: Path) -> str:
    """Write the new values; return the new rulebook version. Validated on a copy first."""
    with tempfile.TemporaryDirectory() as scratch:
        trial = Path(scratch) / "rules"
        shutil.copytree(rules_dir, trial)
        _write(values, trial)
        try:
            load_rulebook(trial)
        except RulebookError as exc:
            raise RatesImportError([f"the rulebook would not load: {exc}"]) from None
    _write(values, rules_dir)
    return load_rulebook(rules_dir).version


def _write(values: list[NewValue], rules_dir: Path) -> None:
    for value in values:
        path = rules_dir / "parameters" / Path(*value.parameter.split(".")).with_suffix(".yaml")
        lines = path.read_text(encoding="utf-8").splitlines()
        start = next(i for i, line in enumerate(lines) if line.rstrip() == "values:")
        end = start + 1
        while end < len(lines) and (lines[end].startswith(" ") or not lines[end].strip()):
            end += 1
        key = f"  {value.effective_from.isoformat()}:"
        block = [line for line in lines[start + 1 : end] if line.strip() and not line.startswith(key)]
        block.append(f"{key} {value.text}")
        block.sort(key=lambda line: line.strip()[:10])
        lines[start + 1 : end] = block
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
