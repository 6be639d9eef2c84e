"""How the web page words a decision's workflow: where a refer goes, the price to quote. Presentation only."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from api.web_form import figure_label, humanise, money
from engine.validate.values import parse_date

DESTINATIONS = {
    "isp_panel": "the ISP panel",
    "chc_assessment": "an NHS Continuing Healthcare assessment",
    "financial_assessment": "a financial assessment",
    "care_cubed_costing": "a Care Cubed costing",
    "records_check": "a check of the record",
    "commissioning_team": "the commissioning team",
}


def destination(name: str) -> str:
    return DESTINATIONS.get(name) or humanise(name)


def referrals(decision: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """Each place a refer finding sends the case, with the rule ids that send it there."""
    found: dict[str, list[str]] = {}
    for finding in decision["findings"]:
        if finding["action"] == "refer":
            found.setdefault(finding.get("refer_to") or "", []).append(finding["rule_id"])
    return list(found.items())


def price_rows(decision: Mapping[str, Any]) -> list[dict[str, Any]]:
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
        who = "no approval needed" if band["approver"] is None else f"{humanise(band['approver'])} approves"
        if band["care_cubed_required"]:
            who += "; a Care Cubed costing is required"
        rows.append({"band": band["band"], "limit": limit, "who": who, "approver": band["approver"], "here": here})
        previous = ceiling
    return rows


# The form's sections that belong to one service; the others (the placement, health funding) are always shown.
SECTION_SERVICE = {"care_home": "care_home", "top_up": "care_home", "supported_living": "supported_living"}


def section_hidden(section_key: str, values: Mapping[str, Any]) -> bool:
    """Hidden until its service is chosen, and hidden for the other service."""
    service = SECTION_SERVICE.get(section_key)
    return service is not None and values.get("service") != service


def date_words(value: Any) -> str:
    """A date as typed, echoed as words ("4 May 2026"); empty when it is not (yet) a date."""
    if not isinstance(value, str) or not value.strip():
        return ""
    try:
        when = parse_date(value.strip())
    except ValueError:
        return ""
    return f"{when.day} {when:%B %Y}"


def figures_shown(decision: Mapping[str, Any], given: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """(name, label, value) of the figures to show: the top-up line only when a top-up is proposed, worded as
    the most a top-up may cover."""
    shown = []
    for name, value in decision["figures"].items():
        label = figure_label(name)
        if name == "top_up_required_weekly":
            if not _proposed(given.get("top_up_weekly")):
                continue
            label = "The most a top-up may cover"
        shown.append((name, label, value))
    return shown


def _proposed(amount: Any) -> bool:
    try:
        return Decimal(str(amount).replace("£", "").replace(",", "").strip() or "0") > 0
    except ArithmeticError:
        return False
