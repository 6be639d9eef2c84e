"""Loaded rulebooks kept between processes (engine/rulebook/cache.py): a kept rulebook is the one its files load
to, and it is never served once a file of the rulebook or of a base it extends has changed, been added or been
removed; a cache file that is damaged, or in a folder others may write to, is ignored."""

from __future__ import annotations

import os
import pickle
from datetime import date
from decimal import Decimal
from enum import Enum
from pathlib import Path

import pytest

from engine.rulebook import cache
from engine.rulebook.loader import load_rulebook
from engine.rulebook.strict_yaml import RulebookError
from tests.conftest import copy_rules

LOT_1 = Path("parameters/care_homes/benchmark/lot_1.yaml")


@pytest.fixture
def kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(cache.CACHE_ENV, str(folder))
    return folder


def _state(value: object) -> object:
    """Everything a rulebook holds, every field of every object in it (those left out of ``==`` too), as plain
    tuples: two rulebooks hold the same when their states are equal (pickles differ in which equal objects are
    shared)."""
    if isinstance(value, (str, bytes, int, float, bool, type(None), Decimal, date, Path, Enum)):
        return (type(value).__name__, value)
    if isinstance(value, dict):
        return ("dict", tuple((_state(k), _state(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_state(v) for v in value))
    if isinstance(value, (set, frozenset)):
        return (type(value).__name__, tuple(sorted((_state(v) for v in value), key=repr)))
    fields = vars(value) if hasattr(value, "__dict__") else {s: getattr(value, s) for s in value.__slots__}
    return (type(value).__qualname__, _state(fields))


def _fresh(root: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    """The rulebook loaded from its files (no cache)."""
    with monkeypatch.context() as scope:
        scope.setenv(cache.CACHE_ENV, "")
        return _state(load_rulebook(root))


def test_a_kept_rulebook_is_the_one_its_files_load_to(
    tmp_path: Path, kept: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_rules(tmp_path / "rules")
    first = load_rulebook(root)  # loaded from the files, and kept
    assert len(list(kept.glob("rulebook-*.pickle"))) == 1 and (kept.stat().st_mode & 0o777) == 0o700
    assert cache.cached(root) is not None  # the next load takes it from the cache
    second = load_rulebook(root)
    assert second is not first and second == first
    assert _state(second) == _state(first) == _fresh(root, monkeypatch)
    shown = repr(_state(second))  # the state walks the whole rulebook: every rule's condition is in it
    assert first.rules and all(repr(("str", rule.id)) in shown for rule in first.rules)


@pytest.mark.parametrize("change", ["edit", "same_size", "add", "remove", "base"])
def test_a_changed_rulebook_is_never_served_from_the_cache(
    tmp_path: Path, kept: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    root = copy_rules(tmp_path / "rules")
    before = load_rulebook(root)
    lot = root / LOT_1
    text = lot.read_text(encoding="utf-8")
    if change == "edit":  # a rate changed: the rulebook's version and values change
        lot.write_text(text + "\n# a note\n", encoding="utf-8")
    elif change == "same_size":  # the same length and time: only the bytes tell
        status = lot.stat()
        digit = next(c for c in text if c.isdigit())
        lot.write_text(text.replace(digit, str((int(digit) + 1) % 10), 1), encoding="utf-8")
        os.utime(lot, ns=(status.st_atime_ns, status.st_mtime_ns))
    elif change == "add":  # a stray file the loader refuses
        (root / "modules" / "extra.yml").write_text("rules: []\n", encoding="utf-8")
    elif change == "remove":
        (root / "wording.yaml").unlink()
    else:  # a file of the base the rulebook extends
        base = before.bases[0]
        (base / "notes.txt").write_text("x\n", encoding="utf-8")
    assert cache.cached(root) is None
    try:
        expected: object = _fresh(root, monkeypatch)
    except RulebookError as exc:
        expected = str(exc)
    try:
        got: object = _state(load_rulebook(root))
    except RulebookError as exc:
        got = str(exc)
    assert got == expected
    if change == "edit":
        assert load_rulebook(root).version != before.version


def test_a_damaged_cache_file_is_ignored_and_replaced(
    tmp_path: Path, kept: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_rules(tmp_path / "rules")
    load_rulebook(root)
    (entry,) = kept.glob("rulebook-*.pickle")
    for damage in (b"", b"not a pickle", entry.read_bytes()[:1000], pickle.dumps(("old", "format"))):
        entry.write_bytes(damage)
        assert cache.cached(root) is None
        assert _state(load_rulebook(root)) == _fresh(root, monkeypatch)  # loaded from the files, kept again
        assert cache.cached(root) is not None


def test_a_cache_folder_others_may_write_to_is_not_read(tmp_path: Path, kept: Path) -> None:
    root = copy_rules(tmp_path / "rules")
    load_rulebook(root)
    assert cache.cached(root) is not None
    kept.chmod(0o777)
    assert cache.cached(root) is None


def test_an_empty_cache_setting_turns_it_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.CACHE_ENV, "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root = copy_rules(tmp_path / "rules")
    load_rulebook(root)
    assert cache.cache_dir() is None and not (tmp_path / "xdg").exists()


def test_a_changed_engine_is_a_different_key(tmp_path: Path, kept: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_rules(tmp_path / "rules")
    load_rulebook(root)
    monkeypatch.setattr(cache, "_code", lambda: "another engine")
    assert cache.cached(root) is None


def test_only_a_few_rulebooks_are_kept(tmp_path: Path, kept: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "KEPT", 2)
    source = copy_rules(tmp_path / "rules")
    book = load_rulebook(source)
    for n in range(4):
        cache.keep(tmp_path / f"other{n}", book)
    assert len(list(kept.glob("rulebook-*.pickle"))) == 2
