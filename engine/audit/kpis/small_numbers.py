"""Percentages councillors can read (SPEC §19): every percentage KPI carries the numerator and denominator it
divides and is marked ``small_number`` when it rests on fewer people than the dated parameter
``reporting.small_number_below`` (scrutiny's "could have represented a single child")."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from engine.audit.views import AtKpiDate, AuditViews
from engine.validate.batch import Col

SMALL_NUMBER_BELOW = "reporting.small_number_below"


def small_number_below(at: AtKpiDate) -> int | None:
    """The count below which a percentage is a small number, in force at the KPI date (None: none in force)."""
    return _count(at.param(SMALL_NUMBER_BELOW))


def small_number_on(views: AuditViews, day: date) -> int | None:
    """``small_number_below`` on ``day`` without the figures at that date (the same parameter, in force then)."""
    return _count(views.param_at(SMALL_NUMBER_BELOW, day))


def _count(found: Col) -> int | None:
    return int(found.v[0]) if found.ok[0] else None


def fraction(
    numerator: int | Decimal | None, denominator: int | Decimal | None, below: int | None, people: int | None = None
) -> dict[str, Any]:
    """A percentage's parts and its mark: ``people`` (else the denominator, a count) is what the mark judges, for
    a share of money (the s117 council share) is still a share of the people it was counted over."""
    base = people if people is not None else denominator
    assert isinstance(base, int), "a small number is judged on a count of people"
    return {
        "numerator": numerator,
        "denominator": denominator,
        "small_number": below is not None and base < below,
    }
