"""The vectorised evaluator computes a formula shared by several services once, for all their rows: the figures
are exactly (values, nulls, types) those of computing each service's formula on its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.audit.books.sample import sample_book
from engine.evaluate.vector import VectorEvaluator, compiled_figures, formula_groups, row_dates
from engine.language.figure_language import E, depends_on
from engine.rulebook.loader import load_rulebook
from engine.validate.batch import parse_columns, settle_doubtful
from tests.conftest import copy_rules


def _figures(evaluator: VectorEvaluator, rows: int = 3000) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    table = sample_book(rows, seed=29, book=evaluator.book)
    parsed, doubtful = parse_columns(table, evaluator.book)
    settle_doubtful(table, parsed, doubtful, evaluator.book)
    values = evaluator.derive(parsed, row_dates(parsed))
    return {
        name: (np.broadcast_to(values[name].v, (rows,)), np.broadcast_to(values[name].ok, (rows,)))
        for name in evaluator.book.figures
    }


def test_a_shared_formula_is_computed_once_with_the_same_figures() -> None:
    book = load_rulebook()
    grouped, alone = VectorEvaluator(book), VectorEvaluator(book)
    alone._groups = {name: [(s, (s,)) for s in figure.formulas] for name, figure in book.figures.items()}
    shared = [name for name, groups in grouped._groups.items() if any(len(services) > 1 for _, services in groups)]
    assert shared, "no figure has a formula shared by some (not all) services: nothing here is tested"
    once, each = _figures(grouped), _figures(alone)
    for name in book.figures:
        assert once[name][0].dtype == each[name][0].dtype, name
        assert np.array_equal(once[name][0], each[name][0]), name
        assert np.array_equal(once[name][1], each[name][1]), name


def test_services_are_grouped_only_where_their_formulas_compile_alike() -> None:
    book = load_rulebook()
    for name, figure in book.figures.items():
        groups = formula_groups(book.figures, name)
        assert sorted(s for _, services in groups for s in services) == sorted(figure.formulas), name
        for first, services in groups:
            assert all(figure.formulas[s] == figure.formulas[first] for s in services), name
            for read in {r for s in services for r in _reads(figure.formulas[s])}:
                # a figure read by the formula applies to every service of the group or to none of them
                assert len({s in book.figures[read].formulas for s in services}) == 1, (name, read)
    # a formula reading a figure that only some of its services have is split (it compiles to null for the others)
    formulas = book.figures["isp_nhs_contribution_weekly"].formulas
    (care_home, _), (others, _) = formula_groups(book.figures, "isp_nhs_contribution_weekly")
    assert formulas[care_home] == formulas[others]


def _reads(formula: E) -> set[str]:
    return depends_on(formula)


def test_figures_are_compiled_once_per_rulebook_and_again_for_changed_rules(tmp_path: Path) -> None:
    book = load_rulebook()
    first, second = VectorEvaluator(book), VectorEvaluator(book)
    assert first._figures is second._figures  # compiled once for this rulebook
    assert first.parameters is not second.parameters  # each evaluator's parameter lookups are its own
    rules = copy_rules(tmp_path / "rules")
    figures = rules / "figures.yaml"
    text = figures.read_text(encoding="utf-8")
    old = "care_home: coalesce(core_weekly_fee, 0) - top_up_weekly"
    assert old in text
    figures.write_text(text.replace(old, "care_home: coalesce(core_weekly_fee, 0)"), encoding="utf-8")
    changed = load_rulebook(rules)
    assert compiled_figures(changed) is not compiled_figures(book)
    table = sample_book(500, seed=5, book=book)
    parsed, doubtful = parse_columns(table, book)
    settle_doubtful(table, parsed, doubtful, book)
    dates = row_dates(parsed)
    before = VectorEvaluator(book).derive(parsed, dates, only=["comparable_weekly"])["comparable_weekly"]
    after = VectorEvaluator(changed).derive(parsed, dates, only=["comparable_weekly"])["comparable_weekly"]
    fee = parsed.cols["core_weekly_fee"]
    care_home = before.ok & after.ok
    assert care_home.any()
    assert np.array_equal(after.v[care_home], np.where(fee.ok, fee.v, 0)[care_home])
    assert not np.array_equal(before.v[care_home], after.v[care_home])  # the sample has top-ups: the rules changed
