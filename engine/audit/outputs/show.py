"""How a KPI value reads in the console and the report (£1,234.56, 91.25%, 1,234)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def show(value: Any, unit: str | None = None) -> str:
    if value is None:
        return "–"
    if unit == "percent":
        return f"{value}%"
    if isinstance(value, Decimal):
        return f"{'-' if value < 0 else ''}£{abs(value):,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)
