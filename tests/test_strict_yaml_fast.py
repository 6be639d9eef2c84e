"""The rule files are parsed by libyaml where PyYAML has it (engine/rulebook/strict_yaml.py): the same values,
lines and key lines as PyYAML's own parser, and a file either refuses is refused with PyYAML's own words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.rulebook import strict_yaml
from engine.rulebook.loader import DEFAULT_RULES_DIR
from engine.rulebook.strict_yaml import RulebookError, load_yaml

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not hasattr(yaml, "CSafeLoader"), reason="PyYAML built without libyaml")


def _shape(value: Any) -> Any:
    """Values with their types, and each mapping's file, line and key lines."""
    if isinstance(value, dict):
        lines = (getattr(value, "path", None), getattr(value, "line", None), getattr(value, "key_lines", None))
        return type(value).__name__, lines, [(key, _shape(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__, value


def _rule_files() -> list[Path]:
    files = sorted(DEFAULT_RULES_DIR.rglob("*.yaml")) + sorted((ROOT / "examples").rglob("*.yaml"))
    return [path for path in files if path.is_file()]


def test_libyaml_and_pyyaml_read_every_rule_file_the_same() -> None:
    files = _rule_files()
    assert len(files) > 20
    for path in files:
        text = path.read_text(encoding="utf-8")
        try:
            own = yaml.load(text, Loader=strict_yaml._loader_for(path))
        except yaml.YAMLError as refused:  # not a rule file (worked cases use merge keys): refused by both alike
            with pytest.raises(type(refused)):
                yaml.load(text, Loader=strict_yaml._loader_for(path, yaml.CSafeLoader))
            continue
        fast = yaml.load(text, Loader=strict_yaml._loader_for(path, yaml.CSafeLoader))
        assert _shape(fast) == _shape(own), path


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\na: 2\n",  # a duplicate key (refused by the constructor)
        "a: [1, 2\n",  # not valid YAML
        "a: 1\n\tb: 2\n",  # a tab where YAML allows none
        "a: 'bell \x07'\n",  # a character PyYAML refuses
        "when: 2026-02-30\n",  # not a real date
        "rate: .inf\n",  # not a finite number
    ],
)
def test_a_refused_file_is_refused_in_pyyamls_words(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulebookError) as fast:
        load_yaml(path)
    with pytest.raises(RulebookError) as own:
        try:
            yaml.load(text, Loader=strict_yaml._loader_for(path))
        except yaml.MarkedYAMLError as exc:
            line = exc.problem_mark.line + 1 if exc.problem_mark else None
            raise RulebookError(path, line, f"not valid YAML: {exc.problem}") from None
        except yaml.YAMLError as exc:
            raise RulebookError(path, None, f"not valid YAML: {exc}") from None
    assert str(fast.value) == str(own.value)
