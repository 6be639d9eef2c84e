"""The placement and its price: who, what service, when, the care type and Lot, and the weekly fee's parts;
the CareCubed cost a working-age placement is priced against; the provider, for reports."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from engine.validate.field_groups.kinds import Day, Flag, Pence, Whole, about


class PlacementAndPrice(BaseModel):
    """The placement, its dates, the person's age and the care home's weekly fee in its parts."""

    placement_id: Annotated[
        str,
        Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$"),
        about("Placement or package id", "P-1001", "placement", "The council's id. No personal data needed."),
    ]
    service: Annotated[
        Literal[
            "care_home",
            "supported_living",
            "home_care",
            "direct_payment",
            "extra_care",
            "shared_lives",
            "day_care",
            "other",
        ],
        about(
            "Service",
            "care_home",
            "placement",
            "The rulebook's services (rules/services.yaml) and the other names it gives them.",
            labels={"care_home": "Care home"},
        ),
    ]
    start_date: Annotated[Day, about("Start date", "2026-05-04", "placement")]
    as_at: Annotated[
        Day | None, about("Decide as at (optional)", "2026-05-04", "placement", "Leave empty to use the start date.")
    ] = None
    end_date: Annotated[
        Day | None,
        about(
            "End date (optional)",
            "2026-11-02",
            "placement",
            "The day after the placement's last day. Leave empty while it continues.",
        ),
    ] = None
    age: Annotated[Whole, Field(ge=18, le=120), about("Age", 84, "placement", "Age in years at the date decided.")]
    care_type: Annotated[
        Literal["residential", "nursing"] | None,
        about("Care type", "residential", "care_home", "Required for a care home unless the Lot is given."),
    ] = None
    dementia: Annotated[Flag, about("Primary need is dementia", False, "care_home")] = False
    lot: Annotated[
        Whole | None,
        about("Framework Lot", 1, None, "Derived from care type and dementia (the rulebook's Lots).", derived=True),
    ] = None
    core_weekly_fee: Annotated[
        Pence | None,
        about("Core weekly fee", "915.00", "care_home", "The home's weekly fee, excluding FNC and 1:1."),
    ] = None
    one_to_one_weekly: Annotated[Pence, about("1:1 support a week (optional)", "0.00", "care_home")] = 0
    fnc_weekly: Annotated[
        Pence | None,
        about(
            "FNC paid to the home a week (optional)",
            "250.00",
            "care_home",
            "Leave empty on a nursing placement to assume the standard rate.",
        ),
    ] = None
    other_weekly: Annotated[Pence, about("Other weekly cost in the package (optional)", "0.00", "placement")] = 0


class CareCubedPrice(BaseModel):
    """The working-age pricing: the CareCubed indicative cost of this placement."""

    care_cubed_weekly: Annotated[
        Pence | None,
        about(
            "CareCubed indicative weekly cost (under 65)",
            "1180.00",
            "care_home",
            "From the CareCubed costing of this placement, excluding FNC and 1:1 (as the core fee). "
            "The working-age price check and the personal budget use it.",
        ),
    ] = None


class Provider(BaseModel):
    """The provider's name, for reports."""

    provider: Annotated[
        str | None, Field(max_length=200), about("Provider (optional)", "Oak Lodge Care Home", "placement")
    ] = None
