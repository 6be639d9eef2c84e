"""Outputs for other readers (issue 28): Parquet for a warehouse (``--format parquet``), CSVs that Excel opens as
UTF-8 (a byte order mark), and a progress bar that moves while the outputs are written."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from engine.audit.books.read import table_from_records
from engine.audit.outputs.write import write_outputs
from engine.audit.run import run_audit
from engine.cli.audit import _Bar
from engine.cli.main import app
from tests.test_audit_exports import clean_book, write_rows

runner = CliRunner()


def _book(tmp_path: Path) -> Path:
    rows = [{**r, "provider": "Café Lodge – £ rooms"} for r in clean_book()]
    rows.append({**rows[0], "placement_id": "BAD", "core_weekly_fee": "-5"})
    header = list(dict.fromkeys(k for r in rows for k in r))
    path = tmp_path / "book.csv"
    write_rows(path, header, [[r.get(k, "") for k in header] for r in rows])
    return path


def test_format_parquet_writes_the_tables_as_parquet_with_money_as_exact_decimals(tmp_path: Path) -> None:
    book = _book(tmp_path)
    assert runner.invoke(app, ["audit", str(book), "--out", str(tmp_path / "csv")]).exit_code == 1
    result = runner.invoke(app, ["audit", str(book), "--out", str(tmp_path / "pq"), "--format", "parquet"])
    assert result.exit_code == 1, result.output
    out = tmp_path / "pq"
    assert not (out / "results.csv").exists() and "results parquet" in result.output
    for name in ("results", "errors", "needs_approval", "refer", "isp_no_nhs_contribution"):
        assert (out / f"{name}.parquet").exists(), name
        assert not (out / f"{name}.csv").exists(), name
    results = pq.read_table(out / "results.parquet")
    assert results.schema.field("gross_weekly_cost").type == pa.decimal128(18, 2)
    assert results.schema.field("core_weekly_fee").type == pa.string()  # an input column: the text as read
    with (tmp_path / "csv" / "results.csv").open(encoding="utf-8-sig") as handle:
        written = list(csv.DictReader(handle))
    parquet = results.to_pylist()
    assert [row["gross_weekly_cost"] for row in parquet] == [
        Decimal(row["gross_weekly_cost"]) if row["gross_weekly_cost"] else None for row in written
    ]
    assert [row["outcome"] for row in parquet] == [row["outcome"] or None for row in written]
    assert parquet[0]["provider"] == "Café Lodge – £ rooms"
    errors = pq.read_table(out / "errors.parquet").to_pylist()
    assert [(e["row"], e["field"], e["value"]) for e in errors] == [(8, "core_weekly_fee", "-5")]
    assert (out / "kpis.json").read_text("utf-8") == (tmp_path / "csv" / "kpis.json").read_text("utf-8")
    wrong = runner.invoke(app, ["audit", str(book), "--out", str(tmp_path / "x"), "--format", "feather"])
    assert wrong.exit_code == 2 and "--format must be csv or parquet" in wrong.output


def test_every_csv_output_starts_with_utf8s_byte_order_mark(tmp_path: Path) -> None:
    """Excel, opening a CSV with a double click, reads it in the ANSI code page unless it starts with the BOM:
    then "£" would show as "Â£"."""
    result = runner.invoke(app, ["audit", str(_book(tmp_path)), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    written = sorted((tmp_path / "out").glob("*.csv"))
    assert {path.name for path in written} >= {"results.csv", "errors.csv", "refer.csv", "needs_approval.csv"}
    for path in written:
        data = path.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\xef\xbb\xbf") == 1, path.name
    results = (tmp_path / "out" / "results.csv").read_bytes()
    assert "Café Lodge – £ rooms".encode() in results


def test_the_progress_moves_a_block_at_a_time_while_the_outputs_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.audit.outputs import csv_out, parquet_out, xlsx

    rows = [dict(clean_book()[k % 6], placement_id=f"P{k}") for k in range(40)]
    audit = run_audit(table_from_records(rows))
    monkeypatch.setattr(csv_out, "CSV_BLOCK_ROWS", 7)
    monkeypatch.setattr(xlsx, "BLOCK_ROWS", 9)
    monkeypatch.setattr(parquet_out, "PARQUET_BLOCK_ROWS", 11)
    for form in ("csv", "parquet"):
        ticks: list[tuple[str, int, int]] = []
        write_outputs(audit, tmp_path / form, report=False, format=form, progress=lambda *t, into=ticks: into.append(t))  # type: ignore[arg-type, misc]
        assert {stage for stage, _, _ in ticks} == {"write"}
        done = [d for _, d, _ in ticks]
        total = ticks[-1][2]
        assert done == sorted(done) and done[-1] == total
        assert total >= 2 * 40  # results (CSV or Parquet) and the Results sheet at least
        assert len(ticks) > 40 * 2 // 11  # a tick per block, not one at the end


def test_the_bar_shows_rows_a_second_over_the_stage_so_far() -> None:
    now = [100.0]
    bar = _Bar(False, clock=lambda: now[0])
    assert bar.rate("write", 0) == ""
    now[0] = 102.0
    assert bar.rate("write", 50_000) == "25,000 rows/s"
    assert bar.rate("kpis", 10) == ""  # a new stage starts its own clock
    now[0] = 103.0
    assert bar.rate("kpis", 10) == "10 rows/s"
