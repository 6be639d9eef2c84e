"""The council's words are the rulebook's (SPEC §16.2): approver roles with their seniority and labels, referral
destinations with the page's words (rules/contents.yaml), figure labels (rules/figures.yaml) and who pays whom
(rules/wording.yaml). No Python file and no page template names one of the shipped rulebook's roles or
destinations, or writes one of its labels: another council's rulebook brings its own."""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from pathlib import Path

from api.web import view, words
from engine.rulebook.approvers import Approvers
from engine.rulebook.loader import DEFAULT_RULES_DIR, load_rulebook
from engine.rulebook.wording import Wording
from engine.validate.fields import field_specs
from engine.validate.placement import Placement

REPO = Path(__file__).resolve().parents[1]
SHIPPED = load_rulebook(DEFAULT_RULES_DIR)
SOURCES = [path for top in ("engine", "api") for path in sorted((REPO / top).rglob("*")) if path.is_file()]


def _codes() -> set[str]:
    """The shipped roles and destinations; a code that is also a figure or a form section (financial_assessment)
    is the figure's name there, not the destination's."""
    return (set(SHIPPED.approver_roles) | set(SHIPPED.referral_destinations)) - set(SHIPPED.figures)


def _labels() -> set[str]:
    """The shipped words for roles, destinations, figures, payers and payees, but those that are also an input
    field's own label (the lot field and the lot figure are both "Framework Lot")."""
    wording = SHIPPED.wording
    found = {*SHIPPED.approver_roles.values(), *SHIPPED.referral_destinations.values()}
    found |= {figure.label for figure in SHIPPED.figures.values() if figure.label}
    found |= {figure.label_with_top_up for figure in SHIPPED.figures.values() if figure.label_with_top_up}
    found |= {*wording.payers.values(), *wording.payees.values(), *wording.top_up_payers.values()}
    return found - {spec.label for spec in field_specs(Placement).values()}


def test_no_python_file_or_template_names_a_shipped_role_or_destination() -> None:
    codes = _codes()
    assert {"team_manager", "isp_panel"} <= codes  # the scan looks for the shipped names
    named = [
        f"{path.relative_to(REPO)}:{text.count(chr(10), 0, found.start()) + 1}: {found[0]}"
        for path in SOURCES
        if path.suffix in {".py", ".html", ".js"}
        for text in [path.read_text(encoding="utf-8")]
        for found in re.finditer(rf"\b({'|'.join(map(re.escape, sorted(codes)))})\b", text)
    ]
    assert not named, "named in code (comments and docstrings included):\n" + "\n".join(named)


def test_no_python_string_is_a_shipped_label() -> None:
    labels = _labels()
    assert {"Team manager", "the ISP panel", "Personal budget", "The resident"} <= labels
    written = [
        f"{path.relative_to(REPO)}:{node.lineno}: {node.value!r}"
        for path in SOURCES
        if path.suffix == ".py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip() in labels
    ]
    assert not written, "\n".join(written)


def test_the_scans_would_see_a_name_or_a_label_in_code() -> None:
    pattern = rf"\b({'|'.join(map(re.escape, sorted(_codes())))})\b"
    assert re.search(pattern, 'DESTINATIONS = {"isp_panel": "the ISP panel"}')
    tree = ast.parse('PAYERS = {"resident": "The resident"}')
    assert any(isinstance(node, ast.Constant) and node.value in _labels() for node in ast.walk(tree))


def test_every_shown_figure_has_a_label() -> None:
    unlabelled = [name for name, figure in SHIPPED.figures.items() if figure.shown and not figure.label]
    assert not unlabelled


def test_roles_are_in_order_of_seniority_and_approve_as_declared() -> None:
    approvers = SHIPPED.approvers
    assert list(approvers.order) == list(SHIPPED.approver_roles)  # as contents.yaml lists them
    for role in approvers.order:
        assert approvers.covers({role}, role)
        for junior in approvers.also.get(role, ()):
            assert approvers.order.index(junior) < approvers.order.index(role)  # only more junior roles
            assert approvers.covers({role}, junior) and not approvers.covers({junior}, role)


def test_a_role_approves_only_what_names_it_or_a_role_it_also_approves() -> None:
    approvers = Approvers({"clerk": "Clerk", "chief": "Chief", "auditor": "Auditor"}, {"chief": ("clerk",)})
    assert approvers.acting_role({"chief"}, ["clerk"]) == "chief"
    assert approvers.acting_role({"clerk", "chief"}, ["clerk"]) == "clerk"  # the most junior that does
    assert approvers.acting_role({"chief"}, ["clerk", "auditor"]) is None
    assert approvers.acting_role({"auditor"}, ["clerk"]) is None
    assert approvers.coverable({"chief"}) == ["chief", "clerk"]
    assert not approvers.covers({"clerk"}, "chief")


def test_the_page_words_come_from_the_rulebook() -> None:
    book = replace(
        SHIPPED,
        approvers=Approvers({"director": "The director"}),
        referral_destinations={"joint_funding_panel": "the joint funding panel"},
        wording=Wording(
            payers={"council": "The borough", "resident": "You"},
            payees={"provider": "the care provider"},
            top_up_payers={"third_party": "your relative agreed to pay"},
        ),
        figures={
            **SHIPPED.figures,
            "benchmark_weekly": replace(SHIPPED.figures["benchmark_weekly"], label="The usual cost"),
        },
    )
    assert words.role_label(book, "director") == "The director"
    assert words.role_label(book, "broker") == "Broker"  # a system role: its name in words
    assert words.destination(book, "joint_funding_panel") == "the joint funding panel"
    assert words.figure_label(book, "benchmark_weekly") == "The usual cost"
    figures = {"resident_contribution_weekly": 100, "chargeable_cost_weekly": 900, "council_net_weekly": 800}
    decision = {
        "figures": figures,
        "payments": [
            {"payer": "council", "payee": "provider", "weekly": 800, "note": "n"},
            {"payer": "resident", "payee": "provider", "weekly": 100, "note": "n"},
        ],
    }
    charge = view.charging(book, decision, {"top_up_weekly": "50.00", "top_up_payer": "third_party"})
    assert charge is not None
    assert [(row["payer"], row["payee"]) for row in charge["rows"]] == [
        ("The borough", "the care provider"),
        ("You", "the care provider"),
    ]
    assert charge["sentence"].endswith("in addition to the top-up of £50.00 that your relative agreed to pay.")
    record = {
        "decision": {"outcome": "needs_approval", "findings": [{"approver": "director", "rule_id": "X-01"}]},
        "status": "checked",
        "input": {"service": "care_home", "core_weekly_fee": "1000.00"},
        "approval": None,
        "approval_request": None,
    }
    assert "needs approval by The director (or a higher role)" in view.state(book, record)["sentence"]


def test_a_figure_worded_for_a_top_up_shows_only_with_one_in_those_words() -> None:
    decision = {"figures": {"top_up_required_weekly": 45.25, "personal_budget_weekly": 995.00}}
    without = view.figures_shown(SHIPPED, decision, {})
    with_top_up = view.figures_shown(SHIPPED, decision, {"top_up_weekly": "45.25"})
    assert [name for name, _, _ in without] == ["personal_budget_weekly"]
    label = SHIPPED.figures["top_up_required_weekly"].label_with_top_up
    assert label and ("top_up_required_weekly", label, 45.25) in with_top_up


def test_the_roles_that_publish_editions_are_the_rulebooks(tmp_path: Path) -> None:
    """Who may publish someone else's draft edition of the rates (SPEC §18) is declared with the approver roles
    (`publishes_editions: true`), never named in Python: as shipped the head of service; another rulebook's own
    role instead; a value that is not true or false is refused at load with the file and line."""
    import pytest

    from api.auth.identity import ADMIN, PUBLISH
    from engine.rulebook.strict_yaml import RulebookError
    from tests.conftest import copy_rules

    assert PUBLISH.roles(SHIPPED.approvers) == {ADMIN, "head_of_service"}
    rules = copy_rules(tmp_path / "rules")
    contents = rules / "contents.yaml"
    text = contents.read_text(encoding="utf-8")
    moved = text.replace("    publishes_editions: true", "").replace(
        "    also_approves: [team_manager, head_of_service]\n",
        "    also_approves: [team_manager, head_of_service]\n    publishes_editions: true\n",
    )
    assert moved != text
    contents.write_text(moved, encoding="utf-8")
    assert PUBLISH.roles(load_rulebook(rules).approvers) == {ADMIN, "placement_panel"}
    contents.write_text(moved.replace("publishes_editions: true", "publishes_editions: perhaps"), encoding="utf-8")
    with pytest.raises(RulebookError, match="publishes_editions is true or false") as refused:
        load_rulebook(rules)
    assert "contents.yaml" in str(refused.value)
