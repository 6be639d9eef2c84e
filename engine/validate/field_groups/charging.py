"""The financial assessment (charging): income, capital and the home, the disregards, and how the provider is
paid. All optional; the charging rules run when weekly_income is given."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel

from engine.validate.field_groups.kinds import Day, Flag, Pence, about


class FinancialAssessment(BaseModel):
    """What the financial assessment records."""

    weekly_income: Annotated[
        Pence | None,
        about(
            "Weekly income before disregards",
            "170.00",
            "financial_assessment",
            "Pensions, benefits, annuities. Leave empty if no financial assessment is recorded.",
        ),
    ] = None
    capital: Annotated[
        Pence | None,
        about(
            "Capital (a total, not weekly)",
            "15250.00",
            "financial_assessment",
            "Savings and investments, the person's share of joint capital; not the main home. "
            "Required with weekly income.",
        ),
    ] = None
    property_value: Annotated[
        Pence | None,
        about(
            "The person's share of their main home (optional)",
            "180000.00",
            "financial_assessment",
            "Net of debts secured on it.",
        ),
    ] = None
    property_disregarded: Annotated[
        Flag,
        about(
            "The home is disregarded: a partner, a relative aged 60+ or incapacitated, or a child under 18 lives there",
            False,
            "financial_assessment",
        ),
    ] = False
    permanent_admission_date: Annotated[
        Day | None,
        about(
            "First day as a permanent resident (optional)",
            "2026-05-04",
            "financial_assessment",
            "The 12-week property disregard runs from it. Leave empty to use the start date.",
        ),
    ] = None
    deferred_payment_agreement: Annotated[
        Flag | None,
        about(
            "A deferred payment agreement is in place",
            False,
            "financial_assessment",
            "Leave empty if not recorded.",
        ),
    ] = None
    disregarded_income_weekly: Annotated[
        Pence,
        about(
            "Income disregarded in full, a week (optional)",
            "0.00",
            "financial_assessment",
            "DLA/PIP mobility, War Pension Scheme payments other than Constant Attendance Allowance, "
            "Guaranteed Income Payments, charitable payments.",
        ),
    ] = 0
    war_widows_pension_weekly: Annotated[
        Pence,
        about(
            "War Widow's or Widower's pension a week (optional)",
            "0.00",
            "financial_assessment",
            "Its first £10 a week is disregarded.",
        ),
    ] = 0
    pension_shared_with_spouse_weekly: Annotated[
        Pence,
        about(
            "Pension half paid to a spouse or civil partner at home, a week (optional)",
            "0.00",
            "financial_assessment",
            "The whole pension; the half paid to the spouse is disregarded.",
        ),
    ] = 0
    savings_disregard_weekly: Annotated[
        Pence, about("Savings Credit disregard a week (optional)", "0.00", "financial_assessment")
    ] = 0
    housing_costs_weekly: Annotated[
        Pence,
        about("Rent and service charges a week (optional)", "0.00", "financial_assessment", "Supported living only."),
    ] = 0
    dre_weekly: Annotated[
        Pence,
        about(
            "Disability-related expenditure a week (optional)",
            "0.00",
            "financial_assessment",
            "Supported living only: as assessed for the person, never capped at a disability benefit.",
        ),
    ] = 0
    disability_premium: Annotated[
        Flag, about("Qualifies for the MIG disability premium", False, "financial_assessment", "Supported living only.")
    ] = False
    enhanced_disability_premium: Annotated[
        Flag,
        about(
            "Qualifies for the MIG enhanced disability premium", False, "financial_assessment", "Supported living only."
        ),
    ] = False
    payment_model: Annotated[
        Literal["gross", "net"] | None,
        about(
            "How the provider is paid (optional)",
            "gross",
            "financial_assessment",
            "Gross: the council pays the full fee and invoices the person. Net: the person pays their contribution "
            "to the provider. Leave empty for the council's usual model for the service.",
            labels={"gross": "Gross", "net": "Net"},
        ),
    ] = None
