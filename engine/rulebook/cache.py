"""Loaded rulebooks kept between processes: every command and server start loads the rulebook (YAML parsed,
figures and rules compiled, checked), most often the same files as the last time. A rulebook that loaded is
kept, pickled, in the user's cache folder and taken from there when, and only when, every file of the rulebook's
folder and of each base it extends is the same as when it was kept (the same names, byte for byte, no file more
or fewer), and the engine's code is the same (each module's size and time). Anything else — a changed,
added or removed file, a changed engine, a cache file that cannot be read or unpickled — and the rulebook is
loaded from its files, as always, so a refusal always reads as before. A rulebook that refuses to load is never
kept.

The folder is ``$CARERULES_CACHE_DIR`` (empty: no cache), else ``$XDG_CACHE_HOME/carerules``, else
``~/.cache/carerules``. It is made private to the user (0700); a folder that another user owns or may write to is
not read (a pickle runs code as it is loaded). A few rulebooks are kept, the least recently kept dropped first.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import stat
import sys
from os import replace as _replace  # bound here: the cache's own writes, whatever a caller patches on os
from pathlib import Path
from tempfile import mkstemp as _mkstemp
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.rulebook.book import Rulebook

CACHE_ENV = "CARERULES_CACHE_DIR"
KEPT = 8  # rulebooks kept (a test session's pinned rulebook is one more each time)
ENGINE = Path(__file__).resolve().parents[1]  # the engine package: its code is part of every key


def cache_dir() -> Path | None:
    """Where loaded rulebooks are kept, or None when the cache is turned off (``CARERULES_CACHE_DIR=``)."""
    named = os.environ.get(CACHE_ENV)
    if named is not None:
        return Path(named) if named else None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "carerules"


def _files(folder: Path) -> list[Path]:
    """Every file under ``folder`` but hidden ones, as ``engine.rulebook.checks`` sees the rulebook's files."""
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def _contents(folders: list[Path]) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """Each folder with every file in it, by name and the hash of its bytes."""
    return tuple(
        (str(folder), tuple((path.relative_to(folder).as_posix(), _digest(path)) for path in _files(folder)))
        for folder in folders
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _code() -> str:
    """The engine's code: each module's name, size and time, and the Python that pickled it."""
    digest = hashlib.sha256(f"{sys.version}\0{pickle.HIGHEST_PROTOCOL}".encode())
    for path in sorted(ENGINE.rglob("*.py")):
        status = path.stat()
        digest.update(f"{path.relative_to(ENGINE)}\0{status.st_size}\0{status.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def _entry(folder: Path, root: Path) -> Path:
    """The one cache file of the rulebook in ``root`` (as it was named, from this working folder)."""
    where = root if root.is_absolute() else Path.cwd() / root
    name = hashlib.sha256(f"{root}\0{where.resolve()}".encode()).hexdigest()[:32]
    return folder / f"rulebook-{name}.pickle"


def _private(folder: Path) -> bool:
    """The folder is the user's own and no one else may write to it."""
    status = folder.stat()
    return status.st_uid == os.getuid() and not status.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def cached(root: Path) -> Rulebook | None:
    """The rulebook kept for ``root`` if its files and the engine are as they were when it was kept; else None."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        path = _entry(folder, root)
        if not path.is_file() or not _private(folder):
            return None
        code, contents, book = pickle.loads(path.read_bytes())  # noqa: S301 - the user's own private folder
        folders = [Path(name) for name, _ in contents]
        if code != _code() or not folders or folders[0] != root or contents != _contents(folders):
            return None
        return book  # type: ignore[no-any-return]
    except Exception:  # noqa: BLE001 - unreadable, truncated, from another version: load from the files
        return None


def keep(root: Path, book: Rulebook) -> None:
    """Keep a rulebook that loaded (quietly nothing where the cache folder cannot be written)."""
    folder = cache_dir()
    if folder is None:
        return
    with contextlib.suppress(Exception):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(folder):
            return
        data: Any = (_code(), _contents([root, *book.bases]), book)
        text = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
        handle, temporary = _mkstemp(dir=folder, prefix=".rulebook-", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(text)
            _replace(temporary, _entry(folder, root))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        kept = sorted(folder.glob("rulebook-*.pickle"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in kept[KEPT:]:
            old.unlink(missing_ok=True)
