"""The rulebook edition a worker serves, swapped when the rulebook folder changes (SPEC §18, first point).

Each worker process keeps one ``Editions``: its ``current`` edition is one immutable object (the engine, the
decider that stores its decisions, the version and its publish time), replaced by a single assignment. A request
reads it once (``edition_of`` in api/routes/deps.py keeps it on the request), so its decision, the stored log
record and the ``rulebook_version`` both name come from one edition, whatever is swapped meanwhile.

A watcher thread takes a cheap fingerprint of the folder and of the bases it extends (each ``*.yaml`` file's
name, inode, size and mtime) every ``CHECK_SECONDS``, and at once when the system says a file there changed
(``watchfiles``: inotify on Linux, a thread of its own; where it cannot listen, the fingerprint alone serves).
When the fingerprint changed, the thread loads and compiles the new rulebook there, off the request path, swaps it
in, and only then keeps it in the rulebook cache for the next process. ``POST /v1/rulebook/reload`` (admin) and
SIGHUP ask for a check at once. A rulebook that does not load is refused: a JSON log line with its file, line and
reason, ``/healthz`` says so, and the previous edition keeps serving.

An edition's publish time is the newest mtime of its files (the same on every worker, and what a policy officer
saved); ``loaded_at`` is when this worker swapped it in.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.routes.service import Decider
from api.serve.metrics import record_edition
from engine.decide import Engine
from engine.rulebook import cache
from engine.rulebook.loader import load_rulebook
from engine.rulebook.strict_yaml import RulebookError

logger = logging.getLogger("carerules.api")
logging.getLogger("watchfiles").setLevel(logging.WARNING)  # not a line for each change it notices

CHECK_SECONDS = 0.25  # the folder's fingerprint is a stat of each file (about 80): about a millisecond
# how long the system's notices of changed files are gathered before the watcher is woken (watchfiles' ``step``):
# a file saved in place is written in one go, well within it
NOTICE_MILLISECONDS = 30
NOTICE_TIMEOUT_MILLISECONDS = 1_000  # the notice thread looks up from waiting, to stop or listen afresh
NOTICE_RETRY_SECONDS = 30.0  # where notices could not be had (the system's limit of watches reached), try again

Fingerprint = tuple[tuple[str, int, int, int], ...]


def fingerprint(root: Path, bases: tuple[Path, ...] = ()) -> Fingerprint:
    """Each rule and parameter file's name, inode, size and mtime (ns), in the folder and in the base folders its
    rulebook extends (rules/national, or a folder elsewhere): any save, copy or rename of a file changes it. A
    file is named by its path from ``root`` (../national/… for a base outside it). A file that goes away between
    listing and stat is left out (the next check sees the rest).

    Walked with ``os.scandir`` (what ``Path.rglob("*.yaml")`` walks: every ``*.yaml`` entry, directories entered
    unless they are symbolic links), from absolute paths made once: the watcher does this four times a second in
    every worker, and through pathlib and ``os.path.relpath`` a file it cost 16 ms of the worker's CPU a look
    (docs/benchmarks.md, "The API (6 Dec 2026)")."""
    found: dict[str, tuple[str, int, int, int]] = {}
    start = os.path.abspath(root)
    for folder in (root, *bases):
        _walk(os.path.abspath(folder), start, found)
    return tuple(found[name] for name in sorted(found))


def _walk(folder: str, root: str, found: dict[str, tuple[str, int, int, int]]) -> None:
    try:
        with os.scandir(folder) as listing:
            entries = list(listing)
    except OSError:  # not a folder, gone meanwhile, or not ours to read: nothing in it is watched
        return
    start = os.path.relpath(folder, root)  # both absolute: no look at the working folder
    prefix = "" if start == "." else start + "/"
    for entry in entries:
        if entry.name.endswith(".yaml"):
            try:
                stat = entry.stat()
            except OSError:
                pass
            else:
                path = entry.path
                # the folder's name and the file's, unless the root is inside this entry (a folder named *.yaml)
                name = os.path.relpath(path, root) if root.startswith(path) else prefix + entry.name
                found[name] = (name, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        try:
            inner = entry.is_dir(follow_symlinks=False)
        except OSError:
            continue
        if inner:
            _walk(entry.path, root, found)


def newest(files: Fingerprint) -> datetime | None:
    return datetime.fromtimestamp(max(mtime for *_, mtime in files) / 1e9, UTC) if files else None


def _iso(when: datetime | None) -> str | None:
    return when.isoformat(timespec="milliseconds") if when else None


@dataclass(frozen=True)
class Edition:
    """One loaded rulebook as served: what a request takes, all at once."""

    engine: Engine
    decider: Decider
    published_at: datetime | None  # the newest mtime of its files
    loaded_at: datetime
    files: Fingerprint

    @property
    def version(self) -> str:
        return self.engine.book.version

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "published_at": _iso(self.published_at), "loaded_at": _iso(self.loaded_at)}


@dataclass(frozen=True)
class Refusal:
    """A newer rulebook the worker refused, with where and why."""

    file: str | None
    line: int | None
    reason: str
    published_at: datetime | None
    refused_at: datetime
    files: Fingerprint

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "reason": self.reason,
            "published_at": _iso(self.published_at),
            "refused_at": _iso(self.refused_at),
        }


class Editions:
    """The edition in force in this worker, and the watcher that swaps in a changed rulebook."""

    def __init__(
        self, rules_dir: Path, decider_for: Callable[[Engine], Decider], check_seconds: float = CHECK_SECONDS
    ) -> None:
        self.rules_dir = Path(rules_dir)
        self.worker = secrets.token_hex(4)  # names this worker process in /healthz (never its pid)
        self._decider_for = decider_for
        self.check_seconds = check_seconds
        book = load_rulebook(self.rules_dir)  # on the caller's thread: a server whose rulebook won't load won't start
        files = fingerprint(self.rules_dir, book.bases)
        self.current = self._edition(book, files)
        self.refused: Refusal | None = None
        self._seen = files
        self._reloading = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._notices: threading.Thread | None = None
        record_edition(self.current.version)

    def _edition(self, book: Any, files: Fingerprint) -> Edition:
        engine = Engine(book)
        return Edition(engine, self._decider_for(engine), newest(files), datetime.now(UTC), files)

    def check(self, force: bool = False) -> bool:
        """Load the folder again if it changed since the last look (``force``: in any case); True when a new
        edition was swapped in. Never raises for a bad rulebook: it is refused and logged."""
        if not force and self._fingerprint() == self._seen:
            return False
        with self._reloading:
            files = self._fingerprint()
            if not force and files == self._seen:
                return False
            self._seen = files
            try:
                book = load_rulebook(self.rules_dir, keep=False)  # kept once it serves (below)
            except Exception as exc:  # any rulebook that does not load is refused, never served half-read
                self._refuse(exc, files)
                return False
            self.refused = None
            if book.version == self.current.version:
                return False
            edition = self._edition(book, files)
            before, self.current = self.current, edition  # the swap: one assignment
            record_edition(edition.version, before.version)
            logger.info(
                "rulebook edition %s swapped in (was %s)",
                edition.version,
                before.version,
                extra={"fields": {"event": "rulebook_swapped", **edition.to_json(), "previous": before.version}},
            )
            cache.keep(self.rules_dir, book)  # after the swap: writing it takes as long as half a load
            return True

    def _fingerprint(self) -> Fingerprint:
        """The folder's and its bases' files: the bases of the edition in force (an ``extends:`` changed is a
        change of rulebook.yaml, so the new bases are watched once it loads)."""
        return fingerprint(self.rules_dir, self.current.engine.book.bases)

    def _refuse(self, exc: Exception, files: Fingerprint) -> None:
        if isinstance(exc, RulebookError):
            file, line, reason = exc.path, exc.line, exc.reason
        else:
            file, line, reason = None, None, f"{type(exc).__name__}: {exc}"
        self.refused = Refusal(file, line, reason, newest(files), datetime.now(UTC), files)
        logger.error(
            "rulebook refused: %s:%s: %s; still serving %s",
            file,
            line,
            reason,
            self.current.version,
            extra={
                "fields": {
                    "event": "rulebook_refused",
                    "rules_dir": str(self.rules_dir),
                    **self.refused.to_json(),
                    "serving": self.current.version,
                }
            },
        )

    def health(self) -> dict[str, Any]:
        return {
            "worker": self.worker,
            "edition": self.current.to_json(),
            "refused": self.refused.to_json() if self.refused else None,
        }

    # The watcher thread

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="carerules-rulebook-watch", daemon=True)
        self._thread.start()
        self._notices = threading.Thread(target=self._listen, name="carerules-rulebook-notices", daemon=True)
        self._notices.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in (self._thread, self._notices):
            if thread is not None:
                thread.join(timeout=10)
        self._thread = self._notices = None

    def wake(self) -> None:
        """Check at once, loading even an unchanged folder (SIGHUP): safe from a signal handler."""
        self._force = True
        self._wake.set()

    _force = False

    def _watch(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.check_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            force, self._force = self._force, False
            try:
                self.check(force)
            except Exception:  # the watcher must outlive anything odd (a folder unmounted): log and look again
                logger.exception("rulebook check failed")

    def _listen(self) -> None:
        """Wake the watcher as soon as the system says something changed in the folder or its bases, so a change
        is loaded within tens of milliseconds rather than after the next look. The folders listened on are the
        rulebook's and the bases of the edition in force, listened on afresh when the edition's bases change or
        a folder is replaced by another of its name (a new folder renamed into place). Where the system cannot
        tell (too many watches, a folder it cannot listen on), one log line says so, the watcher's own looks
        every ``CHECK_SECONDS`` serve, and listening is tried again every ``NOTICE_RETRY_SECONDS``."""
        try:
            from watchfiles import watch
        except ImportError:  # pragma: no cover - a dependency: missing only in a broken install
            return
        told = False
        while not self._stop.is_set():
            bases = self.current.engine.book.bases
            folders = [folder for folder in (self.rules_dir, *bases) if folder.is_dir()]
            if not folders:
                self._stop.wait(self.check_seconds)
                continue
            listened = _identity(folders)
            try:
                for changes in watch(
                    *folders,
                    step=NOTICE_MILLISECONDS,
                    rust_timeout=NOTICE_TIMEOUT_MILLISECONDS,
                    yield_on_timeout=True,
                    stop_event=self._stop,
                    raise_interrupt=False,
                ):
                    if changes:
                        self._wake.set()
                    if self.current.engine.book.bases != bases or _identity(folders) != listened:
                        break  # listen on the folders as they are now
            except Exception as exc:  # the fingerprint's looks still see every change, a little later
                if not told:
                    told = True
                    logger.info(
                        "rulebook folder: no change notices (%s); looking every %g s",
                        exc,
                        self.check_seconds,
                        extra={"fields": {"event": "rulebook_notices_unavailable", "reason": str(exc)}},
                    )
                self._stop.wait(NOTICE_RETRY_SECONDS)


def _identity(folders: list[Path]) -> tuple[tuple[int, int] | None, ...]:
    """Which folders these paths name now (device and inode; None for one gone)."""
    found: list[tuple[int, int] | None] = []
    for folder in folders:
        try:
            stat = os.stat(folder)
        except OSError:
            found.append(None)
        else:
            found.append((stat.st_dev, stat.st_ino))
    return tuple(found)
