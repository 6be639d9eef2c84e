"""The column-wise validation's shortcuts give what each cell read on its own gives: a low-cardinality column
whose distinct texts are all certain (every cell sure without a look-up), and an amount's range check made as
one unsigned comparison (a negative amount is never sure, an amount at the bound is, one above it is not)."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.money import LARGEST
from engine.validate.batch import SPECS, _amounts, _certain, _low_cardinality
from engine.validate.values import WRITTEN_PLACES

LOW = {name: spec for name, spec in SPECS.items() if spec.kind in {"flag", "enum", "day", "whole"}}
TEXTS = {
    "flag": ["yes", "no", "Y", "N", "true", "maybe", ""],
    "enum": ["care_home", "nursing", "residential", "spot", "block", "x"],
    "day": ["2026-03-31", "2025-12-01", "31/03/2026", "2026-02-30", "tomorrow"],
    "whole": ["0", "1", "81", "-3", "2.5", "many", "007"],
}


def _cell_by_cell(spec, cells):  # type: ignore[no-untyped-def]
    """(values, given, sure) each cell read by itself: the reference."""
    check = _certain(spec)
    values, given, sure = [], [], []
    for text in cells:
        if text is None:
            values.append(0), given.append(False), sure.append(True)
            continue
        try:
            values.append(check(text)), given.append(True), sure.append(True)
        except (ValueError, TypeError):
            values.append(0), given.append(True), sure.append(False)
    return values, given, sure


def _chunked(cells: list[str | None], cut: int) -> pa.ChunkedArray:
    cut = min(cut, len(cells))
    return pa.chunked_array([pa.array(cells[:cut], pa.string()), pa.array(cells[cut:], pa.string())])


@settings(max_examples=150, deadline=None)
@given(st.data(), st.sampled_from(sorted(LOW)), st.integers(0, 40))
def test_a_low_cardinality_column_reads_as_each_cell_on_its_own(data, name, cut) -> None:  # type: ignore[no-untyped-def]
    spec = LOW[name]
    choices = TEXTS[spec.kind] + list(spec.choices or ())
    good_only = data.draw(st.booleans())  # the shortcut's case: every distinct text certain
    if good_only:
        choices = [text for text in choices if _cell_by_cell(spec, [text])[2][0]]
    cells = data.draw(st.lists(st.one_of(st.none(), st.sampled_from(choices)), max_size=40))
    values, given_, sure, encoded = _low_cardinality(spec, _chunked(cells, cut))
    want_values, want_given, want_sure = _cell_by_cell(spec, cells)
    assert given_.tolist() == want_given and sure.tolist() == want_sure
    assert [int(v) for v, ok in zip(values.tolist(), want_sure) if ok] == [
        int(v) for v, ok in zip(want_values, want_sure) if ok
    ]
    assert len(sure) == len(cells) and sure.dtype == bool
    assert encoded.to_pylist() == cells


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(WRITTEN_PLACES)), st.data(), st.integers(0, 30), st.booleans())
def test_an_amount_is_sure_only_from_zero_to_the_bound(kind, data, cut, lenient) -> None:  # type: ignore[no-untyped-def]
    places = WRITTEN_PLACES[kind]
    bound = int(LARGEST) * 10**places
    near = st.sampled_from([0, 1, bound - 1, bound, bound + 1, -1, -bound, -bound - 1, 10**17, -(10**17), 2**62])
    units = data.draw(st.lists(st.one_of(st.none(), near, st.integers(-(10**17), 10**17)), max_size=30))
    cells = [None if u is None else str(Decimal(u).scaleb(-places)) for u in units]
    if lenient:  # one cell the exact cast refuses: the whole column read the lenient way (by distinct text)
        units, cells = [*units, 1_500 * 10**places], [*cells, "1,500"]
    values, given_, sure = _amounts(_chunked(cells, cut), kind)
    want_sure = [u is None or 0 <= u <= bound for u in units]
    assert sure.tolist() == want_sure
    assert given_.tolist() == [u is not None for u in units]
    assert values.tolist() == [u if u is not None and 0 <= u <= bound else 0 for u in units]
