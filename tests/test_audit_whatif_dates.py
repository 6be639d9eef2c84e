"""A what-if dated after the book's placements is evaluated at its date by default, so a future edition never
reports "0 placements change outcome" for want of --as-at (SPEC §18); an --as-at given, or a what-if that some
row's own date already reaches, keeps each row's date as before."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from engine.audit.books.read import table_from_records
from engine.audit.outputs.write import write_csv
from engine.audit.run import run_audit
from engine.cli.main import app

HOME = {"service": "care_home", "age": 80, "care_type": "residential", "nhs_contribution_weekly": "0"}
# the Lot 1 median is £915.00 from 1 April 2026; the what-if lowers it to £900.00 from 1 April 2027
BOOK = [
    {"placement_id": "A", **HOME, "start_date": "2026-05-04", "core_weekly_fee": "910.00"},  # 910 ≤ 915; > 900
    {"placement_id": "B", **HOME, "start_date": "2026-09-30", "core_weekly_fee": "905.00"},  # 905 ≤ 915; > 900
    {"placement_id": "C", **HOME, "start_date": "2026-06-01", "core_weekly_fee": "880.00"},  # below both
]
FUTURE = {"care_homes.benchmark.lot_1": {date(2027, 4, 1): "900.00"}}


def test_a_future_dated_what_if_is_evaluated_at_its_date() -> None:
    audit = run_audit(table_from_records(BOOK), parameters=FUTURE)
    assert audit.whatif is not None
    assert audit.whatif["placements_outcome_changed"] == 2
    assert audit.whatif["transitions"] == {"proceed → needs_approval": 2}
    assert audit.as_at == date(2027, 4, 1) and audit.kpis["period"]["end"] == date(2027, 4, 1)
    assert audit.table.column("as_at_used").to_pylist() == [date(2027, 4, 1)] * 3
    assert any("evaluated at 2027-04-01" in note for note in audit.notes)
    assert [r["placement_id"] for r in audit.whatif_changes.to_pylist()] == ["A", "B"]


def test_an_as_at_given_is_kept() -> None:
    audit = run_audit(table_from_records(BOOK), parameters=FUTURE, as_at=date(2026, 9, 30))
    assert audit.whatif is not None and audit.whatif["placements_outcome_changed"] == 0
    assert audit.as_at == date(2026, 9, 30)


def test_a_what_if_some_row_already_reaches_keeps_each_row_s_own_date() -> None:
    # a change from 1 August 2026: B (30 September) sees it at its own date, A and C do not
    within = {"care_homes.benchmark.lot_1": {date(2026, 8, 1): "900.00"}}
    audit = run_audit(table_from_records(BOOK), parameters=within)
    assert audit.as_at is None and audit.whatif is not None
    assert audit.whatif["placements_outcome_changed"] == 1
    # a row's own as_at after the change counts as its date too
    dated = [
        *BOOK,
        {"placement_id": "D", **HOME, "start_date": "2026-06-01", "as_at": "2027-05-01", "core_weekly_fee": "880.00"},
    ]
    assert run_audit(table_from_records(dated), parameters=FUTURE).as_at is None


def test_without_a_what_if_nothing_changes() -> None:
    audit = run_audit(table_from_records(BOOK))
    assert audit.as_at is None and audit.kpis["period"]["end"] == date(2026, 9, 30)


def test_the_cli_reports_the_changes_of_a_future_dated_what_if(tmp_path: Path) -> None:
    book, whatif = tmp_path / "book.csv", tmp_path / "whatif.yaml"
    write_csv(table_from_records(BOOK), book)
    whatif.write_text("care_homes.benchmark.lot_1:\n  2027-04-01: 900.00\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["audit", str(book), "--parameters", str(whatif), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "2 placements change outcome" in result.output
    assert "every row is evaluated at 2027-04-01" in result.output
