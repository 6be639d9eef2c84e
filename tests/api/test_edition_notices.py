"""The rulebook watcher (api/serve/edition.py) is woken by the system's notice of a changed file, so a change is
served without waiting for its next look; where no notices come, its looks alone still find every change; an
edition loaded from its files is kept in the rulebook cache only once it serves; stopping ends both threads."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest

from api.serve import edition as edition_module
from api.serve.edition import Editions
from engine.rulebook import cache
from tests.api.test_api_rulebook_swap import break_median, expected, raise_median, wait_for
from tests.conftest import copy_rules

NEVER = 3600.0  # the watcher's own looks: not within any test's time
# These tests show how a change is found, not how fast (tests/api/test_api_rulebook_swap.py holds the server to
# SPEC §18's second): a bound a machine busy with other jobs still keeps
FOUND = 5.0


def no_decider(engine: Any) -> None:
    return None


def editions(rules: Path, check_seconds: float) -> Editions:
    watching = Editions(rules, no_decider, check_seconds=check_seconds)  # type: ignore[arg-type]
    watching.start()
    return watching


def test_a_notice_of_a_saved_file_swaps_the_edition_without_a_look(tmp_path: Path) -> None:
    rules = copy_rules(tmp_path / "rules")
    watching = editions(rules, NEVER)
    try:
        old = watching.current.version
        time.sleep(0.2)  # the notice thread is listening
        raise_median(rules)
        wait_for(lambda: watching.current.version != old, FOUND)
        assert watching.current.version == expected(rules)[0]
        assert watching.refused is None
        line = break_median(rules)  # a refusal comes the same way
        wait_for(lambda: watching.refused is not None, FOUND)
        assert watching.refused is not None and watching.refused.line == line
    finally:
        watching.stop()


def test_a_folder_renamed_into_place_is_swapped_in_and_listened_on(tmp_path: Path) -> None:
    """A council may publish by renaming a new folder over the old one's name: the old folder's notices wake the
    watcher, and the new folder is listened on from then on."""
    rules = copy_rules(tmp_path / "rules")
    watching = editions(rules, NEVER)
    try:
        time.sleep(0.2)
        published = copy_rules(tmp_path / "published")
        raise_median(published)
        os.rename(rules, tmp_path / "withdrawn")
        os.rename(published, rules)
        wanted = expected(rules)[0]
        wait_for(lambda: watching.current.version == wanted, FOUND)
        time.sleep(0.2)
        raise_median(rules)  # a change inside the folder now in place
        wanted = expected(rules)[0]
        wait_for(lambda: watching.current.version == wanted, FOUND)
    finally:
        watching.stop()


def test_without_notices_the_looks_find_the_change(tmp_path: Path, monkeypatch, caplog) -> None:
    def no_notices(*_args: Any, **_kwargs: Any) -> Any:
        raise OSError("inotify watch limit reached")

    monkeypatch.setattr("watchfiles.watch", no_notices)
    caplog.set_level(logging.INFO, logger="carerules.api")
    rules = copy_rules(tmp_path / "rules")
    watching = editions(rules, 0.1)
    try:
        old = watching.current.version
        raise_median(rules)
        wait_for(lambda: watching.current.version != old, FOUND)
        told = [
            one for one in caplog.records if getattr(one, "fields", {}).get("event") == "rulebook_notices_unavailable"
        ]
        assert len(told) == 1
        assert "inotify watch limit reached" in told[0].fields["reason"]  # type: ignore[attr-defined]
    finally:
        watching.stop()


def test_a_new_edition_is_kept_in_the_cache_after_it_is_swapped_in(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    rules = copy_rules(tmp_path / "rules")
    order: list[str] = []
    keep = cache.keep

    def keeping(root: Path, book: Any) -> None:
        order.append(f"kept {book.version}, serving {watching.current.version}")
        keep(root, book)

    watching = Editions(rules, no_decider)  # type: ignore[arg-type]
    monkeypatch.setattr(edition_module.cache, "keep", keeping)
    raise_median(rules)
    assert watching.check()
    new = watching.current.version
    assert order == [f"kept {new}, serving {new}"]  # once, and only once it serves
    assert cache.cached(rules) is not None and cache.cached(rules).version == new  # type: ignore[union-attr]


def test_stop_ends_the_watcher_and_the_notice_thread(tmp_path: Path) -> None:
    rules = copy_rules(tmp_path / "rules")
    watching = editions(rules, NEVER)
    threads = [watching._thread, watching._notices]
    assert all(one is not None and one.is_alive() for one in threads)
    started = time.monotonic()
    watching.stop()
    assert not any(one is not None and one.is_alive() for one in threads)
    assert time.monotonic() - started < FOUND  # the notice thread looks up from waiting (not for ever)


@pytest.mark.parametrize("name", ["notes.txt", "lot_1.yaml~"])  # a note, an editor's backup
def test_other_files_wake_the_watcher_but_change_nothing(tmp_path: Path, name: str) -> None:
    rules = copy_rules(tmp_path / "rules")
    watching = editions(rules, NEVER)
    try:
        before = watching.current
        (rules / "parameters" / name).write_text("not a rule file\n", encoding="utf-8")
        time.sleep(0.3)
        assert watching.current is before and watching.refused is None
    finally:
        watching.stop()
