"""Every package the council funds (SPEC §16.1): the weekly cost of a package that is neither a care home nor
supported living, its home-care hours and hourly rate, whether a stay is permanent, and who provides it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel

from engine.validate.field_groups.kinds import Pence, Quantity, about


class Package(BaseModel):
    """A community package's weekly cost (home care: hours × rate), the kind of stay and the provider's type."""

    weekly_cost: Annotated[
        Pence | None,
        about(
            "Weekly cost of the package",
            "650.00",
            "package",
            "Required for every service other than a care home or supported living "
            "(for home care, or give the hours and the hourly rate).",
        ),
    ] = None
    hc_hours: Annotated[
        Quantity | None,
        about("Home-care hours a week (optional)", "28", "home_care", "To at most 4 decimal places."),
    ] = None
    hc_hourly_rate: Annotated[Pence | None, about("Home-care hourly rate (optional)", "23.20", "home_care")] = None
    stay_type: Annotated[
        Literal["permanent", "temporary", "respite"],
        about(
            "Kind of stay",
            "permanent",
            "placement",
            "Temporary: expected to last no more than 52 weeks. Respite: a short break.",
        ),
    ] = "permanent"
    provider_type: Annotated[
        Literal["independent", "in_house"],
        about("Provider type", "independent", "placement", "In-house: the council's own provision."),
    ] = "independent"
