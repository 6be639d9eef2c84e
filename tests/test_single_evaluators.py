"""One placement, either evaluator: durable_rules or the vectorised evaluator's masks on one row give the same
decision JSON, byte for byte; without durable_rules (Python 3.13) single decisions use the vector one, and asking
for durable there is a clear error, never a traceback (engine/evaluate/choice.py)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from engine import Engine
from engine.audit.books.read import read_book
from engine.evaluate import choice
from engine.evaluate.choice import EvaluatorUnavailable
from engine.explain.cases import CaseRunner, iter_cases
from engine.rulebook.loader import load_rulebook
from engine.validate.batch import SPECS, parse_row
from engine.validate.placement import InputError
from tests.test_durable_only_where_it_runs import CLI, WITHOUT_DURABLE
from tests.test_durable_soak import random_placement

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def _same(durable: Engine, vector: Engine, placement: object, as_at: object = None) -> None:
    try:
        expected = durable.decide(placement, as_at).to_json()  # type: ignore[arg-type]
    except InputError as exc:
        with pytest.raises(InputError) as refused:
            vector.decide(placement, as_at)  # type: ignore[arg-type]
        assert refused.value.fields == exc.fields
        return
    assert vector.decide(placement, as_at).to_json() == expected  # type: ignore[arg-type]


def test_both_evaluators_give_the_same_json_for_random_placements() -> None:
    book = load_rulebook()
    durable, vector = Engine(book, "durable"), Engine(book, "vector")
    assert (durable.evaluator, vector.evaluator) == ("durable", "vector")
    rnd = random.Random(313)
    fired = set()
    for index in range(3000):
        placement = random_placement(rnd, index)
        _same(durable, vector, placement)
        fired.update(durable.decide(placement).rule_ids)
    assert len(fired) > 10  # the placements reach many rules, not only the quiet ones


def test_both_evaluators_give_the_same_json_for_every_worked_case_and_example() -> None:
    runner = CaseRunner(load_rulebook())
    cases = list(iter_cases([REPO / "cases"]))
    assert len(cases) > 50
    for case in cases:
        book = runner.engine_for(case).book
        _same(Engine(book, "durable"), Engine(book, "vector"), dict(case.input), case.as_at)
    book = load_rulebook()
    durable, vector = Engine(book, "durable"), Engine(book, "vector")
    for name in ("placements.json", "charging.json", "supported_living.json", "top_up.json", "spec_example.json"):
        data = json.loads((EXAMPLES / name).read_text())
        for placement in data if isinstance(data, list) else [data]:
            _same(durable, vector, placement)


def test_both_evaluators_decide_every_row_of_the_sample_book_alike() -> None:
    book = load_rulebook()
    durable, vector = Engine(book, "durable"), Engine(book, "vector")
    table = read_book(EXAMPLES / "sample_placements.csv")
    known = [name for name in table.column_names if name in SPECS]
    decided = 0
    for record in table.select(known).to_pylist():
        try:  # a row's input errors come from the parser both share, before any rule fires
            placement = parse_row({name: value for name, value in record.items() if value is not None}, book)
        except InputError:
            continue
        _same(durable, vector, placement)
        decided += 1
    assert decided > 100


def test_an_unknown_evaluator_is_refused() -> None:
    with pytest.raises(ValueError, match="durable or vector"):
        Engine(load_rulebook(), "fast")  # type: ignore[arg-type]


def test_without_durable_the_default_is_vector_and_durable_is_refused_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(choice, "durable_problem", lambda: "durable_rules cannot be imported in this Python (3.13.0)")
    assert Engine(load_rulebook()).evaluator == "vector"
    with pytest.raises(EvaluatorUnavailable, match=r"cannot be imported in this Python \(3\.13\.0\).*vector"):
        Engine(load_rulebook(), "durable")


def test_with_durable_the_default_is_durable() -> None:
    assert choice.durable_problem() is None  # this test environment has durable_rules
    assert Engine(load_rulebook()).evaluator == "durable"


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )


def test_check_engine_vector_prints_what_durable_prints() -> None:
    example = str(EXAMPLES / "placements.json")
    durable = _python("import sys\n" + CLI, "check", example, "--engine", "durable")
    vector = _python("import sys\n" + CLI, "check", example, "--engine", "vector")
    assert durable.returncode == vector.returncode == 0, durable.stderr + vector.stderr
    assert vector.stdout == durable.stdout and vector.stdout.count('"outcome"') > 3
    assert vector.stderr == durable.stderr == ""


def test_check_engine_must_be_vector_or_durable() -> None:
    result = _python("import sys\n" + CLI, "check", str(EXAMPLES / "spec_example.json"), "--engine", "fast")
    assert result.returncode == 2
    assert "--engine must be vector or durable, got 'fast'" in result.stderr
    assert result.stdout == ""


def test_without_durable_check_decides_with_vector_and_says_so() -> None:
    example = str(EXAMPLES / "spec_example.json")
    reference = _python("import sys\n" + CLI, "check", example)
    plain = _python(WITHOUT_DURABLE + CLI, "check", example)
    assert reference.returncode == plain.returncode == 0, plain.stderr
    assert plain.stdout == reference.stdout  # the same decision, byte for byte
    assert reference.stderr == ""
    assert plain.stderr == (
        "carerules: note: durable_rules is not installed in this Python; the vector evaluator decided "
        "(the same decisions)\n"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["check", str(EXAMPLES / "spec_example.json"), "--engine", "durable"],
        ["audit", str(EXAMPLES / "sample_placements.csv"), "--engine", "durable", "--no-excel"],
        ["audit", str(EXAMPLES / "sample_placements.csv"), "--check-engines"],
    ],
)
def test_without_durable_asking_for_it_is_a_clear_usage_error(args: list[str], tmp_path: Path) -> None:
    result = _python(WITHOUT_DURABLE + CLI, *args, *(["--out", str(tmp_path)] if args[0] == "audit" else []))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "durable_rules cannot be imported in this Python" in result.stderr
    assert "--engine vector gives the same decisions" in result.stderr
    assert result.stdout == ""
    assert not any(tmp_path.iterdir())  # nothing was written
