"""The condition language: parsing, types, null semantics, and durable_rules agreeing with the interpreter."""

from __future__ import annotations

import random

import pytest

from engine.evaluate.durable import DurableEvaluator
from engine.language import conditions
from engine.language.conditions import All, Cmp, ConditionError, Const, Ref
from engine.language.vocabulary import Kind
from engine.rulebook.loader import Module, Reference, Rule, Rulebook

VOCABULARY = {
    "fee": Kind.MONEY,
    "budget": Kind.MONEY,
    "extra": Kind.MONEY,
    "miles": Kind.QUANTITY,
    "nights": Kind.COUNT,
    "flag": Kind.BOOL,
    "other_flag": Kind.BOOL,
    "payer": Kind.ENUM,
    "share": Kind.RATIO,
    "params.limit": Kind.MONEY,
    "params.distance": Kind.QUANTITY,
}
ENUMS = {"payer": ("none", "third_party", "first_party")}


def parse(text: str) -> conditions.Cond:
    return conditions.parse(text, VOCABULARY, ENUMS)


def test_money_literals_become_pence_and_not_is_pushed_to_the_comparisons():
    assert parse("not (fee > 3000.01 or flag)") == All(
        (Cmp("<=", Ref("fee"), Const(300001)), Cmp("!=", Ref("flag"), Const(True)))
    )


def test_arithmetic_on_the_left_is_turned_around():
    assert parse("budget + extra < fee") == Cmp(">", Ref("fee"), conditions.Arith("+", Ref("budget"), Ref("extra")))


@pytest.mark.parametrize(
    "text, reason",
    [
        ("fee > ", "cannot parse"),
        ("unknown_thing > 0", "unknown field"),
        ("params.nothing > 0", "unknown parameter"),
        ("fee > miles", "compares"),
        ("payer == 'somebody'", "not one of payer"),
        ("payer > 'none'", "only be compared with == or !="),
        ("fee > 1.001", "more than 2 decimal places"),
        ("nights > 1.5", "not a whole number"),
        ("share > 0", "ratio"),
        ("fee", "not true/false"),
        ("0 < fee < 5", "one comparison at a time"),
        ("fee + extra > budget + extra", "must be a single name"),
        ("__import__('os').system('true')", "not"),
        ("fee.__class__ > 0", "unknown field"),
        ("fee ** 2 > 0", "not allowed"),
    ],
)
def test_bad_conditions_are_refused_with_a_reason(text, reason):
    with pytest.raises(ConditionError, match=reason):
        parse(text)


def test_any_comparison_with_a_null_is_false_even_negated():
    values = {"fee": None, "budget": 100, "flag": None}
    for text in ("fee > budget", "not (fee > budget)", "fee != budget", "budget < fee", "not flag", "flag"):
        assert conditions.evaluate(parse(text), values) is False, text


# ---- the durable_rules compilation agrees with the reference interpreter on random conditions and facts ----

NUMERIC = ["fee", "budget", "extra", "params.limit"]


def random_condition(rnd: random.Random, depth: int = 0) -> str:
    if depth < 2 and rnd.random() < 0.45:
        joiner = rnd.choice([" and ", " or "])
        inner = joiner.join(random_condition(rnd, depth + 1) for _ in range(rnd.randint(2, 3)))
        return f"not ({inner})" if rnd.random() < 0.25 else f"({inner})"
    kind = rnd.random()
    op = rnd.choice(["==", "!=", "<", "<=", ">", ">="])
    if kind < 0.45:
        left = rnd.choice(NUMERIC)
        right = rnd.choice(
            [
                *NUMERIC,
                "0",
                "10.50",
                "100",
                f"{rnd.choice(NUMERIC)} + {rnd.choice(NUMERIC)}",
                f"{rnd.choice(NUMERIC)} - 5",
                f"{rnd.choice(NUMERIC)} * 2",
            ]
        )
        return f"{left} {op} {right}"
    if kind < 0.6:
        return f"miles {op} {rnd.choice(['params.distance', '20', '20.1'])}"
    if kind < 0.8:
        return rnd.choice(["flag", "not flag", "other_flag", "flag == false", "not other_flag"])
    return f"payer {rnd.choice(['==', '!='])} '{rnd.choice(ENUMS['payer'])}'"


def random_values(rnd: random.Random) -> dict:
    def money():
        return rnd.choice([None, 0, 1050, 10000, 10001, rnd.randint(0, 20000)])

    return {
        "fee": money(),
        "budget": money(),
        "extra": money(),
        "params.limit": money(),
        "miles": rnd.choice([None, 0, 2000, 2010, 1999]),
        "params.distance": rnd.choice([None, 2000]),
        "flag": rnd.choice([None, True, False]),
        "other_flag": rnd.choice([None, True, False]),
        "payer": rnd.choice([None, *ENUMS["payer"]]),
        "nights": None,
    }


def test_durable_rules_fires_exactly_when_the_interpreter_says_so():
    rnd = random.Random(117)
    texts = [random_condition(rnd) for _ in range(60)]
    rules = tuple(
        Rule(
            id=f"T-{i:02d}",
            label=text,
            module="random",
            when=text,
            condition=conditions.conjoin(parse(text)),
            action="info",
            message="-",
            reference=Reference("test"),
        )
        for i, text in enumerate(texts)
    )
    module = Module("random_conditions", "random", ("care_home",), Reference("test"), rules)
    evaluator = DurableEvaluator(Rulebook(parameters={}, modules=(module,), version="test"))
    for _ in range(400):
        values = random_values(rnd)
        expected = {rule.id for rule in rules if conditions.evaluate(rule.condition, values)}
        fired = evaluator.fire((module,), values)
        assert fired == expected, {rid: next(r.when for r in rules if r.id == rid) for rid in fired ^ expected} | {
            "values": values
        }
