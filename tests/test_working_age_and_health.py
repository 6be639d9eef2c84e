"""Working-age pricing, s117 and NHS recharges beyond the worked cases: the price guide from the CareCubed figure,
figures shown only where they apply, batch validation of the new fields, and the health KPIs worked by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine.audit.books.read import table_from_records
from engine.audit.run import run_audit
from engine.decide import Engine
from engine.rulebook.loader import load_rulebook
from engine.rulebook.strict_yaml import RulebookError
from tests.conftest import copy_rules, placement

ENGINE = Engine(load_rulebook())
UNDER_65 = placement(
    placement_id="W", age=50, care_type="residential", core_weekly_fee="1239.00", care_cubed_weekly="1180.00"
)


def test_a_working_age_decision_has_a_price_guide_from_the_care_cubed_figure() -> None:
    guide = ENGINE.decide(UNDER_65).to_dict()["price_guide"]
    assert guide["basis"] == "care_cubed" and guide["benchmark_weekly"] == Decimal("1180.00")
    ceilings = [band["up_to_weekly"] for band in guide["bands"]]
    # 1180 × 1.05 = 1239.00 and × 1.15 = 1357.00 exactly; the last band has no ceiling
    assert ceilings == [Decimal("1180.00"), Decimal("1239.00"), Decimal("1357.00"), None]
    assert [band["approver"] for band in guide["bands"]] == [None, "team_manager", "head_of_service", "placement_panel"]


def test_the_working_age_guide_rounds_each_ceiling_down_to_a_price_inside_its_band() -> None:
    decision = ENGINE.decide({**UNDER_65, "care_cubed_weekly": "1000.01"}).to_dict()
    first = decision["price_guide"]["bands"][1]["up_to_weekly"]
    assert first == Decimal("1050.01")  # 1000.01 × 1.05 = 1050.0105 → 1050.01
    at_ceiling = ENGINE.decide({**UNDER_65, "care_cubed_weekly": "1000.01", "core_weekly_fee": str(first)})
    above = ENGINE.decide({**UNDER_65, "care_cubed_weekly": "1000.01", "core_weekly_fee": "1050.02"})
    assert [f.rule_id for f in at_ceiling.findings] == ["WAP-02"]
    assert [f.rule_id for f in above.findings] == ["WAP-03"]


@pytest.mark.parametrize(
    "change",
    [{"care_cubed_weekly": None}, {"start_date": "2026-03-31"}],
    ids=["no CareCubed figure", "before the working-age strategy"],
)
def test_no_working_age_guide_without_a_figure_or_before_the_strategy(change: dict[str, Any]) -> None:
    decision = ENGINE.decide({**UNDER_65, **change}).to_dict()
    assert "price_guide" not in decision


def test_care_cubed_figures_appear_only_on_working_age_decisions() -> None:
    older = ENGINE.decide({**UNDER_65, "age": 65}).to_dict()
    assert not {"care_cubed_weekly", "over_care_cubed_weekly", "over_care_cubed_percent"} & set(older["figures"])
    assert older["price_guide"]["basis"] == "median"
    younger = ENGINE.decide(UNDER_65).to_dict()["figures"]
    assert younger["over_care_cubed_weekly"] == Decimal("59.00") and younger["over_care_cubed_percent"] == Decimal(
        "5.00"
    )


def test_s117_figures_appear_only_for_s117_placements() -> None:
    plain = ENGINE.decide({**UNDER_65, "s117_council_share": "0.4"}).to_dict()["figures"]
    assert not {"s117_council_percent", "expected_nhs_share_weekly", "s117_nhs_funding_weekly"} & set(plain)
    s117 = ENGINE.decide({**UNDER_65, "s117": True, "s117_council_share": "0.4"}).to_dict()["figures"]
    assert s117["s117_council_percent"] == Decimal("40.00")


def test_a_batch_reads_the_new_fields_as_a_single_decision_does() -> None:
    rows = [
        {
            **UNDER_65,
            "placement_id": "OK",
            "s117": "yes",
            "s117_council_share": "0.60",
            "s117_last_review_date": "01/02/2026",
        },
        {**UNDER_65, "placement_id": "SHARE", "s117": "yes", "s117_council_share": "1.5"},
        {**UNDER_65, "placement_id": "FLAG", "nhs_agreement_in_place": "maybe"},
        {**UNDER_65, "placement_id": "DATE", "s117_last_review_date": "02/30/2026"},
    ]
    audit = run_audit(table_from_records(rows))
    results = audit.table.to_pylist()
    assert [r["outcome"] for r in results] == ["refer", None, None, None]  # OK: no NHS share recorded (ISP-04)
    assert "between 0 and 1" in results[1]["errors"] and "nhs_agreement_in_place" in results[2]["errors"]
    assert "s117_last_review_date" in results[3]["errors"]


# --- the health KPIs, worked by hand ----------------------------------------------------------------------------
RESIDENTIAL = {"service": "care_home", "age": 80, "care_type": "residential", "start_date": "2026-05-04"}


def _health_book() -> list[dict[str, Any]]:
    return [
        # s117: gross 1,257.68, NHS funding 361.16 + FNC 267.68 = 628.84, council 628.84; reviewed in the window
        {"placement_id": "S1", **RESIDENTIAL, "care_type": "nursing", "core_weekly_fee": "990.00",
         "fnc_weekly": "267.68", "s117": "true", "nhs_contribution_weekly": "361.16",
         "s117_last_review_date": "2026-01-15"},
        # s117 with a 30% council share: council 1,000 − 700 = 300; reviewed exactly 12 months before (outside)
        {"placement_id": "S2", **RESIDENTIAL, "core_weekly_fee": "1000.00", "s117": "true", "s117_council_share": "0.3",
         "nhs_contribution_weekly": "700.00", "s117_last_review_date": "2025-09-30"},
        # s117, nothing from the NHS and no review recorded: council 800
        {"placement_id": "S3", **RESIDENTIAL, "core_weekly_fee": "800.00", "s117": "true"},
        # s117 but ended before the KPI date: not counted
        {"placement_id": "S4", **RESIDENTIAL, "core_weekly_fee": "900.00", "s117": "true", "end_date": "2026-08-01"},
        {"placement_id": "H1", **RESIDENTIAL, "core_weekly_fee": "900.00", "health_needs_beyond_incidental": "true",
         "nhs_contribution_weekly": "100.00"},
        {"placement_id": "H2", **RESIDENTIAL, "core_weekly_fee": "900.00", "health_needs_beyond_incidental": "true",
         "nhs_contribution_weekly": "0"},
        {"placement_id": "H3", **RESIDENTIAL, "core_weekly_fee": "900.00", "health_needs_beyond_incidental": "false"},
        {"placement_id": "C1", **RESIDENTIAL, "core_weekly_fee": "900.00", "commissioned_for_nhs": "true",
         "nhs_contribution_weekly": "150.00", "person_aware_of_nhs_contribution": "true",
         "nhs_agreement_in_place": "true", "nhs_invoice_issued": "true", "nhs_payment_received": "true"},
        {"placement_id": "C2", **RESIDENTIAL, "core_weekly_fee": "900.00", "commissioned_for_nhs": "true",
         "person_aware_of_nhs_contribution": "false", "provider_aware_of_nhs_contribution": "true",
         "nhs_invoice_issued": "false"},
        {"placement_id": "C3", **RESIDENTIAL, "core_weekly_fee": "900.00", "commissioned_for_nhs": "true",
         "person_aware_of_nhs_contribution": "true", "provider_aware_of_nhs_contribution": "true",
         "nhs_agreement_in_place": "true", "nhs_invoice_issued": "true", "nhs_payment_received": "false"},
        # NHS income a year before (2025-09-30): Y1 (ended since) 200 + Y2 50 = 250
        {"placement_id": "Y1", **RESIDENTIAL, "start_date": "2025-06-01", "end_date": "2026-01-01",
         "core_weekly_fee": "850.00", "nhs_contribution_weekly": "200.00"},
        {"placement_id": "Y2", **RESIDENTIAL, "start_date": "2025-01-01", "core_weekly_fee": "850.00",
         "nhs_contribution_weekly": "50.00"},
    ]  # fmt: skip


@pytest.fixture(scope="module")
def health() -> dict[str, dict[str, Any]]:
    audit = run_audit(table_from_records(_health_book()), as_at=date(2026, 9, 30))
    return {kpi["id"]: kpi for kpi in audit.kpis["kpis"]}


def test_s117_kpis_worked_by_hand(health: dict[str, dict[str, Any]]) -> None:
    share = health["s117_council_share"]
    # (628.84 + 300 + 800) / (1257.68 + 1000 + 800) = 1728.84 / 3057.68 = 56.541…%
    assert share["value"] == Decimal("56.54") and share["target_met"] is False
    assert share["counts"]["people"] == 3 and share["counts"]["with_an_agreed_split"] == 1
    assert share["pounds_weekly"]["council_share"] == Decimal("1728.84")
    reviewed = health["s117_reviewed"]
    assert reviewed["value"] == Decimal("33.33") and reviewed["target_met"] is False
    assert reviewed["counts"] == {"people": 3, "reviewed_in_window": 1, "review_older": 1, "no_review_recorded": 1}
    run_rate = health["s117_council_run_rate"]
    assert run_rate["value"] == Decimal("1728.84") and run_rate["target_met"] is True


def test_charging_review_kpis_worked_by_hand(health: dict[str, dict[str, Any]]) -> None:
    assert health["nhs_contribution_for_health_needs"]["value"] == Decimal("50.00")  # H1 of H1, H2
    expected = {
        "nhs_commissioned_person_aware": "66.67",  # C1, C3 of C1–C3
        "nhs_commissioned_provider_aware": "66.67",  # C2, C3 (C1 not recorded)
        "nhs_commissioned_agreement": "66.67",  # C1, C3
        "nhs_commissioned_invoiced": "66.67",  # C1, C3
        "nhs_commissioned_paying": "33.33",  # C1
    }
    for kpi_id, value in expected.items():
        assert health[kpi_id]["value"] == Decimal(value), kpi_id
        assert health[kpi_id]["target_met"] is False and health[kpi_id]["counts"]["people"] == 3
    income = health["nhs_weekly_income"]
    # now: 361.16 + 700 + 100 + 0 + 150 + 50 = 1361.16; a year before: 200 + 50 = 250
    assert income["value"] == Decimal("1361.16") and income["pounds_weekly"]["a_year_before"] == Decimal("250.00")
    assert income["target_met"] is True


def test_mean_price_kpis_for_all_ages_and_each_age_group() -> None:
    rows = [
        {**UNDER_65, "placement_id": "Y", "core_weekly_fee": "1200.00"},
        {**UNDER_65, "placement_id": "O", "age": 80, "core_weekly_fee": "900.00"},
    ]
    kpis = {k["id"]: k for k in run_audit(table_from_records(rows)).kpis["kpis"]}
    assert kpis["mean_price_new_residential"]["value"] == Decimal("1050.00")
    assert kpis["mean_price_new_65_and_over_residential"]["value"] == Decimal("900.00")
    assert kpis["mean_price_new_18_to_64_residential"]["value"] == Decimal("1200.00")
    assert "(65)" in kpis["mean_price_new_18_to_64_residential"]["definition"]


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ("counted: nhs_payment_received}", "counted: nhs_payment_recieved}", "nhs_payment_recieved"),
        ("    ages: under_minimum_age\n", "    ages: under_sixty\n", "ages must be one of"),
        ("    met_when: maintained\n", "    met_when: maintained\n    target_value: 1\n", "target_value"),
        ("maintained\n    window_months: 12\n", "maintained\n    window_months: twelve\n", "whole"),
    ],
)
def test_kpis_yaml_is_checked_when_loaded(tmp_path: Path, old: str, new: str, error: str) -> None:
    root = tmp_path / "rules"
    copy_rules(root)
    path = root / "kpis.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(RulebookError, match=error):
        load_rulebook(root)


def test_the_form_offers_not_recorded_for_yes_no_fields_that_may_be_empty() -> None:
    from api.web.form import FORM_FIELDS, placement_from_form

    aware = FORM_FIELDS["person_aware_of_nhs_contribution"]
    assert aware.kind == "select" and aware.choices == (("", "Not recorded"), ("true", "Yes"), ("false", "No"))
    assert placement_from_form({"person_aware_of_nhs_contribution": "false"}) == {
        "person_aware_of_nhs_contribution": "false"
    }
    assert "person_aware_of_nhs_contribution" not in placement_from_form({"person_aware_of_nhs_contribution": ""})
    assert FORM_FIELDS["s117"].kind == "checkbox" and FORM_FIELDS["commissioned_for_nhs"].kind == "checkbox"
