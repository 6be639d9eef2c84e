"""Care categories and benchmark kinds are the rulebook's (rules/tables/care_categories.yaml): the derivation, the
benchmark, the KPIs per category and the words all follow the declaration, and a bad one is refused at load."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from engine.audit.outputs.report import render_context, report_context
from engine.audit.run import run_audit
from engine.decide import Engine
from engine.rulebook.loader import DEFAULT_RULES_DIR, load_rulebook
from engine.rulebook.strict_yaml import RulebookError
from engine.validate.placement import InputError
from tests.conftest import placement

CATEGORIES = Path("tables/care_categories.yaml")
ROOT = Path(__file__).resolve().parent.parent


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_every_care_type_and_dementia_need_falls_in_exactly_one_shipped_category() -> None:
    engine = Engine()
    book = engine.book
    found = {}
    for care_type in ("residential", "nursing"):
        for dementia in (False, True):
            decision = engine.decide(placement(care_type=care_type, dementia=dementia))
            lot = decision.figures["lot"]
            category = book.categories.get(lot)
            assert category is not None and category.fixed("care_type") == care_type
            assert category.fixed("dementia") == dementia
            found[lot] = category
    assert sorted(found) == sorted(book.categories.ids)
    assert all(c.label and c.scope and c.kind == "laingbuisson_median" for c in book.categories.items)


def test_the_category_given_fixes_the_care_type_and_is_checked_against_the_fields_given() -> None:
    engine = Engine()
    decision = engine.decide(placement(drop=("care_type",), lot=6))
    assert decision.figures["lot"] == 6 and decision.figures["benchmark_weekly"] is not None
    with pytest.raises(InputError) as caught:
        engine.decide(placement(lot=6, care_type="residential"))
    assert caught.value.fields == {"lot": ["lot 6 contradicts care_type residential"]}
    with pytest.raises(InputError) as caught:
        engine.decide(placement(lot=6, dementia=True))
    assert caught.value.fields == {"lot": ["lot 6 contradicts dementia true"]}
    with pytest.raises(InputError, match=r"lot: must be 1, 2, 6 or 7, got 3"):
        engine.decide(placement(lot=3))


def test_the_decision_follows_a_renumbered_category(rules: Path) -> None:
    """Renumbering a category (and naming another parameter for its benchmark) changes the Lot a decision reports."""
    _edit(rules / CATEGORIES, "  - id: 6\n", "  - id: 5\n")
    _edit(rules / CATEGORIES, "benchmark: care_homes.benchmark.lot_6", "benchmark: care_homes.benchmark.lot_7")
    decision = Engine(load_rulebook(rules)).decide(placement(care_type="nursing", dementia=False))
    shipped = Engine().decide(placement(care_type="nursing", dementia=True))
    assert decision.figures["lot"] == 5
    assert decision.figures["benchmark_weekly"] == shipped.figures["benchmark_weekly"]  # Lot 7's benchmark now


BROKEN = [
    ("an undeclared benchmark kind", "    kind: laingbuisson_median\n  - id: 2", "    kind: median\n  - id: 2", "kind"),
    (
        "an undeclared benchmark parameter",
        "benchmark: care_homes.benchmark.lot_2",
        "benchmark: care_homes.benchmark.lot_3",
        "no parameter 'care_homes.benchmark.lot_3'",
    ),
    ("a missing label", "    label: Lot 6 — Nursing Older People\n", "", "care category has no 'label'"),
    ("a duplicate id", "  - id: 7\n", "  - id: 6\n", "care category 6 is listed twice"),
    (
        "a derivation that does not parse",
        'when: care_type == "nursing" and dementia\n',
        'when: care_type == "nursing" and and dementia\n',
        "care category 7",
    ),
    (
        "a derivation naming an unknown field",
        'when: care_type == "nursing" and dementia\n',
        'when: care_type == "nursing" and dementiaa\n',
        "dementiaa",
    ),
    (
        "a kind no council may declare",
        "  care_cubed: {label: CareCubed figure, short: CareCubed figure}\n",
        "  guesswork: {label: guesswork, short: guess}\n",
        "not one of",
    ),
    (
        "a need no category covers",
        'when: care_type == "nursing" and dementia\n',
        'when: care_type == "nursing" and not dementia\n',
        "no care category covers placements with care_type nursing, dementia true",
    ),
    (
        "a category that can never be chosen",
        'when: care_type == "residential" and not dementia\n',
        'when: care_type == "residential"\n',
        "care category 2 is never chosen",
    ),
    (
        "a derivation that does not fix the care type",
        'when: care_type == "nursing" and dementia\n',
        'when: care_type != "residential" and dementia\n',
        "care category field care_type",
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "reason"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_bad_category_declaration_is_refused_with_file_and_line(rules, name, old, new, reason) -> None:
    _edit(rules / CATEGORIES, old, new)
    with pytest.raises(RulebookError, match=re.escape(reason)) as caught:
        load_rulebook(rules)
    assert caught.value.path.endswith("care_categories.yaml") and caught.value.line, caught.value


def test_a_rule_or_figure_naming_an_undeclared_category_is_refused(rules: Path) -> None:
    module = rules / "modules" / "1_care_home_pricing.yaml"
    text = module.read_text(encoding="utf-8")
    first = re.search(r"^    when: (.*)$", text, flags=re.M)
    assert first is not None
    module.write_text(text.replace(first[0], f"    when: ({first[1]}) and lot != 3", 1), encoding="utf-8")
    with pytest.raises(RulebookError, match="names care category 3, not declared") as caught:
        load_rulebook(rules)
    assert caught.value.path.endswith("1_care_home_pricing.yaml") and caught.value.line
    module.write_text(text, encoding="utf-8")
    _edit(
        rules / "figures.yaml", 'care_home: care_type == "nursing"\n', 'care_home: care_type == "nursing" or lot == 4\n'
    )
    with pytest.raises(RulebookError, match="figure|names care category 4") as caught:
        load_rulebook(rules)
    assert caught.value.path.endswith("figures.yaml") and caught.value.line


def test_the_check_command_refuses_a_bad_declaration_with_exit_3(rules: Path) -> None:
    _edit(rules / CATEGORIES, "  - id: 7\n", "  - id: 6\n")
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "carerules"),
            "check",
            "--rules",
            str(rules),
            str(ROOT / "examples" / "spec_example.json"),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 3, done
    assert "care_categories.yaml" in done.stderr + done.stdout


# A council that prices care homes against its own usual-cost rates for four categories: data only.
USUAL_COST = """\
description: Four care categories, each priced against the council's usual cost (illustrative).
reference: {title: ILLUSTRATIVE usual-cost rates, section: care categories}
benchmark_kinds:
  usual_cost: {label: usual cost rate, short: usual cost}
noun: category
all_categories: all categories
categories:
  - {id: 1, label: Residential, scope: residential, when: care_type == "residential" and not dementia,
     benchmark: care_homes.usual_cost.residential, kind: usual_cost}
  - {id: 2, label: Residential enhanced, scope: residential enhanced,
     when: care_type == "residential" and dementia, benchmark: care_homes.usual_cost.residential_enhanced,
     kind: usual_cost}
  - {id: 3, label: Nursing, scope: nursing, when: care_type == "nursing" and not dementia,
     benchmark: care_homes.usual_cost.nursing, kind: usual_cost}
  - {id: 4, label: Nursing enhanced, scope: nursing enhanced, when: care_type == "nursing" and dementia,
     benchmark: care_homes.usual_cost.nursing_enhanced, kind: usual_cost}
"""
RATES = {"residential": "700.00", "residential_enhanced": "760.00", "nursing": "800.00", "nursing_enhanced": "880.00"}


def _usual_cost_rulebook(rules: Path) -> Path:
    (rules / CATEGORIES).write_text(USUAL_COST, encoding="utf-8")
    folder = rules / "parameters" / "care_homes" / "usual_cost"
    folder.mkdir()
    (folder / "index.yaml").write_text(
        "description: The council's usual cost per care category (illustrative).\n"
        "reference: {title: ILLUSTRATIVE usual-cost rates, section: care homes}\n",
        encoding="utf-8",
    )
    for name, rate in RATES.items():
        (folder / f"{name}.yaml").write_text(
            f"description: Usual cost, {name}\nunit: GBP/week\n"
            f"reference: {{title: ILLUSTRATIVE usual-cost rates, section: {name}}}\nvalues:\n  2025-04-01: {rate}\n",
            encoding="utf-8",
        )
    _edit(
        rules / "kpis.yaml",
        "name: New care homes at or below the median, {scope}",
        "name: At or below the {benchmark}, {scope}",
    )
    return rules


def test_a_council_with_four_usual_cost_categories_decides_against_its_own_rates(rules: Path) -> None:
    engine = Engine(load_rulebook(_usual_cost_rulebook(rules)))
    for (care_type, dementia), (lot, rate) in zip(
        [("residential", False), ("residential", True), ("nursing", False), ("nursing", True)],
        [(1, 700), (2, 760), (3, 800), (4, 880)],
    ):
        at_rate = engine.decide(placement(care_type=care_type, dementia=dementia, core_weekly_fee=f"{rate}.00"))
        assert at_rate.figures["lot"] == lot and float(at_rate.figures["benchmark_weekly"]) == rate
        assert at_rate.outcome == "proceed", at_rate.rule_ids
        over = engine.decide(placement(care_type=care_type, dementia=dementia, core_weekly_fee=f"{rate + 10}.00"))
        assert over.outcome == "needs_approval" and over.figures["over_benchmark_weekly"] == 10
    assert engine.decide(placement(drop=("care_type",), lot=4, dementia=True)).figures["benchmark_weekly"] == 880
    with pytest.raises(InputError, match="must be 1, 2, 3 or 4, got 6"):
        engine.decide(placement(lot=6))


def test_its_kpis_are_one_per_declared_category_in_its_words(rules: Path) -> None:
    book = load_rulebook(_usual_cost_rulebook(rules))
    rows = [
        placement(placement_id=f"P{i}", care_type=care, dementia=dem, core_weekly_fee=fee)
        for i, (care, dem, fee) in enumerate(
            [("residential", False, "690.00"), ("residential", True, "800.00"), ("nursing", True, "880.00")]
        )
    ]
    audit = run_audit(pd.DataFrame(rows, dtype=str), rules=book)
    kpis = {k["id"]: k for k in audit.kpis["kpis"]}
    shares = [k for k in kpis if k.startswith("below_median_share")]
    assert shares == ["below_median_share", *(f"below_median_share_lot_{n}" for n in (1, 2, 3, 4))]
    assert kpis["below_median_share"]["name"] == "At or below the usual cost, all categories"
    assert kpis["below_median_share_lot_2"]["name"] == "At or below the usual cost, residential enhanced"
    assert kpis["below_median_share_lot_2"]["counts"]["above_median"] == 1
    assert kpis["below_median_share_lot_4"]["counts"]["at_or_below_median"] == 1
    assert list(audit.kpis["breakdowns"]["by_lot"])[:4] == [
        "residential",
        "residential enhanced",
        "nursing",
        "nursing enhanced",
    ]
    context = report_context(audit)
    assert (context["category_noun"], context["benchmark_label"]) == ("category", "usual cost rate")
    html = render_context(context)
    assert "Comparable price against the usual cost, by category" in html and "Outcomes by category" in html


def test_no_python_file_names_a_category_number_or_a_shipped_label() -> None:
    book = load_rulebook(DEFAULT_RULES_DIR)
    words = {category.label.split("—")[-1].strip() for category in book.categories.items}
    assert words, "the shipped rulebook declares its categories"
    pattern = re.compile(r"\bLots? (\d|\{)|\ball Lots\b|" + "|".join(re.escape(w) for w in sorted(words)))
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in ("engine", "api")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert not found, "\n".join(found)
