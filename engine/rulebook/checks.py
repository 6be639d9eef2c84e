"""Checks that refuse a broken rulebook the loader would otherwise load, each with file, line and reason:

- a file the loader never reads: a module renamed ``.yml``, a stray file, a rule file in a folder the loader
  does not look in (its rules would silently not apply), refused at its line 1 (the whole file is at fault);
- a parameter value outside its unit's plausible range (``minimum_age: -65``).

Called from ``load_rulebook`` (``files_read`` around the loading, ``check_values`` after it). Malformed text —
a byte that is not UTF-8, ``.inf``/``.nan``, a date with a time of day — is refused by ``strict_yaml`` as it
reads; a parameter a rule or figure names but the rulebook lacks is refused where the name is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.money import QUANTITY_PLACES
from engine.rulebook import strict_yaml
from engine.rulebook.strict_yaml import RulebookError, load_yaml

if TYPE_CHECKING:
    from engine.rulebook.book import Parameter

RULE_FILE_SUFFIX = ".yaml"

# The plausible values of each unit, in the engine's units (pence, ten-thousandths of a mile, whole numbers). Not
# policy: bounds of what a value of that unit can be, to catch a slip of the keyboard (a minus sign, pounds
# typed as pence), however the council's rates move.
PLAUSIBLE: dict[str, tuple[Any, Any, str]] = {
    "GBP": (0, 10_000_000_000, "£0 to £100,000,000"),
    "GBP/week": (0, 10_000_000, "£0 to £100,000 a week"),
    "GBP/night": (0, 10_000_000, "£0 to £100,000 a night"),
    "GBP/hour": (0, 1_000_000, "£0 to £10,000 an hour"),
    "years": (0, 130, "0 to 130 years"),
    "count": (0, 1_000, "0 to 1,000"),
    "miles": (0, 25_000 * 10**QUANTITY_PLACES, "0 to 25,000 miles"),
    "ratio": (Decimal(0), Decimal(1), "0 to 1"),
}


@contextmanager
def files_read(root: Path) -> Iterator[list[Path]]:
    """Refuse any file under ``root``, or under a base folder the block adds to the list it is given, that is not
    ``.yaml``, or that the loading inside the block never read."""
    _check_suffixes(root)
    bases: list[Path] = []
    with strict_yaml.recording() as read:
        yield bases
    for folder in bases:
        _check_suffixes(folder)
    for folder in (root, *bases):
        for path in _files(folder):
            if path.resolve() not in read:
                raise RulebookError(
                    path, 1, "the loader never reads this file: it is not in a place where rule files are read"
                )


def _check_suffixes(folder: Path) -> None:
    for path in _files(folder):
        if path.suffix != RULE_FILE_SUFFIX:
            kind = f"a {path.suffix} file" if path.suffix else "a file without an extension"
            raise RulebookError(
                path, 1, f"not a rule file: {kind} in the rulebook folder would be ignored (rule files are .yaml)"
            )


def _files(root: Path) -> list[Path]:
    """Every file under ``root`` but hidden ones (editors' and systems' own files, in hidden folders too)."""
    if not root.is_dir():
        return []
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )


def check_values(parameters: dict[str, Parameter]) -> None:
    """Refuse a dated value outside its unit's plausible range, at the line of its date in the parameter's file."""
    for parameter in parameters.values():
        bounds = PLAUSIBLE.get(parameter.unit)
        if bounds is None:
            continue
        low, high, words = bounds
        for when, value in zip(parameter.dates, parameter.values):
            if value is not None and not low <= value <= high:
                values = load_yaml(Path(parameter.path))["values"]
                raise values.error(
                    f"{when}: {values[when]} is not a plausible {parameter.unit} value ({words})", str(when)
                )
