"""Values as people write them, in JSON, CSV and Excel alike: one parser per kind of field.

The placement model and batch validation both call these, so a cell is read the same way however the
placement arrives. Each parser returns the engine value or raises ``ValueError`` with a message a person can
act on (with a hint where the mistake is recognisable: decimal commas, month-first dates, a time of day).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from engine.money import LARGEST, QUANTITY_PLACES, MoneyError, exact_units, to_decimal, to_pence

TRUE = frozenset({"true", "yes", "y", "1"})
FALSE = frozenset({"false", "no", "n", "0"})
WHOLE = re.compile(r"[+-]?[0-9]+(\.0*)?")
SEPARATORS = re.compile(r"[\s_-]+")
MONTHS = "january february march april may june july august september october november december".split()  # noqa: SIM905
MONTH_NUMBERS = {name: n for n, month in enumerate(MONTHS, 1) for name in (month, month[:3])} | {"sept": 9}
_TIME = r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?)?"
ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})" + _TIME, re.ASCII)
_PLAIN_ISO = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
DAY_FIRST = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4})" + _TIME, re.ASCII)
NAMED_MONTH = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?([ -])([A-Za-z]{3,9})\.?\2(\d{4})" + _TIME, re.ASCII)
_LARGEST_POUNDS = int(LARGEST)
_PLAIN_POUNDS = re.compile(rf"(0|[1-9][0-9]{{0,{len(str(_LARGEST_POUNDS)) - 2}}})(?:\.([0-9]{{1,2}}))?", re.ASCII)
# hours or miles written plainly (``40``, ``13.3333``): no sign, spaces, commas or exponent, under the largest amount
_PLAIN_QUANTITY = re.compile(
    rf"(0|[1-9][0-9]{{0,{len(str(_LARGEST_POUNDS)) - 2}}})(?:\.([0-9]{{1,{QUANTITY_PLACES}}}))?", re.ASCII
)
DATE_FORMS = "2026-05-04 (YYYY-MM-DD), 04/05/2026 or 4 May 2026 (day first)"
MONTH_FIRST = "dates look month-first? Write the day first, as in 04/05/2026 for 4 May 2026"


def show_choices(choices: Sequence[Any]) -> str:
    """``'a', 'b' or 'c'`` (numbers bare), as the messages name the allowed values."""
    shown = [repr(choice) for choice in choices]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def enum_key(text: str) -> str:
    """``' Care Home'``, ``'care-home'`` → ``'care_home'``: case, surrounding spaces, spaces and hyphens ignored."""
    return SEPARATORS.sub("_", text.strip()).lower()


def parse_enum(value: Any, choices: Sequence[str]) -> str:
    if value in choices and isinstance(value, str):  # written as the engine writes it (choices are enum keys)
        return value
    if isinstance(value, str):
        key = enum_key(value)
        if key in choices:
            return key
    raise ValueError(f"must be {show_choices(choices)}, got {value!r}")


def parse_flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        key = value.strip().lower()
        if key in TRUE or key in FALSE:
            return key in TRUE
    if isinstance(value, (int, float, Decimal)) and value in (0, 1):
        return bool(value)
    raise ValueError(f"must be true or false (or yes/no, y/n, 1/0), got {value!r}")


def parse_whole(value: Any) -> int:
    """A whole number; ``82.0`` (as a spreadsheet may write 82) is 82, ``82.5`` is an error."""
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not true/false")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str) and WHOLE.fullmatch(value.strip()):
        return int(Decimal(value.strip()))
    raise ValueError(f"must be a whole number, got {value!r}")


def parse_money(value: Any) -> int:
    """Pounds → integer pence (``£1,040.00`` → 104000); a decimal comma is an error that says so."""
    # the commonest forms read directly, to the same pence as to_pence: a whole number of pounds, and plain
    # ``1040.00``-style text (no sign, spaces, £, commas or exponent; under the largest amount)
    if value.__class__ is int and 0 <= value <= _LARGEST_POUNDS:
        return value * 100
    if value.__class__ is str and (plain := _PLAIN_POUNDS.fullmatch(value)):
        pounds, pence = plain.group(1, 2)
        return int(pounds) * 100 + (int(pence.ljust(2, "0")) if pence else 0)
    try:
        return to_pence(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None


# Decimal places of each kind of amount: as people may write it, and as the engine holds it (integer units)
WRITTEN_PLACES = {"pence": 2, "quantity": QUANTITY_PLACES, "share": QUANTITY_PLACES}
_QUANTITY_UNIT: int = 10**QUANTITY_PLACES
ENGINE_PLACES = {"pence": 2, "quantity": QUANTITY_PLACES, "share": QUANTITY_PLACES}


def parse_quantity(value: Any) -> int:
    """Hours or miles (at most 4 decimal places, not negative) → integer ten-thousandths (``13.3333`` → 133333);
    thousands commas allowed."""
    # the commonest forms read directly, to the same units as the general reading: a whole number under the
    # largest amount, and plain ``40`` or ``13.3333`` text
    if value.__class__ is int and 0 <= value <= _LARGEST_POUNDS:
        return value * _QUANTITY_UNIT
    if value.__class__ is str and (plain := _PLAIN_QUANTITY.fullmatch(value)):
        whole, places = plain.group(1, 2)
        return int(whole) * _QUANTITY_UNIT + (int(places.ljust(QUANTITY_PLACES, "0")) if places else 0)
    try:
        return exact_units(to_decimal(value), "10,000,000", QUANTITY_PLACES)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None


def parse_share(value: Any) -> int:
    """A share between 0 and 1 (at most 4 decimal places: ``0.5``, ``0.60``, a third ``0.3333``) → integer
    ten-thousandths, as every quantity (5000, 6000, 3333)."""
    try:
        share = exact_units(to_decimal(value), "10,000,000", WRITTEN_PLACES["share"])
    except MoneyError as exc:
        raise ValueError(str(exc)) from None
    if share > 10 ** WRITTEN_PLACES["share"]:
        raise ValueError(f"must be a share between 0 and 1 (0.5 for half), got {value!r}")
    return share * int(10 ** (ENGINE_PLACES["share"] - WRITTEN_PLACES["share"]))


def parse_date(value: Any) -> date:
    """A calendar date, day first always: ISO, ``04/05/2026``, ``4 May 2026``, ``04-May-2026``, a midnight
    date-time, or a date/datetime object (an Excel date cell). Never a guessed or swapped month."""
    if value.__class__ is str and _PLAIN_ISO.fullmatch(value):  # the commonest form, read as the ISO branch reads it
        try:
            return date.fromisoformat(value)  # C: the same date as date(year, month, day) of the three parts
        except ValueError:
            pass  # not a real date: the general reading below says so
    if isinstance(value, datetime):
        if value.time() != time(0):
            raise ValueError(f"must be a date without a time of day, got {value.isoformat(sep=' ')}")
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"must be a date such as {DATE_FORMS}, got {value!r}")
    text = value.strip()
    if match := ISO.fullmatch(text):
        year, month, day = (int(part) for part in match.group(1, 2, 3))
        clock = match.group(4, 5, 6)
    elif match := DAY_FIRST.fullmatch(text):
        day, month, year = (int(part) for part in match.group(1, 3, 4))
        clock = match.group(5, 6, 7)
        if month > 12 and 1 <= day <= 12:
            raise ValueError(f"{MONTH_FIRST}, got {value!r}")
    elif match := NAMED_MONTH.fullmatch(text):
        day, year = int(match.group(1)), int(match.group(4))
        month = MONTH_NUMBERS.get(match.group(3).lower(), 0)
        clock = match.group(5, 6, 7)
        if not month:
            raise ValueError(f"{match.group(3)!r} is not a month name, got {value!r}")
    else:
        raise ValueError(f"must be a date such as {DATE_FORMS}, got {value!r}")
    if any(part is not None and int(part) != 0 for part in clock):
        raise ValueError(f"must be a date without a time of day, got {value!r}")
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"{value!r} is not a real date (day first)") from None


@dataclass(frozen=True)
class Written:
    """Marks a model field with the kind of value people write in it (pence, quantity, share, whole, flag, day)."""

    kind: str
