"""The rulebook watcher's fingerprint (api/serve/edition.py) walks the folders with ``os.scandir`` for speed; it must
name and describe the same files as the plain pathlib walk it replaced: every ``*.yaml`` under the folder and its
bases (folders entered unless they are symbolic links), each named by its path from the rulebook folder."""

from __future__ import annotations

import os
from pathlib import Path

from api.serve.edition import Fingerprint, fingerprint
from tests.conftest import copy_rules


def by_pathlib(root: Path, bases: tuple[Path, ...] = ()) -> Fingerprint:
    found = {}
    for folder in (root, *bases):
        for path in sorted(folder.rglob("*.yaml")):
            stat = path.stat()
            name = Path(os.path.relpath(path, root)).as_posix()
            found[name] = (name, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    return tuple(found[name] for name in sorted(found))


def test_the_same_files_and_names_as_a_pathlib_walk(tmp_path: Path) -> None:
    rules = copy_rules(tmp_path / "rules")
    national = rules / "national"
    outside = tmp_path / "elsewhere" / "base"
    (outside / "deep" / "deeper").mkdir(parents=True)
    (outside / "deep" / "deeper" / "a.yaml").write_text("a: 1\n")
    (outside / "b.yaml").write_text("b: 1\n")
    (outside / "notes.txt").write_text("not watched\n")
    (outside / "c.yml").write_text("not watched either\n")
    (outside / "odd.yaml").mkdir()  # a folder named like a rule file: listed (as rglob does) and walked
    (outside / "odd.yaml" / "in.yaml").write_text("x: 1\n")
    (rules / "linked").symlink_to(outside / "deep", target_is_directory=True)  # not entered
    (rules / "linked.yaml").symlink_to(outside / "b.yaml")  # a file link: listed, its target's stat
    cases = [
        (rules, ()),
        (rules, (national,)),
        (rules, (outside,)),
        (national, (rules,)),  # a base holding the folder itself: names from the folder, as relpath makes them
        (outside / "odd.yaml", (outside,)),
        (Path(os.path.relpath(rules)), (outside, Path(os.path.relpath(national)))),
        (tmp_path / "missing", (outside,)),
    ]
    for root, bases in cases:
        expected = by_pathlib(root, bases)
        assert fingerprint(root, bases) == expected, (root, bases)
    assert any(name.startswith("../") for name, *_ in fingerprint(rules, (outside,)))
    assert "linked.yaml" in {name for name, *_ in fingerprint(rules)}
    assert not any(name.startswith("linked/") for name, *_ in fingerprint(rules))


def test_a_saved_file_changes_the_fingerprint(tmp_path: Path) -> None:
    rules = copy_rules(tmp_path / "rules")
    before = fingerprint(rules)
    target = next(iter(sorted(rules.rglob("*.yaml"))))
    os.utime(target, ns=(0, target.stat().st_mtime_ns + 1_000_000))
    assert fingerprint(rules) != before
