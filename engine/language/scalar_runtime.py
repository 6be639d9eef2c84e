"""What the compiled scalar figure functions call (``engine/language/scalar_figures.py`` writes the calls): exact
rounding of fractions and of quotients of whole numbers, band lookups by a table's rows, and ``min``/``max`` that
are null when any value is null. Every function returns None for a null (a missing value), as the language says.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

from engine.rulebook.tables import Band


def round_half_up(value: int | Fraction | None, divisor: int) -> int | None:
    """value / divisor rounded to a whole number, halves away from zero (Decimal ROUND_HALF_UP)."""
    if value is None:
        return None
    if type(value) is int:
        numerator, denominator = value, divisor
    else:
        numerator, denominator = value.numerator, value.denominator * divisor
    magnitude = (2 * abs(numerator) + denominator) // (2 * denominator)
    return magnitude if numerator >= 0 else -magnitude


def ceil(value: int | Fraction | None, divisor: int) -> int | None:
    """value / divisor rounded up (floor division of whole numbers is exact, whatever the signs)."""
    if value is None:
        return None
    if type(value) is int:
        return -(-value // divisor)
    return -(-value.numerator // (value.denominator * divisor))


def floor(value: int | Fraction | None, divisor: int) -> int | None:
    if value is None:
        return None
    if type(value) is int:
        return value // divisor
    return value.numerator // (value.denominator * divisor)


_FRACTIONS: dict[Any, Fraction] = {}  # a value → its Fraction: the same few parameters' values, read every decision
_FRACTIONS_KEPT = 1024  # distinct values kept (memory, not policy)


def to_fraction(value: Any) -> Fraction | None:
    """``Fraction(value)``; equal values (``Decimal('0.5')``, ``0.5``, ``1/2``) are the same number, so one Fraction
    made for a value stands for every value equal to it."""
    if value is None:
        return None
    try:
        return _FRACTIONS[value]
    except KeyError:
        made = Fraction(value)
    except TypeError:  # unhashable: made each time
        return Fraction(value)
    if len(_FRACTIONS) >= _FRACTIONS_KEPT:
        _FRACTIONS.clear()
    _FRACTIONS[value] = made
    return made


def band(
    bands: tuple[Band, ...] | None, percent: int | Fraction | None, scale: int, hit: dict[str, Band], name: str
) -> int | None:
    """The band holding ``percent`` (held with ``scale`` decimal places), by the table's hit policy (rows in
    order: the loader refuses overlaps in a ``unique`` table, so the first row that holds it is the one)."""
    if bands is None or percent is None:
        return None
    band = band_of(Fraction(percent) / 10**scale, bands)
    if band is None:
        return None
    hit[name] = band
    return band.band


def round_half_up_quotient(numerator: int, denominator: int) -> int | None:
    """numerator / denominator rounded half away from zero; None when the denominator is 0."""
    if denominator == 0:
        return None
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    magnitude = (2 * abs(numerator) + denominator) // (2 * denominator)
    return magnitude if numerator >= 0 else -magnitude


def ceil_quotient(numerator: int, denominator: int) -> int | None:
    if denominator == 0:
        return None
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    return -(-numerator // denominator)


def floor_quotient(numerator: int, denominator: int) -> int | None:
    if denominator == 0:
        return None
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    return numerator // denominator


_BOUNDS: dict[int, tuple[tuple[Band, ...], list[tuple[Band, int, int, int | None, int]]]] = {}


def band_q(
    bands: tuple[Band, ...] | None, share: tuple[int, int] | None, scale: int, hit: dict[str, Band], name: str
) -> int | None:
    """``band`` for a share given as two whole numbers (numerator, denominator): integer comparisons only."""
    if bands is None or share is None or share[1] == 0:
        return None
    numerator, denominator = share
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    denominator *= scale
    cached = _BOUNDS.get(id(bands))
    if cached is None or cached[0] is not bands:
        rows = []
        for band in bands:
            above = Fraction(band.above_percent)
            up = None if band.up_to_percent is None else Fraction(band.up_to_percent)
            rows.append(
                (
                    band,
                    above.numerator,
                    above.denominator,
                    None if up is None else up.numerator,
                    1 if up is None else up.denominator,
                )
            )
        cached = _BOUNDS[id(bands)] = (bands, rows)
    for band, above_n, above_d, up_n, up_d in cached[1]:
        if numerator * above_d > above_n * denominator and (up_n is None or numerator * up_d <= up_n * denominator):
            hit[name] = band
            return band.band
    return None


def band_of(share: Fraction, bands: tuple[Band, ...]) -> Band | None:
    """The band holding ``share`` percent: the first row, in the table's order, with above < share ≤ up_to."""
    return next(
        (b for b in bands if share > b.above_percent and (b.up_to_percent is None or share <= b.up_to_percent)), None
    )


def strict_choice(pick: Callable[..., Any]) -> Callable[..., Any]:
    def choose(*values: Any) -> Any:
        return None if None in values else pick(values)

    return choose
