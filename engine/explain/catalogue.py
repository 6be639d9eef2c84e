"""The rule catalogue and the parameters in force at a date, as the CLI prints them and the API sends them."""

from __future__ import annotations

from datetime import date
from typing import Any

from engine.explain.decision import parameter_value
from engine.rulebook.loader import Rulebook


def rule_catalogue(book: Rulebook) -> dict[str, Any]:
    """Every rule: id, module, action, approver, label, condition and reference."""
    return {
        "rulebook_version": book.version,
        "rules": [
            {
                "rule_id": rule.id,
                "module": rule.module,
                "action": rule.action,
                "approver": rule.approver or (f"from {rule.approver_from}" if rule.approver_from else None),
                "label": rule.label,
                "when": rule.when,
                "reference": rule.reference.text,
            }
            for rule in book.rules
        ],
    }


def parameters_at(book: Rulebook, when: date) -> dict[str, Any]:
    """Every parameter's value in force at ``when``, with the date it took effect and its reference."""
    listing = []
    for name, parameter in sorted(book.parameters.items()):
        found = parameter.at(when)
        listing.append(
            {
                "name": name,
                "value": parameter_value(parameter, found[0]) if found else None,
                "unit": parameter.unit,
                "effective_from": found[1] if found else None,
                "description": parameter.description,
                "reference": parameter.reference.text,
            }
        )
    return {"as_at": when, "rulebook_version": book.version, "parameters": listing}
