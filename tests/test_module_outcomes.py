"""The KPIs' outcomes by module: each valid row of a module's services counted once, under the most severe action
among that module's rules that fired for it ("no finding" when none did), as one row at a time would count it."""

from __future__ import annotations

from collections import Counter

import numpy as np

from engine.audit.kpis.compute import module_outcomes
from engine.evaluate.vector import SEVERITY, VectorEvaluator, row_dates
from engine.language.vocabulary import ACTIONS, ENUMS
from tests.conftest import parsed_sample


def test_outcomes_by_module_are_each_rows_worst_finding_among_its_modules_rules() -> None:
    book, parsed = parsed_sample(3000, seed=11)
    result = VectorEvaluator(book).evaluate(parsed, row_dates(parsed))
    service = parsed.cols["service"].v
    expected: dict[str, Counter[str]] = {}
    for module in book.modules:
        codes = {ENUMS["service"].index(s) for s in module.services}
        rules = [k for k, rule in enumerate(book.rules) if rule.module == module.name and rule.action != "info"]
        counted: Counter[str] = Counter()
        for row in range(parsed.n):
            if parsed.valid[row] and int(service[row]) in codes:
                fired = [SEVERITY[book.rules[k].action] for k in rules if result.fired[row, k]]
                counted[ACTIONS[max(fired)] if fired else "no finding"] += 1
        expected[module.name] = counted
    counts = module_outcomes(book, parsed, result)
    assert list(counts) == [module.name for module in book.modules]
    for name, counted in counts.items():
        assert counted == dict(expected[name])
        order = ["no finding", *ACTIONS]
        assert list(counted) == sorted(counted, key=order.index)  # kpis.json lists them least to most severe
    assert sum(counts["care_home_pricing"].values()) > 0
    assert any(len(c) > 2 for c in counts.values())  # rows with different findings in one module
    # a row that is not valid is in no module, whatever its service
    parsed.valid[:] = False
    assert all(not c for c in module_outcomes(book, parsed, result).values())
    assert np.any(result.fired)
