"""Rule files: ``rules/modules/*.yaml``, a module of rules each, read into Rules with parsed, type-checked
conditions; each rule's id, action, approver, referral and message placeholders are checked as it is read."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any as AnyType

from engine.language import conditions
from engine.language.vocabulary import ACTIONS, ENUMS, FIELDS, Kind
from engine.rulebook.book import Module, Parameter, Rule
from engine.rulebook.contents import Contents, unknown_destination, unknown_role
from engine.rulebook.figures import Figure
from engine.rulebook.parameters import load_reference
from engine.rulebook.services import ALL, Service, expand
from engine.rulebook.strict_yaml import Node, check_keys, load_yaml

RULE_ID = re.compile(r"^[A-Z]{2,4}-\d{2}$")
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")
BAND_PLACEHOLDERS = {"band.approver", "band.description", "band.care_cubed_note"}
SHOWN_ONLY = {"as_at": Kind.DATE, "start_date": Kind.DATE, "placement_id": Kind.ENUM, "provider_id": Kind.ENUM}


def condition_vocabulary(parameters: dict[str, Parameter], figures: dict[str, Figure]) -> dict[str, Kind]:
    """The names a condition may use: fields, figures (a figure wins over the field it refines), parameters."""
    derived = {name: figure.kind for name, figure in figures.items()}
    return {**FIELDS, **derived, **{f"params.{p}": param.kind for p, param in parameters.items()}}


def load_module(
    path: Path,
    parameters: dict[str, Parameter],
    figures: dict[str, Figure],
    contents: Contents,
    declared: tuple[Service, ...],
) -> Module:
    node = check_keys(load_yaml(path), {"module", "title", "services", "reference", "rules"}, {"when"}, "rule file")
    name = node["module"]
    if not SNAKE.match(str(name)):
        raise node.error(f"module name {name!r} must be snake_case", "module")
    ids = [service.id for service in declared]
    runs_on_all = node["services"] == ALL
    services = ids if runs_on_all else node["services"]
    if not isinstance(services, list) or not services or any(s not in ids for s in services):
        raise node.error(f"services must be {ALL} or list some of {', '.join(ids)}", "services")
    vocabulary = condition_vocabulary(parameters, figures)
    module_when = None
    if "when" in node:
        try:
            module_when = conditions.parse(node["when"], vocabulary, ENUMS)
        except conditions.ConditionError as exc:
            raise node.error(str(exc), "when") from None
    if not isinstance(node["rules"], list):
        raise node.error("rules must be a list", "rules")
    # which services a module applies to is decided by selecting modules, not by a condition in each rule; a
    # rule that applies to only some of its module's services lists them (``services``)
    rules = tuple(
        _load_rule(
            rule, name, conditions.conjoin(module_when), vocabulary, parameters, tuple(services), contents, declared
        )
        for rule in node["rules"]
    )
    return Module(
        name,
        str(node["title"]),
        tuple(services),
        load_reference(node["reference"], node),
        rules,
        module_when,
        runs_on_all=runs_on_all,
        path=str(path),
    )


def _load_rule(
    node: AnyType,
    module: str,
    guard: conditions.Cond,
    vocabulary: dict[str, Kind],
    parameters: dict[str, Parameter],
    module_services: tuple[str, ...],
    contents: Contents,
    declared: tuple[Service, ...],
) -> Rule:
    node = check_keys(
        node,
        {"id", "label", "when", "action", "message", "reference"},
        {"approver", "approver_from", "refer_to", "services", "info_when"},
        "rule",
    )
    rule_id = str(node["id"])
    if not RULE_ID.match(rule_id):
        raise node.error(f"rule id {rule_id!r} must look like CHP-01", "id")
    services = _rule_services(node, rule_id, module_services, declared)
    try:
        if services != module_services:
            guard = conditions.conjoin(
                guard, conditions.parse(" or ".join(f"service == '{s}'" for s in services), vocabulary, ENUMS)
            )
        condition = conditions.conjoin(guard, conditions.parse(node["when"], vocabulary, ENUMS))
    except conditions.ConditionError as exc:
        raise node.error(f"{rule_id}: {exc}", "when") from None
    # info_when: where this holds the rule's finding is for information only (an in-house provider's price is not
    # checked against a benchmark, SPEC §16.1): no outcome and no approver
    info_condition = None
    if "info_when" in node:
        try:
            info_condition = conditions.parse(node["info_when"], vocabulary, ENUMS)
        except conditions.ConditionError as exc:
            raise node.error(f"{rule_id}: {exc}", "info_when") from None
    action = node["action"]
    if action not in ACTIONS:
        raise node.error(f"{rule_id}: action must be one of {', '.join(ACTIONS)}", "action")
    approver, approver_from = node.get("approver"), node.get("approver_from")
    if approver is not None and not SNAKE.match(str(approver)):
        raise node.error(
            f"{rule_id}: approver {approver!r} must be a role name (lower case letters, digits and underscores)",
            "approver",
        )
    if approver is not None and approver not in contents.approver_roles:
        raise node.error(f"{rule_id}: {unknown_role(contents, str(approver))}", "approver")
    if approver_from is not None and (
        approver_from not in parameters or parameters[approver_from].kind is not Kind.TABLE
    ):
        raise node.error(
            f"{rule_id}: approver_from must name a table parameter, not {approver_from!r}", "approver_from"
        )
    if action == "needs_approval" and (approver is None) == (approver_from is None):
        raise node.error(
            f"{rule_id}: needs_approval names its approver (approver or approver_from, one of them)", "action"
        )
    if action != "needs_approval" and (approver or approver_from):
        raise node.error(f"{rule_id}: only a needs_approval rule has an approver", "approver")
    refer_to = _refer_to(node, rule_id, action)
    if refer_to is not None and refer_to not in contents.referral_destinations:
        raise node.error(f"{rule_id}: {unknown_destination(contents, refer_to)}", "refer_to")
    written = node["message"]
    per_service = expand(dict(written), declared, node, "message") if isinstance(written, Node) else {}
    texts = [" ".join(str(text).split()) for text in (per_service.values() if per_service else [written])]
    message = texts[0]
    shown = {**vocabulary, **SHOWN_ONLY}
    placeholders = {placeholder for text in texts for placeholder in PLACEHOLDER.findall(text)}
    for placeholder in sorted(placeholders):
        if placeholder in BAND_PLACEHOLDERS and approver_from:
            continue
        if placeholder not in shown:
            raise node.error(f"{rule_id}: message names unknown figure {{{placeholder}}}", "message")
    used = conditions.names_in(condition) | placeholders
    used_parameters = sorted(n.removeprefix("params.") for n in used if n.startswith("params."))
    return Rule(
        id=rule_id,
        label=str(node["label"]),
        module=module,
        when=" ".join(str(node["when"]).split()),
        condition=condition,
        action=action,
        message=message,
        reference=load_reference(node["reference"], node),
        approver=approver,
        approver_from=approver_from,
        refer_to=refer_to,
        parameters=tuple(used_parameters + ([approver_from] if approver_from else [])),
        messages=tuple((service, " ".join(str(text).split())) for service, text in per_service.items()),
        services=services,
        info_when=" ".join(str(node["info_when"]).split()) if info_condition is not None else None,
        info_condition=info_condition,
        path=node.path,
        line=node.line_of("id"),
    )


def _rule_services(
    node: Node, rule_id: str, module_services: tuple[str, ...], declared: tuple[Service, ...]
) -> tuple[str, ...]:
    """The services a rule applies to: its module's, or those of them it lists (by service or charging kind)."""
    listed = node.get("services")
    if listed is None:
        return module_services
    if isinstance(listed, list) and all(isinstance(s, str) for s in listed):
        listed = [s.id for s in declared if s.id in listed or s.charging in listed]
    if not isinstance(listed, list) or not listed or any(s not in module_services for s in listed):
        raise node.error(
            f"{rule_id}: services must list some of its module's ({', '.join(module_services)})", "services"
        )
    return tuple(s for s in module_services if s in listed)


def _refer_to(node: Node, rule_id: str, action: str) -> str | None:
    """A refer rule names where the case goes (a snake_case destination); a not_permitted rule may name where it
    is sent (PRV-03: quality assurance); no other rule does."""
    refer_to = node.get("refer_to")
    if action == "refer" and refer_to is None:
        raise node.error(
            f"{rule_id}: a refer rule names where the case goes (refer_to: a referral destination of contents.yaml)",
            "action",
        )
    if action not in ("refer", "not_permitted") and refer_to is not None:
        raise node.error(f"{rule_id}: only a refer or not_permitted rule has refer_to", "refer_to")
    if refer_to is not None and not SNAKE.match(str(refer_to)):
        raise node.error(
            f"{rule_id}: refer_to {refer_to!r} must be a destination name (lower case letters, digits and underscores)",
            "refer_to",
        )
    return None if refer_to is None else str(refer_to)
