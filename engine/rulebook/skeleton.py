"""``carerules init DIR``: a council rulebook to start from, extending the national base shipped in the package.

The skeleton is the shipped council rulebook without its base: the contents, modules, figures, KPIs and tables a
rulebook needs to load (the engine reads many of their names, engine/rulebook/contract.py), and the council's own
parameters, each marked ILLUSTRATIVE in its reference until the council writes its own. Its ``extends:`` names the
shipped national base by a path relative to DIR, so a national change in a new release of carerules reaches it.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from engine.rulebook.bases import BASE_FILE, RULEBOOK_FILE, base_chain

ILLUSTRATIVE = "ILLUSTRATIVE"
MARK = f"{ILLUSTRATIVE} (the shipped example's; replace with the council's own) - "
_EXTENDS = re.compile(r"^extends: .*$", re.MULTILINE)
_TITLE = re.compile(r"^(reference:\n  title: )(?!['\"])(.*)$", re.MULTILINE)
_DESCRIPTION = re.compile(r"^description: ", re.MULTILINE)


class SkeletonError(ValueError):
    """DIR cannot take a new rulebook."""


def write_skeleton(folder: Path, source: Path) -> Path:
    """Write into ``folder`` (new or empty) the council rulebook of ``source`` that extends ``source``'s base; the
    base folder it extends."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise SkeletonError(f"{folder} already exists and is not an empty folder: nothing written")
    bases = base_chain(source)
    if not bases:
        raise SkeletonError(f"the rulebook in {source} extends no base ({BASE_FILE}): nothing to build on")
    inside = {base for base in bases if base.is_relative_to(source.resolve())}
    shutil.copytree(
        source,
        folder,
        dirs_exist_ok=True,
        ignore=lambda where, names: [
            name for name in names if name == "__pycache__" or (Path(where) / name).resolve() in inside
        ],
    )
    rulebook = folder / RULEBOOK_FILE
    relative = Path(os.path.relpath(bases[0], folder.resolve())).as_posix()
    text = _EXTENDS.sub(f"extends: {relative}", rulebook.read_text(encoding="utf-8"), count=1)
    rulebook.write_text(_DESCRIPTION.sub(f"description: {MARK}", text, count=1), encoding="utf-8")
    for path in sorted((folder / "parameters").rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if path.name != "index.yaml" and ILLUSTRATIVE not in text:
            path.write_text(_TITLE.sub(lambda match: f"{match[1]}{MARK}{match[2]}", text, count=1), encoding="utf-8")
    return bases[0]
