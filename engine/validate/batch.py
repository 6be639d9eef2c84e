"""A placement book (a table of text cells) → typed columns in engine units, validated column-wise.

Every cell arrives as text (or null for an empty cell), as in a CSV. The columns and their limits are the
placement model's own (``engine.validate.fields``). A cell is accepted by the fast path only where the model
would certainly accept it with the same value: money and hours through an exact decimal cast (after taking out
a ``£`` and thousands commas, vectorised), and low-cardinality columns (dates, flags, whole numbers, names) by
running the model's own value parsers (``engine.validate.values``) once per distinct value. Any row with a
cell or a combination the fast path is not sure of goes through ``parse_placement`` itself, so a bad row's
messages are the ones a single decision would give, and a row the model accepts after all (say ``"+5"``) is
filled in from the model.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from engine.arrays import pick
from engine.money import LARGEST
from engine.validate.fields import FieldSpec, field_specs
from engine.validate.placement import InputError, Placement, RulebookFacts, hours_times_rate, parse_placement
from engine.validate.values import (
    ENGINE_PLACES,
    WRITTEN_PLACES,
    enum_key,
    parse_date,
    parse_enum,
    parse_flag,
    parse_whole,
)

EPOCH = date(1970, 1, 1)
SAFE_FACTOR = 2**26  # hours (ten-thousandths) and rates (pence) below this multiply within int64 exactly
# Amounts as people write them that a decimal cast reads once the £, spaces and thousands commas are out


def _lenient(kind: str) -> str:
    """Amounts written with thousands commas (money also with ``£``), at most the kind's decimal places."""
    pound = " *£?" if kind == "pence" else ""
    return rf"^{pound} *([0-9]{{1,3}}(,[0-9]{{3}}){{1,2}}|[0-9]{{1,9}})(\.[0-9]{{0,{WRITTEN_PLACES[kind]}}})? *$"


def day_number(value: date) -> int:
    return (value - EPOCH).days


@dataclass
class Col:
    """A column in engine units: values and a mask of non-null cells; names as codes into ``cats``."""

    v: np.ndarray
    ok: np.ndarray
    cats: tuple[Any, ...] | None = None


SPECS: dict[str, FieldSpec] = field_specs(Placement)
LOW_CARDINALITY = {"whole", "flag", "day", "enum"}


@dataclass
class ParsedBook:
    n: int
    cols: dict[str, Col]
    valid: np.ndarray
    errors: dict[int, dict[str, list[str]]] = field(default_factory=dict)
    placement_id: pa.Array | None = None
    provider: pa.Array | None = None
    provider_id: pa.Array | None = None  # trimmed, as the provider register is looked up
    dementia_given: np.ndarray | None = None


def _certain(spec: FieldSpec) -> Callable[[str], Any]:
    """A function text → engine value that raises when placement.py might not accept the text as it is."""
    if spec.kind == "whole":

        def whole(text: str) -> Any:
            value = parse_whole(text)
            if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
                raise ValueError
            return value

        return whole
    if spec.kind == "flag":
        return parse_flag
    if spec.kind == "day":
        return lambda text: day_number(parse_date(text))
    if spec.kind == "enum":
        return lambda text: spec.choices.index(parse_enum(text, spec.choices))
    raise AssertionError(spec.kind)


def narrow_dictionary(encoded: pa.DictionaryArray) -> pa.DictionaryArray | None:
    """The same cells with the narrowest indices that hold the dictionary (int8 or int16); None when it needs
    int32 (no smaller than the text)."""
    size = len(encoded.dictionary)
    kind = pa.int8() if size <= np.iinfo(np.int8).max else pa.int16() if size <= np.iinfo(np.int16).max else None
    if kind is None:
        return None
    narrow: pa.DictionaryArray = pa.DictionaryArray.from_arrays(encoded.indices.cast(kind), encoded.dictionary)
    return narrow


def _low_cardinality(
    spec: FieldSpec,
    column: pa.ChunkedArray,
    aliases: dict[str, str] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, pa.DictionaryArray]:
    """(values, given, certain) by validating each distinct text once (a service by the rulebook's names), and
    the column's cells as the dictionary made for it."""
    encoded = pc.dictionary_encode(column).combine_chunks()
    check = _certain(spec)
    if aliases:
        plain = check
        check = lambda text: plain(aliases.get(enum_key(text), text) if isinstance(text, str) else text)  # noqa: E731
    dtype = {"flag": np.bool_, "enum": np.int8}.get(spec.kind, np.int64)
    table: npt.NDArray[Any]  # bool, int8 or int64 by kind
    table, good = np.zeros(len(encoded.dictionary) + 1, dtype=dtype), np.zeros(len(encoded.dictionary) + 1, bool)
    for code, text in enumerate(encoded.dictionary.to_pylist()):
        try:
            table[code], good[code] = check(text), True
        except (ValueError, TypeError):
            continue  # not a certain value: the row goes through the model's own validation
    indices = encoded.indices
    given = np.asarray(pc.is_valid(indices))
    codes = _codes(indices, given, len(encoded.dictionary))
    if good[:-1].all():  # every distinct text certain: every given cell is, and a null cell is too
        return table[codes], given, np.ones(len(codes), bool), encoded
    return table[codes], given, good[codes] | ~given, encoded


def _decimal_pence(column: pa.Array) -> np.ndarray:
    """A decimal128 array's unscaled values (pence, ten-thousandths or hundredths): a view of its buffer, no copy
    and no pass to fill the nulls in (a null's value is whatever its slot holds: ``_amounts`` zeroes every value
    it is not sure of, and a null is never sure)."""
    data = column.buffers()[1]
    if data is None:  # no values held at all
        return np.zeros(len(column), np.int64)
    low = np.frombuffer(data, dtype=np.int64)
    return low[2 * column.offset : 2 * (column.offset + len(column)) : 2]


def _written(array: pa.Array, kind: str, decimal: pa.DataType) -> tuple[np.ndarray, np.ndarray]:
    """(values, readable) of text cells as people write amounts (``_lenient``): ``£``, spaces and thousands
    commas taken out of the cells written that way; a cell not so written (or null) is not readable."""
    written = pc.match_substring_regex(array, _lenient(kind))
    readable = np.asarray(pc.fill_null(written, False))
    plain = array
    for mark in ("£", ",", " ") if kind == "pence" else (",", " "):  # literal replaces: faster than one regex
        plain = pc.replace_substring(plain, mark, "")
    values = _decimal_pence(pc.cast(pc.if_else(pa.array(readable), plain, pa.scalar(None, pa.string())), decimal))
    return values, readable


def _codes(indices: pa.Array, given: np.ndarray, size: int) -> np.ndarray:
    """A dictionary's indices as numpy codes, ``size`` (one past the dictionary) where the cell is null: read from
    the indices' buffer, no pass of Arrow's to fill the nulls in."""
    raw = np.frombuffer(indices.buffers()[1], dtype=indices.type.to_pandas_dtype())
    raw = raw[indices.offset : indices.offset + len(indices)]
    return np.where(given, raw, size) if indices.null_count else raw


def _amounts(column: pa.ChunkedArray, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Money, hours or miles, or shares: exact decimal cast; where a cell is not plain, ``£`` and thousands commas
    are taken out (as ``engine.money`` does) for the cells written that way. Cells still unread (or negative, or
    too large) are uncertain: the model reads them, and says why when it cannot. Values in the engine's units
    (pence; ten-thousandths for quantities and shares)."""
    array = column.combine_chunks()
    given = np.asarray(pc.is_valid(array))
    places = WRITTEN_PLACES[kind]
    decimal = pa.decimal128(18, places)
    try:
        values = _decimal_pence(pc.cast(array, decimal))
        readable = given.copy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        encoded = pc.dictionary_encode(array)
        distinct = encoded.dictionary
        if len(distinct) * 2 > len(array):  # mostly distinct texts: each cell read as it is
            values, readable = _written(array, kind, decimal)
        else:  # each distinct text read once (the same function of the text), then spread to its cells
            once, good = _written(distinct, kind, decimal)
            codes = _codes(encoded.indices, given, len(distinct))
            values = np.append(once, 0)[codes]
            readable = np.append(good, False)[codes]
    # 0 <= value <= the bound in one comparison: a negative value seen unsigned is above any int64 bound
    sure = values.view(np.uint64) <= int(LARGEST) * 10**places
    sure &= readable
    if ENGINE_PLACES[kind] != places:  # a kind written to fewer places than the engine holds it
        values = values * 10 ** (ENGINE_PLACES[kind] - places)
    return values * sure, given, sure | ~given  # 0 where not sure


PRINTABLE = r"^[^\x00-\x1f\x7f]+$"  # the pattern of an identifier: no control character (UTF-8 encodes these
# characters as the bytes 0x00-0x1f and 0x7f alone, and no other character uses those bytes)


def _control_bytes(column: pa.ChunkedArray) -> bool:
    """Whether any byte of the column's text (nulls' slots included) is 0x00-0x1f or 0x7f; True for a column not
    held as ``string``."""
    if not pa.types.is_string(column.type):
        return True
    for chunk in column.chunks:
        data = chunk.buffers()[2]
        if data is None or len(chunk) == 0:
            continue
        offsets = np.frombuffer(chunk.buffers()[1], np.int32)[chunk.offset : chunk.offset + len(chunk) + 1]
        held = np.frombuffer(data, np.uint8)[int(offsets[0]) : int(offsets[-1])]
        if held.size and (int(held.min()) < 0x20 or bool((held == 0x7F).any())):
            return True
    return False


def _text(spec: FieldSpec, column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Free text (placement_id, provider): sure where its length and pattern are as the model requires."""
    given = np.asarray(pc.is_valid(column))
    sure = np.ones(len(column), bool)
    lengths = pc.fill_null(pc.utf8_length(column), 0).to_numpy()
    if spec.min_length is not None:
        sure &= lengths >= spec.min_length
    if spec.max_length is not None:
        sure &= lengths <= spec.max_length
    if spec.pattern == PRINTABLE and not _control_bytes(column):  # no cell holds a control character: the
        sure &= lengths >= 1  # pattern asks only for one character or more
    elif spec.pattern is not None:
        sure &= pc.fill_null(pc.match_substring_regex(column, spec.pattern), False).to_numpy(zero_copy_only=False)
    return np.zeros(len(column), np.int8), given, sure | ~given


def _column(
    table: pa.Table,
    name: str,
    spec: FieldSpec,
    aliases: dict[str, str] | None = None,
    encoded: dict[str, pa.DictionaryArray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One field's (values, given, certain); a column the book does not have is empty. ``encoded``: given the
    column's cells as a dictionary where the validation made one (low-cardinality fields)."""
    n = table.num_rows
    if name not in table.column_names:
        values = np.zeros(n, np.int8 if spec.kind == "enum" else bool if spec.kind == "flag" else np.int64)
        return values, np.zeros(n, bool), np.ones(n, bool)
    if spec.kind in WRITTEN_PLACES:
        values, given, sure = _amounts(table.column(name), spec.kind)
        if spec.high is not None:  # above the field's limit: the model says why
            sure &= ~given | (values <= spec.high)
        return values, given, sure
    if spec.kind in LOW_CARDINALITY:
        values, given, sure, cells = _low_cardinality(spec, table.column(name), aliases if name == "service" else None)
        if encoded is not None and (narrow := narrow_dictionary(cells)) is not None:
            encoded[name] = narrow
        return values, given, sure
    return _text(spec, table.column(name))


def parse_book(table: pa.Table, rules: RulebookFacts) -> ParsedBook:
    """Typed columns with defaults applied, a mask of valid rows and the messages of the bad ones; the rulebook
    gives the facts a placement is checked against (the earliest date, the care categories)."""
    book, doubtful = parse_columns(table, rules)
    settle_doubtful(table, book, doubtful, rules)
    return book


def parse_columns(
    table: pa.Table, rules: RulebookFacts, encoded: dict[str, pa.DictionaryArray] | None = None
) -> tuple[ParsedBook, np.ndarray]:
    """``parse_book``'s column-wise part: the book with every row the fast path is sure of, and the rows it is
    not sure of (not valid yet: ``settle_doubtful`` lets the model decide them). ``encoded``: given the cells of
    the low-cardinality columns as dictionaries with narrow indices, made on the way (the same cells in less
    memory: ``engine.audit.books.compact``)."""
    n = table.num_rows
    cols: dict[str, Col] = {}
    uncertain = np.zeros(n, bool)
    given_of: dict[str, np.ndarray] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:  # columns on both cores (Arrow's kernels release the GIL)
        aliases = dict(rules.service_aliases)
        read = list(pool.map(lambda item: _column(table, item[0], item[1], aliases, encoded), SPECS.items()))
    for (name, spec), (values, given, sure) in zip(SPECS.items(), read):
        uncertain |= ~sure
        given_of[name] = given & sure
        if spec.required:
            uncertain |= ~given
        if spec.default is not None and spec.kind != "text":
            default = spec.choices.index(spec.default) if spec.kind == "enum" else spec.default
            values = pick(given, values, default)
            given = np.ones(n, bool)
        cols[name] = Col(values, given & sure, spec.choices if spec.kind == "enum" else None)
    uncertain |= _cross_field_doubts(cols, given_of, rules)
    book = ParsedBook(n, cols, ~uncertain, dementia_given=given_of["dementia"])
    book.placement_id = (
        table.column("placement_id").combine_chunks()
        if "placement_id" in table.column_names
        else (pa.nulls(n, pa.string()))
    )
    if "provider" in table.column_names:
        book.provider = table.column("provider").combine_chunks()
    if "provider_id" in table.column_names:
        book.provider_id = pc.utf8_trim_whitespace(table.column("provider_id").combine_chunks())
    return book, np.flatnonzero(uncertain)


def _cross_field_doubts(cols: dict[str, Col], given: dict[str, np.ndarray], rules: RulebookFacts) -> np.ndarray:
    """Rows where the model's own cross-field checks, or the rulebook's facts (the earliest date, the care
    categories), might object: let the model say why."""
    care_home = cols["service"].v == SPECS["service"].choices.index("care_home")
    when = np.where(cols["as_at"].ok, cols["as_at"].v, cols["start_date"].v)
    doubt = when < day_number(rules.earliest_as_at)
    lot, lot_given = cols["lot"].v, cols["lot"].ok
    declared = np.zeros(len(lot), bool)
    for entry in rules.categories.items:
        rows = lot_given & (lot == entry.id)
        declared |= rows
        for name, fixed in entry.fixes:  # a field the category's derivation fixes, given another value
            code = fixed if isinstance(fixed, bool) else SPECS[name].choices.index(fixed)
            doubt |= care_home & rows & given[name] & (cols[name].v != code)
    doubt |= lot_given & ~declared
    doubt |= care_home & ~cols["core_weekly_fee"].ok
    doubt |= care_home & ~cols["care_type"].ok & ~lot_given
    supported_living = cols["service"].v == SPECS["service"].choices.index("supported_living")
    doubt |= supported_living & ~cols["sl_weekly_cost"].ok
    package = ~care_home & ~supported_living
    hours, rate, cost = cols["hc_hours"], cols["hc_hourly_rate"], cols["weekly_cost"]
    doubt |= package & ~cost.ok & ~(hours.ok & rate.ok)
    # all three given must agree to the penny (as the model's hours_times_rate): sure where the product cannot overflow
    both = package & cost.ok & hours.ok & rate.ok
    small = (hours.v < SAFE_FACTOR) & (rate.v < SAFE_FACTOR)
    product = hours_times_rate(np.where(small, hours.v, 0), np.where(small, rate.v, 0))
    doubt |= both & ~(small & (np.abs(product - cost.v) <= 1))
    doubt |= hours.ok & rate.ok & ~small  # the model checks that hours × rate is a weekly amount it can hold
    services_declared = np.zeros(len(SPECS["service"].choices), bool)
    for service in set(rules.service_aliases.values()):
        services_declared[SPECS["service"].choices.index(service)] = True
    doubt |= ~services_declared[cols["service"].v]
    doubt |= cols["end_date"].ok & (cols["end_date"].v <= cols["start_date"].v)
    doubt |= cols["weekly_income"].ok & ~cols["capital"].ok
    doubt |= cols["requested_date"].ok & cols["sourced_date"].ok & (cols["sourced_date"].v < cols["requested_date"].v)
    return doubt


def row_dict(table: pa.Table, index: int) -> dict[str, Any]:
    """One row's non-empty cells for the placement's own fields, as text: what a single decision would get."""
    return {
        name: table.column(name)[index].as_py()
        for name in SPECS
        if name in table.column_names and table.column(name)[index].is_valid
    }


def parse_row(cells: dict[str, Any], rules: RulebookFacts) -> Placement:
    """One row's cells, parsed by the model (with the rulebook's facts) exactly as a single decision is."""
    return parse_placement(cells, rules, register_joined=True)  # run_audit drops a book's own register columns


def settle_doubtful(table: pa.Table, book: ParsedBook, rows: np.ndarray, rules: RulebookFacts) -> None:
    """These rows through the placement model itself, one at a time: valid and filled in where it accepts a row,
    else the messages a single decision would give."""
    known = [name for name in table.column_names if name in SPECS]
    records = table.select(known).take(pa.array(rows, pa.int64())).to_pylist() if len(rows) else []
    for index, record in zip(rows.tolist(), records):
        try:
            placement = parse_row({name: value for name, value in record.items() if value is not None}, rules)
        except InputError as exc:
            book.errors[index] = exc.fields
            continue
        book.valid[index] = True
        _fill(book, index, placement)


def _fill(book: ParsedBook, index: int, placement: Placement) -> None:
    fields = placement.model_fields_set
    assert book.dementia_given is not None
    book.dementia_given[index] = "dementia" in fields
    for name, spec in SPECS.items():
        value = getattr(placement, name)
        col = book.cols[name]
        if spec.kind == "text":
            continue
        col.ok[index] = value is not None
        if value is None:
            continue
        if spec.kind == "day":
            value = day_number(value)
        elif spec.kind == "enum":
            value = spec.choices.index(value)
        col.v[index] = value


def active_at(book: ParsedBook, day: date) -> np.ndarray:
    """The valid rows whose placement is active at ``day``: started on or before it, and no ``end_date`` or
    ``day`` before it (``end_date`` is the day after the last day). ``Placement.is_active_at`` for one row."""
    start, end = book.cols["start_date"], book.cols["end_date"]
    number = day_number(day)
    return np.asarray(book.valid & (start.v <= number) & (~end.ok | (number < end.v)))
