"""Supported living: the support hours, waking nights and sleep-ins a week priced against the Reference Rates,
and the proposed weekly cost."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from engine.validate.field_groups.kinds import Pence, Quantity, Whole, about


class SupportedLiving(BaseModel):
    """A supported-living package's hours and cost."""

    sl_day_hours: Annotated[
        Quantity,
        about(
            "Support hours a week",
            "13.3333",
            "supported_living",
            "1:1 hours plus the person's share of shared hours (40 shared by 3: 13.3333), to at most 4 decimal places.",
        ),
    ] = 0
    sl_waking_night_hours: Annotated[Quantity, about("Waking-night hours a week", "0", "supported_living")] = 0
    sl_sleep_in_nights: Annotated[Whole, Field(ge=0, le=7), about("Sleep-in nights a week", 0, "supported_living")] = 0
    sl_weekly_cost: Annotated[
        Pence | None,
        about("Proposed weekly cost", "850.00", "supported_living", "Required for supported living."),
    ] = None
