"""An edition drafted from a rates file, and published into the served rulebook folder (SPEC §18, four eyes).

``draft_from_rates`` reads a rates file as ``carerules rates import`` reads it, against a snapshot of the folder's
rulebook taken first, and gives the draft: each change (parameter, date, the value in force on that date before →
the new value), the whole rulebook it would produce (its files and version) and the rulebook it was drafted
against. Nothing in the folder is written. ``publish`` writes a draft's changed files into the folder, each
atomically (temporary file, then rename, as rates import writes), only if the folder still holds the rulebook the
draft was made against: otherwise ``StaleDraft`` (the draft must be made again), never a silent overwrite.
"""

from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.editions.rates_import import RatesImportError, edited_files, read_rows, replace_all
from engine.editions.snapshot import RulebookFiles, read_files, write_files
from engine.editions.whatif import changed_parameters
from engine.explain.shown import parameter_value
from engine.rulebook.loader import Rulebook, load_rulebook
from engine.rulebook.strict_yaml import RulebookError

LOCK_NAME = ".carerules-publish.lock"  # not *.yaml: the watcher and the version never see it


class StaleDraft(Exception):
    """The folder no longer holds the rulebook a draft was made against."""


@dataclass(frozen=True)
class Draft:
    base_version: str
    version: str
    changes: list[dict[str, Any]]
    files: RulebookFiles  # the whole rulebook the draft would produce
    base_files: RulebookFiles  # the rulebook it was drafted against
    base: Rulebook
    book: Rulebook


def loaded(files: RulebookFiles) -> Rulebook:
    """The rulebook these files make (RulebookError when they do not load)."""
    with tempfile.TemporaryDirectory(prefix="carerules-edition-") as scratch:
        return load_rulebook(write_files(files, Path(scratch) / "rules"))


def changes_between(base: Rulebook, book: Rulebook) -> list[dict[str, Any]]:
    """Each new dated value: the parameter, its unit, the date, the value in force on that date before (and since
    when; None if none was) and the new value, as the decision JSON shows parameter values."""
    out = []
    for change in changed_parameters(base, book):
        name, when = change["name"], change["from_date"]
        before = base.parameters[name].at(when)
        out.append(
            {
                "parameter": name,
                "unit": change["unit"],
                "effective_from": when,
                "was": parameter_value(base.parameters[name], before[0]) if before else None,
                "was_from": before[1] if before else None,
                "now": parameter_value(book.parameters[name], change["now"]),
            }
        )
    return out


def draft_from_rates(path: Path, rules_dir: Path, replace: bool = False, sheet: str | None = None) -> Draft:
    """The draft a rates file makes against the rulebook now in ``rules_dir``; RatesImportError listing every
    problem (the rows' and, when they are valid, the rulebook's with them added)."""
    base_files = read_files(rules_dir)
    with tempfile.TemporaryDirectory(prefix="carerules-draft-") as scratch:
        base_dir = write_files(base_files, Path(scratch) / "rules")
        try:
            base = load_rulebook(base_dir)
        except RulebookError as exc:
            raise RatesImportError([f"the rulebook in force refused to load: {_shown(exc, base_dir)}"]) from None
        values = read_rows(path, base_dir, replace, sheet)
        files = dict(base_files)
        for file, (_, new) in edited_files(values, base_dir).items():
            files[file.relative_to(base_dir).as_posix()] = new
    try:
        book = loaded(files)
    except RulebookError as exc:
        raise RatesImportError([f"the rulebook would not load: {exc.reason} ({Path(str(exc.path)).name})"]) from None
    if book.version == base.version:
        raise RatesImportError(["the rates file changes no value: every row is already in force"])
    return Draft(base.version, book.version, changes_between(base, book), files, base_files, base, book)


def _shown(exc: RulebookError, scratch: Path) -> str:
    return str(exc).replace(str(scratch), "rules")


@contextmanager
def publishing(rules_dir: Path) -> Iterator[None]:
    """One publish at a time into ``rules_dir`` (every worker of this host takes the same file lock)."""
    with open(rules_dir / LOCK_NAME, "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def publish(files: RulebookFiles, base_version: str, version: str, rules_dir: Path) -> list[str]:
    """Write the draft's files that differ from the folder's into ``rules_dir``, each atomically, if the folder
    still holds ``base_version`` (else StaleDraft); the files written. RatesImportError if writing fails (the
    files already renamed are put back). Call it inside ``publishing(rules_dir)``."""
    now = load_rulebook(rules_dir)
    if now.version != base_version:
        raise StaleDraft(f"the rulebook in force is {now.version}, not {base_version} that this draft was made against")
    current = read_files(rules_dir)
    extra = sorted(set(current) - set(files))
    if extra:
        raise StaleDraft(f"the rulebook in force has files this draft does not: {', '.join(extra)}")
    texts = {
        rules_dir.joinpath(*name.split("/")): (current.get(name, ""), text)
        for name, text in files.items()
        if current.get(name) != text
    }
    replace_all(texts)
    written = load_rulebook(rules_dir).version
    if written != version:
        raise RatesImportError([f"written, but the rulebook in {rules_dir} is {written}, not {version}"])
    return sorted(path.relative_to(rules_dir).as_posix() for path in texts)
