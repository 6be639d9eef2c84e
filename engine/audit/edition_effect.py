"""A draft edition's effect on a book (SPEC §18): the decisions that change, the KPIs before and after, and the £
a week, from two audits of the same rows, on the rulebook in force and as a what-if on the draft's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.audit.run import run_audit
from engine.rulebook.loader import Rulebook

CHANGES_SHOWN = 50  # placements whose outcome changes, listed in a draft (the count is of all of them)


def edition_effect(source: Path | Any, base: Rulebook, book: Rulebook) -> dict[str, Any]:
    """What publishing ``book`` instead of ``base`` does to the book at ``source`` (a path, DataFrame or Arrow
    table, read as an audit reads it). BookError for a book that cannot be read."""
    after = run_audit(source, rules=base, parameters=book)
    before = run_audit(source, rules=base, as_at=after.as_at)
    whatif = after.whatif or {}
    changes = after.whatif_changes
    listed = changes.slice(0, CHANGES_SHOWN).to_pylist() if changes is not None else []
    kpis_before = {kpi["id"]: kpi for kpi in before.kpis["kpis"]}
    return {
        "rows": after.rows,
        "error_rows": after.error_rows,
        "as_at": after.as_at,
        "notes": after.notes,
        "placements_outcome_changed": whatif.get("placements_outcome_changed", 0),
        "placements_findings_changed": whatif.get("placements_findings_changed", 0),
        "transitions": whatif.get("transitions", {}),
        "pounds_weekly": whatif.get("pounds_weekly", {}),
        "charging_weekly": whatif.get("charging_weekly", {}),
        "decisions_changed": [
            {
                key: row[key]
                for key in (
                    "placement_id",
                    "outcome_before",
                    "outcome_after",
                    "rule_ids_before",
                    "rule_ids_after",
                    "gross_weekly_cost",
                )
            }  # fmt: skip
            for row in listed
        ],
        "decisions_changed_cut": changes is not None and changes.num_rows > CHANGES_SHOWN,
        "kpis": [
            {
                "id": kpi["id"],
                "name": kpi["name"],
                "unit": kpi.get("unit"),
                "before": kpis_before[kpi["id"]].get("value") if kpi["id"] in kpis_before else None,
                "after": kpi.get("value"),
            }
            for kpi in after.kpis["kpis"]
        ],
    }
