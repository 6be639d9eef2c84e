"""How each kind of field value is written and read, and the metadata every field declaration carries.

Money arrives in pounds (``£`` and thousands commas allowed) and is held as integer pence; hours and miles (at
most 4 decimal places) and shares of one (at most 2) as integer ten-thousandths; dates day first
(``engine.validate.values``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from annotated_types import Le
from pydantic import BeforeValidator, Field

from engine.money import QUANTITY_PLACES
from engine.validate import values
from engine.validate.values import Written

Pence = Annotated[int, BeforeValidator(values.parse_money), Written("pence")]
Quantity = Annotated[int, BeforeValidator(values.parse_quantity), Written("quantity")]
Whole = Annotated[int, BeforeValidator(values.parse_whole), Written("whole")]
Flag = Annotated[bool, BeforeValidator(values.parse_flag), Written("flag")]
Share = Annotated[int, BeforeValidator(values.parse_share), Le(10**QUANTITY_PLACES), Written("share")]
Day = Annotated[date, BeforeValidator(values.parse_date), Written("day")]


def about(label: str, example: Any, section: str | None, help: str = "", **extra: Any) -> Any:
    """A field's label, help text, example and form section (None: not on the form), as pydantic metadata."""
    return Field(
        title=label,
        description=help or None,
        examples=[example],
        json_schema_extra={"section": section, **extra},
    )
