"""A rulebook's files as one value: every ``*.yaml`` file under its folder (what its version hashes), packed to
keep with an edition and written out again to load it (SPEC §18: every edition is kept; decisions can be
replayed on any edition)."""

from __future__ import annotations

import json
import zlib
from pathlib import Path, PurePosixPath

RulebookFiles = dict[str, str]  # relative POSIX path → the file's text


def read_files(rules_dir: Path) -> RulebookFiles:
    """Every ``*.yaml`` file of the rulebook in ``rules_dir`` (the files its version is the hash of)."""
    return {
        path.relative_to(rules_dir).as_posix(): path.read_bytes().decode("utf-8")  # bytes as they are: the version
        for path in sorted(rules_dir.rglob("*.yaml"))
    }


def pack(files: RulebookFiles) -> bytes:
    return zlib.compress(json.dumps(files, sort_keys=True, ensure_ascii=False).encode("utf-8"), 6)


def unpack(data: bytes) -> RulebookFiles:
    files = json.loads(zlib.decompress(data).decode("utf-8"))
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise ValueError("not a packed rulebook")
    return files


def write_files(files: RulebookFiles, folder: Path) -> Path:
    """The files written under ``folder`` (a new, empty folder); refuses a path that leaves it."""
    for name, text in files.items():
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts or not name.endswith(".yaml"):
            raise ValueError(f"{name!r} is not a rulebook file's path")
        path = folder.joinpath(*relative.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    return folder
