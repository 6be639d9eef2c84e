"""A placement book (a table of text cells) → typed columns in engine units, validated column-wise.

Every cell arrives as text (or null for an empty cell), as in a CSV. A cell is accepted by the fast path only
where ``engine/placement.py`` would certainly accept it with the same value: money and hours through an exact
decimal cast, and low-cardinality columns (dates, flags, whole numbers, names) by running placement.py's own
validators once per distinct value. Any row with a cell or a combination the fast path is not sure of goes
through ``parse_placement`` itself, so a bad row's messages are the ones a single decision would give, and
a row the model accepts after all (say ``" 5"``) is filled in from the model.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from engine.money import MoneyError, to_pence
from engine.validate import placement as model
from engine.validate.placement import EARLIEST_AS_AT, LOTS, InputError, Placement, parse_placement

EPOCH = date(1970, 1, 1)
MONEY_RE = r"^[0-9]{1,9}(\.[0-9]{0,2})?$"


def day_number(value: date) -> int:
    return (value - EPOCH).days


@dataclass
class Col:
    """A column in engine units: values and a mask of non-null cells; names as codes into ``cats``."""

    v: np.ndarray
    ok: np.ndarray
    cats: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str  # pence, hundredths, whole, flag, day, enum, lot, text
    required: bool
    default: Any
    choices: tuple[Any, ...] = ()
    low: int | None = None
    high: int | None = None


def _spec(name: str, info: Any) -> FieldSpec:
    kinds = {
        model._pence: "pence",
        model._hundredths: "hundredths",
        model._whole: "whole",
        model._flag: "flag",
        model._day: "day",
    }
    annotation, metadata = info.annotation, list(info.metadata)
    for arg in typing.get_args(annotation):  # Optional[Annotated[...]] keeps its validators inside
        metadata += list(getattr(arg, "__metadata__", ()))
    kind = next((kinds[m.func] for m in metadata if getattr(m, "func", None) in kinds), None)
    literal = (
        annotation
        if typing.get_origin(annotation) is typing.Literal
        else next((a for a in typing.get_args(annotation) if typing.get_origin(a) is typing.Literal), None)
    )
    choices: tuple[Any, ...] = typing.get_args(literal) if literal is not None else ()
    if kind is None:
        kind = ("lot" if isinstance(choices[0], int) else "enum") if choices else "text"
    low = next((m.ge for m in metadata if hasattr(m, "ge")), None)
    high = next((m.le for m in metadata if hasattr(m, "le")), None)
    default = None if info.is_required() else info.default
    return FieldSpec(name, kind, info.is_required(), default, choices, low, high)


SPECS: dict[str, FieldSpec] = {name: _spec(name, info) for name, info in Placement.model_fields.items()}
LOW_CARDINALITY = {"whole", "flag", "day", "enum", "lot"}


@dataclass
class ParsedBook:
    n: int
    cols: dict[str, Col]
    valid: np.ndarray
    errors: dict[int, dict[str, list[str]]] = field(default_factory=dict)
    placement_id: pa.Array | None = None
    provider: pa.Array | None = None
    dementia_given: np.ndarray | None = None


def _certain(spec: FieldSpec) -> Callable[[str], Any]:
    """A function text → engine value that raises when placement.py might not accept the text as it is."""
    if spec.kind == "whole":

        def whole(text: str) -> Any:
            value = model._whole(text)
            if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
                raise ValueError
            return value

        return whole
    if spec.kind == "flag":
        return model._flag
    if spec.kind == "day":
        return lambda text: day_number(model._day(text))
    if spec.kind == "enum":
        return lambda text: spec.choices.index(text)
    if spec.kind == "lot":

        def lot(text: str) -> Any:
            if not text.strip().isdigit() or int(text) not in spec.choices:
                raise ValueError
            return int(text)

        return lot
    raise AssertionError(spec.kind)


def _low_cardinality(spec: FieldSpec, column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, given, certain) by validating each distinct text once."""
    encoded = pc.dictionary_encode(column).combine_chunks()
    check = _certain(spec)
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
    codes = np.asarray(indices.fill_null(len(encoded.dictionary)), dtype=np.int64)
    return table[codes], given, good[codes] | ~given


def _decimal_pence(column: pa.Array) -> np.ndarray:
    """A decimal128 array's unscaled values (pence or hundredths), nulls as 0."""
    column = column.fill_null(0) if column.null_count else column
    low = np.frombuffer(column.buffers()[1], dtype=np.int64)
    return low[2 * column.offset : 2 * (column.offset + len(column)) : 2].copy()


def _amounts(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Money or hours: exact decimal cast; cells it cannot read (or negative, or too large) are uncertain."""
    array = column.combine_chunks()
    given = np.asarray(pc.is_valid(array))
    decimal = pa.decimal128(18, 2)
    try:
        values = _decimal_pence(pc.cast(array, decimal))
        readable = given.copy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        readable = np.asarray(pc.fill_null(pc.match_substring_regex(array, MONEY_RE), False))
        values = _decimal_pence(pc.cast(pc.if_else(pa.array(readable), array, pa.scalar(None, pa.string())), decimal))
    sure = readable & (values >= 0) & (values <= 1_000_000_000)
    return np.where(sure, values, 0), given, sure | ~given


def parse_book(table: pa.Table) -> ParsedBook:
    """Typed columns with defaults applied, a mask of valid rows and the messages of the bad ones."""
    n = table.num_rows
    cols: dict[str, Col] = {}
    uncertain = np.zeros(n, bool)
    given_of: dict[str, np.ndarray] = {}
    for name, spec in SPECS.items():
        if name not in table.column_names:
            given = np.zeros(n, bool)
            values = np.zeros(n, np.int8 if spec.kind == "enum" else bool if spec.kind == "flag" else np.int64)
            sure = np.ones(n, bool)
        elif spec.kind in ("pence", "hundredths"):
            values, given, sure = _amounts(table.column(name))
        elif spec.kind in LOW_CARDINALITY:
            values, given, sure = _low_cardinality(spec, table.column(name))
        else:  # text: placement_id and provider
            lengths = pc.fill_null(pc.utf8_length(table.column(name)), 0).to_numpy()
            given = np.asarray(pc.is_valid(table.column(name)))
            sure = np.ones(n, bool)
            if name == "placement_id":  # as the model: 1-64 characters, no control characters
                control = pc.match_substring_regex(table.column(name), r"[\x00-\x1f\x7f]")
                clean = ~pc.fill_null(control, False).to_numpy(zero_copy_only=False)
                sure = ~given | ((lengths >= 1) & (lengths <= 64) & clean)
            values = np.zeros(n, np.int8)
        uncertain |= ~sure
        given_of[name] = given & sure
        if spec.required:
            uncertain |= ~given
        if spec.default is not None and spec.kind != "text":
            default = spec.choices.index(spec.default) if spec.kind == "enum" else spec.default
            values = np.where(given, values, default)
            given = np.ones(n, bool)
        cols[name] = Col(values, given & sure, spec.choices if spec.kind == "enum" else None)
    uncertain |= _cross_field_doubts(cols, given_of)
    book = ParsedBook(n, cols, ~uncertain, dementia_given=given_of["dementia"])
    book.placement_id = (
        table.column("placement_id").combine_chunks()
        if "placement_id" in table.column_names
        else (pa.nulls(n, pa.string()))
    )
    if "provider" in table.column_names:
        book.provider = table.column("provider").combine_chunks()
    _slow_path(table, book, np.flatnonzero(uncertain))
    return book


def _cross_field_doubts(cols: dict[str, Col], given: dict[str, np.ndarray]) -> np.ndarray:
    """Rows where the model's own cross-field checks (SPEC §3) might object: let the model say why."""
    care_home = cols["service"].v == SPECS["service"].choices.index("care_home")
    when = np.where(cols["as_at"].ok, cols["as_at"].v, cols["start_date"].v)
    doubt = when < day_number(EARLIEST_AS_AT)
    lot, lot_given = cols["lot"].v, cols["lot"].ok
    residential_lot = np.isin(lot, [n for (care, _), n in LOTS.items() if care == "residential"])
    dementia_lot = np.isin(lot, [n for (_, dementia), n in LOTS.items() if dementia])
    care_type = cols["care_type"]
    nursing = care_type.v == SPECS["care_type"].choices.index("nursing")
    doubt |= care_home & ~cols["core_weekly_fee"].ok
    doubt |= care_home & ~care_type.ok & ~lot_given
    doubt |= care_home & lot_given & care_type.ok & (residential_lot == nursing)
    doubt |= care_home & lot_given & given["dementia"] & (cols["dementia"].v != dementia_lot)
    doubt |= ~care_home & ~cols["sl_weekly_cost"].ok
    return doubt


def row_dict(table: pa.Table, index: int) -> dict[str, Any]:
    """One row's non-empty cells for the placement's own fields, as text: what a single decision would get."""
    return {
        name: table.column(name)[index].as_py()
        for name in SPECS
        if name in table.column_names and table.column(name)[index].is_valid
    }


def parse_row(cells: dict[str, Any]) -> Placement:
    """``parse_placement``, except that a number too large for Decimal arithmetic is an input error too.

    ``engine.money.to_pence('1e400')`` raises ``decimal.InvalidOperation`` from its quantize (reported to the
    engine's owner); until that is fixed there, the batch names the field instead of showing a traceback.
    """
    try:
        return parse_placement(cells)
    except ArithmeticError:
        fields: dict[str, list[str]] = {}
        for name, value in cells.items():
            if name in SPECS and SPECS[name].kind in ("pence", "hundredths"):
                try:
                    to_pence(value)
                except MoneyError:
                    pass
                except ArithmeticError:
                    fields[name] = [f"must be a number with at most 2 decimal places, got {value!r}"]
        raise InputError(fields or {"placement": ["a number could not be read"]}) from None


def _slow_path(table: pa.Table, book: ParsedBook, rows: np.ndarray) -> None:
    known = [name for name in table.column_names if name in SPECS]
    records = table.select(known).take(pa.array(rows, pa.int64())).to_pylist() if len(rows) else []
    for index, record in zip(rows.tolist(), records):
        try:
            placement = parse_row({name: value for name, value in record.items() if value is not None})
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
