"""Exact money: integer pence inside the engine, pounds with 2 decimals at the edges. Quantities (hours, miles,
shares) the same way, in ten-thousandths: shared support hours are written to 4 places (40 ÷ 3 = 13.3333).

Amounts are read as people write them: a leading ``£`` and thousands commas in groups of three
(``£1,040.00``). Any other comma (``1.040,00``, ``9,00``, ``1,04``) is refused with a message that says
decimal commas are not accepted: reading it either way could give a different amount.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

QUANTITY_PLACES = 4  # hours, miles and shares are held in units of 10**-4 (integer ten-thousandths)
LARGEST = Decimal(10_000_000)  # a sanity bound on any weekly amount, not a policy figure
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)
THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?", re.ASCII)
DECIMAL_COMMA = "decimal commas are not accepted: write a decimal point, as in 1040.00 or 1,040.00"


class MoneyError(ValueError):
    pass


def amount_text(text: str, *, pound_sign: bool) -> str:
    """Written text → the plain number it stands for (``£1,040.00`` → ``1040.00``), or MoneyError."""
    plain = text.strip()
    sign = ""
    if plain.startswith(("+", "-")):
        sign, plain = plain[0], plain[1:].lstrip()
    if pound_sign and plain.startswith("£"):
        plain = plain[1:].lstrip()
    plain = sign + plain
    if "," in plain:
        if not THOUSANDS.fullmatch(plain):
            raise MoneyError(f"{DECIMAL_COMMA}, got {text!r}")
        plain = plain.replace(",", "")
    if not NUMBER.fullmatch(plain):
        raise MoneyError(f"must be a number, got {text!r}")
    return plain


def to_decimal(value: object, *, pound_sign: bool = False) -> Decimal:
    """A number as an exact Decimal; floats go through their shortest repr (``0.1`` → ``Decimal('0.1')``)."""
    if isinstance(value, bool):
        raise MoneyError("must be a number, not true/false")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            number = Decimal(amount_text(value, pound_sign=pound_sign))
        except InvalidOperation:  # pragma: no cover - amount_text only passes what Decimal reads
            raise MoneyError(f"must be a number, got {value!r}") from None
    else:
        raise MoneyError(f"must be a number, got {type(value).__name__}")
    if not number.is_finite():
        raise MoneyError("must be a finite number")
    return number


def exact_units(number: Decimal, largest: str, places: int = 2) -> int:
    """A non-negative amount with at most ``places`` decimal places, in units of 10**-places (pence for money,
    ten-thousandths for hours and miles)."""
    if number < 0:
        raise MoneyError("must not be negative")
    if number > LARGEST:  # before quantize: 1e+26 has too many digits to quantize
        raise MoneyError(f"must be at most {largest}")
    if number != number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):
        raise MoneyError(f"must have at most {places} decimal places")
    return int(number.scaleb(places))


def to_pence(value: object) -> int:
    """Pounds (at most 2 decimal places, not negative; ``£`` and thousands commas allowed) → integer pence.

    Raises MoneyError with a readable message, e.g. for ``24,10`` that decimal commas are not accepted."""
    return exact_units(to_decimal(value, pound_sign=True), "£10,000,000.00 a week")


def pounds(pence: int) -> Decimal:
    """Integer pence → pounds with exactly 2 decimal places."""
    return Decimal(pence).scaleb(-2)


def show_pounds(pence: int) -> str:
    """£1,040.00 (a minus sign before the £ for negative amounts)."""
    sign, pence = ("-", -pence) if pence < 0 else ("", pence)
    return f"{sign}£{pence // 100:,}.{pence % 100:02d}"


def round_half_up(value: Decimal, places: str = "1") -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)
