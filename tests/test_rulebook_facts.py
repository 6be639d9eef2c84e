"""The earliest date and the KPIs' wording are policy facts read from rules/, refused when malformed (the care
categories: tests/test_care_categories.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from engine.decide import Engine
from engine.rulebook.loader import load_rulebook
from engine.rulebook.strict_yaml import RulebookError
from engine.validate.placement import InputError


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_the_earliest_date_is_read_from_the_rulebook(rules: Path) -> None:
    assert load_rulebook().earliest_as_at == date(2020, 1, 1)  # rules/rulebook.yaml as shipped
    _edit(rules / "rulebook.yaml", "earliest_as_at: 2020-01-01", "earliest_as_at: 2024-01-01")
    engine = Engine(load_rulebook(rules))
    placement = {
        "placement_id": "E",
        "service": "supported_living",
        "start_date": "2026-05-04",
        "age": 40,
        "sl_weekly_cost": "100.00",
    }
    with pytest.raises(InputError, match="only held from 2024-01-01"):
        engine.decide(placement, date(2023, 12, 31))
    assert engine.decide(placement, date(2024, 1, 1)).as_at == date(2024, 1, 1)


def test_an_earliest_date_that_is_not_a_date_is_refused(rules: Path) -> None:
    _edit(rules / "rulebook.yaml", "earliest_as_at: 2020-01-01", "earliest_as_at: soon")
    with pytest.raises(RulebookError, match="earliest_as_at must be a date"):
        load_rulebook(rules)


def test_an_audit_as_at_before_the_earliest_date_is_refused_as_a_single_decision_is() -> None:
    from engine.audit.books.read import BookError
    from engine.audit.run import run_audit

    book = Path(__file__).resolve().parent.parent / "examples" / "sample_placements.csv"
    with pytest.raises(BookError, match="rules are only held from 2020-01-01"):
        run_audit(book, as_at=date(2019, 12, 31))


def test_the_first_party_bases_table_is_the_list_the_placement_accepts() -> None:
    """Until the placement model reads the table (issue 9, fields), the two must agree."""
    from engine.language.vocabulary import ENUMS

    assert load_rulebook().first_party_bases == ENUMS["first_party_basis"]


def test_the_care_cubed_note_comes_from_the_rulebook(rules: Path) -> None:
    _edit(rules / "rulebook.yaml", '"; a Care Cubed costing is required"', '"; cost it with Care Cubed first"')
    placement = {
        "placement_id": "C",
        "service": "care_home",
        "start_date": "2026-05-04",
        "age": 80,
        "care_type": "residential",
        "core_weekly_fee": "1000.00",
    }
    decision = Engine(load_rulebook(rules)).decide(placement)
    assert any(f.message.endswith("; cost it with Care Cubed first.") for f in decision.findings), decision.findings


def test_kpi_wording_and_targets_come_from_kpis_yaml(rules: Path) -> None:
    from engine.audit.run import run_audit

    book = Path(__file__).resolve().parent.parent / "examples" / "sample_placements.csv"
    before = {k["id"]: k for k in run_audit(book).kpis["kpis"]}
    _edit(
        rules / "kpis.yaml",
        "    target: at least 90%\n    target_value: 90\n",
        "    target: at least 1%\n    target_value: 1\n",
    )
    _edit(
        rules / "kpis.yaml",
        "name: New care homes at or below the median, {scope}",
        "name: Priced at the median, {scope}",
    )
    after = {k["id"]: k for k in run_audit(book, rules=rules).kpis["kpis"]}
    assert before["below_median_share"]["target_met"] is False and after["below_median_share"]["target_met"] is True
    assert (
        after["below_median_share_lot_1"]["name"] == "Priced at the median, Lot 1"
        and after["below_median_share"]["target"] == "at least 1%"
    )
