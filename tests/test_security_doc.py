"""docs/security.md names, for each defence, the test that would fail without it: every test and test file it
names exists, so the page cannot go on citing a test that was renamed or removed."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_test_the_security_page_names_exists() -> None:
    page = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    files = set(re.findall(r"`((?:tests|cases)/[\w/]+(?:\.py)?/?)", page))
    assert files, "the page names no test file"
    for name in files:
        assert (ROOT / name.split("::")[0]).exists(), name
    defined = {
        match
        for path in (ROOT / "tests").rglob("test_*.py")
        for match in re.findall(r"^def (test_\w+)\(", path.read_text(encoding="utf-8"), re.MULTILINE)
    }
    named = set(re.findall(r"\b(test_[a-z0-9_]+)\b(?!\.py)", page)) - {Path(f).stem for f in files}
    assert named, "the page names no test"
    assert sorted(named - defined) == []
