"""Batch validation reads values as people write them exactly as the model does, and fast.

A book whose cells are written the way council exports write them (``£1,040.00``, ``04/05/2026``, ``Care Home``,
``Yes``, ``82.0``) parses to the same engine values, row for row, as the clean book; both evaluators agree on it;
and none of its rows needs the per-row path (the leniency is vectorised or per distinct value).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_equivalence import ENGINE, placements

from engine.audit.books.read import table_from_records
from engine.evaluate.equivalence import compare_engines
from engine.validate import batch
from engine.validate.batch import SPECS, active_at, parse_book

BOOK = ENGINE.book


def _money(text: str, style: int) -> str:
    pounds, pence = text.split(".")
    return [text, f"£{text}", f"£{int(pounds):,}.{pence}", f" £ {int(pounds):,}.{pence} ", f"{int(pounds):,}.{pence}"][
        style % 5
    ]


def _date(text: str, style: int) -> str:
    day = date.fromisoformat(text)
    return [
        text,
        day.strftime("%d/%m/%Y"),
        f"{day.day}/{day.month}/{day.year}",
        day.strftime("%d-%m-%Y"),
        day.strftime("%d.%m.%Y"),
        f"{day.day} {day.strftime('%B')} {day.year}",
        day.strftime("%d-%b-%Y"),
        f"{text} 00:00:00",
        f"{text}T00:00:00",
    ][style % 9]


def _name(text: str, style: int) -> str:
    words = text.split("_")
    return [text, " ".join(w.title() for w in words), "-".join(words), text.upper(), f"  {text} "][style % 5]


def _flag(value: Any, style: int) -> str:
    truth = value is True or str(value).lower() in ("true", "yes", "1")
    return [["No", "Yes"], ["n", "Y"], ["FALSE", "TRUE"], ["0", "1"]][style % 4][truth]


def written_as_people_write(record: dict[str, Any], style: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for offset, (name, value) in enumerate(record.items()):
        kind, pick = SPECS[name].kind, style + offset
        if value is None or kind == "text":
            out[name] = value
        elif kind == "pence":
            out[name] = _money(str(value), pick)
        elif kind == "day":
            out[name] = _date(str(value), pick)
        elif kind == "enum":
            out[name] = _name(str(value), pick)
        elif kind == "flag":
            out[name] = _flag(value, pick)
        elif kind == "whole":
            out[name] = f"{value}.0" if pick % 2 else str(value)
        else:
            out[name] = value
    return out


def _same_parse(clean: list[dict[str, Any]], written: list[dict[str, Any]]) -> None:
    a, b = parse_book(table_from_records(clean), BOOK), parse_book(table_from_records(written), BOOK)
    assert a.valid.tolist() == b.valid.tolist()
    assert a.errors == b.errors
    for name in SPECS:
        ok = a.cols[name].ok
        assert ok.tolist() == b.cols[name].ok.tolist(), name
        assert np.array_equal(a.cols[name].v[ok], b.cols[name].v[ok]), name


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(placements(), min_size=1, max_size=10), st.integers(0, 1000))
def test_a_book_written_as_people_write_it_parses_as_the_clean_book(records: list[dict], style: int) -> None:
    written = [written_as_people_write(record, style + i) for i, record in enumerate(records)]
    _same_parse(records, written)
    report = compare_engines(table_from_records(written), ENGINE)
    assert report.differences == []


def test_people_style_cells_do_not_need_the_per_row_path(monkeypatch: pytest.MonkeyPatch) -> None:
    records = [
        written_as_people_write(
            {
                "placement_id": f"P-{i}",
                "service": "care_home",
                "start_date": f"2026-05-{1 + i % 28:02d}",
                "age": 80 + i % 20,
                "care_type": ["residential", "nursing"][i % 2],
                "dementia": i % 3 == 0,
                "core_weekly_fee": f"{900 + i}.{i % 100:02d}",
                "top_up_weekly": f"{1000 + i}.00",
                "top_up_payer": ["none", "third_party", "first_party"][i % 3],
                "end_date": f"2027-0{1 + i % 9}-01",
            },
            i,
        )
        for i in range(300)
    ]

    def per_row(cells: dict[str, Any]) -> Any:
        raise AssertionError(f"the per-row path was used for {cells}")

    monkeypatch.setattr(batch, "parse_placement", per_row)
    book = parse_book(table_from_records(records), BOOK)
    assert book.valid.all() and not book.errors


def test_an_s117_share_to_four_places_is_read_column_wise_as_the_model_reads_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SPEC §13.2: a third is 0.3333 (issue 21: refused as more than 2 decimal places before)."""
    cells = ["0.3333", "0.5", "1", "0.0001", " 0.6667 "]
    records = [
        {
            "placement_id": f"S-{i}",
            "service": "care_home",
            "start_date": "2026-05-04",
            "age": "80",
            "care_type": "residential",
            "core_weekly_fee": "915.00",
            "s117": "true",
            "s117_council_share": cell,
        }
        for i, cell in enumerate(cells)
    ]
    monkeypatch.setattr(batch, "parse_placement", lambda cells: pytest.fail(f"the per-row path was used: {cells}"))
    book = parse_book(table_from_records(records), BOOK)
    assert book.valid.all()
    assert book.cols["s117_council_share"].v.tolist() == [3_333, 5_000, 10_000, 1, 6_667]
    monkeypatch.undo()
    assert compare_engines(table_from_records(records), ENGINE).differences == []


def test_shared_hours_to_four_places_are_read_column_wise_as_the_model_reads_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cells = ["13.3333", "1,000.5", " 7.25 ", "40", "0.0001", "82.0"]
    records = [
        {
            "placement_id": f"S-{i}",
            "service": "supported_living",
            "start_date": "2026-05-04",
            "age": "30",
            "sl_weekly_cost": "900.00",
            "sl_day_hours": cell,
            "sl_waking_night_hours": cell,
        }
        for i, cell in enumerate(cells)
    ]
    monkeypatch.setattr(batch, "parse_placement", lambda cells: pytest.fail(f"the per-row path was used: {cells}"))
    book = parse_book(table_from_records(records), BOOK)
    assert book.valid.all()
    assert book.cols["sl_day_hours"].v.tolist() == [133_333, 10_005_000, 72_500, 400_000, 1, 820_000]
    monkeypatch.undo()
    assert compare_engines(table_from_records(records), ENGINE).differences == []


BAD = [
    ("core_weekly_fee", "1.040,00", "decimal commas"),
    ("core_weekly_fee", "9,00", "decimal commas"),
    ("sl_day_hours", "1,04", "decimal commas"),
    ("sl_day_hours", "13,3333", "decimal commas"),
    ("sl_day_hours", "13.33333", "at most 4 decimal places"),
    ("distance_miles", "2.000001", "at most 4 decimal places"),
    ("s117_council_share", "0.33333", "at most 4 decimal places"),
    ("s117_council_share", "1.0001", "between 0 and 1"),
    ("s117_council_share", "1.5", "between 0 and 1"),
    ("start_date", "05/13/2026", "month-first"),
    ("start_date", "2026-05-04 10:30:00", "time of day"),
    ("end_date", "2026-05-04", "after start_date"),
    ("end_date", "01/01/2026", "after start_date"),
    ("provider", "x" * 201, "200"),
    ("service", "Care Homes", "care_home"),
    ("lot", "3", "must be 1, 2, 6 or 7, got 3"),
    ("lot", "6.0", "contradicts care_type residential"),
    ("start_date", "31/12/2019", "rules are only held from"),
]


@pytest.mark.parametrize(("field", "cell", "hint"), BAD)
def test_bad_cells_get_the_models_message_in_a_batch(field: str, cell: str, hint: str) -> None:
    good = {
        "placement_id": "P-1",
        "service": "care_home",
        "start_date": "2026-05-04",
        "age": "80",
        "care_type": "residential",
        "core_weekly_fee": "915.00",
    }
    book = parse_book(table_from_records([good, {**good, "placement_id": "P-2", field: cell}, good]), BOOK)
    assert book.valid.tolist() == [True, False, True]
    assert hint in " ".join(book.errors[1][field])
    assert compare_engines(table_from_records([good, {**good, field: cell}]), ENGINE).differences == []


def test_active_at_a_date_uses_start_and_end_dates() -> None:
    rows = [
        {"placement_id": "A", "start_date": "2026-05-04"},
        {"placement_id": "B", "start_date": "2026-05-04", "end_date": "2026-06-01"},
        {"placement_id": "C", "start_date": "2026-06-01"},
        {"placement_id": "D", "start_date": "2026-05-04", "end_date": "2026-05-03"},  # an input error
    ]
    base = {"service": "supported_living", "age": "30", "sl_weekly_cost": "100.00"}
    book = parse_book(table_from_records([{**base, **row} for row in rows]), BOOK)
    assert active_at(book, date(2026, 5, 31)).tolist() == [True, True, False, False]
    assert active_at(book, date(2026, 6, 1)).tolist() == [True, False, True, False]
    assert active_at(book, date(2026, 5, 3)).tolist() == [False, False, False, False]


AMOUNT_TEXTS = st.sampled_from(
    ["1040.00", "£1,040.00", " £ 1,040.5 ", "1,040", "12.345", "-5", "+5", "1e3", "abc", "0", "0.1", "£", ",", " "]
) | st.from_regex(r"£? ?[0-9]{1,7}(,[0-9]{3})?(\.[0-9]{0,3})? ?", fullmatch=True)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.none() | AMOUNT_TEXTS, min_size=1, max_size=12),
    st.integers(1, 30),
    st.sampled_from(sorted(batch.WRITTEN_PLACES)),
)
def test_amounts_read_once_per_distinct_text_as_cell_by_cell(cells: list[str | None], repeats: int, kind: str) -> None:
    """An amount column not every cell of which casts as it is: each distinct text read once and spread to its
    cells gives each cell what reading it by itself gives (values, given, sure), nulls and repeats included."""
    import pyarrow as pa

    column = pa.chunked_array([pa.array(cells * repeats, pa.string()), pa.array(cells[::-1], pa.string())])
    values, given_cells, sure = batch._amounts(column, kind)
    array = column.combine_chunks()
    decimal = pa.decimal128(18, batch.WRITTEN_PLACES[kind])
    try:
        pa.compute.cast(array, decimal)
        return  # every cell casts as it is: not the path under test
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    each, readable = batch._written(array, kind, decimal)  # cell by cell
    expected_sure = readable & (each >= 0) & (each <= int(batch.LARGEST) * 10 ** batch.WRITTEN_PLACES[kind])
    expected = each * 10 ** (batch.ENGINE_PLACES[kind] - batch.WRITTEN_PLACES[kind]) * expected_sure
    assert given_cells.tolist() == [cell is not None for cell in cells * repeats + cells[::-1]]
    assert values.tolist() == expected.tolist()
    assert sure.tolist() == (expected_sure | ~given_cells).tolist()


@given(
    st.lists(st.lists(st.none() | st.text(st.characters(max_codepoint=0x2FF), max_size=5), max_size=6), min_size=1),
    st.sampled_from(["placement_id", "provider_id"]),
)
def test_an_identifier_is_checked_as_its_pattern_checks_it(chunks: list[list[str | None]], name: str) -> None:
    """An identifier column with no control character anywhere is sure by its length alone; either way each cell
    is sure exactly where the field's pattern and lengths accept it (or it is empty)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    spec = SPECS[name]
    column = pa.chunked_array([pa.array(cells, pa.string()) for cells in chunks], pa.string())
    _, given_cells, sure = batch._text(spec, column)
    cells = [cell for cells in chunks for cell in cells]
    pattern = pc.match_substring_regex(pa.array(cells, pa.string()), spec.pattern).to_pylist()
    expected = [
        cell is None or bool(matched and spec.min_length <= len(cell) <= spec.max_length)
        for cell, matched in zip(cells, pattern)
    ]
    assert given_cells.tolist() == [cell is not None for cell in cells]
    assert sure.tolist() == expected
