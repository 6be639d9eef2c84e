"""Each row's reason texts made from one 64-bit key (or two factorisations where the parts do not fit one key)
are those of the plain way: each rule's bit set a rule at a time, the fired rules factorised, then the rules with
the band approver and the rules fired for information only (the code before, kept here as the reference)."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.audit.lists.tables import _fired_bits, _reason_texts
from engine.evaluate.vector import VectorResult


@dataclass
class _Rule:
    id: str
    label: str
    approver: str | None
    approver_from: str | None


def _plain(rules: list[_Rule], result: VectorResult) -> tuple[np.ndarray, list[list[str]]]:
    fired = np.zeros(len(result.outcome), np.uint64)
    for k in range(len(rules)):
        fired |= result.fired[:, k].astype(np.uint64) << np.uint64(k)
    combos, combo_values = pd.factorize(fired, sort=False)
    info_columns = sorted(result.info_only)
    info_bits = np.zeros(len(fired), np.int64)
    for bit, k in enumerate(info_columns):
        info_bits |= result.info_only[k].astype(np.int64) << bit
    key = combos.astype(np.int64) * (len(result.approvers) + 1) + (result.band_approver + 1)
    key = key * (1 << len(info_columns)) + info_bits
    inverse, unique = pd.factorize(key, sort=False)
    ids, approvers, labels = [], [], []
    for value in unique.tolist():
        value, info = divmod(value, 1 << len(info_columns))
        only_info = {rules[k].id for bit, k in enumerate(info_columns) if info >> bit & 1}
        code, band = divmod(value, len(result.approvers) + 1)
        combo, hits = int(combo_values[code]), []
        while combo:
            hits.append(rules[(combo & -combo).bit_length() - 1])
            combo &= combo - 1
        ids.append(" ".join(rule.id for rule in hits))
        who = [
            None
            if rule.id in only_info
            else rule.approver or (result.approvers[band - 1] if rule.approver_from and band else None)
            for rule in hits
        ]
        approvers.append(", ".join(dict.fromkeys(w for w in who if w)))
        labels.append("; ".join(f"{rule.id} {rule.label}" for rule in hits))
    return inverse.astype(np.int64), [ids, approvers, labels]


def _case(rules: int, rows: int, approvers: int, info: int, share: float, seed: int, order: str) -> tuple:
    rng = np.random.default_rng(seed)
    rule_list = [
        _Rule(f"R-{k:02d}", f"rule {k}", "Head" if k % 5 == 0 else None, "bands" if k % 3 == 0 else None)
        for k in range(rules)
    ]
    fired = np.array(rng.random((rows, rules)) < share, order=order)  # type: ignore[call-overload]
    info_only = {
        int(k): fired[:, k] & (rng.random(rows) < 0.5) for k in rng.choice(rules, min(info, rules), replace=False)
    }
    band = rng.integers(-1, approvers, rows) if approvers else np.full(rows, -1, np.int64)
    names = tuple(f"Approver {k}" for k in range(approvers))
    result = VectorResult(
        fired, np.zeros(rows, np.int8), band.astype(np.int64), names, {}, {}, np.zeros(rows, np.int64), {}, info_only
    )
    return SimpleNamespace(rules=rule_list), rule_list, result


@settings(max_examples=60, deadline=None)
@given(
    rules=st.integers(0, 64),
    rows=st.integers(0, 300),
    approvers=st.integers(0, 9),
    info=st.integers(0, 4),
    share=st.sampled_from([0.0, 0.02, 0.3, 0.9, 1.0]),
    seed=st.integers(0, 2**16),
    order=st.sampled_from(["F", "C"]),
)
def test_reason_texts_are_those_of_the_plain_way(
    rules: int, rows: int, approvers: int, info: int, share: float, seed: int, order: str
) -> None:
    book, rule_list, result = _case(rules, rows, approvers, info, share, seed, order)
    codes, texts = _reason_texts(book, result)  # type: ignore[arg-type]
    want_codes, want_texts = _plain(rule_list, result)
    assert codes.dtype == np.int64
    assert np.array_equal(codes, want_codes)
    assert texts == want_texts


@pytest.mark.parametrize("rules", [1, 7, 8, 9, 38, 63, 64])
def test_fired_bits_are_each_rules_bit(rules: int) -> None:
    rng = np.random.default_rng(rules)
    fired = np.asfortranarray(rng.random((1000, rules)) < 0.4)
    fired[0] = True  # every bit set once, the highest too
    want = np.zeros(1000, np.uint64)
    for k in range(rules):
        want |= fired[:, k].astype(np.uint64) << np.uint64(k)
    got = _fired_bits(fired)
    assert got.dtype == np.uint64 and np.array_equal(got, want)


def test_both_keys_are_tried() -> None:
    """A case that fits one key and one that does not (64 rules and band approvers): both give the plain texts."""
    for rules, approvers in ((38, 3), (64, 3)):
        book, rule_list, result = _case(rules, 2000, approvers, 2, 0.05, rules, "F")
        codes, texts = _reason_texts(book, result)  # type: ignore[arg-type]
        want_codes, want_texts = _plain(rule_list, result)
        assert np.array_equal(codes, want_codes) and texts == want_texts
