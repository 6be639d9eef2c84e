"""`carerules whatif` (SPEC §18, the annual fee review): the new benchmarks and rates, the added cost of the active
book (checked row by row through single decisions), the shares before and after, the budget, and bad input."""

from __future__ import annotations

import json
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.audit.books.sample import sample_book
from engine.audit.outputs.write import write_csv
from engine.cli.main import app
from engine.decide import Engine
from engine.editions.whatif import with_overrides
from engine.rulebook.loader import load_rulebook
from engine.validate.batch import row_dict
from engine.validate.placement import InputError

RUNNER = CliRunner()
FROM = date(2027, 4, 1)
UPLIFT = "residential=4.5,nursing=6,day_hour_rate=3.25"
PRICE = {"care_home": "benchmark_weekly", "supported_living": "sl_reference_weekly"}


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, object]]]:
    table = sample_book(120, seed=27, book=load_rulebook())
    path = tmp_path_factory.mktemp("whatif") / "book.csv"
    write_csv(table, path)
    return path, [row_dict(table, k) for k in range(table.num_rows)]


def _review(path: Path, *args: str) -> dict:
    result = RUNNER.invoke(app, ["whatif", str(path), "--uplift", UPLIFT, "--from", "01/04/2027", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout, parse_float=Decimal)


def test_each_new_rate_is_the_rate_in_force_uplifted_and_rounded_half_up_to_the_penny(book) -> None:
    review = _review(book[0])
    base = load_rulebook()
    percents = {"residential": "4.5", "nursing": "6", "day_hour_rate": "3.25"}
    seen = {}
    for rate in review["rates"]:
        was = Decimal(base.parameters[rate["parameter"]].at(FROM)[0]) / 100
        now = (was * (1 + Decimal(percents[rate["category"]]) / 100)).quantize(Decimal("0.01"), ROUND_HALF_UP)
        assert (Decimal(str(rate["was"])), Decimal(str(rate["now"]))) == (was, now), rate
        seen[rate["parameter"]] = rate["category"]
    # the care categories say which benchmark is which care type
    lots = {category.benchmark: category.fixed("care_type") for category in base.categories.items}
    assert seen == {
        **lots,
        "supported_living.day_hour_rate": "day_hour_rate",
    }


def test_the_added_cost_is_the_sum_over_the_rows_of_new_price_less_old(book) -> None:
    """Each row decided alone, at the review's date, on the rulebook and on the uplifted one."""
    path, rows = book
    review = _review(path)
    base = load_rulebook()
    overrides = {rate["parameter"]: {FROM: Decimal(str(rate["now"]))} for rate in review["rates"]}
    before, after = Engine(base), Engine(with_overrides(base, overrides))
    added: dict[str, Decimal] = {}
    affected = 0
    for row in rows:
        try:
            started = date.fromisoformat(str(row["start_date"]))
        except ValueError:
            continue  # one of the sample's deliberately bad rows: the review leaves it out as an input error
        if started > FROM:
            continue  # not active on the review's date
        try:
            old, new = before.decide(row, FROM).figures, after.decide(row, FROM).figures
        except InputError:
            continue
        figure = PRICE.get(str(row["service"]))
        if figure is None:
            continue  # a package priced by no median or reference rate is not in a fee review
        if old.get(figure) is None or new.get(figure) is None:
            continue
        change = new[figure] - old[figure]
        affected += change != 0
        added[str(row["service"])] = added.get(str(row["service"]), Decimal(0)) + change
    assert affected > 0 and set(added) == {"care_home", "supported_living"}
    assert Decimal(str(review["added_weekly"])) == sum(added.values())
    assert review["placements_affected"] == affected
    for service, weekly in added.items():
        cost = review["by_service"][service]
        assert Decimal(str(cost["added_weekly"])) == weekly
        assert Decimal(str(cost["added_annual"])) == weekly * review["weeks_a_year"]
    by_category = sum(Decimal(str(cost["added_weekly"])) for cost in review["by_category"].values())
    assert by_category == sum(added.values())


def test_shares_rise_and_the_budget_leaves_the_headroom(book) -> None:
    review = _review(book[0], "--budget", "£1,000,000")
    for share in review["shares_at_or_below"].values():
        assert share["at_or_below_after"] >= share["at_or_below_before"]  # a higher median, the same prices
    assert any(s["at_or_below_after"] > s["at_or_below_before"] for s in review["shares_at_or_below"].values())
    budget = review["budget"]
    assert Decimal(str(budget["remaining"])) == Decimal("1000000.00") - Decimal(str(review["added_annual"]))


def test_a_review_dated_after_the_book_evaluates_the_book_at_its_date(book) -> None:
    review = _review(book[0])
    assert review["evaluated_at"] == "2027-04-01" and review["placements_affected"] > 0


def test_the_console_shows_the_rates_the_costs_and_the_shares(book) -> None:
    result = RUNNER.invoke(app, ["whatif", str(book[0]), "--uplift", "nursing=6", "--from", "2027-04-01"])
    assert result.exit_code == 0, result.output
    assert "care_homes.benchmark.lot_6" in result.stdout and "nursing +6%" in result.stdout
    assert "by category" in result.stdout and "by service" in result.stdout and "(a year = 52 weeks)" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--uplift", "dementia=4", "--from", "2027-04-01"], "unknown category 'dementia'"),
        (["--uplift", "residential=four", "--from", "2027-04-01"], "must be a percentage"),
        (["--uplift", "residential=-100", "--from", "2027-04-01"], "more than -100%"),
        (["--uplift", "residential", "--from", "2027-04-01"], "CATEGORY=PERCENT"),
        (["--uplift", "supported_living=3,day_hour_rate=2", "--from", "2027-04-01"], "already uplifted"),
        (["--uplift", "residential=4", "--from", "2027-13-01"], "--from"),
        (["--uplift", "residential=4", "--from", "next April"], "--from"),
        (["--uplift", "residential=4", "--from", "2019-04-01"], "no value in force on 2019-04-01"),
        (["--uplift", "residential=4", "--from", "2027-04-01", "--budget", "lots"], "--budget"),
    ],
)
def test_bad_input_exits_2_with_a_message(book, args: list[str], message: str) -> None:
    result = RUNNER.invoke(app, ["whatif", str(book[0]), *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output


def test_a_book_that_cannot_be_read_exits_2(tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ["whatif", str(tmp_path / "none.csv"), "--uplift", "nursing=6", "--from", "2027-04-01"])
    assert result.exit_code == 2 and "cannot use" in result.stderr and "Traceback" not in result.output
