"""`carerules rates import`: a new edition of rates without code changes, validated before anything is written."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from engine import Engine, load_rulebook
from engine.editions.rates_import import RatesImportError, apply, read_rows
from tests.conftest import placement


def write_csv(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "rates.csv"
    path.write_text("parameter,effective_from,value\n" + body, encoding="utf-8")
    return path


def test_a_new_edition_changes_decisions_from_its_date_only(rules, tmp_path):
    before = load_rulebook(rules).version
    version = apply(
        read_rows(write_csv(tmp_path, "care_homes.benchmark.lot_6,2027-04-01,1050.00\n"), rules, False), rules
    )
    assert version != before
    engine = Engine(load_rulebook(rules))
    r_1 = placement(placement_id="R-1", start_date="2027-03-31", age=80, fnc_weekly="267.68")
    assert engine.decide(r_1).outcome == "needs_approval"  # 2026 median £995.00 still in force
    later = engine.decide(r_1, as_at=date(2027, 4, 1))
    assert later.outcome == "proceed" and later.figures["benchmark_weekly"] == 1050
    assert "2026-04-01: 995.00" in (rules / "parameters/care_homes/benchmark/lot_6.yaml").read_text()


@pytest.mark.parametrize(
    "row, problem",
    [
        ("care_homes.benchmark.lot_6,2027-04-01,1050.001", "at most 2 decimal places"),
        ("care_homes.benchmark.lot_6,2027-04-01,-5", "must not be negative"),
        ("care_homes.benchmark.lot_6,2026-04-01,1000.00", "already has a value from 2026-04-01"),
        ("care_homes.benchmark.lot_9,2027-04-01,1000.00", "unknown parameter"),
        ("care_homes.minimum_age,2027-04-01,65.5", "whole number"),
        ("isp.protocol_in_force,2027-04-01,maybe", "true or false"),
        ("care_homes.approval_bands,2027-04-01,1", "is a table"),
        ("care_homes.benchmark.lot_6,1st April,1000.00", "not a date"),
        ('supported_living.day_hour_rate,2027-04-01,"24,10"', "decimal commas are not accepted"),
        ("care_homes.minimum_age,2027-04-01,650", "not a plausible years value"),
    ],
)
def test_bad_rows_are_refused_and_nothing_is_written(rules, tmp_path, row, problem):
    before = load_rulebook(rules).version
    with pytest.raises(RatesImportError, match=problem):
        apply(read_rows(write_csv(tmp_path, row + "\n"), rules, False), rules)
    assert load_rulebook(rules).version == before


def test_replace_changes_a_value_on_the_same_date(rules, tmp_path):
    apply(read_rows(write_csv(tmp_path, "care_homes.benchmark.lot_1,2026-04-01,920.00\n"), rules, True), rules)
    assert load_rulebook(rules).parameters["care_homes.benchmark.lot_1"].at(date(2026, 5, 1)) == (
        92000,
        date(2026, 4, 1),
    )
