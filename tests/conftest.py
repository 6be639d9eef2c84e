"""What every Python test shares: the pinned test rulebook, copies of it to break, and one placement factory.

The pinned test rulebook is a copy of ``rules/`` in which the illustrative values the tests rely on, with the
reference that says they are illustrative (``tests/rulebook_pins.yaml``), are pinned, as a worked case pins its
``parameters:``. It is built once per run,
before any test module is imported, and named by ``CARERULES_RULES_DIR``, so in-process engines
(``load_rulebook()``, ``Engine()``, ``default_engine()``), ``carerules`` subprocesses and API servers all use it:
after a council replaces the illustrative rates in ``rules/``, the tests stay green.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from engine.rulebook.loader import DEFAULT_RULES_DIR, RULES_ENV, load_rulebook

PINS = Path(__file__).resolve().with_name("rulebook_pins.yaml")
_SAVED = pytest.StashKey[tuple[str | None, Path]]()

# The base placement of each service: the SPEC's worked example for a care home, a day-support package for
# Supported Living. Tests change the fields they are about through placement(...).
BASE_PLACEMENTS: dict[str, dict[str, Any]] = {
    "care_home": {
        "placement_id": "P-1001",
        "service": "care_home",
        "start_date": "2026-05-04",
        "age": 82,
        "care_type": "nursing",
        "core_weekly_fee": "1040.00",
    },
    "supported_living": {
        "placement_id": "P-SL",
        "service": "supported_living",
        "start_date": "2026-05-04",
        "age": 34,
        "sl_day_hours": "10",
        "sl_weekly_cost": "400.00",
    },
}


def placement(service: str = "care_home", *, drop: tuple[str, ...] = (), **fields: Any) -> dict[str, Any]:
    """A valid placement's JSON fields: the service's base placement with ``fields`` changed or added and the
    fields named in ``drop`` left out. ``json.dumps`` it for a request body or a file."""
    made = {**BASE_PLACEMENTS[service], **fields}
    for name in drop:
        del made[name]
    return made


def parsed_sample(rows: int, seed: int) -> tuple[Any, Any]:
    """The test rulebook and a sample book of every service (``rows``, ``seed``) read and validated column-wise,
    as an audit reads it: (rulebook, parsed book)."""
    from engine.audit.books.sample import sample_book
    from engine.validate.batch import parse_columns, settle_doubtful

    book = load_rulebook()
    table = sample_book(rows, seed=seed, book=book)
    parsed, doubtful = parse_columns(table, book)
    settle_doubtful(table, parsed, doubtful, book)
    return book, parsed


def pinned_blocks(pins: Path = PINS) -> dict[str, dict[str, list[str]]]:
    """Each pinned parameter → its pinned sections (``reference``, ``values``) → their lines, as they are written
    in the parameter's own file."""
    blocks: dict[str, dict[str, list[str]]] = {}
    sections: dict[str, list[str]] | None = None
    current: list[str] | None = None
    for line in pins.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            sections = current = None  # a blank or comment line at the margin ends a parameter
        elif not line.startswith(" "):
            assert line.endswith(":") and line.count(":") == 1, f"{pins}: expected 'parameter.name:', not {line!r}"
            sections, current = blocks.setdefault(line[:-1], {}), None
        elif not line.startswith("   "):
            assert sections is not None and line.endswith(":"), f"{pins}: expected '  section:', not {line!r}"
            current = sections.setdefault(line.strip()[:-1], [line[2:]])
        else:
            assert current is not None, f"{pins}: a line outside any section: {line!r}"
            current.append(line[2:])
    return blocks


def pin(rules: Path, pins: Path = PINS) -> Path:
    """Replace, in the rulebook folder ``rules``, each pinned parameter's sections with the pinned ones."""
    for name, sections in pinned_blocks(pins).items():
        path = rules / "parameters" / Path(*name.split(".")).with_suffix(".yaml")
        assert path.is_file(), f"{pins}: {name} is not a parameter of {rules}"
        lines = path.read_text(encoding="utf-8").splitlines()
        for block in sections.values():
            start = lines.index(block[0])
            end = start + 1
            while end < len(lines) and (lines[end].startswith(" ") or not lines[end].strip()):
                end += 1
            while end > start + 1 and not lines[end - 1].strip():
                end -= 1  # blank lines after the section stay where they were
            lines[start:end] = block
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return rules


def build_pinned_rules(folder: Path, source: Path = DEFAULT_RULES_DIR, pins: Path = PINS) -> Path:
    """A copy of the rulebook ``source`` at ``folder`` with the pinned values; it must load."""
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("__pycache__"))
    pin(folder, pins)
    load_rulebook(folder)  # a pin the rulebook refuses stops the run here, with its file and line
    return folder


def pinned_rules_dir() -> Path:
    """The pinned test rulebook of this run (read-only: copy it with ``copy_rules`` to change it)."""
    return Path(os.environ[RULES_ENV])


def copy_rules(folder: Path) -> Path:
    """A writable copy of the pinned test rulebook at ``folder``, for a test that edits or breaks it."""
    shutil.copytree(pinned_rules_dir(), folder)
    return folder


def pytest_configure(config: pytest.Config) -> None:
    # Before any test module is imported: several build their engine at import time.
    scratch = Path(tempfile.mkdtemp(prefix="carerules-pinned-"))
    config.stash[_SAVED] = (os.environ.get(RULES_ENV), scratch)
    os.environ[RULES_ENV] = str(build_pinned_rules(scratch / "rules"))


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SAVED not in config.stash:
        return
    before, scratch = config.stash[_SAVED]
    if before is None:
        os.environ.pop(RULES_ENV, None)
    else:
        os.environ[RULES_ENV] = before
    shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="session")
def pinned_rules() -> Path:
    """The pinned test rulebook (read-only)."""
    return pinned_rules_dir()


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    """A writable copy of the pinned test rulebook, at ``tmp_path / "rules"``."""
    return copy_rules(tmp_path / "rules")
