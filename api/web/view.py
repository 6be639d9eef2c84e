"""How the web page words a decision's workflow: where a refer goes, the price to quote, and the approval state
as it stands (SPEC §14.2: the page tells the truth about it), in the words of the rulebook of the edition the
request uses (``book``). Presentation only."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from api.web import words
from api.web.form import OUTCOMES, approvers, money
from api.web.words import figure_label, role_label
from engine.rulebook.loader import Rulebook
from engine.validate.fields import field_specs
from engine.validate.placement import Placement
from engine.validate.values import enum_key, parse_date, parse_money


def referrals(decision: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """Each place a refer finding sends the case, with the rule ids that send it there."""
    found: dict[str, list[str]] = {}
    for finding in decision["findings"]:
        if finding["action"] == "refer":
            found.setdefault(finding.get("refer_to") or "", []).append(finding["rule_id"])
    return list(found.items())


def price_rows(book: Rulebook, decision: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The price guide as the page shows it: "up to £1,044.75: team manager", the proposed price's row marked."""
    guide = decision.get("price_guide")
    if not guide:
        return []
    price = decision["figures"].get("comparable_weekly")
    rows, previous = [], None
    for band in guide["bands"]:
        ceiling = band["up_to_weekly"]
        if ceiling is None:
            limit = f"above {money(previous)}"
            here = price is not None and Decimal(str(price)) > Decimal(str(previous))
        else:
            limit = f"up to {money(ceiling)}"
            low = Decimal("-1") if previous is None else Decimal(str(previous))
            here = price is not None and low < Decimal(str(price)) <= Decimal(str(ceiling))
        who = "no approval needed" if band["approver"] is None else f"{role_label(book, band['approver'])} approves"
        if band["care_cubed_required"]:
            who += "; a Care Cubed costing is required"
        rows.append({"band": band["band"], "limit": limit, "who": who, "approver": band["approver"], "here": here})
        previous = ceiling
    return rows


# The form's sections that belong to one service; the others (the placement, health funding) are always shown.
# "package": every service priced by its weekly cost (SPEC §16.1), i.e. neither a care home nor supported living.
SECTION_SERVICE = {"care_home": "care_home", "top_up": "care_home", "supported_living": "supported_living"}
SECTION_SERVICE |= {"home_care": "home_care"}
OWN_COST_SERVICES = ("care_home", "supported_living")


def section_services(section_key: str) -> tuple[str, ...]:
    """The services a form section belongs to (none: shown for every service)."""
    if section_key == "package":
        return tuple(s for s in SERVICES if s not in OWN_COST_SERVICES)
    service = SECTION_SERVICE.get(section_key)
    return () if service is None else (service,)


def section_hidden(section_key: str, values: Mapping[str, Any]) -> bool:
    """Hidden until its service is chosen, and hidden for the other services."""
    services = section_services(section_key)
    return bool(services) and values.get("service") not in services


SERVICES: tuple[str, ...] = tuple(field_specs(Placement)["service"].choices)


def date_words(value: Any) -> str:
    """A date as typed, echoed as words ("4 May 2026"); empty when it is not (yet) a date."""
    if not isinstance(value, str) or not value.strip():
        return ""
    try:
        when = parse_date(value.strip())
    except ValueError:
        return ""
    return f"{when.day} {when:%B %Y}"


def figures_shown(book: Rulebook, decision: Mapping[str, Any], given: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """(name, label, value) of the figures to show: a figure worded for a proposed top-up (``label_with_top_up``)
    only when a top-up is proposed, in those words."""
    shown = []
    for name, value in decision["figures"].items():
        figure = book.figures.get(name)
        label = figure_label(book, name)
        if figure is not None and figure.label_with_top_up:
            if not _proposed(given.get("top_up_weekly")):
                continue
            label = figure.label_with_top_up
        shown.append((name, label, value))
    return shown


def _proposed(amount: Any) -> bool:
    try:
        return Decimal(str(amount).replace("£", "").replace(",", "").strip() or "0") > 0
    except ArithmeticError:
        return False


def charging(book: Rulebook, decision: Mapping[str, Any], placement: Mapping[str, Any]) -> dict[str, Any] | None:
    """The financial assessment worded for the person and their family as well as for finance: what they pay,
    on top of which top-up, what the council pays, and the payments table. None when no assessment is recorded."""
    figures = decision["figures"]
    if "resident_contribution_weekly" not in figures:
        return None
    contribution = figures.get("resident_contribution_weekly")
    if contribution is None:
        return {"sentence": "Your contribution cannot be worked out at this date: see the reasons below.", "rows": []}
    cost = money(figures["chargeable_cost_weekly"])
    if figures.get("after_care_free"):
        sentence = f"Section 117 after-care is free: you pay {money(contribution)} a week towards your care"
    elif figures.get("self_funding"):
        sentence = (
            f"You pay the full cost of your care, {money(contribution)} a week, "
            "because your capital is above the upper limit"
        )
    else:
        sentence = f"You pay {money(contribution)} a week towards your care"
    top_up = Decimal(str(placement.get("top_up_weekly") or 0).replace("£", "").replace(",", "") or 0)
    payer = placement.get("top_up_payer")
    by = book.wording.top_up_payers.get(str(payer))
    if top_up > 0 and by:
        sentence += f", in addition to the top-up of {money(top_up)} that {by}"
    sentence += "."
    council = figures.get("council_net_weekly")
    rows = [
        {
            "payer": words.payer(book, p["payer"]),
            "payee": words.payee(book, p["payee"]),
            "weekly": money(p["weekly"]),
            "note": p["note"],
            "code": f"{p['payer']}-{p['payee']}",
        }
        for p in decision.get("payments") or []
    ]
    to_provider = sum(
        (Decimal(str(p["weekly"])) for p in decision.get("payments") or [] if p["payee"] == "provider"), Decimal(0)
    )
    return {
        "sentence": sentence,
        "council": None
        if council is None
        else f"The council pays {money(council)} a week towards the cost (at most {cost} can be charged to you).",
        "model": figures.get("payment_model"),
        "rows": rows,
        "to_provider": money(to_provider) if rows else None,
    }


# The input field that holds the weekly price a broker agrees with the provider, by service; any other service
# prices its package by weekly_cost (SPEC §16.1).
PRICE_FIELDS = {"care_home": "core_weekly_fee", "supported_living": "sl_weekly_cost"}


def when_words(value: datetime) -> str:
    """A moment as a date in words: "2 November 2026"."""
    return f"{value.day} {value:%B %Y}"


def agreed_price(record: Mapping[str, Any]) -> str | None:
    """The weekly price the decision was made at, as the broker entered it (the care home's fee, excluding FNC
    and 1:1; the supported-living or package cost); None when it cannot be read."""
    given = record["input"]
    service = given.get("service")
    name = PRICE_FIELDS.get(enum_key(service) if isinstance(service, str) else "", "weekly_cost")
    try:
        pence = parse_money(given.get(name))
    except (TypeError, ValueError):
        gross = record["decision"]["figures"].get("gross_weekly_cost")
        return None if gross is None else money(gross)
    return money(Decimal(pence) / 100)


def _waiting_for(book: Rulebook, roles: list[str]) -> str:
    return " and ".join(role_label(book, role) for role in roles) + " (or a higher role)"


def state(book: Rulebook, record: Mapping[str, Any]) -> dict[str, str]:
    """The banner's heading and its sentence for the decision's approval state: what the broker may do now."""
    decision, status = record["decision"], record["status"]
    title, explanation = OUTCOMES[decision["outcome"]]
    price = agreed_price(record)
    at_price = f" at {price} a week" if price else ""
    approval, asked = record.get("approval"), record.get("approval_request")
    if status in ("approved", "declined") and approval:
        who = f"{approval['by']} ({role_label(book, approval['role'])}) on {when_words(approval['at'])}"
        if status == "approved":
            return {"heading": "Approved", "sentence": f"Approved by {who}: you may agree the placement{at_price}."}
        return {
            "heading": "Declined",
            "sentence": f"Declined by {who}: do not agree the placement{at_price}. Reason: {approval['reason']}",
        }
    if status == "pending" and asked:
        by = f" by {asked['by']}" if asked["by"] else ""
        return {
            "heading": f"{title}: waiting for approval",
            "sentence": f"Waiting for approval by {_waiting_for(book, asked['waiting_for'])}, asked{by} on "
            f"{when_words(asked['at'])}. Do not agree the placement{at_price} until it is approved.",
        }
    if status == "checked":
        roles = [role for role, _ in approvers(decision)]
        return {
            "heading": title,
            "sentence": f"{f'{price} a week' if price else 'This price'} needs approval by {_waiting_for(book, roles)} "
            "before it can be agreed. "
            "Nobody has asked for it yet: try other prices freely, and ask for approval of the one you mean to offer.",
        }
    return {"heading": title, "sentence": explanation}
