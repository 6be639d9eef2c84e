"""The audit's work spread over two cores: what runs beside what, and that it gives the same results as one at a
time (``engine/audit/run.py``, ``engine/audit/views.py``)."""

from __future__ import annotations

import threading
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


def test_the_kpi_dates_figures_are_made_by_the_audits_thread_when_the_other_core_is_still_busy(
    book: pa.Table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big results.csv's input text is made on the other core and the KPI date's figures are queued behind it;
    when the rows are evaluated before the other core has started them, the audit's own thread makes them itself
    rather than wait for the queue. The input text here waits until the KPI date's figures have started: had the
    audit's thread waited for the queue, it would wait in vain and the test fail."""
    import engine.audit.run as run

    monkeypatch.setattr(run, "CSV_BLOCK_ROWS", 500)  # a "big" book: its input text made ahead
    started = threading.Event()
    waited: list[bool] = []
    made_on: list[str] = []
    text, kpi_date = run.leading_text, run.kpis_at_kpi_date

    def leading_text(table: pa.Table) -> Any:
        waited.append(started.wait(timeout=30))
        return text(table)

    def kpis_at_kpi_date(*args: Any) -> Any:
        made_on.append(threading.current_thread().name)
        started.set()
        return kpi_date(*args)

    monkeypatch.setattr(run, "leading_text", leading_text)
    monkeypatch.setattr(run, "kpis_at_kpi_date", kpis_at_kpi_date)
    (tmp_path / "out").mkdir()
    audit = run_audit(book, results_csv=tmp_path / "out" / "results.csv", keep_table=False)
    assert waited == [True] and made_on == [threading.current_thread().name]  # once, by the audit's thread
    assert audit.results_csv is not None and audit.results_csv.stat().st_size > 0


def test_work_taken_first_is_made_once_by_the_thread_that_takes_it() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from engine.audit.run import FirstTaker

    made: list[str] = []

    def work() -> int:
        made.append(threading.current_thread().name)
        return 7

    ahead = FirstTaker(work)
    ahead.take()  # this thread takes it first: the other core's turn does nothing
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(ahead.take).result()
    assert ahead.take_or_wait() == 7 and made == [threading.current_thread().name]
    with ThreadPoolExecutor(max_workers=1) as pool:  # the other core takes it first: this thread waits for it
        ahead = FirstTaker(work)
        pool.submit(ahead.take).result()
    assert ahead.take_or_wait() == 7 and len(made) == 2 and made[1] != threading.current_thread().name

    def fails() -> int:
        raise ValueError("bad")

    with ThreadPoolExecutor(max_workers=1) as pool:  # its error is raised where the result is read
        failing = FirstTaker(fails)
        pool.submit(failing.take).result()
    with pytest.raises(ValueError, match="bad"):
        failing.take_or_wait()


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
