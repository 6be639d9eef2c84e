"""Choice of accommodation and top-ups: block-booked beds, the reasonable distance, the cheapest suitable home,
the personal budget, and who pays a top-up, on what basis, agreed and affordable."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel

from engine.validate.field_groups.kinds import Flag, Pence, Quantity, about


class ChoiceAndTopUps(BaseModel):
    """What the Choice Policy and the Top-up Policy read."""

    block_booked: Annotated[Flag, about("This is a council block-booked bed", False, "care_home")] = False
    block_bed_available: Annotated[Flag, about("A suitable block-booked bed was available", False, "care_home")] = False
    distance_miles: Annotated[
        Quantity | None, about("Distance from usual home, miles (optional)", "12.5", "care_home")
    ] = None
    resident_chose_location: Annotated[
        Flag, about("The person chose a home outside the reasonable distance", False, "care_home")
    ] = False
    cheapest_suitable_weekly: Annotated[
        Pence | None, about("Cheapest suitable home available, a week (optional)", "880.00", "care_home")
    ] = None
    personal_budget_weekly: Annotated[
        Pence | None,
        about(
            "Personal budget a week (optional)",
            "915.00",
            "care_home",
            "Leave empty to use the median for the Lot, or the cheapest suitable home if higher.",
            derived=True,
        ),
    ] = None
    top_up_weekly: Annotated[Pence, about("Top-up a week (optional)", "0.00", "top_up")] = 0
    top_up_payer: Annotated[
        Literal["none", "third_party", "first_party"],
        about(
            "Who pays the top-up",
            "third_party",
            "top_up",
            labels={"none": "No payer", "first_party": "The person (first party)"},
        ),
    ] = "none"
    first_party_basis: Annotated[
        Literal["property_disregard_12_week", "deferred_payment", "s117"] | None,
        about(
            "Basis of a first-party top-up",
            "deferred_payment",
            "top_up",
            labels={
                "property_disregard_12_week": "12-week property disregard",
                "deferred_payment": "Deferred payment agreement",
                "s117": "Section 117 after-care",
            },
        ),
    ] = None
    top_up_agreement_signed: Annotated[Flag, about("Written top-up agreement signed", False, "top_up")] = False
    top_up_affordability_confirmed: Annotated[Flag, about("Payer shown able and willing to pay", False, "top_up")] = (
        False
    )
