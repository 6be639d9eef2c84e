"""The provider a placement is with and how it was sourced (SPEC §17): the provider's id in the council's provider
register, the dates the placement was requested and sourced, whether it fills a block-booked bed; the
supported-living records the Delivery Plan's KPIs count; and the provider register's facts about the provider,
which only the register supplies (``engine.validate.register`` joins them by ``provider_id``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from engine.validate.field_groups.kinds import Day, Flag, about

CQC_RATINGS = ("outstanding", "good", "requires_improvement", "inadequate", "not_yet_inspected")
QUALITY_STATUSES = ("none", "monitoring", "embargo", "large_scale_enquiry")
CqcRating = Literal["outstanding", "good", "requires_improvement", "inadequate", "not_yet_inspected"]
QualityStatus = Literal["none", "monitoring", "embargo", "large_scale_enquiry"]


class ProviderAndSourcing(BaseModel):
    """The provider's register id and the sourcing dates (``block_booked``, already a choice field, says whether
    the placement fills a block-booked bed)."""

    provider_id: Annotated[
        str | None,
        Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$"),
        about(
            "Provider id (optional)", "PRV-001", "placement", "The provider's id in the council's provider register."
        ),
    ] = None
    requested_date: Annotated[
        Day | None, about("Date the placement was requested (optional)", "2026-04-27", "placement")
    ] = None
    sourced_date: Annotated[
        Day | None, about("Date the placement was sourced (optional)", "2026-04-30", "placement")
    ] = None


class SupportedLivingRecords(BaseModel):
    """What the Delivery Plan's supported-living KPIs count: review, contract, tenancy, affordable home."""

    sl_service_review_date: Annotated[
        Day | None, about("Date of the last service review (optional)", "2026-03-02", "supported_living")
    ] = None
    sl_contract_type: Annotated[
        Literal["contracted", "managed_budget", "self_directed", "none"] | None,
        about("How the service is contracted (optional)", "contracted", "supported_living"),
    ] = None
    sl_tenancy_agreement: Annotated[
        Literal["true", "false", "declined"] | None,
        about(
            "Has an appropriate tenancy agreement (optional)",
            "true",
            "supported_living",
            "true, false, or declined (the person did not consent); leave empty if not recorded.",
        ),
    ] = None
    sl_affordable_accommodation: Annotated[
        Flag | None, about("Lives in affordable accommodation (optional)", True, "supported_living")
    ] = None

    @field_validator("sl_tenancy_agreement", mode="before")
    @classmethod
    def _tenancy_as_written(cls, value: Any) -> Any:
        """JSON's true and false are the same answers as the words."""
        return str(value).lower() if isinstance(value, bool) else value


class RegisterFacts(BaseModel):
    """The provider register's facts about the placement's provider, joined by ``provider_id`` when a register is
    given; a placement never gives them itself (not on the form, not in the API's request schema)."""

    provider_register_given: Annotated[Flag, about("A provider register was given", False, None, register=True)] = False
    provider_in_register: Annotated[Flag, about("The provider is in the register", False, None, register=True)] = False
    provider_framework_from: Annotated[
        Day | None, about("On the framework from", "2024-04-01", None, register=True)
    ] = None
    provider_framework_to: Annotated[Day | None, about("On the framework to", "2028-03-31", None, register=True)] = None
    provider_cqc_rating: Annotated[CqcRating | None, about("CQC rating", "good", None, register=True)] = None
    provider_quality_status: Annotated[QualityStatus | None, about("Quality status", "none", None, register=True)] = (
        None
    )
    provider_quality_status_from: Annotated[
        Day | None, about("Quality status from", "2026-01-05", None, register=True)
    ] = None
