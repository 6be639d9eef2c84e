"""The Lots table and the earliest date are policy facts read from rules/, refused when malformed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from engine.decide import Engine
from engine.rulebook.loader import load_rulebook
from engine.rulebook.strict_yaml import RulebookError
from engine.validate.placement import InputError

LOTS = Path("tables/lots.yaml")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_every_care_type_and_dementia_need_has_exactly_one_lot() -> None:
    book = load_rulebook()
    covered = [(lot.care_type, lot.dementia) for lot in book.lots]
    assert len(covered) == len(set(covered)) == 4
    for lot in book.lots:
        assert book.lot_for(lot.care_type, lot.dementia) == lot.number
        assert book.lot(lot.number) == lot
        assert lot.label
    assert book.lot(max(lot.number for lot in book.lots) + 1) is None


def test_the_decision_uses_the_lots_table(rules: Path) -> None:
    """Renumbering a Lot in the table (and its median file) changes the Lot a decision reports."""
    _edit(rules / LOTS, "  - lot: 6\n", "  - lot: 5\n")
    (rules / "parameters/care_homes/benchmark/lot_6.yaml").rename(rules / "parameters/care_homes/benchmark/lot_5.yaml")
    book = load_rulebook(rules)
    assert book.lot_for("nursing", False) == 5
    placement = {
        "placement_id": "L",
        "service": "care_home",
        "start_date": "2026-05-04",
        "age": 80,
        "care_type": "nursing",
        "core_weekly_fee": "995.00",
        "fnc_weekly": "0",
    }
    decision = Engine(book).decide(placement)
    assert decision.figures["lot"] == 5
    assert decision.figures["benchmark_weekly"] is not None


def test_a_lots_table_that_leaves_a_need_uncovered_is_refused(rules: Path) -> None:
    _edit(rules / LOTS, "    care_type: nursing\n    dementia: true\n", "    care_type: nursing\n    dementia: false\n")
    with pytest.raises(RulebookError, match="cover the same placements"):
        load_rulebook(rules)


def test_a_lot_listed_twice_is_refused(rules: Path) -> None:
    _edit(rules / LOTS, "  - lot: 7\n", "  - lot: 6\n")
    with pytest.raises(RulebookError, match="Lot 6 is listed twice") as caught:
        load_rulebook(rules)
    assert caught.value.path.endswith("lots.yaml") and caught.value.line


def test_an_unknown_care_type_in_the_lots_table_is_refused(rules: Path) -> None:
    _edit(rules / LOTS, "    care_type: nursing\n    dementia: true\n", "    care_type: hospice\n    dementia: true\n")
    with pytest.raises(RulebookError, match="care_type must be one of"):
        load_rulebook(rules)


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
