"""The services the council funds are declared in ``rules/services.yaml`` (SPEC §16.1) and checked at load: every
id one the engine knows, no name written for two services, each pricing module listing exactly the services that
name it, and the services the code reads by name present. Values as people write them map through the aliases."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import Engine
from engine.rulebook.loader import load_rulebook
from engine.rulebook.strict_yaml import RulebookError
from engine.validate.errors import InputError
from tests.conftest import copy_rules


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_shipped_services_and_their_charging(tmp_path: Path) -> None:
    book = load_rulebook(copy_rules(tmp_path / "rules"))
    kinds = {service.id: service.charging for service in book.services}
    assert kinds["care_home"] == "residential"
    assert {s for s, kind in kinds.items() if kind == "non_residential"} >= {"supported_living", "home_care"}
    assert book.service_aliases["dp"] == "direct_payment" and book.service_aliases["home_care"] == "home_care"
    charging = next(module for module in book.modules if module.name == "charging")
    assert charging.runs_on_all and set(charging.services) == set(kinds)


def test_a_service_the_engine_does_not_know_is_refused(tmp_path: Path) -> None:
    root = copy_rules(tmp_path / "rules")
    _edit(root / "services.yaml", "  - id: other\n", "  - id: meals_on_wheels\n")
    with pytest.raises(RulebookError, match="meals_on_wheels.*is not one the engine knows"):
        load_rulebook(root)


def test_a_name_written_for_two_services_is_refused(tmp_path: Path) -> None:
    root = copy_rules(tmp_path / "rules")
    _edit(root / "services.yaml", "aliases: [extra care housing]", "aliases: [extra care housing, DP]")
    with pytest.raises(RulebookError, match="'DP' already names direct_payment"):
        load_rulebook(root)


def test_a_pricing_module_must_list_exactly_the_services_that_name_it(tmp_path: Path) -> None:
    root = copy_rules(tmp_path / "rules")
    _edit(root / "services.yaml", "    pricing: [supported_living]\n", "    pricing: []\n")
    with pytest.raises(RulebookError, match="module supported_living lists services supported_living but"):
        load_rulebook(root)


def test_a_service_the_code_reads_by_name_must_be_declared(tmp_path: Path) -> None:
    root = copy_rules(tmp_path / "rules")
    text = (root / "services.yaml").read_text(encoding="utf-8")
    start = text.index("  - id: home_care\n")
    end = text.index("  - id: direct_payment\n")
    (root / "services.yaml").write_text(text[:start] + text[end:], encoding="utf-8")
    with pytest.raises(RulebookError, match="service home_care is missing"):
        load_rulebook(root)


def test_a_service_left_out_of_the_rulebook_is_an_input_error_and_aliases_follow_the_rulebook(tmp_path: Path) -> None:
    root = copy_rules(tmp_path / "rules")
    text = (root / "services.yaml").read_text(encoding="utf-8")
    start = text.index("  - id: day_care\n")
    end = text.index("  - id: other\n")
    (root / "services.yaml").write_text(
        (text[:start] + text[end:]).replace("aliases: [other service]", "aliases: [other service, meals]"),
        encoding="utf-8",
    )
    engine = Engine(load_rulebook(root))
    placement = {"placement_id": "S-1", "start_date": "2026-05-04", "age": 80, "weekly_cost": "40.00"}
    with pytest.raises(InputError) as caught:
        engine.decide({**placement, "service": "day care"})
    assert caught.value.fields == {"service": ["day_care is not a service of this rulebook"]}
    assert engine.decide({**placement, "service": "Meals"}).outcome == "proceed"


def test_in_house_benchmark_findings_in_a_book_have_no_outcome_and_no_approver() -> None:
    """SPEC §16.1: in-house provision gets an info finding from CHP-01…04, WAP-01…04 and SL-01/02, in a batch too."""
    from engine.audit.books.read import table_from_records
    from engine.audit.run import run_audit

    home = {"service": "care_home", "start_date": "2026-05-04", "age": 80, "care_type": "residential"}
    records = [
        {"placement_id": "A", **home, "core_weekly_fee": "1100.00", "provider_type": "in_house"},
        {"placement_id": "B", **home, "core_weekly_fee": "1100.00"},
        {
            "placement_id": "C",
            "service": "supported_living",
            "start_date": "2026-05-04",
            "age": 40,
            "sl_day_hours": "20",
            "sl_weekly_cost": "500.00",
            "provider_type": "In-house",
        },
    ]
    rows = run_audit(table_from_records(records)).table.to_pylist()
    assert [(r["outcome"], r["rule_ids"], r["approvers"]) for r in rows] == [
        ("proceed", "CHP-04", ""),
        ("needs_approval", "CHP-04", "placement_panel"),
        ("proceed", "SL-02", ""),
    ]


def test_bad_package_rows_are_error_rows_naming_the_fields_and_every_other_row_is_decided_in_order() -> None:
    from engine.audit.books.read import table_from_records
    from engine.audit.run import run_audit

    package = {"service": "Home Care", "start_date": "2026-05-04", "age": 80, "nhs_contribution_weekly": "0"}
    records = [
        {"placement_id": "A", **package, "weekly_cost": "3000.01"},
        {"placement_id": "B", **package},  # no cost at all
        {"placement_id": "C", **package, "hc_hours": "-3", "hc_hourly_rate": "20.00"},
        {"placement_id": "D", **package, "hc_hours": "130", "hc_hourly_rate": "23.08", "weekly_cost": "3000.42"},
        {"placement_id": "E", **package, "hc_hours": "130", "hc_hourly_rate": "23.08", "weekly_cost": "3000.41"},
        {"placement_id": "F", **package, "service": "DP", "weekly_cost": "3000.00"},
    ]
    rows = run_audit(table_from_records(records)).table.to_pylist()
    assert [r["placement_id"] for r in rows] == list("ABCDEF")
    assert [r["outcome"] for r in rows] == ["refer", None, None, None, "refer", "proceed"]
    assert rows[1]["errors"].startswith("weekly_cost: required for home care")
    assert rows[2]["errors"] == "hc_hours: must not be negative"
    assert [part.split(":")[0] for part in rows[3]["errors"].split("; ")] == [
        "weekly_cost",
        "hc_hours",
        "hc_hourly_rate",
    ]
    assert rows[4]["rule_ids"] == "ISP-01"  # £3,000.41 is within a penny of 130 × £23.08 = £3,000.40


def test_home_care_hours_at_a_rate_beyond_any_weekly_amount_is_an_input_error(tmp_path: Path) -> None:
    engine = Engine(load_rulebook(copy_rules(tmp_path / "rules")))
    placement = {"placement_id": "H", "service": "home care", "start_date": "2026-05-04", "age": 80}
    with pytest.raises(InputError) as caught:
        engine.decide({**placement, "hc_hours": "9000000", "hc_hourly_rate": "9000000.00"})
    assert set(caught.value.fields) == {"hc_hours", "hc_hourly_rate"}
    assert "more than £10,000,000.00 a week" in caught.value.fields["hc_hours"][0]
