"""The Python tests decide on a pinned test rulebook (issue 23): a copy of rules/ whose illustrative values are
pinned (tests/rulebook_pins.yaml), named by CARERULES_RULES_DIR for in-process engines, ``carerules``
subprocesses and API servers alike, so a council's own edition of the rates in rules/ changes decisions, not
the tests. scripts/check_new_edition.py makes that edition in a copy of the checkout and runs tests there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.decide import Engine, default_engine
from engine.editions.rates_import import apply, read_rows
from engine.rulebook.loader import DEFAULT_RULES_DIR, RULES_ENV, Rulebook, default_rules_dir, load_rulebook
from engine.rulebook.parameters import engine_value
from engine.rulebook.strict_yaml import load_yaml
from tests.conftest import PINS, build_pinned_rules, copy_rules, pinned_blocks

ROOT = Path(__file__).resolve().parents[1]
CARERULES = Path(sys.executable).with_name("carerules")
CHECK = ROOT / "scripts" / "check_new_edition.py"
# A council's own edition, as the README's procedure loads it: a median, a Supported Living rate, a charging choice
EDITION = """parameter,effective_from,value
care_homes.benchmark.lot_1,2026-04-01,922.50
care_homes.benchmark.lot_6,2026-04-01,1003.00
supported_living.day_hour_rate,2026-04-01,24.10
charging.non_residential_charge_share,2015-04-01,0.90
"""


def illustrative(book: Rulebook) -> list[str]:
    """The parameters whose reference says their values are illustrative placeholders."""
    return sorted(
        name
        for name, parameter in book.parameters.items()
        if "illustrative" in f"{parameter.reference.title} {parameter.reference.section or ''}".lower()
    )


def pinned_values(book: Rulebook) -> dict[str, tuple[tuple[object, ...], tuple[object, ...]]]:
    """Each pinned parameter → its (dates, values) as the pins give them, in engine units."""
    pinned = {}
    for name, sections in load_yaml(PINS).items():
        parameter = book.parameters[name]
        ordered = sorted(sections["values"].items())
        pinned[name] = (
            tuple(when for when, _ in ordered),
            tuple(engine_value(value, parameter.kind, parameter.hit_policy) for _, value in ordered),
        )
    return pinned


def unpinned(book: Rulebook) -> set[str]:
    return set(illustrative(book)) - set(pinned_blocks())


def test_every_illustrative_parameter_is_pinned(pinned_rules: Path) -> None:
    shipped = load_rulebook(DEFAULT_RULES_DIR)
    assert unpinned(shipped) == set(), "pin them in tests/rulebook_pins.yaml"
    assert unpinned(load_rulebook(pinned_rules)) == set()
    assert set(pinned_blocks()) <= set(shipped.parameters), "a pin names no parameter of rules/"
    assert {"care_homes.benchmark.lot_1", "care_homes.approval_bands", "supported_living.day_hour_rate"} <= set(
        pinned_blocks()
    )


def test_an_illustrative_parameter_left_unpinned_is_found(rules: Path) -> None:
    """The check above can fail: a new placeholder rate, cited as illustrative, is not pinned."""
    lot_1 = rules / "parameters" / "care_homes" / "benchmark" / "lot_1.yaml"
    planted = lot_1.with_name("lot_9.yaml")
    planted.write_text(lot_1.read_text(encoding="utf-8").replace("title: ", "title: Illustrative; ", 1))
    assert unpinned(load_rulebook(rules)) == {"care_homes.benchmark.lot_9"}


def test_the_pinned_rulebook_takes_exactly_the_pinned_values_and_references(pinned_rules: Path) -> None:
    book = load_rulebook(pinned_rules)
    for name, (dates, values) in pinned_values(book).items():
        assert (book.parameters[name].dates, book.parameters[name].values) == (dates, values), name
        reference = load_yaml(PINS)[name]["reference"]
        assert book.parameters[name].reference.title == reference["title"], name
        assert book.parameters[name].reference.section == reference.get("section"), name


def test_every_engine_of_the_tests_decides_on_the_pinned_rulebook(pinned_rules: Path) -> None:
    version = load_rulebook(pinned_rules).version
    assert os.environ[RULES_ENV] == str(pinned_rules) and default_rules_dir() == pinned_rules
    assert load_rulebook().version == Engine().book.version == default_engine().book.version == version
    listed = subprocess.run([str(CARERULES), "rules", "--json"], capture_output=True, text=True, timeout=120)
    assert json.loads(listed.stdout)["rulebook_version"] == version, listed.stderr


def test_without_a_named_rulebook_the_shipped_one_is_used(monkeypatch: pytest.MonkeyPatch, rules: Path) -> None:
    monkeypatch.delenv(RULES_ENV)
    assert default_rules_dir() == DEFAULT_RULES_DIR
    assert load_rulebook().version == load_rulebook(DEFAULT_RULES_DIR).version
    lot_1 = rules / "parameters" / "care_homes" / "benchmark" / "lot_1.yaml"
    lot_1.write_text(lot_1.read_text(encoding="utf-8") + "# a council's copy\n", encoding="utf-8")
    monkeypatch.setenv(RULES_ENV, str(rules))
    named = load_rulebook(rules).version
    assert load_rulebook().version == Engine().book.version == default_engine().book.version == named
    assert default_engine(DEFAULT_RULES_DIR).book.version != named


def test_a_new_edition_in_rules_does_not_reach_the_pinned_copy(tmp_path: Path, pinned_rules: Path) -> None:
    edition = copy_rules(tmp_path / "edition")
    csv = tmp_path / "rates.csv"
    csv.write_text(EDITION, encoding="utf-8")
    apply(read_rows(csv, edition, replace=True), edition)
    bands = edition / "parameters" / "care_homes" / "approval_bands.yaml"
    bands.write_text(bands.read_text(encoding="utf-8").replace("up_to_percent: 5\n", "up_to_percent: 4\n", 1))
    bands.write_text(bands.read_text(encoding="utf-8").replace("above_percent: 5\n", "above_percent: 4\n", 1))
    council = load_rulebook(edition)
    pins = pinned_values(council)
    changed = [name for name, (dates, values) in pins.items() if council.parameters[name].values != values]
    assert set(changed) == {
        "care_homes.benchmark.lot_1",
        "care_homes.benchmark.lot_6",
        "supported_living.day_hour_rate",
        "charging.non_residential_charge_share",
        "care_homes.approval_bands",
    }
    repinned = load_rulebook(build_pinned_rules(tmp_path / "pinned", source=edition))
    for name, (dates, values) in pins.items():
        assert (repinned.parameters[name].dates, repinned.parameters[name].values) == (dates, values), name
    assert repinned.version == load_rulebook(pinned_rules).version  # byte for byte the pinned test rulebook


# Quick tests that failed on a new edition of the rates before issue 23: in-process engines and a command.
REPRESENTATIVE = (
    "tests/test_price_guide.py",
    "tests/test_decision_json.py",
    "tests/test_cli.py::test_check_a_file_prints_the_spec_example_decision",
)


def test_the_tests_survive_a_new_edition_of_every_illustrative_value() -> None:
    """The README's procedure on every pinned parameter of rules/ (in a copy of the checkout): tests stay green;
    with the pins emptied, the same tests fail, so it is the pins that keep them green."""
    run = [sys.executable, str(CHECK)]
    pinned = subprocess.run([*run, *REPRESENTATIVE], capture_output=True, text=True, timeout=900)
    assert pinned.returncode == 0, pinned.stdout[-3000:] + pinned.stderr[-2000:]
    assert "new edition: care_homes.benchmark.lot_6: " in pinned.stdout  # every pinned parameter is changed
    unpinned = subprocess.run([*run, "--unpinned", REPRESENTATIVE[0]], capture_output=True, text=True, timeout=900)
    assert unpinned.returncode == 1, unpinned.stdout[-3000:] + unpinned.stderr[-2000:]
