"""Worked cases survive a new edition of the illustrative rates; ``carerules test`` runs them without pytest;
``carerules check --parameters`` applies dated overrides to one placement."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from engine.explain.cases import Case, CaseRunner, iter_cases
from engine.rulebook.loader import load_rulebook
from tests.conftest import copy_rules

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "cases"
CARERULES = Path(sys.executable).with_name("carerules")
NEW_EDITION = """parameter,effective_from,value
care_homes.benchmark.lot_1,2026-04-01,931.00
care_homes.benchmark.lot_1,2025-10-01,888.00
supported_living.day_hour_rate,2026-04-01,24.10
supported_living.waking_night_hour_rate,2026-04-01,22.60
supported_living.sleep_in_night_rate,2026-04-01,125.00
supported_living.day_hour_rate,2025-10-01,22.90
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CARERULES), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def new_edition(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of rules/ with a council's own Lot 1 median and SL rates, loaded with ``carerules rates import``."""
    root = tmp_path_factory.mktemp("edition")
    rules = root / "rules"
    copy_rules(rules)
    csv = root / "rates.csv"
    csv.write_text(NEW_EDITION, encoding="utf-8")
    result = run("rates", "import", str(csv), "--replace", "--rules", str(rules))
    assert result.returncode == 0, result.stderr
    book = load_rulebook(rules)
    assert book.parameters["care_homes.benchmark.lot_1"].values[-1] == 93100
    assert book.parameters["supported_living.day_hour_rate"].values[-1] == 2410
    return rules


def test_every_worked_case_passes_against_a_new_edition_of_the_rates(new_edition: Path) -> None:
    runner = CaseRunner(load_rulebook(new_edition))
    cases = list(iter_cases([CASES]))
    failures = [(case.path.name, case.name, runner.run(case).mismatches) for case in cases]
    assert [failure for failure in failures if failure[2]] == []
    assert len(cases) > 100


def test_without_their_pins_the_cases_would_not_survive_the_new_edition(new_edition: Path) -> None:
    """The test above can fail: the same cases, pins removed, disagree with the new rates."""
    runner = CaseRunner(load_rulebook(new_edition))
    unpinned = [Case(c.path, c.name, c.source, c.input, c.expect, c.as_at) for c in iter_cases([CASES])]
    failing = [case.name for case in unpinned if not runner.run(case).ok]
    assert len(failing) >= 10


def test_a_pin_replaces_the_whole_history_of_a_parameter() -> None:
    book = load_rulebook()
    case = next(c for c in iter_cases([CASES / "care_home_pricing"]) if c.parameters)
    engine = CaseRunner(book).engine_for(case)
    lot_1 = engine.book.parameters["care_homes.benchmark.lot_1"]
    assert [str(d) for d in lot_1.dates] == sorted(str(d) for d in case.parameters["care_homes.benchmark.lot_1"])


def test_carerules_test_passes_the_shipped_cases() -> None:
    result = run("test")
    assert result.returncode == 0, result.stdout[-2000:]
    lines = result.stdout.strip().splitlines()
    assert all(line.startswith("PASS ") for line in lines[:-1])
    assert len(lines) - 1 == len(list(iter_cases([CASES]))) and lines[-1].endswith("passed, 0 failed")


def test_carerules_test_shows_the_difference_and_exits_1(tmp_path: Path) -> None:
    case_file = tmp_path / "wrong.yaml"
    case_file.write_text(
        "- name: A wrong expectation\n  source: test\n"
        "  input: {placement_id: W, service: care_home, start_date: 2026-05-04, age: 80, care_type: residential,"
        ' core_weekly_fee: "915.00"}\n'
        '  parameters: {care_homes.benchmark.lot_1: {2026-04-01: "915.00"}}\n'
        '  expect: {outcome: refer, rule_ids: [CHP-01], figures: {benchmark_weekly: "915.00"}}\n'
        "- name: A right one\n  source: test\n"
        "  input: {placement_id: R, service: care_home, start_date: 2026-05-04, age: 80, care_type: residential,"
        ' core_weekly_fee: "900.00"}\n'
        '  parameters: {care_homes.benchmark.lot_1: {2026-04-01: "915.00"}}\n'
        "  expect: {outcome: proceed, rule_ids: [CHP-01]}\n",
        encoding="utf-8",
    )
    result = run("test", str(case_file))
    assert result.returncode == 1, result.stdout
    assert "FAIL " in result.stdout and "A wrong expectation" in result.stdout
    assert (
        "outcome:" in result.stdout and "expected: 'refer'" in result.stdout and "actual:   'proceed'" in result.stdout
    )
    assert "PASS " in result.stdout and result.stdout.strip().endswith("1 passed, 1 failed")


def test_carerules_test_refuses_an_unreadable_case_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- name: x\n  input: {}\n", encoding="utf-8")
    result = run("test", str(bad))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "missing" in result.stderr


def test_check_parameters_applies_dated_overrides_to_one_placement(tmp_path: Path) -> None:
    overrides = tmp_path / "whatif.yaml"
    overrides.write_text("care_homes.benchmark.lot_6:\n  2026-04-01: 1040.00\n", encoding="utf-8")
    placement = ROOT / "examples" / "spec_example.json"
    result = run("check", str(placement), "--parameters", str(overrides))
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout, parse_float=Decimal)
    assert decision["figures"]["benchmark_weekly"] == Decimal("1040.00") and decision["outcome"] == "proceed"
    read = next(p for p in decision["parameters"] if p["name"] == "care_homes.benchmark.lot_6")
    assert read["reference"].startswith("WHAT-IF")
    plain = json.loads(run("check", str(placement)).stdout, parse_float=Decimal)
    assert plain["outcome"] == "needs_approval" and plain["rulebook_version"] != decision["rulebook_version"]


def test_check_parameters_refuses_an_unknown_parameter(tmp_path: Path) -> None:
    overrides = tmp_path / "whatif.yaml"
    overrides.write_text("care_homes.benchmark.lot_9:\n  2026-04-01: 1040.00\n", encoding="utf-8")
    result = run("check", str(ROOT / "examples" / "spec_example.json"), "--parameters", str(overrides))
    assert result.returncode == 2 and "unknown parameter" in result.stderr and "Traceback" not in result.stderr
