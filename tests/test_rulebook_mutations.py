"""The shipped rulebook broken in well over 50 ways (issue 13): every broken copy is refused with its file, line
and reason, or loads and gives exactly the decisions of the shipped rulebook. Never a traceback, never a
rulebook that loads and decides differently."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from engine.audit.run import run_audit
from engine.rulebook.loader import DEFAULT_RULES_DIR, Rulebook, load_rulebook
from engine.rulebook.strict_yaml import RulebookError

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample_placements.csv"
FILES = sorted(path.relative_to(DEFAULT_RULES_DIR) for path in DEFAULT_RULES_DIR.rglob("*.yaml"))
PARAMETERS = [path for path in FILES if path.parts[0] == "parameters" and path.name != "index.yaml"]
DATED_NUMBER = re.compile(r"^(\s+)(\d{4}-\d\d-\d\d): (-?[0-9][0-9_.]*)\s*$", re.MULTILINE)

Mutation = Callable[[Path], None]


def _edit(relative: Path, change: Callable[[str], str]) -> Mutation:
    def mutate(root: Path) -> None:
        path = root / relative
        text = path.read_text(encoding="utf-8")
        changed = change(text)
        assert changed != text, f"the mutation changed nothing in {relative}"
        path.write_text(changed, encoding="utf-8")

    return mutate


def _first_dated_number(replace: Callable[[re.Match[str]], str]) -> Callable[[str], str]:
    return lambda text: DATED_NUMBER.sub(replace, text, count=1)


def mutations() -> Iterator[tuple[str, Mutation]]:
    for relative in FILES:
        yield f"{relative} renamed .yml", lambda root, r=relative: (root / r).rename((root / r).with_suffix(".yml"))
        yield (
            f"{relative} with a Latin-1 byte",
            lambda root, r=relative: (root / r).write_bytes((root / r).read_bytes().replace(b"\n", b" caf\xe9\n", 1)),
        )
        yield (
            f"{relative} with its first key twice",
            _edit(relative, lambda t: re.sub(r"^(\w+:.*)$", r"\1\n\1", t, count=1, flags=re.M)),
        )
    for relative in PARAMETERS:
        yield f"{relative} deleted", lambda root, r=relative: (root / r).unlink()
        if not DATED_NUMBER.search((DEFAULT_RULES_DIR / relative).read_text(encoding="utf-8")):
            continue
        yield f"{relative} negated", _edit(relative, _first_dated_number(lambda m: f"{m[1]}{m[2]}: -{m[3]}"))
        yield f"{relative} .nan", _edit(relative, _first_dated_number(lambda m: f"{m[1]}{m[2]}: .nan"))
        yield f"{relative} .inf", _edit(relative, _first_dated_number(lambda m: f"{m[1]}{m[2]}: .inf"))
        yield (
            f"{relative} date with a time",
            _edit(relative, _first_dated_number(lambda m: f"{m[1]}{m[2]} 09:30:00: {m[3]}")),
        )
        yield (
            f"{relative} value times 1,000,000",
            _edit(
                relative, _first_dated_number(lambda m: f"{m[1]}{m[2]}: {Decimal(m[3].replace('_', '')) * 1_000_000}")
            ),
        )
    yield "a stray notes file", lambda root: (root / "NOTES.txt").write_text("to do\n", encoding="utf-8")
    yield (
        "a module in a sub-folder",
        lambda root: (
            (root / "modules" / "old").mkdir()
            or (root / "modules" / "2_choice_top_up.yaml").rename(root / "modules" / "old" / "2_choice_top_up.yaml")
        ),
    )
    yield (
        "an editor's hidden backup",
        lambda root: (root / "modules" / ".1_care_home_pricing.yaml.swp").write_bytes(b"\x00\xff swap"),
    )


MUTATIONS = list(mutations())


def decisions(book: Rulebook) -> pa.Table:
    table = run_audit(SAMPLE, rules=book).table
    return table.drop_columns([name for name in table.column_names if "version" in name])


@pytest.fixture(scope="module")
def shipped() -> pa.Table:
    return decisions(load_rulebook(DEFAULT_RULES_DIR))


def test_there_are_at_least_fifty_ways() -> None:
    assert len(MUTATIONS) >= 50
    assert len({name for name, _ in MUTATIONS}) == len(MUTATIONS)


@pytest.mark.parametrize(("name", "mutate"), MUTATIONS, ids=[name for name, _ in MUTATIONS])
def test_a_broken_rulebook_is_refused_or_decides_the_same(name: str, mutate: Mutation, tmp_path, shipped) -> None:
    root = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, root)
    mutate(root)
    try:
        book = load_rulebook(root)
    except RulebookError as exc:
        assert exc.path.startswith(str(root)), exc  # names the file
        assert exc.reason and "Traceback" not in exc.reason
        if "renamed" not in name and "stray" not in name and "sub-folder" not in name and "deleted" not in name:
            assert exc.line, f"{name}: {exc} names no line"
        return
    assert decisions(book).equals(shipped), f"{name}: loaded, and decides differently"
    LOADED.append(name)


LOADED: list[str] = []
