"""The HTML report: its data is plain (sent to a renderer that imported matplotlib while the book was audited),
the price chart's figures are the same whether reused from the audit or derived again, and a renderer that fails
or is never sent anything leaves a report written in process and no process behind."""

from __future__ import annotations

import pickle
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from engine.audit.outputs import renderer as renderer_module
from engine.audit.outputs import report
from engine.audit.outputs.renderer import ReportRenderer
from engine.audit.outputs.write import write_outputs
from engine.audit.run import run_audit
from engine.audit.views import AuditViews
from engine.evaluate.vector import VectorEvaluator

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample_placements.csv"


@pytest.fixture(scope="module")
def audit():  # type: ignore[no-untyped-def]
    return run_audit(SAMPLE)


def test_the_context_is_plain_data_and_renders_the_same_as_the_report(audit) -> None:  # type: ignore[no-untyped-def]
    context = report.report_context(audit)
    assert pickle.loads(pickle.dumps(context)) == context
    html = report.render_context(context)
    assert html.count('<img alt="chart"') == 3 and "Packages active at the KPI date" in html


def test_price_figures_reused_from_the_audit_equal_figures_derived_at_the_start_dates(audit, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    reused = report._price_stats(audit)
    assert reused[0], "the sample has new care-home placements in the period"
    assert audit.views.at_start() is audit.values  # the rows were evaluated at their start dates
    fresh = AuditViews(audit.book, audit.parsed)  # no evaluation of the rows: the figures are derived again
    monkeypatch.setattr(audit, "views", fresh)
    assert report._price_stats(audit) == reused
    assert fresh.at_start() is not audit.values


def test_with_as_at_the_price_figures_are_derived_at_the_start_dates() -> None:
    at = run_audit(SAMPLE, as_at=date(2026, 6, 30))
    start = at.parsed.cols["start_date"].v
    derived = VectorEvaluator(at.book).derive(at.parsed, start)
    at_start = at.views.at_start()
    assert at_start is not at.values
    for name in ("lot", "is_care_home", "benchmark_weekly", "comparable_weekly"):
        assert (at_start[name].ok == derived[name].ok).all() and (at_start[name].v == derived[name].v).all(), name
    stats, labels = report._price_stats(at)
    at.views = AuditViews(at.book, at.parsed)
    at.views.own_figures(start)  # figures at the start dates given as the rows' own: reused as they are
    assert report._price_stats(at) == (stats, labels)


def test_an_audit_derives_the_book_once_at_each_date(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """One evaluator for the audit's own thread and one for the KPI date; the figures at the start dates are
    derived once, for the KPIs and the report alike (here the rows' own dates are not their start dates)."""
    built: list[object] = []
    derived: list[np.ndarray] = []
    init, derive = VectorEvaluator.__init__, VectorEvaluator.derive

    def counted_init(self, book):  # type: ignore[no-untyped-def]
        built.append(book)
        init(self, book)

    def counted_derive(self, parsed, as_at, only=None, into=None):  # type: ignore[no-untyped-def]
        if only is None and into is None:
            derived.append(as_at.copy())
        return derive(self, parsed, as_at, only, into)

    monkeypatch.setattr(VectorEvaluator, "__init__", counted_init)
    monkeypatch.setattr(VectorEvaluator, "derive", counted_derive)
    at = run_audit(SAMPLE, as_at=date(2026, 6, 30))
    report.report_context(at)
    assert len(built) == 1  # every row at the KPI date: the rows' own evaluation, by the audit's evaluator
    start = at.parsed.cols["start_date"].v
    assert sum(np.array_equal(days, start) for days in derived) == 1  # the KPIs' derivation, reused by the report
    built.clear()
    at = run_audit(SAMPLE)  # the KPI date is not every row's own date: it has an evaluator of its own
    report.report_context(at)
    assert len(built) == 2


def test_the_renderer_writes_the_report(audit, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    renderer = ReportRenderer.start()
    assert renderer is not None
    paths = write_outputs(audit, tmp_path, excel=False, renderer=renderer)
    assert "<html" in paths["report_html"].read_text(encoding="utf-8").lower()
    assert not renderer._process.is_alive()


def test_the_charts_drawn_ahead_give_the_report_rendered_in_process(audit, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """write_outputs sends the charts' figures first (drawn while the lists are made), then the rest: the same
    bytes as the report rendered in one go in this process."""
    renderer = ReportRenderer.start()
    assert renderer is not None
    paths = write_outputs(audit, tmp_path, excel=False, renderer=renderer)
    assert paths["report_html"].read_text(encoding="utf-8") == report.render_report(audit)
    assert report.chart_context(audit) == report.report_context(audit)["charts"]


def test_charts_that_fail_ahead_are_drawn_again_with_the_rest(audit, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def broken(charts):  # type: ignore[no-untyped-def]
        raise RuntimeError("no fonts yet")

    monkeypatch.setattr(renderer_module, "draw_charts", broken)  # the forked child inherits the break
    renderer = ReportRenderer.start()
    assert renderer is not None
    paths = write_outputs(audit, tmp_path, excel=False, renderer=renderer)
    assert paths["report_html"].read_text(encoding="utf-8") == report.render_report(audit)


def test_a_renderer_sent_only_the_charts_stops(audit) -> None:  # type: ignore[no-untyped-def]
    renderer = ReportRenderer.start()
    assert renderer is not None
    renderer.draw(report.chart_context(audit))
    renderer.close()
    assert not renderer._process.is_alive()


def test_a_failing_renderer_leaves_the_report_to_the_parent(audit, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def broken(context, drawn=None):  # type: ignore[no-untyped-def]
        raise RuntimeError("no fonts")

    monkeypatch.setattr(renderer_module, "render_context", broken)  # the forked child inherits the break
    renderer = ReportRenderer.start()
    assert renderer is not None
    paths = write_outputs(audit, tmp_path, excel=False, renderer=renderer)
    assert "<html" in paths["report_html"].read_text(encoding="utf-8").lower()


def test_a_renderer_sent_nothing_stops(audit, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    renderer = ReportRenderer.start()
    assert renderer is not None
    paths = write_outputs(audit, tmp_path, excel=False, report=False, renderer=renderer)
    assert "report_html" not in paths and not renderer._process.is_alive()


def test_the_evaluation_at_the_kpi_date_reuses_its_figures_and_decides_as_a_fresh_one(audit) -> None:  # type: ignore[no-untyped-def]
    """The KPIs at the KPI date derive only the figures they read, and hold only those; another figure is derived
    when read; the lists evaluate every row at that date from those figures, completed in place; the outcome, fired
    rules and figures are those of an evaluation from scratch."""
    from engine.audit.views import KPI_FIGURES, FiguresAt, kpi_names

    at = AuditViews(audit.book, audit.parsed).at_kpi_date(audit.at_kpi.day)
    evaluator = VectorEvaluator(audit.book)
    fresh = evaluator.evaluate(audit.parsed, at.days)
    assert isinstance(at.values, FiguresAt)
    asked = [*KPI_FIGURES, *kpi_names(audit.book)]
    first = evaluator.needed(asked)
    assert len(first) < len(audit.book.figures)  # the KPIs' figures and those they read only
    assert at.values["_derived"] == set(asked) & set(first)  # held: those asked for (the others are let go)
    late = next(name for name in fresh.figures if name not in first)  # derived when first read, as a fresh one
    assert (at.values[late].ok == fresh.values[late].ok).all() and (at.values[late].v == fresh.values[late].v).all()
    reused = at.result
    assert reused.values is at.values.complete()  # completed in place: no figure derived twice
    assert (reused.outcome == fresh.outcome).all() and (reused.fired == fresh.fired).all()
    for name, col in fresh.figures.items():
        ok = col.ok & fresh.figure_applies[name]
        assert (reused.figures[name].ok & reused.figure_applies[name] == ok).all(), name
        assert (reused.figures[name].v[ok] == col.v[ok]).all(), name
