"""Reporting councillors and auditors can read (SPEC §19): every percentage KPI with its numerator and
denominator, marked "small number" below the rulebook's count; each KPI as a series by quarter or month, each
period counted at its own dates; and the Local Account's activity tables."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from python_calamine import CalamineWorkbook

from engine.audit.books.read import table_from_records
from engine.audit.outputs import report
from engine.audit.outputs.write import kpi_lines, write_outputs
from engine.audit.run import run_audit

HOME = {"service": "care_home", "care_type": "residential", "core_weekly_fee": "900.00", "age": 80}
SL = {"service": "supported_living", "age": 40, "sl_day_hours": "40"}
END = date(2026, 9, 30)


def _kpi(kpis: dict[str, Any], kpi_id: str) -> dict[str, Any]:
    return next(k for k in kpis["kpis"] if k["id"] == kpi_id)


def _homes(count: int, start: str = "2026-07-01", **fields: Any) -> list[dict[str, Any]]:
    return [{"placement_id": f"H{n}", **HOME, "start_date": start, **fields} for n in range(count)]


def _set_parameter(rules: Path, name: str, values: str) -> None:
    """Replace a parameter's dated values (its ``values:`` block is the file's last)."""
    path = rules / "parameters" / Path(*name.split(".")).with_suffix(".yaml")
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index("values:")] + "values:\n" + values, encoding="utf-8")


# small numbers ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("homes", "small"), [(9, True), (10, False)])
def test_a_percentage_of_fewer_people_than_the_rulebook_count_is_a_small_number(homes: int, small: bool) -> None:
    book = _homes(homes - 1) + [{"placement_id": "dear", **HOME, "start_date": "2026-07-01", "core_weekly_fee": "990"}]
    audit = run_audit(table_from_records(book), as_at=END)
    summary = audit.summary()
    below = _kpi(summary, "below_median_share")
    assert (below["numerator"], below["denominator"], below["small_number"]) == (homes - 1, homes, small)
    assert summary["small_number_below"] == 10
    lot_1 = _kpi(summary, "below_median_share_lot_1")
    assert lot_1["small_number"] is small
    lot_2 = _kpi(summary, "below_median_share_lot_2")
    assert (lot_2["numerator"], lot_2["denominator"], lot_2["small_number"]) == (0, 0, True)  # no placements at all
    assert "small_number" not in _kpi(summary, "sl_weekly_run_rate")  # not a percentage
    line = next(line for line in kpi_lines(summary) if line.startswith("New care homes at or below the median, all"))
    assert line.endswith(f"small number: {homes - 1} of {homes}") is small


def test_the_small_number_count_is_the_rulebook_s_dated_value(rules: Path) -> None:
    _set_parameter(rules, "reporting.small_number_below", "  2020-01-01: 10\n  2026-09-01: 3\n")
    book = table_from_records(_homes(5))
    assert _kpi(run_audit(book, as_at=END, rules=rules).kpis, "below_median_share")["small_number"] is False
    before = run_audit(book, as_at=date(2026, 8, 31), rules=rules)  # the KPI date decides the count in force
    assert before.kpis["small_number_below"] == 10
    assert _kpi(before.kpis, "below_median_share")["small_number"] is True


def test_the_s117_council_share_is_a_share_of_money_judged_on_the_people_counted() -> None:
    book = [{"placement_id": f"S{n}", **HOME, "age": 50, "start_date": "2026-05-01", "s117": "yes"} for n in range(3)]
    share = _kpi(run_audit(table_from_records(book), as_at=END).kpis, "s117_council_share")
    assert share["counts"]["people"] == 3 and share["small_number"] is True
    assert share["numerator"] == share["pounds_weekly"]["council_share"]
    assert share["denominator"] == share["pounds_weekly"]["gross_total"] == Decimal("2700.00")


def test_the_kpis_sheet_and_the_report_show_the_parts_and_the_mark(tmp_path: Path) -> None:
    audit = run_audit(table_from_records(_homes(4)), as_at=END)
    paths = write_outputs(audit, tmp_path / "out")
    sheet = CalamineWorkbook.from_path(str(paths["results_xlsx"])).get_sheet_by_name("KPIs").to_python()
    header, first = sheet[0], sheet[1]
    assert first[header.index("id")] == "below_median_share"
    assert (first[header.index("numerator")], first[header.index("denominator")]) == (4, 4)
    assert first[header.index("small_number")] == "small number"
    html = paths["report_html"].read_text(encoding="utf-8")
    assert "4 of 4" in html and '<span class="no">small number</span>' in html
    assert json.loads(paths["kpis_json"].read_text(encoding="utf-8"))["kpis"][0]["small_number"] is True


# KPI series ---------------------------------------------------------------------------------------------------


def _series_book() -> list[dict[str, Any]]:
    """Supported living starting in each quarter of the year to 30 September 2026 (one ending), and care homes:
    two new in the first quarter (one above the median), one in the third."""
    return [
        {"placement_id": "Q1", **SL, "start_date": "2025-11-01", "sl_weekly_cost": "900.00"},
        {"placement_id": "Q2", **SL, "start_date": "2026-02-01", "sl_weekly_cost": "800.00", "end_date": "2026-05-01"},
        {"placement_id": "Q3", **SL, "start_date": "2026-04-01", "sl_weekly_cost": "700.00"},
        {"placement_id": "Q4", **SL, "start_date": "2026-09-30", "sl_weekly_cost": "600.00"},
        {"placement_id": "H1", **HOME, "start_date": "2025-10-15", "core_weekly_fee": "850.00"},  # median 870.00
        {"placement_id": "H2", **HOME, "start_date": "2025-12-31", "core_weekly_fee": "990.00"},
        {"placement_id": "H3", **HOME, "start_date": "2026-07-01"},
        {"placement_id": "before", **HOME, "start_date": "2025-09-30", "core_weekly_fee": "800.00"},
    ]


def test_by_quarter_each_quarter_counts_at_its_own_dates() -> None:
    audit = run_audit(table_from_records(_series_book()), as_at=END, by="quarter")
    series = audit.kpis["series"]
    assert series["by"] == "quarter"
    assert [(p["label"], p["start"], p["end"]) for p in series["periods"]] == [
        ("Oct-Dec 2025", date(2025, 10, 1), date(2025, 12, 31)),
        ("Jan-Mar 2026", date(2026, 1, 1), date(2026, 3, 31)),
        ("Apr-Jun 2026", date(2026, 4, 1), date(2026, 6, 30)),
        ("Jul-Sep 2026", date(2026, 7, 1), date(2026, 9, 30)),
    ]
    # the previous period of a quarter is the quarter before it
    assert [(p["previous_start"], p["previous_end"]) for p in series["periods"]][1] == (
        date(2025, 10, 1),
        date(2025, 12, 31),
    )
    kpis = {k["id"]: k for k in series["kpis"]}
    assert [k["id"] for k in series["kpis"]] == [k["id"] for k in audit.kpis["kpis"]]
    # the run rate at each quarter's last day counts only the services active then (Q2 ended on 30 April)
    run_rate = [p["value"] for p in kpis["sl_weekly_run_rate"]["points"]]
    assert run_rate == [Decimal("900.00"), Decimal("1700.00"), Decimal("1600.00"), Decimal("2200.00")]
    assert run_rate[-1] == _kpi(audit.kpis, "sl_weekly_run_rate")["value"]
    # new care homes are counted in the quarter they start, each at its start date
    below = kpis["below_median_share"]["points"]
    assert [(p["numerator"], p["denominator"]) for p in below] == [(1, 2), (0, 0), (0, 0), (1, 1)]
    assert [p["small_number"] for p in below] == [True] * 4
    assert below[1]["value"] is None
    # the mean price of the first quarter is compared with the quarter before it (the 30 September 2025 start)
    mean = kpis["mean_price_new_residential"]["points"][0]
    assert mean["counts"] == {"this_period": 2, "previous_period": 1} and mean["target_met"] is False


def test_by_month_gives_twelve_months_and_the_sheet_and_report_carry_the_series(tmp_path: Path) -> None:
    audit = run_audit(table_from_records(_series_book()), as_at=END, by="month")
    series = audit.kpis["series"]
    assert [p["label"] for p in series["periods"]][:2] == ["Oct 2025", "Nov 2025"] and len(series["periods"]) == 12
    run_rate = next(k for k in series["kpis"] if k["id"] == "sl_weekly_run_rate")["points"]
    assert [p["value"] for p in run_rate][:2] == [Decimal("0.00"), Decimal("900.00")]
    paths = write_outputs(audit, tmp_path / "out")
    book = CalamineWorkbook.from_path(str(paths["results_xlsx"]))
    assert book.sheet_names[:3] == ["Results", "KPIs", "KPI series"]
    rows = book.get_sheet_by_name("KPI series").to_python()
    assert len(rows) == 1 + 12 * len(series["kpis"])
    assert json.loads(paths["kpis_json"].read_text(encoding="utf-8"))["series"]["periods"][0]["label"] == "Oct 2025"
    context = report.report_context(audit)
    html = report.render_context(context)
    assert html.count('<img alt="chart"') == 3 + len(series["kpis"]) and "KPIs by month" in html


def test_a_period_that_is_not_whole_quarters_keeps_a_shorter_first_part() -> None:
    audit = run_audit(table_from_records(_series_book()), as_at=END, period_start=date(2026, 2, 15), by="quarter")
    periods = audit.kpis["series"]["periods"]
    assert [(p["label"], p["start"]) for p in periods] == [
        ("2026-02-15 to 2026-03-31", date(2026, 2, 15)),
        ("Apr-Jun 2026", date(2026, 4, 1)),
        ("Jul-Sep 2026", date(2026, 7, 1)),
    ]


def test_without_by_there_is_no_series_and_a_bad_by_is_refused(tmp_path: Path) -> None:
    audit = run_audit(table_from_records(_series_book()), as_at=END)
    assert "series" not in audit.summary()
    with pytest.raises(ValueError, match="by must be one of quarter, month"):
        run_audit(table_from_records(_series_book()), by="week")  # type: ignore[arg-type]
    book = tmp_path / "book.csv"
    book.write_text(
        "placement_id,service,start_date,age,sl_day_hours,sl_weekly_cost\nA,supported_living,01/05/2026,40,10,400\n"
    )
    done = subprocess.run(
        [Path(sys.executable).with_name("carerules"), "audit", book, "--by", "week", "--out", tmp_path / "o"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "--by must be quarter or month" in done.stderr
    assert not (tmp_path / "o").exists()


# activity tables ----------------------------------------------------------------------------------------------


def _activity_book() -> list[dict[str, Any]]:
    assessed = {"capital": "10000.00", "weekly_income": "200.00"}  # a financial assessment recorded
    return [
        {"placement_id": "R64", **HOME, "age": 64, "start_date": "2026-05-01"},  # no financial assessment
        {"placement_id": "R65", **HOME, **assessed, "age": 65, "start_date": "2025-05-01"},  # admitted before
        {
            "placement_id": "N80",
            **HOME,
            **assessed,
            "care_type": "nursing",
            "core_weekly_fee": "1000.00",
            "fnc_weekly": "250.00",  # part of the gross cost
            "start_date": "2026-06-01",
        },
        {
            "placement_id": "N81",
            **HOME,
            **assessed,
            "care_type": "nursing",
            "start_date": "2026-03-01",
            "end_date": "2026-09-01",
        },
        {"placement_id": "SL", **SL, **assessed, "start_date": "2026-04-01", "sl_weekly_cost": "700.00"},
    ]


def _rows(activity: dict[str, Any]) -> dict[tuple[str, str, str, str], tuple[int, int]]:
    return {
        (r["service"], r["setting"], r["age_band"], r["in_area"]): (
            r["people_at_kpi_date"],
            r["new_permanent_admissions"],
        )
        for r in activity["people_and_admissions"]
    }


def test_activity_counts_people_at_the_kpi_date_and_admissions_by_service_setting_age_and_area() -> None:
    audit = run_audit(table_from_records(_activity_book()), as_at=END)
    activity = audit.summary()["activity"]
    assert activity["age_bands"] == ["18-64", "65+"] and activity["kpi_date"] == END
    assert activity["in_area"].startswith("not known")
    assert _rows(activity) == {
        ("care_home", "residential", "18-64", "not known"): (1, 1),
        ("care_home", "residential", "65+", "not known"): (1, 0),
        ("care_home", "nursing", "65+", "not known"): (1, 2),  # N81 ended before the KPI date, admitted in the period
        ("supported_living", "supported_living", "18-64", "not known"): (1, 1),
    }
    assert activity["totals"] == {"people_at_kpi_date": 4, "new_permanent_admissions": 4}


def test_activity_takes_in_area_and_permanent_stays_from_outside_the_book() -> None:
    book = table_from_records(_activity_book())
    audit = run_audit(
        book, as_at=END, in_area=[True, False, None, True, True], permanent=[True, True, False, True, None]
    )
    activity = audit.summary()["activity"]
    assert activity["in_area"] == "from the provider register"
    assert _rows(activity) == {
        ("care_home", "residential", "18-64", "yes"): (1, 1),
        ("care_home", "residential", "65+", "no"): (1, 0),
        ("care_home", "nursing", "65+", "not known"): (1, 0),  # not a permanent stay
        ("care_home", "nursing", "65+", "yes"): (0, 1),
        ("supported_living", "supported_living", "18-64", "yes"): (1, 0),  # stay type not known: not counted
    }
    with pytest.raises(ValueError, match="in_area: 2 values for a book of 5 rows"):
        run_audit(book, as_at=END, in_area=[True, False])


def test_the_age_bands_come_from_the_rulebook(rules: Path) -> None:
    _set_parameter(rules, "reporting.older_age_band_from", "  2020-01-01: 75\n")
    activity = run_audit(table_from_records(_activity_book()), as_at=END, rules=rules).summary()["activity"]
    assert activity["age_bands"] == ["18-74", "75+"]
    assert {key[2] for key in _rows(activity)} == {"18-74", "75+"}


def test_annual_cost_is_weeks_a_year_of_the_weekly_cost_and_the_net_is_the_kpi_s(tmp_path: Path) -> None:
    audit = run_audit(table_from_records(_activity_book()), as_at=END)
    summary = audit.summary()
    cost = {r["service"]: r for r in summary["activity"]["cost_by_service"]}
    assert summary["activity"]["weeks_a_year"] == 52
    home = cost["care_home"]
    assert home["people_at_kpi_date"] == 3 and home["gross_weekly"] == Decimal("3050.00")
    assert home["gross_annual"] == Decimal("158600.00")  # 3,050.00 × 52, exact
    assert home["council_net_not_known"] == 1  # R64: no financial assessment
    assert cost["supported_living"]["gross_weekly"] == Decimal("700.00")
    net = sum((r["council_net_weekly"] for r in cost.values()), Decimal(0))
    assert home["council_net_weekly"] > 0 and net == _kpi(summary, "council_net_cost_weekly")["value"]
    assert home["council_net_annual"] == home["council_net_weekly"] * 52
    paths = write_outputs(audit, tmp_path / "out")
    workbook = CalamineWorkbook.from_path(str(paths["results_xlsx"]))
    assert workbook.sheet_names[-2:] == ["Activity", "Activity cost"]
    costs = workbook.get_sheet_by_name("Activity cost").to_python()
    assert costs[1][costs[0].index("gross_annual")] == 158600.0
    html = paths["report_html"].read_text(encoding="utf-8")
    assert "<h2>Activity</h2>" in html and "£158,600.00" in html
