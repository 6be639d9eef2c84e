"""The single decision's fast paths give what the general ones give: durable's fact written by a generated function,
plain pounds read straight to pence, whole-number ceil/floor, and the parameters read kept per rulebook."""

from __future__ import annotations

import json
import math
import random
from fractions import Fraction
from pathlib import Path

import pytest

from engine import Engine
from engine.bench.decisions import EXAMPLES
from engine.language.scalar_runtime import ceil, floor
from engine.money import MoneyError, to_pence
from engine.rulebook.loader import load_rulebook
from engine.validate.values import parse_money
from tests.conftest import copy_rules


def test_the_fact_is_the_values_as_json_without_nulls() -> None:
    pytest.importorskip("durable_rules_engine")
    from engine.evaluate.durable import _fact_writer, fact_key

    names = ("a", "b.c", "d", "e", "f", "g")
    values = {"a": True, "b.c": -12, "d": None, "e": 'say "£" \\', "f": False, "g": 0, "unread": 5}
    expected = {"id": "placement", "sid": "evaluation"} | {
        fact_key(name): values[name] for name in names if values[name] is not None
    }
    keys = [fact_key(name) for name in names]
    assert len(set(keys)) == len(names) and not {"id", "sid"} & set(keys)
    assert keys == [fact_key(name) for name in names]  # the same key every time
    text = _fact_writer(names)(values)
    assert text == "{" + ",".join(f"{json.dumps(key)}:{json.dumps(value)}" for key, value in expected.items()) + "}"
    with pytest.raises(TypeError, match="float"):
        _fact_writer(("x",))({"x": 1.5})


@pytest.mark.parametrize(
    "text",
    ["0", "0.5", "1040", "1040.5", "1040.05", "9999999.99", "10000000", "10000000.01", "01", "1.", ".5", "1.234",
     "£5", "1,000.00", " 5", "5 ", "-5", "+5", "1e3", "24,10", "", "x"],
)  # fmt: skip
def test_plain_pounds_read_as_to_pence_reads_them(text: str) -> None:
    try:
        expected: int | str = to_pence(text)
    except MoneyError as exc:
        expected = str(exc)
    try:
        got: int | str = parse_money(text)
    except ValueError as exc:
        got = str(exc)
    assert got == expected


def test_random_amounts_read_as_to_pence_reads_them() -> None:
    rng = random.Random(29)
    for _ in range(5000):
        whole = rng.randint(0, 10**7 + 5)
        written = rng.choice([str(whole), f"{whole}.{rng.randint(0, 9)}", f"{whole}.{rng.randint(0, 99):02d}", whole])
        assert parse_money(written) == to_pence(written)
    with pytest.raises(ValueError, match="at most"):
        parse_money(10**7 + 1)


def test_ceil_and_floor_are_exact() -> None:
    rng = random.Random(29)
    for _ in range(5000):
        value = rng.choice([rng.randint(-(10**6), 10**6), Fraction(rng.randint(-(10**6), 10**6), rng.randint(1, 999))])
        divisor = rng.choice([1, 3, 7, 100, -3])
        assert ceil(value, divisor) == math.ceil(Fraction(value) / divisor)
        assert floor(value, divisor) == math.floor(Fraction(value) / divisor)


def test_parameters_read_are_each_rulebooks_own(tmp_path: Path) -> None:
    """The same names read at the same editions of two rulebooks: each decision lists its own rulebook's entries."""
    rules = copy_rules(tmp_path / "rules")
    source = rules / "parameters" / "care_homes" / "minimum_age.yaml"
    source.write_text(source.read_text(encoding="utf-8").replace("section: ", "section: Edited. ", 1), "utf-8")
    shipped, edited = Engine(evaluator="vector"), Engine(load_rulebook(rules), evaluator="vector")

    def reference(engine: Engine) -> str:
        read = {p.name: p for p in engine.decide(EXAMPLES[0]).parameters}
        return read["care_homes.minimum_age"].reference

    before = reference(shipped)
    assert "Edited." not in before
    assert "Edited." in reference(edited)
    assert reference(shipped) == before


def test_plain_iso_dates_read_as_the_general_reading_reads_them() -> None:
    from datetime import date, timedelta

    from engine.validate.values import parse_date

    rng = random.Random(29)
    for _ in range(2000):
        day = date(1900, 1, 1) + timedelta(days=rng.randint(0, 80000))
        assert parse_date(day.isoformat()) == parse_date(f" {day.isoformat()} ") == day  # spaces: the general path
    for unreal in ("2026-02-30", "2026-13-01", "0000-01-01"):
        with pytest.raises(ValueError, match="is not a real date"):
            parse_date(unreal)


def test_compiled_conditions_answer_as_the_interpreter_does() -> None:
    from engine.language.conditions import All, Any, Arith, Cmp, Const, Ref, evaluate
    from engine.language.scalar_conditions import compiled

    book = load_rulebook()
    real = [rule.condition for rule in book.rules] + [m.guard for m in book.modules if m.guard is not None]
    real += [rule.info_condition for rule in book.rules if rule.info_condition is not None]
    a, b = Ref("a"), Ref("b")
    made = [
        Cmp(op, left, right)
        for op in ("==", "!=", "<", "<=", ">", ">=")
        for left, right in ((a, b), (a, Const(3)), (Arith("-", a, b), Const(0)), (Arith("*", a, Const(2)), b))
    ]
    made += [All(()), Any(()), All((made[0], made[7])), Any((made[1], All((made[9], made[14]))))]
    records = [{}, {"a": None, "b": 1}, {"a": 1}, {"a": 3, "b": 3}, {"a": -2, "b": 5}, {"a": 7, "b": 6}]
    records += [{"a": True, "b": False}, {"a": "x", "b": "x"}]
    for cond in made:
        for values in records:
            try:
                expected = evaluate(cond, values)
            except TypeError:
                with pytest.raises(TypeError):
                    compiled(cond)(values)
                continue
            assert compiled(cond)(values) is expected, (cond, values)
    names = sorted({name for cond in real for name in _names(cond)})
    rng = random.Random(29)
    for _ in range(300):
        values = {
            name: rng.choice([None, True, False, 0, 1, -1, 500, 10**6, "care_home", "in_house"]) for name in names
        }
        for cond in real:
            try:
                expected = evaluate(cond, values)
            except TypeError:
                continue  # a comparison of text with a number, which the checked rulebook never makes
            assert compiled(cond)(values) is expected, (cond, values)
    from engine.explain.decision import _info_test

    info = next(rule.info_condition for rule in book.rules if rule.info_condition is not None)
    assert _info_test(info) is _info_test(info)  # made once per condition


def _names(cond: object) -> set[str]:
    from engine.language.conditions import names_in

    return names_in(cond)  # type: ignore[arg-type]


def test_figures_shown_in_runs_are_the_figures_shown() -> None:
    from engine.evaluate.derive import derive
    from engine.explain.decision import build_decision
    from engine.explain.shown import FIGURE_WRITERS
    from engine.validate.placement import parse_placement

    book = load_rulebook()
    for example in [
        *EXAMPLES,
        *EXAMPLES,  # twice: the second time from the runs already made
        {**EXAMPLES[0], "weekly_income": "200.00", "capital": "1000.00", "s117": True},
    ]:
        placement = parse_placement(example, book)
        derived = derive(placement, book, placement.as_at_date)
        kinds = book.compiled.figure_kinds
        expected = {name: FIGURE_WRITERS[kinds[name]](derived.values.get(name)) for name in derived.figures}
        built = build_decision(placement.placement_id, derived, set(), book).figures
        assert list(built.items()) == list(expected.items())
        assert [type(value) for value in built.values()] == [type(value) for value in expected.values()]


def test_findings_stand_in_the_rulebooks_order_whatever_fired() -> None:
    from engine.evaluate.derive import derive
    from engine.explain.decision import build_decision
    from engine.validate.placement import parse_placement

    book = load_rulebook()
    placement = parse_placement(EXAMPLES[0], book)
    derived = derive(placement, book, placement.as_at_date)
    ids = [rule.id for rule in book.rules]
    rng = random.Random(29)
    for size in (0, 1, 3, len(ids)):
        fired = set(rng.sample(ids, size)) | {"NOT-A-RULE"}  # an id the rulebook does not hold is left out
        built = build_decision(placement.placement_id, derived, fired, book)
        assert built.rule_ids == [rule.id for rule in book.rules if rule.id in fired]


def test_a_fraction_kept_for_a_value_is_the_fraction_of_every_value_read() -> None:
    from decimal import Decimal

    from engine.language.scalar_runtime import to_fraction

    # 0.1 the float is not Decimal('0.1'): each has its own exact fraction, whichever was read first
    for value in (0.1, Decimal("0.1"), Decimal("0.10"), "0.1", 1, True, Fraction(1, 3), Decimal("0.5"), 0.5, 7, 0):
        assert to_fraction(value) == Fraction(value) and type(to_fraction(value)) is Fraction
    assert to_fraction(None) is None
    with pytest.raises(TypeError):
        to_fraction([1])  # not a number, and not kept


def test_a_text_value_in_the_fact_is_json_dumps() -> None:
    pytest.importorskip("durable_rules_engine")
    from engine.evaluate.durable import _json_scalar

    for text in ("care_home", 'say "£" \\', "\x00\n\u2028", "é", ""):
        assert _json_scalar(text) == json.dumps(text)


def _general_quantity(value: object) -> int | str:
    from engine.money import QUANTITY_PLACES, exact_units, to_decimal

    try:
        return exact_units(to_decimal(value), "10,000,000", QUANTITY_PLACES)
    except MoneyError as exc:
        return str(exc)


@pytest.mark.parametrize(
    "value",
    ["0", "00", "040", "40", "40.", ".5", "13.3333", "13.33333", "0.0001", "9999999.9999", "10000000",
     "10000000.0001", "99999999", " 40", "40 ", "+4", "-4", "1e2", "1,000", "4,5", "", "x", "٤٠",
     0, 40, 10_000_000, 10_000_001, -1, 2.5, True],
)  # fmt: skip
def test_plain_quantities_read_as_the_general_reading_reads_them(value: object) -> None:
    from engine.validate.values import parse_quantity

    try:
        got: int | str = parse_quantity(value)
    except ValueError as exc:
        got = str(exc)
    assert got == _general_quantity(value)


def test_random_quantities_read_as_the_general_reading_reads_them() -> None:
    from engine.validate.values import parse_quantity

    rng = random.Random(29)
    for _ in range(5000):
        whole = rng.randint(0, 10**7 + 5)
        written = rng.choice(
            [whole, str(whole), f"{whole}.{rng.randint(0, 9)}", f"{whole}.{rng.randint(0, 9999):04d}",
             f"{whole}.{rng.randint(0, 99999):05d}"]
        )  # fmt: skip
        try:
            got: int | str = parse_quantity(written)
        except ValueError as exc:
            got = str(exc)
        assert got == _general_quantity(written)


def test_a_lot_is_checked_against_each_rulebooks_own_categories(tmp_path: Path) -> None:
    """The lots kept for one rulebook never answer for another: a lot one rulebook lacks is refused by it alone."""
    from engine.validate.placement import InputError, parse_placement

    shipped = load_rulebook()
    lots = [entry.id for entry in shipped.categories.items]
    rules = copy_rules(tmp_path / "rules")
    edited = load_rulebook(rules)
    fewer = type(edited.categories)(**{**vars(edited.categories), "items": edited.categories.items[:-1]})
    object.__setattr__(edited, "categories", fewer)
    placement = {**EXAMPLES[2], "lot": lots[-1]}
    assert parse_placement(placement, shipped).lot == lots[-1]
    with pytest.raises(InputError, match="lot"):
        parse_placement(placement, edited)
    assert parse_placement(placement, shipped).lot == lots[-1]
