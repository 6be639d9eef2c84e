"""The price to quote: for the benchmark in force, the highest council-funded weekly price in each approval band.
Over-65 care homes are measured against their care category's benchmark (basis ``median``); working-age care
homes, under the working-age pricing strategy, against the placement's CareCubed figure by the working-age bands
(``care_cubed``).

A broker on the phone to a home asks "what can I offer the provider?". Each ceiling is the benchmark raised by
the band's upper percentage, rounded DOWN to the penny, so that the ceiling itself lies inside its band and a
penny more falls in the next one (the engine places a price in a band by the exact share over the benchmark).
Integer pence and exact fractions throughout: no float.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from math import floor
from typing import Any

from engine.evaluate.derive import Derived
from engine.explain.json_text import dumps
from engine.money import pounds
from engine.rulebook.tables import Band

BANDS = "care_homes.approval_bands"
WORKING_AGE_BANDS = "working_age.approval_bands"


def ceiling_pence(benchmark: int, up_to_percent: Decimal) -> int:
    """The highest price in pence whose share over ``benchmark`` is at most ``up_to_percent``."""
    return floor(Fraction(benchmark) * (100 + Fraction(up_to_percent)) / 100)


def band_ceilings(benchmark: int, bands: tuple[Band, ...]) -> list[tuple[int | None, Band | None]]:
    """(ceiling in pence or None for no upper limit, band or None for "at or below the benchmark") in order."""
    rows: list[tuple[int | None, Band | None]] = [(benchmark, None)]
    for band in bands:
        ceiling = None if band.up_to_percent is None else ceiling_pence(benchmark, band.up_to_percent)
        if ceiling is not None and ceiling == rows[-1][0]:
            continue  # narrower than a penny at this benchmark: no price falls in this band
        rows.append((ceiling, band))
    return rows


def price_guide(derived: Derived) -> tuple[dict[str, Any], str] | None:
    """The guide for a care-home decision priced against a benchmark in force, and its compact JSON; None where
    none applies. The same benchmark and bands give the same (shared, read-only) guide: built once."""
    values = derived.values
    if not values.get("is_care_home"):
        return None
    if values.get("working_age_pricing"):
        care_cubed, band_read = values.get("care_cubed_weekly"), derived.read.get(WORKING_AGE_BANDS)
        if not care_cubed or care_cubed < 0 or band_read is None or band_read[0] is None:
            return None
        return _guide(care_cubed, band_read[0], "care_cubed")
    benchmark, band_read = values.get("benchmark_weekly"), derived.read.get(BANDS)
    if not benchmark or band_read is None or band_read[0] is None:
        return None
    minimum_age = values.get("params.care_homes.minimum_age")
    if minimum_age is None or values["age"] < minimum_age:
        return None
    return _guide(benchmark, band_read[0], "median")


@lru_cache(maxsize=256)
def _guide(benchmark: int, table: tuple[Band, ...], basis: str) -> tuple[dict[str, Any], str]:
    bands = []
    for ceiling, band in band_ceilings(benchmark, table):
        bands.append(
            {
                "band": 0 if band is None else band.band,
                "up_to_weekly": None if ceiling is None else pounds(ceiling),
                "approver": None if band is None else band.approver,
                "care_cubed_required": False if band is None else band.care_cubed_required,
            }
        )
    guide = {"basis": basis, "benchmark_weekly": pounds(benchmark), "bands": bands}
    return guide, dumps(guide, indent=None)


def copy_guide(guide: dict[str, Any]) -> dict[str, Any]:
    """A caller's own copy of a shared guide."""
    return {**guide, "bands": [dict(band) for band in guide["bands"]]}
