"""``carerules check --summary``: one readable line per placement."""

from __future__ import annotations

from typing import Any

from engine.money import show_pounds


def summary_line(result: dict[str, Any]) -> str:
    """A decision (or an input error) as one line: outcome, approvers, rules fired, and the money."""
    if "error" in result:
        return f"#{result['index'] + 1:<9} invalid input: {result['error']['fields']}"
    approvers = sorted({f["approver"] for f in result["findings"] if f.get("approver")})
    fired = " ".join(f["rule_id"] for f in result["findings"])
    who = f" by {', '.join(approvers)}" if approvers else ""
    return f"{result['placement_id']:<10} {result['outcome']}{who}  [{fired}]{_money_line(result['figures'])}"


def _money_line(figures: dict[str, Any]) -> str:
    """The weekly cost and, when a financial assessment was given, what the resident pays and the council's net
    cost: what a broker reads back to a provider or a family."""

    def gbp(name: str) -> str:
        return show_pounds(int(figures[name].scaleb(2)))

    parts = [f"{gbp('gross_weekly_cost')} a week"] if figures.get("gross_weekly_cost") is not None else []
    if figures.get("resident_contribution_weekly") is not None:
        parts.append(f"resident pays {gbp('resident_contribution_weekly')}")
    if figures.get("council_net_weekly") is not None:
        parts.append(f"council net {gbp('council_net_weekly')}")
    return f"  {'; '.join(parts)}" if parts else ""
