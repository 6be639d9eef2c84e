"""The figure language (rules/figures.yaml): checked when loaded, and its two compiled forms agree.

Extra figures exercising every operation (fractions, each rounding, min/max/coalesce, conditions with nulls,
division by zero, dates, lookups) are added to a copy of rules/; hypothesis placements then go through the
scalar form (``derive``) and the vector form (``VectorEvaluator.derive``) and every figure must be equal.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.audit.books.read import table_from_records
from engine.evaluate.derive import derive
from engine.evaluate.vector import VectorEvaluator, row_dates
from engine.rulebook.loader import load_rulebook
from engine.rulebook.strict_yaml import RulebookError
from engine.validate.batch import day_number, parse_book
from engine.validate.placement import parse_placement
from tests.conftest import copy_rules

EXTRA = """
  - name: steps_of_fnc
    kind: count
    description: whole FNC rates in the core fee, rounded up (ceil-division by a parameter)
    reference: test
    formula:
      care_home: ceil(coalesce(core_weekly_fee, 0) / params.care_homes.fnc_standard_weekly)
  - name: whole_fnc_steps
    kind: count
    description: floor-division
    reference: test
    formula:
      care_home: floor(coalesce(core_weekly_fee, 0) / params.care_homes.fnc_standard_weekly)
  - name: council_part
    kind: money
    description: a ratio parameter times money, rounded half-up to the penny
    reference: test
    formula: round_half_up(gross_weekly_cost * params.isp.s117_council_share, 2)
  - name: eighth_of_difference
    kind: money
    description: negative halves round away from zero
    reference: test
    formula: round_half_up((other_weekly - one_to_one_weekly) / 8, 2)
  - name: capped_other
    kind: money
    description: min and max with a literal in pounds
    reference: test
    formula: min(coalesce(cheapest_suitable_weekly, 0), max(0, other_weekly - 100))
  - name: share_of_one_to_one
    kind: percent
    description: division by zero is null
    reference: test
    formula: round_half_up(other_weekly * 100 / one_to_one_weekly, 2)
  - name: review_date
    kind: date
    description: a date plus whole days
    reference: test
    formula: add_days(start_date, age)
  - name: review_after_start
    kind: bool
    description: dates compared
    reference: test
    formula: review_date > start_date
  - name: fnc_not_above_100
    kind: bool
    description: not (comparison) is false when the value is null
    reference: test
    formula: not (fnc_weekly > 100)
  - name: first_known
    kind: money
    description: coalesce of several
    reference: test
    formula: coalesce(fnc_weekly, nhs_contribution_weekly, 0.5)
  - name: lot_or_zero
    kind: count
    description: a conditional on a figure that only care homes have
    reference: test
    formula: lot if known(lot) and (lot == 2 or lot >= 6) else 0
"""
NEW = [line.split(": ")[1] for line in EXTRA.splitlines() if line.startswith("  - name: ")]


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("figures") / "rules"
    copy_rules(root)
    with (root / "figures.yaml").open("a", encoding="utf-8") as stream:
        stream.write(EXTRA)
    return load_rulebook(root)


def _money() -> st.SearchStrategy[str | None]:
    pence = st.one_of(st.sampled_from([0, 1, 4, 12, 26768, 91500]), st.integers(0, 500_000))
    return st.one_of(st.none(), pence.map(lambda p: f"{p // 100}.{p % 100:02d}"))


@st.composite
def placements(draw: st.DrawFn) -> dict:
    care_home = draw(st.booleans())
    record = {
        "placement_id": "F",
        "service": "care_home" if care_home else "supported_living",
        "start_date": draw(st.dates(date(2024, 1, 1), date(2027, 12, 31))).isoformat(),
        "age": draw(st.integers(18, 110)),
        "one_to_one_weekly": draw(_money()) or "0",
        "other_weekly": draw(_money()) or "0",
        "fnc_weekly": draw(_money()),
        "nhs_contribution_weekly": draw(_money()),
        "cheapest_suitable_weekly": draw(_money()),
        "s117": draw(st.booleans()),
    }
    if care_home:
        record["core_weekly_fee"] = draw(_money()) or "900.00"
        record["care_type"] = draw(st.sampled_from(["residential", "nursing"]))
        record["dementia"] = draw(st.booleans())
    else:
        record["sl_weekly_cost"] = draw(_money()) or "500.00"
    return {k: v for k, v in record.items() if v is not None}


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(st.lists(placements(), min_size=1, max_size=10))
def test_scalar_and_vector_forms_agree_on_every_operation(book, records: list[dict]) -> None:  # type: ignore[no-untyped-def]
    parsed = parse_book(table_from_records(records), book)
    assert parsed.valid.all()
    dates = row_dates(parsed)
    vector = VectorEvaluator(book).derive(parsed, dates)
    for index, record in enumerate(records):
        placement = parse_placement(record, book)
        scalar = derive(placement, book, placement.as_at_date).values
        for name in book.figures:
            expected = scalar[name]
            if isinstance(expected, date):
                expected = day_number(expected)
            col = vector[name]
            got = col.v[index].item() if col.ok[index] else None
            if col.cats is not None and got is not None:
                got = col.cats[got]
            assert got == expected, f"{name} on row {index}: vector {got!r}, scalar {expected!r} ({record})"


def test_the_extra_figures_compute_what_they_say(book) -> None:  # type: ignore[no-untyped-def]
    placement = parse_placement(
        {
            "placement_id": "F",
            "service": "care_home",
            "start_date": "2026-05-04",
            "age": 80,
            "care_type": "nursing",
            "core_weekly_fee": "1000.00",
            "one_to_one_weekly": "0.12",
            "other_weekly": "0.08",
            "fnc_weekly": "250.00",
            "s117": True,
        }
    )
    values = derive(placement, book, placement.as_at_date).values
    standard = book.parameters["care_homes.fnc_standard_weekly"].at(date(2026, 5, 4))[0]  # type: ignore[index]
    assert values["steps_of_fnc"] == -(-100000 // standard) and values["whole_fnc_steps"] == 100000 // standard
    assert values["eighth_of_difference"] == -1  # (8p − 12p) / 8 = −0.5p → −1p, half away from zero
    assert values["share_of_one_to_one"] == 6667  # 8 / 12 = 66.666…% → 66.67
    assert values["capped_other"] == 0 and values["first_known"] == 25000
    assert values["review_date"] == date(2026, 7, 23) and values["review_after_start"] is True
    assert values["fnc_not_above_100"] is False and values["lot_or_zero"] == 6
    sl = parse_placement(
        {
            "placement_id": "S",
            "service": "supported_living",
            "start_date": "2026-05-04",
            "age": 40,
            "sl_weekly_cost": "500.00",
        }
    )
    values = derive(sl, book, sl.as_at_date).values
    assert values["share_of_one_to_one"] is None  # 0 / 0: null, never an error
    assert values["fnc_not_above_100"] is False  # not (null > 100) is false, as in rule conditions
    assert values["first_known"] == 50 and values["lot_or_zero"] == 0


def _refused(tmp_path: Path, figure: str, reason: str) -> None:
    root = tmp_path / "rules"
    copy_rules(root)
    with (root / "figures.yaml").open("a", encoding="utf-8") as stream:
        stream.write("\n  - name: extra\n    description: test\n    reference: test\n" + figure)
    with pytest.raises(RulebookError, match=reason) as caught:
        load_rulebook(root)
    assert caught.value.path.endswith("figures.yaml") and caught.value.line


@pytest.mark.parametrize(
    ("figure", "reason"),
    [
        ("    kind: money\n    formula: other_weekly / 2\n", "round it"),
        ("    kind: money\n    formula: other_weekly * one_to_one_weekly\n", "round it"),
        ("    kind: money\n    formula: no_such_field + 1\n", "unknown field, figure or parameter 'no_such_field'"),
        ("    kind: money\n    formula: params.no.such\n", "unknown parameter"),
        ("    kind: money\n    formula: sqrt(other_weekly)\n", "unknown function"),
        ("    kind: money\n    formula: other_weekly if service else 0\n", "not a condition"),
        ('    kind: bool\n    formula: care_type == "hospice"\n', "not one of care_type"),
        ('    kind: money\n    formula: param("care_homes.benchmark.band_{}", lot)\n', "no parameter"),
        ("    kind: count\n    formula: extra + 1\n", "unknown field"),
        ("    kind: money\n    shown: other_weekly\n    formula: other_weekly\n", "shown is true or names"),
        ("    kind: money\n    shown: other_weekly\n    formula: other_weekly\n", "'other_weekly' is not true/false"),
        ("    kind: money\n    shown: no_such_flag\n    formula: other_weekly\n", "no field or figure no_such_flag"),
        ("    kind: money\n    formula: __import__('os')\n", "unknown function"),
    ],
)
def test_a_bad_formula_is_refused_with_its_line(tmp_path: Path, figure: str, reason: str) -> None:
    _refused(tmp_path, figure, reason)


def test_figures_that_read_each_other_in_a_circle_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "rules"
    copy_rules(root)
    with (root / "figures.yaml").open("a", encoding="utf-8") as stream:
        stream.write(
            "\n  - {name: one, kind: count, description: t, reference: t, formula: two + 1}"
            "\n  - {name: two, kind: count, description: t, reference: t, formula: one + 1}\n"
        )
    with pytest.raises(RulebookError, match="circle: one → two → one"):
        load_rulebook(root)


def test_the_scalar_form_is_readable_python_of_the_formulas() -> None:
    source = load_rulebook().compiled.figures_source
    assert "def figures_care_home(p, v, param, bands):" in source
    assert 'param("care_homes.approval_bands")' in source


CHARGING = {
    "lower_capital_limit": ("GBP/week", "14250.00"),
    "tariff_step": ("GBP/week", "250.00"),
    "tariff_income_per_step": ("GBP/week", "1.00"),
    "personal_expenses_allowance": ("GBP/week", "30.15"),
    "property_disregard_days": ("count", "84"),
}
NEXT_ISSUES = """
  - name: example_tariff_income_weekly
    kind: money
    description: £1 for every £250 or part of £250 above the lower limit (core fee standing in for capital)
    reference: test
    formula: >-
      0 if core_weekly_fee <= params.example_charging.lower_capital_limit
      else ceil((core_weekly_fee - params.example_charging.lower_capital_limit) / params.example_charging.tariff_step)
           * params.example_charging.tariff_income_per_step
  - name: example_contribution_weekly
    kind: money
    description: min/max caps around income less the PEA (other_weekly standing in for income)
    reference: test
    formula: >-
      min(comparable_weekly,
          max(0, other_weekly + example_tariff_income_weekly - params.example_charging.personal_expenses_allowance))
  - name: example_property_disregard_ends
    kind: date
    description: the 12-week property disregard ends (start date standing in for the admission date)
    reference: test
    formula: add_days(start_date, params.example_charging.property_disregard_days)
  - name: example_half_shared_pension_weekly
    kind: money
    description: half, rounded up to the penny in the person's favour
    reference: test
    formula: ceil(other_weekly / 2, 2)
"""


def test_the_next_issues_figures_are_declared_without_new_python(tmp_path: Path) -> None:
    """Charging's tariff income (ceil-division), caps, a date plus days and a half rounded up, as data."""
    root = tmp_path / "rules"
    copy_rules(root)
    folder = root / "parameters" / "example_charging"
    folder.mkdir()
    (folder / "index.yaml").write_text("description: charging\nreference: {title: SI 2014/2672}\n", encoding="utf-8")
    for name, (unit, value) in CHARGING.items():
        (folder / f"{name}.yaml").write_text(
            f"description: {name}\nunit: {unit}\nreference: {{title: SI 2014/2672}}\nvalues:\n  2015-04-01: {value}\n",
            encoding="utf-8",
        )
    with (root / "figures.yaml").open("a", encoding="utf-8") as stream:
        stream.write(NEXT_ISSUES)
    book = load_rulebook(root)
    records = [
        {
            "placement_id": "L",
            "service": "care_home",
            "start_date": "2026-05-04",
            "age": 80,
            "care_type": "residential",
            "core_weekly_fee": core,
            "other_weekly": other,
        }
        for core, other in (("15250.00", "170.00"), ("14250.00", "0.03"), ("14250.01", "0.00"), ("900.00", "1.01"))
    ]
    parsed = parse_book(table_from_records(records), book)
    vector = VectorEvaluator(book).derive(parsed, row_dates(parsed))
    expected = [
        (400, 14385, date(2026, 7, 27), 8500),
        (0, 0, date(2026, 7, 27), 2),
        (100, 0, date(2026, 7, 27), 0),
        (0, 0, date(2026, 7, 27), 51),
    ]
    for index, record in enumerate(records):
        placement = parse_placement(record)
        values = derive(placement, book, placement.as_at_date).values
        got = tuple(
            values[name]
            for name in (
                "example_tariff_income_weekly",
                "example_contribution_weekly",
                "example_property_disregard_ends",
                "example_half_shared_pension_weekly",
            )
        )
        assert got == expected[index]  # Lambeth 2024/25: capital £15,250 → tariff £4; £170 + £4 − £30.15 = £143.85
        assert (
            vector["example_tariff_income_weekly"].v[index] == got[0]
            and vector["example_contribution_weekly"].v[index] == got[1]
        )
        assert vector["example_property_disregard_ends"].v[index] == day_number(got[2])
        assert vector["example_half_shared_pension_weekly"].v[index] == got[3]
