"""Who pays whom a week (the decision's ``payments``), read from the payment figures of ``rules/figures.yaml``.

The amounts are figures, computed the same way by both evaluators; this module only names each line's payer
and payee. The lines paid to the provider add up to the provider's full weekly charge (FNC included); the
council's net cost is what it pays less every line paid to it, the deferred line included (lent and recovered
from the home, so not the council's cost).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.money import pounds

# a line the council lends (secured on the home, recovered later): shown apart, and not in its net cost
DEFERRED = "deferred under the agreement"
# (figure, payer, payee, note); a payer of "top_up_payer" is the placement's top-up payer.
LINES: tuple[tuple[str, str, str, str], ...] = (
    ("council_to_provider_weekly", "council", "provider", "the council's payment for the placement"),
    ("contribution_to_provider_weekly", "resident", "provider", "the resident's assessed contribution"),
    ("contribution_to_council_weekly", "resident", "council", "the resident's assessed contribution, invoiced"),
    ("top_up_to_provider_weekly", "top_up_payer", "provider", "the agreed top-up"),
    ("top_up_to_council_weekly", "top_up_payer", "council", "the agreed top-up, invoiced"),
    ("fnc_used_weekly", "nhs", "provider", "NHS-funded nursing care"),
    ("nhs_contribution_or_zero_weekly", "nhs", "council", "NHS contribution, recharged to the NHS"),
    ("deferred_weekly", "resident", "council", DEFERRED),
)
PAYERS = {"first_party": "resident", "third_party": "third_party"}


@dataclass(frozen=True, slots=True)
class Payment:
    payer: str  # council | resident | third_party | nhs
    payee: str  # provider | council
    weekly: Decimal
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {"payer": self.payer, "payee": self.payee, "weekly": self.weekly, "note": self.note}


def payments(values: dict[str, Any]) -> tuple[Payment, ...] | None:
    """The payment lines (amounts above £0.00), or None when no financial assessment is recorded or the
    payment model is not known at the date."""
    if not values.get("financial_assessment") or values.get("council_to_provider_weekly") is None:
        return None
    lines = []
    for figure, payer, payee, note in LINES:
        pence = values.get(figure)
        if not pence:
            continue
        if payer == "top_up_payer":
            payer = PAYERS.get(values.get("top_up_payer") or "", "third_party")
        lines.append(Payment(payer, payee, pounds(pence), note))
    return tuple(lines)
