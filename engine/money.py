"""Exact money: integer pence inside the engine, pounds with 2 decimals at the edges."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

PENNY = Decimal("0.01")


class MoneyError(ValueError):
    pass


def to_decimal(value: object) -> Decimal:
    """A number as an exact Decimal; floats go through their shortest repr (``0.1`` → ``Decimal('0.1')``)."""
    if isinstance(value, bool):
        raise MoneyError("must be a number, not true/false")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, (int, float, str)):
        try:
            number = Decimal(str(value).strip().replace(",", "") if isinstance(value, str) else repr(value))
        except InvalidOperation:
            raise MoneyError(f"must be a number, got {value!r}") from None
    else:
        raise MoneyError(f"must be a number, got {type(value).__name__}")
    if not number.is_finite():
        raise MoneyError("must be a finite number")
    return number


def to_pence(value: object) -> int:
    """Pounds (at most 2 decimal places, not negative) → integer pence."""
    number = to_decimal(value)
    if number < 0:
        raise MoneyError("must not be negative")
    if number > Decimal(10000000):  # before quantize: 1e+26 has too many digits to quantize to pence
        raise MoneyError("must be at most £10,000,000.00 a week")
    if number != number.quantize(PENNY, rounding=ROUND_HALF_UP):
        raise MoneyError("must have at most 2 decimal places")
    return int(number * 100)


def pounds(pence: int) -> Decimal:
    """Integer pence → pounds with exactly 2 decimal places."""
    return Decimal(pence).scaleb(-2)


def show_pounds(pence: int) -> str:
    """£1,040.00 (a minus sign before the £ for negative amounts)."""
    sign, pence = ("-", -pence) if pence < 0 else ("", pence)
    return f"{sign}£{pence // 100:,}.{pence % 100:02d}"


def round_half_up(value: Decimal, places: str = "1") -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)
