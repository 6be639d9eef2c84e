"""The audit's work spread over two cores: what runs beside what, and that it gives the same results as one at a
time (``engine/audit/run.py``, ``engine/audit/views.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from engine.audit.books.sample import sample_book
from engine.audit.run import run_audit
from engine.rulebook.loader import load_rulebook


@pytest.fixture(scope="module")
def book() -> pa.Table:
    return sample_book(2_000, 29, load_rulebook())


def test_the_lists_evaluation_on_two_threads_is_the_one_on_one(
    book: pa.Table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``in_blocks`` with a second evaluator (two blocks at once, each on a thread with an evaluator of its own,
    taken in order) gives what one thread gives, block by block: outcome, fired rules, approvers, info-only rows,
    the kept figures (values, flags, dtype) and where they apply; both evaluators evaluated blocks."""
    import engine.audit.views as views
    from engine.audit.lists.tables import LISTED
    from engine.evaluate.vector import VectorEvaluator

    monkeypatch.setattr(views, "LIST_BLOCK_ROWS", 173)  # twelve blocks, the last a short one
    (tmp_path / "out").mkdir()
    audit = run_audit(book, results_csv=tmp_path / "out" / "results.csv", keep_table=False)
    at = audit.at_kpi
    assert isinstance(at.values, views.FiguresAt)
    names = tuple(dict.fromkeys(LISTED))
    served: list[int] = []
    helper = VectorEvaluator(at.book)
    evaluate = VectorEvaluator.evaluate

    def counted(self: VectorEvaluator, *args: Any, **kwargs: Any) -> Any:
        served.append(id(self))
        return evaluate(self, *args, **kwargs)

    one = views.in_blocks(at._evaluator, at.parsed, at.days, at.values._values, names)
    monkeypatch.setattr(VectorEvaluator, "evaluate", counted)
    two = views.in_blocks(at._evaluator, at.parsed, at.days, at.values._values, names, helper)
    assert len(served) == 12 and set(served) == {id(at._evaluator), id(helper)}
    assert np.array_equal(one.outcome, two.outcome) and np.array_equal(one.fired, two.fired)
    assert np.array_equal(one.band_approver, two.band_approver) and one.approvers == two.approvers
    assert one.info_only.keys() == two.info_only.keys()
    for k, hit in one.info_only.items():
        assert np.array_equal(two.info_only[k], hit), k
    assert one.values.keys() == two.values.keys() and one.figure_applies.keys() == two.figure_applies.keys()
    for name, col in one.values.items():
        if name != "_derived":
            assert col.v.dtype == two.values[name].v.dtype, name
            assert np.array_equal(col.v, two.values[name].v) and np.array_equal(col.ok, two.values[name].ok), name
    for name, rows in one.figure_applies.items():
        assert np.array_equal(rows, two.figure_applies[name]), name


def test_the_kpis_that_read_no_kpi_date_are_computed_while_its_figures_are_made(
    book: pa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit's own thread computes the KPIs that read nothing of the KPI date (``kpis_ahead``) while the other
    core makes the KPI date's figures, rather than waiting for them; and the KPIs are the same as computed in one
    go after the KPI date."""
    import threading

    import engine.audit.run as run
    from engine.audit.kpis.compute import compute_kpis, default_period

    ahead_made = threading.Event()
    made_ahead, at_kpi_date = run.kpis_ahead, run.kpis_at_kpi_date

    def ahead(*args: Any) -> Any:
        made = made_ahead(*args)
        ahead_made.set()
        return made

    def kpi_date(*args: Any) -> Any:  # on the other core: finished only once the ahead KPIs are made
        assert threading.current_thread() is not threading.main_thread()
        assert ahead_made.wait(timeout=30), "the KPIs that read no KPI date were not computed meanwhile"
        return at_kpi_date(*args)

    monkeypatch.setattr(run, "kpis_ahead", ahead)
    monkeypatch.setattr(run, "kpis_at_kpi_date", kpi_date)
    audit = run_audit(book)
    assert ahead_made.is_set()
    period = default_period(audit.kpis["period"]["end"])
    at_once = compute_kpis(audit.views, audit.result, period, None, audit.providers, audit.block_beds)
    assert audit.kpis == at_once and audit.kpis["kpis"] and audit.kpis["breakdowns"]["outcomes"]
