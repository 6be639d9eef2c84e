"""Batch audits: order, bad rows, unknown columns, unreadable files, Excel, KPIs worked by hand, what-if."""

from __future__ import annotations

import csv
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.audit.books.read import BookError, read_book, table_from_records
from engine.audit.outputs.write import write_excel, write_outputs
from engine.audit.run import run_audit
from engine.cli.main import app

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "sample_placements.csv"
runner = CliRunner()

# Lot 6 median from 2026-04-01 is £995.00; Lot 1 £915.00; the ISP threshold £3,000.00 from 2026-03-25
NURSING = {"service": "care_home", "age": 82, "care_type": "nursing", "fnc_weekly": "267.68"}
RESIDENTIAL = {"service": "care_home", "age": 80, "care_type": "residential"}


def _book() -> list[dict]:
    return [
        {
            "placement_id": "A",
            **NURSING,
            "start_date": "2026-05-04",
            "core_weekly_fee": "990.00",
            "nhs_contribution_weekly": "0",
        },
        {"placement_id": "B", **NURSING, "start_date": "2026-06-01", "core_weekly_fee": "1040.00"},
        {"placement_id": "C", **RESIDENTIAL, "start_date": "2026-06-01", "core_weekly_fee": "900.00"},
        {"placement_id": "D", **RESIDENTIAL, "start_date": "2026-07-01", "core_weekly_fee": "-5"},
        {
            "placement_id": "E",
            **NURSING,
            "start_date": "2026-07-01",
            "core_weekly_fee": "2800.00",
            "one_to_one_weekly": "300.00",
            "nhs_contribution_weekly": "0",
        },
        {
            "placement_id": "F",
            **NURSING,
            "start_date": "2026-07-01",
            "core_weekly_fee": "2900.00",
            "one_to_one_weekly": "400.00",
        },
        {
            "placement_id": "G",
            "service": "supported_living",
            "age": 40,
            "start_date": "2026-05-01",
            "sl_day_hours": "40",
            "sl_weekly_cost": "900.00",
            "s117": "true",
            "nhs_contribution_weekly": "300.00",
        },
    ]


def _kpi(audit, kpi_id):  # type: ignore[no-untyped-def]
    return next(k for k in audit.kpis["kpis"] if k["id"] == kpi_id)


def test_every_row_once_in_input_order_with_bad_rows_reported() -> None:
    audit = run_audit(table_from_records(_book()))
    rows = audit.table.to_pylist()
    assert [r["placement_id"] for r in rows] == list("ABCDEFG")
    assert [r["row"] for r in rows] == list(range(2, 9))  # as a spreadsheet numbers them: the header is row 1
    bad = rows[3]
    assert bad["outcome"] is None and bad["rule_ids"] is None
    assert bad["errors"] == "core_weekly_fee: must not be negative"
    assert rows[0]["outcome"] == "proceed" and rows[0]["rule_ids"] == "CHP-01"
    assert rows[1]["outcome"] == "needs_approval" and rows[1]["approvers"] == "team_manager"
    assert rows[1]["over_benchmark_percent"] == Decimal("4.52")
    assert audit.error_rows == 1


def test_unknown_columns_pass_through_with_a_warning() -> None:
    records = [{**r, "team": f"T{i}", "outcome": "old"} for i, r in enumerate(_book())]
    audit = run_audit(table_from_records(records))
    assert any("team" in w and "outcome" in w for w in audit.warnings)
    rows = audit.table.to_pylist()
    assert [r["team"] for r in rows] == [f"T{i}" for i in range(7)]
    assert rows[0]["input_outcome"] == "old" and rows[0]["outcome"] == "proceed"


def test_respite_and_in_house_are_counted_apart_and_every_service_is_broken_down() -> None:
    """SPEC §16.1: new-placement KPIs count permanent stays; benchmark KPIs leave in-house provision out (both
    counted apart); the KPIs break down by service at the KPI date (people, gross and council net £ a week)."""
    book = _book() + [
        {
            "placement_id": "H",
            **RESIDENTIAL,
            "start_date": "2026-06-01",
            "core_weekly_fee": "1200.00",
            "stay_type": "respite",
        },
        {
            "placement_id": "I",
            **RESIDENTIAL,
            "start_date": "2026-06-01",
            "core_weekly_fee": "1200.00",
            "provider_type": "in_house",
        },
        {
            "placement_id": "J",
            "service": "Home Care",
            "age": 90,
            "start_date": "2026-06-01",
            "hc_hours": "140",
            "hc_hourly_rate": "22.00",
            "nhs_contribution_weekly": "0",
        },
        {
            "placement_id": "K",
            "service": "DP",
            "age": 30,
            "start_date": "2026-06-01",
            "weekly_cost": "250.00",
            "nhs_contribution_weekly": "50.00",
        },
    ]
    audit = run_audit(table_from_records(book), as_at=date(2026, 7, 31))
    below = _kpi(audit, "below_median_share")
    assert below["counts"]["new_placements"] == 5  # as without H and I: each is counted apart
    assert below["counts"]["temporary_or_respite_apart"] == 1 and below["counts"]["in_house_apart"] == 1
    residential = next(k for k in audit.kpis["kpis"] if k["id"] == "mean_price_new_residential")
    assert residential["counts"]["this_period"] == 2  # C and in-house I; respite H is not a new placement
    by_service = audit.kpis["breakdowns"]["by_service"]
    assert by_service["home_care"] == {
        "label": "Home care",
        "people": 1,
        "gross_weekly": Decimal("3080.00"),  # 140 h × £22.00
        "council_net_weekly": Decimal("3080.00"),
    }
    assert by_service["direct_payment"]["council_net_weekly"] == Decimal("200.00")  # £250.00 − NHS £50.00
    assert by_service["care_home"]["people"] == 7 and by_service["extra_care"]["people"] == 0
    isp = _kpi(audit, "isp_no_nhs_contribution")
    assert isp["counts"]["no_nhs_contribution"] == 3  # E, F and the home-care package J


def test_kpis_worked_by_hand() -> None:
    audit = run_audit(table_from_records(_book()), as_at=date(2026, 7, 31))
    below = _kpi(audit, "below_median_share")
    # new care homes aged 65+: A (990 ≤ 995), B (1040 > 995), C (900 ≤ 915), E, F (2800, 2900 > 995); D is bad
    assert below["counts"] == {
        "new_placements": 5,
        "assessed": 5,
        "at_or_below_median": 2,
        "above_median": 3,
        "no_median_in_force": 0,
        "temporary_or_respite_apart": 0,
        "in_house_apart": 0,
    }
    assert below["value"] == Decimal("40.00") and below["target_met"] is False
    assert below["pounds_weekly"]["above_median_total"] == Decimal("45.00") + Decimal("1805.00") + Decimal("1905.00")
    assert _kpi(audit, "below_median_share_lot_1")["value"] == Decimal("100.00")
    isp = _kpi(audit, "isp_no_nhs_contribution")
    # E: 2800 + 300 + 267.68 = 3367.68 with NHS 0; F: 2900 + 400 + 267.68 = 3567.68 not recorded
    assert isp["value"] == 2
    assert isp["counts"]["contribution_zero"] == 1 and isp["counts"]["contribution_not_recorded"] == 1
    assert isp["pounds_weekly"]["gross_of_flagged"] == Decimal("6935.36")
    s117 = _kpi(audit, "s117_council_share")
    assert s117["value"] == Decimal("66.67") and s117["pounds_weekly"]["council_share"] == Decimal("600.00")
    nursing = _kpi(audit, "mean_price_new_nursing")
    assert nursing["value"] == Decimal("1932.50")  # (990 + 1040 + 2800 + 2900) / 4
    run_rate = _kpi(audit, "sl_weekly_run_rate")
    assert run_rate["value"] == Decimal("900.00")


def test_whatif_lists_the_placements_whose_outcome_changes() -> None:
    overrides = {"care_homes.benchmark.lot_6": {date(2026, 4, 1): "1050.00"}}
    audit = run_audit(table_from_records(_book()), parameters=overrides)
    assert audit.whatif is not None and audit.rulebook_version == audit.whatif["whatif_version"]
    assert audit.whatif["whatif_version"] != audit.whatif["base_version"]
    changes = audit.whatif_changes.to_pylist()
    assert [c["placement_id"] for c in changes] == ["B"]
    assert changes[0]["outcome_before"] == "needs_approval" and changes[0]["outcome_after"] == "proceed"
    # B's £45.00 over disappears; E and F are £55.00 less over each
    assert audit.whatif["pounds_weekly"]["change"] == Decimal("-155.00")


def test_whatif_unknown_parameter_is_refused(tmp_path: Path) -> None:
    book = tmp_path / "book.csv"
    write_csv_rows(book, _book())
    overrides = tmp_path / "whatif.yaml"
    overrides.write_text("care_homes.benchmark.lot_9:\n  2026-04-01: 1.00\n", encoding="utf-8")
    result = runner.invoke(app, ["audit", str(book), "--parameters", str(overrides), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "lot_9" in result.output


def write_csv_rows(path: Path, records: list[dict]) -> None:
    header = list(dict.fromkeys(k for r in records for k in r))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows(records)


@pytest.mark.parametrize(
    "content, reason", [("", "empty"), ("placement_id,service\n", "no placements"), ("\n\n", "first line is empty")]
)
def test_empty_or_unreadable_file_is_a_clear_error(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "book.csv"
    path.write_text(content, encoding="utf-8")
    result = runner.invoke(app, ["audit", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert reason in result.output and "Traceback" not in result.output


def test_missing_binary_and_wrong_kind_of_file(tmp_path: Path) -> None:
    assert runner.invoke(app, ["audit", str(tmp_path / "nope.csv")]).exit_code == 2
    binary = tmp_path / "book.xlsx"
    binary.write_bytes(b"\x00\x01not a zip")
    result = runner.invoke(app, ["audit", str(binary), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "cannot read as Excel" in result.output
    with pytest.raises(BookError):
        read_book(tmp_path / "book.pdf")


def test_excel_round_trip(tmp_path: Path) -> None:
    book = read_book(SAMPLE)
    xlsx = tmp_path / "book.xlsx"
    write_excel(book, xlsx, sheet="placements")
    from_csv, from_excel = run_audit(SAMPLE), run_audit(xlsx)
    columns = ["placement_id", "outcome", "rule_ids", "approvers", "gross_weekly_cost", "errors"]
    assert from_excel.table.select(columns).to_pylist() == from_csv.table.select(columns).to_pylist()
    paths = write_outputs(from_excel, tmp_path / "out")
    back = read_book(paths["results_xlsx"])
    assert back.column("outcome").to_pylist() == from_csv.table.column("outcome").to_pylist()
    assert back.column("gross_weekly_cost").to_pylist()[:3] == [
        None if v is None else f"{v:f}".rstrip("0").rstrip(".")
        for v in from_csv.table.column("gross_weekly_cost").to_pylist()[:3]
    ]


def test_cli_audits_the_shipped_sample(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["audit", str(SAMPLE), "--out", str(out)])
    assert result.exit_code == 1, result.output  # the sample has rows that cannot be decided: exit 1
    assert "New care homes at or below the median" in result.output and str(out / "report.html") in result.output
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and "http://" not in html and "https://" not in html
    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["rows"] == 500 and kpis["error_rows"] > 0
    with (out / "results.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 500 and rows[0]["placement_id"] == "P0000001"
    assert all(r["errors"] for r in rows if not r["outcome"])
    money = [r["gross_weekly_cost"] for r in rows if r["gross_weekly_cost"]]
    assert all(m.count(".") == 1 and len(m.split(".")[1]) == 2 for m in money)


def test_durable_engine_gives_the_same_results_csv(tmp_path: Path) -> None:
    vector = run_audit(SAMPLE).table
    durable = run_audit(SAMPLE, engine="durable").table
    assert durable.to_pylist() == vector.to_pylist()


def test_sample_command_is_seeded(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    assert runner.invoke(app, ["sample", "--rows", "50", "--seed", "3", "--out", str(first)]).exit_code == 0
    assert runner.invoke(app, ["sample", "--rows", "50", "--seed", "3", "--out", str(second)]).exit_code == 0
    assert first.read_bytes() == second.read_bytes()
    assert read_book(first).num_rows == 50


@pytest.mark.parametrize("engine", ["vector", "durable"])
def test_a_placement_id_with_a_control_character_is_an_error_row_in_either_engine(engine):
    rows = [
        {"placement_id": "A\tB", **RESIDENTIAL, "start_date": "2026-06-01", "core_weekly_fee": "900.00"},
        {"placement_id": "OK", **RESIDENTIAL, "start_date": "2026-06-01", "core_weekly_fee": "900.00"},
    ]
    frame = run_audit(table_from_records(rows), engine=engine).frame
    assert frame["errors"][0] == "placement_id: must not contain control characters (NUL, tab, new line)"
    assert frame["outcome"][1] == "proceed"
