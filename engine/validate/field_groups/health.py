"""NHS contributions, the Integrated Support Protocol and s117 after-care: the NHS share of the cost, the CHC
Decision Support Tool domains, the s117 split and review, and the records of what is commissioned for, agreed
with, invoiced to and paid by the NHS."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from engine.validate.field_groups.kinds import Day, Flag, Pence, Share, Whole, about


class NhsContribution(BaseModel):
    """The NHS contribution recorded, s117 entitlement and the signs that CHC should be considered."""

    nhs_contribution_weekly: Annotated[
        Pence | None,
        about(
            "NHS contribution a week, other than FNC",
            "0.00",
            "health",
            "Joint funding, CHC share or s117 health share. Enter 0 if there is none; leave empty if not known.",
        ),
    ] = None
    s117: Annotated[Flag, about("Entitled to Section 117 after-care", False, "health")] = False
    dst_priority_domains: Annotated[Whole, Field(ge=0, le=12), about("DST domains at Priority", 0, "health")] = 0
    dst_severe_domains: Annotated[Whole, Field(ge=0, le=12), about("DST domains at Severe", 0, "health")] = 0
    chc_referral_made: Annotated[Flag, about("A CHC referral or checklist is in progress", False, "health")] = False


class NhsAndS117(BaseModel):
    """The s117 funding split and review; health needs and the NHS agreement, invoice and payment records."""

    s117_council_share: Annotated[
        Share | None,
        about(
            "Council share of s117 funding agreed for this person (optional)",
            "0.50",
            "health",
            "A share between 0 and 1 (0.5 for half). Leave empty to use the standard split.",
        ),
    ] = None
    s117_last_review_date: Annotated[
        Day | None, about("Last s117 after-care review (optional)", "2026-02-16", "health")
    ] = None
    health_needs_beyond_incidental: Annotated[
        Flag | None,
        about(
            "Health needs more than incidental or ancillary to social care",
            True,
            "health",
            "Leave empty if not recorded.",
        ),
    ] = None
    commissioned_for_nhs: Annotated[
        Flag, about("The council commissions health services for the NHS in this package", False, "health")
    ] = False
    nhs_agreement_in_place: Annotated[
        Flag | None,
        about("Legal agreement (s75/s256) in place with the NHS", True, "health", "Leave empty if not recorded."),
    ] = None
    nhs_invoice_issued: Annotated[
        Flag | None, about("Invoice issued to the NHS", True, "health", "Leave empty if not recorded.")
    ] = None
    nhs_payment_received: Annotated[
        Flag | None, about("Payment received from the NHS", True, "health", "Leave empty if not recorded.")
    ] = None
    person_aware_of_nhs_contribution: Annotated[
        Flag | None,
        about("The person knows of the NHS contribution", True, "health", "Leave empty if not recorded."),
    ] = None
    provider_aware_of_nhs_contribution: Annotated[
        Flag | None,
        about("The provider knows of the NHS contribution", True, "health", "Leave empty if not recorded."),
    ] = None
