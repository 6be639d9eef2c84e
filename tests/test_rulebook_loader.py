"""The strict rulebook loader: a copy of ``rules/`` broken one way at a time must be refused with a
``RulebookError`` naming the file and the line of the problem."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engine.decide import Engine
from engine.rulebook.loader import DEFAULT_RULES_DIR, load_rulebook
from engine.rulebook.strict_yaml import RulebookError

LOT_1 = Path("parameters/care_homes/benchmark/lot_1.yaml")
BANDS = Path("parameters/care_homes/approval_bands.yaml")
PRICING = Path("modules/1_care_home_pricing.yaml")
TOP_UPS = Path("modules/2_choice_top_up.yaml")


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} should occur once in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def line_of(path: Path, pattern: str, after: str | None = None) -> int:
    """The 1-based line of the only line matching ``pattern`` (the first one after ``after``, if given)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    hits = [i + 1 for i, line in enumerate(lines) if i >= start and re.search(pattern, line)]
    assert hits, f"{pattern!r} not found in {path}"
    if after is None:
        assert len(hits) == 1, f"{pattern!r} matches several lines of {path}: {hits}"
    return hits[0]


def refused(root: Path, file: Path, line: int, reason: str) -> RulebookError:
    with pytest.raises(RulebookError) as caught:
        load_rulebook(root)
    error = caught.value
    assert Path(error.path).resolve() == (root / file).resolve(), f"names {error.path}, not {file}: {error}"
    assert error.line == line, f"names line {error.line}, not {line}: {error}"
    assert reason.lower() in error.reason.lower(), error.reason
    assert str(file.name) in str(error) and f":{line}:" in str(error)
    return error


def test_the_shipped_rules_load(rules: Path) -> None:
    assert load_rulebook(DEFAULT_RULES_DIR).rules  # rules/ itself, whichever edition of the rates it holds
    book = load_rulebook(rules)  # a copy of the pinned test rulebook the tests use (tests/conftest.py)
    assert book.rules and all(module.rules for module in book.modules)  # conventions: tests/test_conventions.py
    assert book.version == load_rulebook().version  # the hash is of relative paths and bytes


def test_a_duplicate_key_is_refused(rules: Path) -> None:
    path = rules / LOT_1
    path.write_text(path.read_text(encoding="utf-8") + "unit: GBP/week\n", encoding="utf-8")
    refused(rules, LOT_1, len(path.read_text(encoding="utf-8").splitlines()), "duplicate key 'unit'")


def test_a_duplicate_date_in_values_is_refused(rules: Path) -> None:
    path = rules / LOT_1
    path.write_text(path.read_text(encoding="utf-8") + "  2026-04-01: 920.00\n", encoding="utf-8")
    refused(rules, LOT_1, len(path.read_text(encoding="utf-8").splitlines()), "duplicate key")


def test_an_unknown_key_is_refused(rules: Path) -> None:
    replace(rules / LOT_1, "unit: GBP/week\n", "unit: GBP/week\nnotes: a key the schema does not have\n")
    refused(rules, LOT_1, line_of(rules / LOT_1, r"^notes:"), "unknown key 'notes'")


def test_an_unknown_key_in_a_rule_is_refused(rules: Path) -> None:
    before = "    action: refer\n    refer_to: records_check\n    message: >-\n      FNC of"
    replace(rules / PRICING, before, before.replace("refer\n", "refer\n    severity: high\n"))
    refused(rules, PRICING, line_of(rules / PRICING, r"^    severity: high"), "unknown key 'severity'")


def test_a_refer_rule_without_refer_to_is_refused(rules: Path) -> None:
    line = line_of(rules / PRICING, r"^    action: refer", after="- id: CHP-08")
    replace(
        rules / PRICING,
        "    action: refer\n    refer_to: records_check\n    message: >-\n      FNC of",
        "    action: refer\n    message: >-\n      FNC of",
    )
    refused(rules, PRICING, line, "CHP-08: a refer rule names where the case goes")


def test_refer_to_on_a_rule_that_does_not_refer_is_refused(rules: Path) -> None:
    replace(rules / PRICING, "    approver: team_manager\n", "    approver: team_manager\n    refer_to: isp_panel\n")
    refused(
        rules,
        PRICING,
        line_of(rules / PRICING, r"^    refer_to: isp_panel"),
        "CHP-05: only a refer or not_permitted rule has refer_to",
    )


def test_every_refer_rule_names_where_the_case_goes(rules: Path) -> None:
    book = load_rulebook(rules)
    refers = [rule for rule in book.rules if rule.action == "refer"]
    assert refers and all(rule.refer_to for rule in refers)
    assert {"isp_panel", "chc_assessment", "records_check"} <= {rule.refer_to for rule in refers}
    assert all(rule.refer_to is None for rule in book.rules if rule.action not in ("refer", "not_permitted"))
    assert {"contracts", "quality_assurance"} <= {rule.refer_to for rule in book.rules}


def test_a_rule_without_a_reference_is_refused(rules: Path) -> None:
    path = rules / PRICING
    text = path.read_text(encoding="utf-8")
    chp09 = text.index("  - id: CHP-09")
    head, tail = text[:chp09], text[chp09:]
    tail = re.sub(r"    reference:\n(      .*\n)+", "", tail, count=1)
    assert "reference" not in tail
    path.write_text(head + tail, encoding="utf-8")
    refused(rules, PRICING, line_of(path, r"^  - id: CHP-09"), "'reference'")


def test_a_condition_naming_an_unknown_field_is_refused(rules: Path) -> None:
    replace(rules / PRICING, "comparable_weekly <= benchmark_weekly", "comparable_weekly <= benchmark_price")
    refused(rules, PRICING, line_of(rules / PRICING, r"when: .*benchmark_price"), "benchmark_price")


def test_a_condition_naming_an_unknown_parameter_is_refused(rules: Path) -> None:
    replace(
        rules / TOP_UPS,
        "distance_miles > params.choice.reasonable_distance_miles and",
        "distance_miles > params.choice.reasonable_distance and",
    )
    refused(
        rules,
        TOP_UPS,
        line_of(rules / TOP_UPS, r"when: distance_miles > params.choice.reasonable_distance "),
        "params.choice.reasonable_distance",
    )


def test_a_message_naming_an_unknown_figure_is_refused(rules: Path) -> None:
    replace(
        rules / TOP_UPS,
        "message: A top-up of {top_up_weekly} a week has no named payer.",
        "message: A top-up of {top_up_amount} a week has no named payer.",
    )
    refused(rules, TOP_UPS, line_of(rules / TOP_UPS, r"\{top_up_amount\}"), "top_up_amount")


def test_approval_bands_with_a_gap_are_refused(rules: Path) -> None:
    replace(rules / BANDS, "      above_percent: 5\n", "      above_percent: 6\n")
    refused(rules, BANDS, line_of(rules / BANDS, r"- band: 2"), "gap")


def test_approval_bands_that_overlap_are_refused_under_hit_policy_unique(rules: Path) -> None:
    replace(rules / BANDS, "hit_policy: first", "hit_policy: unique")
    replace(rules / BANDS, "      above_percent: 5\n", "      above_percent: 4\n")
    refused(rules, BANDS, line_of(rules / BANDS, r"- band: 2"), "overlap")


def test_under_hit_policy_first_the_first_band_that_holds_the_price_wins(rules: Path) -> None:
    """The declared hit policy is consulted: with ``first`` a later band may start inside an earlier one."""
    replace(rules / BANDS, "      above_percent: 5\n", "      above_percent: 4\n")
    engine = Engine(load_rulebook(rules))
    placement = {
        "placement_id": "H",
        "service": "care_home",
        "start_date": "2026-05-04",
        "age": 80,
        "care_type": "residential",
        "core_weekly_fee": "956.18",  # 4.50% over £915.00: bands 1 and 2 both hold it
    }
    assert [f.approver for f in engine.decide(placement).findings] == ["team_manager"]  # band 1, not band 2
    placement["core_weekly_fee"] = "960.76"
    assert [f.approver for f in engine.decide(placement).findings] == ["head_of_service"]


def test_a_band_the_earlier_bands_cover_entirely_is_refused(rules: Path) -> None:
    replace(
        rules / BANDS,
        "      above_percent: 5\n      up_to_percent: 15\n",
        "      above_percent: 1\n      up_to_percent: 4\n",
    )
    refused(rules, BANDS, line_of(rules / BANDS, r"- band: 2"), "could never apply")


def test_approval_bands_with_no_open_top_band_are_refused(rules: Path) -> None:
    replace(rules / BANDS, "      up_to_percent: null\n", "      up_to_percent: 50\n")
    refused(rules, BANDS, line_of(rules / BANDS, r"- band: 3"), "no upper limit")


def test_a_money_value_with_three_decimals_is_refused(rules: Path) -> None:
    replace(rules / LOT_1, "  2026-04-01: 915.00\n", "  2026-04-01: 915.005\n")
    refused(rules, LOT_1, line_of(rules / LOT_1, r"^  2026-04-01: 915.005"), "2 decimal places")


def test_a_non_date_key_in_values_is_refused(rules: Path) -> None:
    replace(rules / LOT_1, "  2026-04-01: 915.00\n", "  April 2026: 915.00\n")
    refused(rules, LOT_1, line_of(rules / LOT_1, r"^  April 2026:"), "not a date")


def test_an_impossible_date_key_in_values_is_refused(rules: Path) -> None:
    replace(rules / LOT_1, "  2026-04-01: 915.00\n", "  2026-13-01: 915.00\n")
    refused(rules, LOT_1, line_of(rules / LOT_1, r"^  2026-13-01:"), "date")


def test_needs_approval_without_an_approver_is_refused(rules: Path) -> None:
    replace(rules / PRICING, "    action: needs_approval\n    approver: team_manager\n", "    action: needs_approval\n")
    refused(rules, PRICING, line_of(rules / PRICING, r"^    action: needs_approval", after="id: CHP-05"), "approver")


def test_a_rule_id_used_in_two_files_is_refused_at_its_second_use(rules: Path) -> None:
    replace(rules / TOP_UPS, "  - id: TOP-07\n", "  - id: CHP-01\n")
    refused(rules, TOP_UPS, line_of(rules / TOP_UPS, r"^  - id: CHP-01"), "CHP-01")


def test_a_rule_id_used_twice_in_one_file_is_refused_at_its_second_use(rules: Path) -> None:
    replace(rules / TOP_UPS, "  - id: TOP-07\n", "  - id: TOP-01\n")
    refused(rules, TOP_UPS, line_of(rules / TOP_UPS, r"^  - id: TOP-01", after="id: TOP-06"), "TOP-01")


def test_the_version_changes_when_a_value_changes_and_only_then(rules: Path) -> None:
    original = load_rulebook(rules).version
    assert load_rulebook(rules).version == original
    replace(rules / LOT_1, "  2026-04-01: 915.00\n", "  2026-04-01: 916.00\n")
    changed = load_rulebook(rules)
    assert changed.version != original
    decision = Engine(changed).decide(
        {
            "placement_id": "V-1",
            "service": "care_home",
            "start_date": "2026-05-04",
            "age": 80,
            "care_type": "residential",
            "core_weekly_fee": "916.00",
        }
    )
    assert decision.rulebook_version == changed.version
    assert str(decision.figures["benchmark_weekly"]) == "916.00" and decision.outcome == "proceed"
    replace(rules / LOT_1, "  2026-04-01: 916.00\n", "  2026-04-01: 915.00\n")
    assert load_rulebook(rules).version == original


# Issue 22: the rulebook names its modules, rule ids, KPIs, approver roles and referral destinations
# (rules/contents.yaml); losing or adding one by accident is refused, never a rulebook that decides differently.
CONTENTS = Path("contents.yaml")
TOP_UP_EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "top_up.json"


def test_the_top_up_example_is_not_permitted_by_the_shipped_rules() -> None:
    decision = Engine(load_rulebook()).decide(json.loads(TOP_UP_EXAMPLE.read_text(encoding="utf-8")))
    assert decision.outcome == "not_permitted" and "TOP-01" in decision.rule_ids


def test_a_module_file_deleted_is_refused_where_it_is_listed(rules: Path) -> None:
    # without this the top-up example would go from not_permitted to proceed
    (rules / TOP_UPS).unlink()
    refused(rules, CONTENTS, line_of(rules / CONTENTS, r"^  2_choice_top_up\.yaml:"), "does not exist")


def test_a_module_file_not_listed_is_refused(rules: Path) -> None:
    extra = Path("modules/6_extra.yaml")
    text = (rules / TOP_UPS).read_text(encoding="utf-8")
    (rules / extra).write_text(text.replace("module: choice_top_up", "module: extra").replace("id: TOP-", "id: XTR-"))
    refused(rules, extra, 1, "not listed in contents.yaml")


def test_a_rule_deleted_is_refused_where_it_is_listed(rules: Path) -> None:
    text = (rules / TOP_UPS).read_text(encoding="utf-8")
    start, end = text.index("  - id: TOP-01"), text.index("  - id: TOP-02")
    (rules / TOP_UPS).write_text(text[:start] + text[end:], encoding="utf-8")
    refused(
        rules, CONTENTS, line_of(rules / CONTENTS, r"^    - TOP-01$"), "TOP-01 is listed under 2_choice_top_up.yaml"
    )


def test_a_rule_not_listed_is_refused_at_its_id(rules: Path) -> None:
    replace(rules / CONTENTS, "    - TOP-08\n", "")
    refused(rules, TOP_UPS, line_of(rules / TOP_UPS, r"^  - id: TOP-08"), "TOP-08 is not listed")


def test_a_rule_listed_under_another_module_is_refused(rules: Path) -> None:
    replace(rules / CONTENTS, "    - TOP-08\n", "")
    replace(rules / CONTENTS, "    - CHP-09\n", "    - CHP-09\n    - TOP-08\n")
    refused(rules, TOP_UPS, line_of(rules / TOP_UPS, r"^  - id: TOP-08"), "listed under 1_care_home_pricing.yaml")


def test_a_rule_id_listed_twice_is_refused_at_its_second_listing(rules: Path) -> None:
    replace(rules / CONTENTS, "    - TOP-08\n", "    - TOP-08\n    - TOP-01\n")
    refused(rules, CONTENTS, line_of(rules / CONTENTS, r"^    - TOP-08$") + 1, "listed twice")


def test_a_misspelt_approver_on_a_rule_is_refused_at_its_line(rules: Path) -> None:
    replace(rules / PRICING, "approver: team_manager", "approver: team_manger")
    refused(rules, PRICING, line_of(rules / PRICING, r"approver: team_manger"), "'team_manger' is not a declared")


def test_a_misspelt_approver_in_a_band_is_refused_at_its_line(rules: Path) -> None:
    replace(rules / BANDS, "approver: head_of_service", "approver: head_of_servce")
    refused(rules, BANDS, line_of(rules / BANDS, r"approver: head_of_servce"), "not a declared approver role")


def test_a_misspelt_referral_destination_is_refused_at_its_line(rules: Path) -> None:
    replace(rules / TOP_UPS, "refer_to: records_check", "refer_to: record_check")
    refused(rules, TOP_UPS, line_of(rules / TOP_UPS, r"refer_to: record_check"), "not a declared referral destination")


def test_a_kpi_deleted_is_refused_where_it_is_listed(rules: Path) -> None:
    kpis = rules / "kpis.yaml"
    text = kpis.read_text(encoding="utf-8")
    start, end = text.index("  - id: nhs_commissioned_paying"), text.index("  - id: nhs_weekly_income")
    kpis.write_text(text[:start] + text[end:], encoding="utf-8")
    refused(rules, CONTENTS, line_of(rules / CONTENTS, r"^  - nhs_commissioned_paying$"), "no such KPI")


def test_the_roles_and_destinations_are_on_the_rulebook() -> None:
    book = load_rulebook(DEFAULT_RULES_DIR)
    assert book.approver_roles["team_manager"] == "Team manager"
    assert {rule.refer_to for rule in book.rules if rule.refer_to} <= set(book.referral_destinations)
