"""Results carry the figures of the rule that decided the row (SPEC §19): a working-age care home shows its
CareCubed comparison, and the over-65 median's, which does not apply to it, is left empty — in results.csv,
results.xlsx and the lists."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from engine.audit.books.read import read_book, table_from_records
from engine.audit.outputs.write import write_outputs
from engine.audit.run import run_audit

HOME = {"service": "care_home", "care_type": "residential", "start_date": "2026-05-04", "nhs_contribution_weekly": "0"}
BOOK = [
    # 40 years old, from 4 May 2026 (working-age strategy in force from 1 April 2026): £1,050.00 against a
    # CareCubed costing of £1,000.00 is £50.00, 5.00% over (WAP-02, team manager); against the Lot 1 median
    # £915.00 it would be £135.00, 14.75% over, which is not the rule that decides it
    {"placement_id": "WA", **HOME, "age": 40, "core_weekly_fee": "1050.00", "care_cubed_weekly": "1000.00"},
    # working age with no CareCubed costing (WAP-05): no comparison at all
    {"placement_id": "WA-none", **HOME, "age": 30, "core_weekly_fee": "1050.00"},
    # 80 years old with a CareCubed figure recorded: the over-65 median decides (CHP-02), CareCubed not shown
    {"placement_id": "OLD", **HOME, "age": 80, "core_weekly_fee": "950.00", "care_cubed_weekly": "1000.00"},
]
MEDIAN = ("benchmark_weekly", "over_benchmark_weekly", "over_benchmark_percent")
CARE_CUBED = ("care_cubed_used_weekly", "over_care_cubed_weekly", "over_care_cubed_percent")


@pytest.mark.parametrize("engine", ["vector", "durable"])
def test_a_working_age_row_shows_its_care_cubed_comparison_not_the_median(engine: str) -> None:
    rows = run_audit(table_from_records(BOOK), engine=engine).table.to_pylist()  # type: ignore[arg-type]
    wa, none, old = rows
    assert wa["rule_ids"] == "WAP-02" and wa["approvers"] == "team_manager"
    assert [wa[c] for c in CARE_CUBED] == [Decimal("1000.00"), Decimal("50.00"), Decimal("5.00")]
    assert [wa[c] for c in MEDIAN] == [None, None, None]
    assert wa["care_cubed_weekly"] == "1000.00"  # the input column, as read
    assert wa["comparable_weekly"] == Decimal("1050.00") and wa["personal_budget_used_weekly"] == Decimal("1000.00")
    assert none["rule_ids"] == "WAP-05"
    assert [none[c] for c in (*MEDIAN, *CARE_CUBED)] == [None] * 6
    assert old["rule_ids"] == "CHP-02"
    assert [old[c] for c in MEDIAN] == [Decimal("915.00"), Decimal("35.00"), Decimal("3.83")]
    assert [old[c] for c in CARE_CUBED] == [None, None, None]


def test_results_csv_xlsx_and_the_lists_show_the_care_cubed_comparison(tmp_path: Path) -> None:
    audit = run_audit(table_from_records(BOOK), as_at=date(2026, 5, 4))
    paths = write_outputs(audit, tmp_path, report=False)
    with paths["results_csv"].open(encoding="utf-8-sig") as handle:
        wa = next(csv.DictReader(handle))
    assert [wa[c] for c in CARE_CUBED] == ["1000.00", "50.00", "5.00"]
    assert [wa[c] for c in MEDIAN] == ["", "", ""]
    sheet = read_book(paths["results_xlsx"]).to_pylist()[0]
    assert [sheet[c] for c in CARE_CUBED] == ["1000", "50", "5"]
    assert [sheet[c] for c in MEDIAN] == [None, None, None]
    with paths["needs_approval_csv"].open(encoding="utf-8-sig") as handle:
        listed = {row["placement_id"]: row for row in csv.DictReader(handle)}
    assert set(listed) == {"WA", "OLD"}
    assert (listed["WA"]["care_cubed_weekly"], listed["WA"]["over_care_cubed_percent"]) == ("1000.00", "5.00")
    assert (listed["WA"]["benchmark_weekly"], listed["WA"]["over_benchmark_percent"]) == ("", "")
    assert (listed["OLD"]["benchmark_weekly"], listed["OLD"]["over_benchmark_percent"]) == ("915.00", "3.83")
    assert (listed["OLD"]["care_cubed_weekly"], listed["OLD"]["over_care_cubed_percent"]) == ("", "")
