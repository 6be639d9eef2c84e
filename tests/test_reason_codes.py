"""Each row's reason codes in the results and the lists: the fired rules' combinations are made once per
evaluation and read by every list, and each list's rows still get exactly their own rules."""

from __future__ import annotations

import numpy as np

from engine.audit.lists.tables import _rule_texts, rule_texts
from engine.evaluate.vector import VectorEvaluator, row_dates
from tests.conftest import parsed_sample


def test_every_subset_of_rows_gets_its_own_fired_rules() -> None:
    book, parsed = parsed_sample(3000, seed=7)
    result = VectorEvaluator(book).evaluate(parsed, row_dates(parsed))

    def own(row: int) -> str:
        return " ".join(rule.id for k, rule in enumerate(book.rules) if result.fired[row, k])

    rng = np.random.default_rng(3)
    subsets = [np.flatnonzero(rng.random(parsed.n) < share) for share in (0.05, 0.5, 0.9)]
    for rows in [*subsets, np.flatnonzero(parsed.valid), subsets[0]]:  # the first again: from what was made
        codes, (ids, _, labels) = _rule_texts(book, result, rows)
        assert [ids[c] for c in codes] == [own(r) for r in rows]
        assert [label.split(" ")[0] for label in labels] == [i.split(" ")[0] for i in ids]
    assert "reason_texts" in result.made
    codes, ids, _ = rule_texts(book, result, parsed.valid)
    assert [ids[c] if ok else None for c, ok in zip(codes, parsed.valid)] == [
        own(r) if ok else None for r, ok in enumerate(parsed.valid)
    ]
