"""Load ``rules/`` into a validated, content-hashed Rulebook, or refuse with file, line and reason."""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any as AnyType

from engine.money import MoneyError, to_decimal, to_pence
from engine.rulebook import checks, conditions
from engine.rulebook.facts import Kpi, Lot, load_first_party_bases, load_kpis, load_lots, load_rulebook_facts
from engine.rulebook.figures import Figure, load_figures
from engine.rulebook.strict_yaml import Node, RulebookError, check_keys, load_yaml
from engine.rulebook.tables import HIT_POLICIES, band_table
from engine.rulebook.vocabulary import ACTIONS, ENUMS, FIELDS, UNIT_KINDS, Kind

if TYPE_CHECKING:
    from engine.rulebook.compiled import CompiledRulebook

# The shipped rulebook: rules/ at the top of a source checkout; engine/rulebook/shipped in an installed wheel.
_INSTALLED_RULES_DIR = Path(__file__).resolve().parent / "shipped"
DEFAULT_RULES_DIR = (
    _INSTALLED_RULES_DIR if _INSTALLED_RULES_DIR.is_dir() else Path(__file__).resolve().parents[2] / "rules"
)
RULE_ID = re.compile(r"^[A-Z]{2,4}-\d{2}$")
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")
BAND_PLACEHOLDERS = {"band.approver", "band.description", "band.care_cubed_note"}
SHOWN_ONLY = {"as_at": Kind.DATE, "start_date": Kind.DATE, "placement_id": Kind.ENUM}


@dataclass(frozen=True)
class Reference:
    title: str
    section: str | None = None
    url: str | None = None

    @cached_property
    def text(self) -> str:
        return "; ".join(part for part in (self.title, self.section, self.url) if part)


@dataclass(frozen=True)
class Parameter:
    name: str
    description: str
    unit: str
    reference: Reference
    dates: tuple[date, ...]
    values: tuple[AnyType, ...]  # engine units: pence, hundredths, int, bool, Decimal ratio, tuple[Band, ...]
    hit_policy: str | None = None

    @property
    def kind(self) -> Kind:
        return UNIT_KINDS[self.unit]

    def at(self, as_at: date) -> tuple[AnyType, date] | None:
        """The latest value on or before ``as_at`` with its date; None when not (or no longer) in force."""
        index = bisect_right(self.dates, as_at) - 1
        if index < 0 or self.values[index] is None:
            return None
        return self.values[index], self.dates[index]


@dataclass(frozen=True)
class Rule:
    id: str
    label: str
    module: str
    when: str
    condition: conditions.Cond
    action: str
    message: str
    reference: Reference
    approver: str | None = None
    approver_from: str | None = None
    refer_to: str | None = None  # where a refer finding goes (isp_panel, chc_assessment, records_check, ...)
    parameters: tuple[str, ...] = ()
    messages: tuple[tuple[str, str], ...] = ()  # (service, message) when the message is written per service
    path: str = field(default="", compare=False)
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Module:
    name: str
    title: str
    services: tuple[str, ...]
    reference: Reference
    rules: tuple[Rule, ...]
    guard: conditions.Cond | None = None  # the module-wide ``when`` (already part of every rule's condition)


@dataclass(frozen=True)
class Rulebook:
    parameters: dict[str, Parameter]
    modules: tuple[Module, ...]
    version: str
    lots: tuple[Lot, ...] = ()  # the framework's Lots (rules/tables/lots.yaml)
    earliest_as_at: date = date.min  # no decision before this date (rules/rulebook.yaml)
    figures: dict[str, Figure] = field(default_factory=dict)  # rules/figures.yaml, in the file's order
    kpis: dict[str, Kpi] = field(default_factory=dict)  # rules/kpis.yaml
    notes: dict[str, str] = field(default_factory=dict)  # wording shared by messages (rules/rulebook.yaml)
    first_party_bases: tuple[str, ...] = ()  # rules/tables/first_party_bases.yaml

    @cached_property
    def compiled(self) -> CompiledRulebook:
        """Lookups worked out once (figures compiled, modules per service…); a replace() copy compiles afresh."""
        from engine.rulebook.compiled import CompiledRulebook  # same package; compiled.py reads this module's types

        return CompiledRulebook(self)

    @cached_property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(rule for module in self.modules for rule in module.rules)

    def lot_for(self, care_type: str, dementia: bool) -> int:
        """The Lot covering a care type and dementia need (the Lots table covers every combination)."""
        return next(lot.number for lot in self.lots if (lot.care_type, lot.dementia) == (care_type, dementia))

    def lot(self, number: int) -> Lot | None:
        return next((lot for lot in self.lots if lot.number == number), None)

    def modules_for(self, service: str) -> tuple[Module, ...]:
        return self.compiled.modules[service]

    def values_at(self, as_at: date) -> dict[str, tuple[AnyType, date] | tuple[None, None]]:
        """Every parameter's value and effective date at ``as_at`` ((None, None) when not in force)."""
        return self.compiled.values_at(as_at)


def load_rulebook(rules_dir: Path | str = DEFAULT_RULES_DIR) -> Rulebook:
    """The rulebook in ``rules_dir``, or RulebookError with the file, line and reason it was refused."""
    root = Path(rules_dir)
    with checks.files_read(root):
        book = _load_rulebook(root)
    checks.check_values(root, book.parameters)
    return book


def _load_rulebook(root: Path) -> Rulebook:
    files = sorted(root.rglob("*.yaml"))
    if not files:
        raise RulebookError(root, None, "no rule or parameter files found")
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    params_dir = root / "parameters"
    parameters = {}
    for path in sorted(params_dir.rglob("*.yaml")):
        name = ".".join(path.relative_to(params_dir).with_suffix("").parts)
        if path.name == "index.yaml":
            _check_index(path)
        else:
            parameters[name] = _load_parameter(path, name)
    lots = load_lots(root)
    earliest, notes = load_rulebook_facts(root)
    keys = {"lot": tuple(lot.number for lot in lots), **{name: ENUMS[name] for name in ENUMS}}
    figures = load_figures(root, parameters, FIELDS, keys)
    modules = tuple(_load_module(path, parameters, figures) for path in sorted((root / "modules").glob("*.yaml")))
    seen: dict[str, Rule] = {}
    for module in modules:
        for rule in module.rules:
            if rule.id in seen:
                first = seen[rule.id]
                raise RulebookError(
                    rule.path, rule.line, f"rule id {rule.id} is already used at {first.path}:{first.line}"
                )
            seen[rule.id] = rule
    return Rulebook(
        parameters=parameters,
        modules=modules,
        version=digest.hexdigest()[:12],
        lots=lots,
        earliest_as_at=earliest,
        notes=notes,
        first_party_bases=load_first_party_bases(root),
        figures=figures,
        kpis=load_kpis(root),
    )


def _reference(node: AnyType, owner: Node, key: str = "reference") -> Reference:
    if not isinstance(node, Node):
        raise owner.error(f"{key} must be a mapping with a title (and a section or url)", key)
    check_keys(node, {"title"}, {"section", "url"}, key)
    for part in ("title", "section", "url"):
        if part in node and not (isinstance(node[part], str) and node[part].strip()):
            raise node.error(f"{key} {part} must be text", part)
    return Reference(node["title"], node.get("section"), node.get("url"))


def _check_index(path: Path) -> None:
    """A parameter group's index.yaml describes the group and cites the document that governs it."""
    node = check_keys(load_yaml(path), {"description", "reference"}, set(), "parameter group index")
    _reference(node["reference"], node)


def _load_parameter(path: Path, name: str) -> Parameter:
    node = check_keys(load_yaml(path), {"description", "unit", "reference", "values"}, {"hit_policy"}, "parameter")
    unit = node["unit"]
    if unit not in UNIT_KINDS:
        raise node.error(f"unknown unit {unit!r} (known: {', '.join(UNIT_KINDS)})", "unit")
    kind = UNIT_KINDS[unit]
    hit_policy = node.get("hit_policy")
    if (kind is Kind.TABLE) != (hit_policy is not None):
        raise node.error(
            "a table parameter, and only a table, declares its hit_policy", "hit_policy" if hit_policy else "unit"
        )
    if hit_policy is not None and hit_policy not in HIT_POLICIES:
        raise node.error(f"hit_policy must be one of {', '.join(HIT_POLICIES)}, not {hit_policy!r}", "hit_policy")
    values = node["values"]
    if not isinstance(values, Node) or not values:
        raise node.error("values must map dates to values", "values")
    dated = []
    for when, value in values.items():
        if not isinstance(when, date):
            raise values.error(f"{when!r} is not a date (YYYY-MM-DD)", str(when))
        try:
            dated.append((when, None if value is None else engine_value(value, kind, hit_policy)))
        except RulebookError:
            raise  # already names the line of the table row at fault
        except (MoneyError, ValueError) as exc:
            raise values.error(f"{when}: {value!r} is not a {unit} value: {exc}", str(when)) from None
    dated.sort(key=lambda pair: pair[0])
    return Parameter(
        name=name,
        description=str(node["description"]),
        unit=unit,
        reference=_reference(node["reference"], node),
        dates=tuple(d for d, _ in dated),
        values=tuple(v for _, v in dated),
        hit_policy=hit_policy,
    )


def engine_value(value: AnyType, kind: Kind, hit_policy: str | None = None) -> AnyType:
    if kind is Kind.MONEY:
        return to_pence(value)
    if kind is Kind.QUANTITY:
        return to_pence(value)  # hundredths of a mile: same exactness rules as pence
    if kind is Kind.COUNT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be a whole number")
        return value
    if kind is Kind.BOOL:
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if kind is Kind.RATIO:
        ratio = to_decimal(value)
        if not Decimal(0) <= ratio <= Decimal(1):
            raise ValueError("must be between 0 and 1")
        return ratio
    return band_table(value, hit_policy or "unique")


def _load_module(path: Path, parameters: dict[str, Parameter], figures: dict[str, Figure]) -> Module:
    node = check_keys(load_yaml(path), {"module", "title", "services", "reference", "rules"}, {"when"}, "rule file")
    name = node["module"]
    if not SNAKE.match(str(name)):
        raise node.error(f"module name {name!r} must be snake_case", "module")
    services = node["services"]
    if not isinstance(services, list) or not services or any(s not in ENUMS["service"] for s in services):
        raise node.error(f"services must list some of {', '.join(ENUMS['service'])}", "services")
    derived = {name: figure.kind for name, figure in figures.items()}
    vocabulary = {**FIELDS, **derived, **{f"params.{p}": param.kind for p, param in parameters.items()}}
    module_when = None
    if "when" in node:
        try:
            module_when = conditions.parse(node["when"], vocabulary, ENUMS)
        except conditions.ConditionError as exc:
            raise node.error(str(exc), "when") from None
    if not isinstance(node["rules"], list):
        raise node.error("rules must be a list", "rules")
    # which services a module applies to is decided by selecting modules, not by a condition in each rule
    rules = tuple(
        _load_rule(rule, name, conditions.conjoin(module_when), vocabulary, parameters) for rule in node["rules"]
    )
    return Module(name, str(node["title"]), tuple(services), _reference(node["reference"], node), rules, module_when)


def _load_rule(
    node: AnyType, module: str, guard: conditions.Cond, vocabulary: dict[str, Kind], parameters: dict[str, Parameter]
) -> Rule:
    node = check_keys(
        node,
        {"id", "label", "when", "action", "message", "reference"},
        {"approver", "approver_from", "refer_to"},
        "rule",
    )
    rule_id = str(node["id"])
    if not RULE_ID.match(rule_id):
        raise node.error(f"rule id {rule_id!r} must look like CHP-01", "id")
    try:
        condition = conditions.conjoin(guard, conditions.parse(node["when"], vocabulary, ENUMS))
    except conditions.ConditionError as exc:
        raise node.error(f"{rule_id}: {exc}", "when") from None
    action = node["action"]
    if action not in ACTIONS:
        raise node.error(f"{rule_id}: action must be one of {', '.join(ACTIONS)}", "action")
    approver, approver_from = node.get("approver"), node.get("approver_from")
    if approver is not None and not SNAKE.match(str(approver)):
        raise node.error(f"{rule_id}: approver {approver!r} must be a role name like team_manager", "approver")
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
    written = node["message"]
    per_service = dict(written) if isinstance(written, Node) else {}
    if any(service not in ENUMS["service"] for service in per_service):
        raise node.error(f"{rule_id}: a message per service is keyed by {', '.join(ENUMS['service'])}", "message")
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
        reference=_reference(node["reference"], node),
        approver=approver,
        approver_from=approver_from,
        refer_to=refer_to,
        parameters=tuple(used_parameters + ([approver_from] if approver_from else [])),
        messages=tuple((service, " ".join(str(text).split())) for service, text in per_service.items()),
        path=node.path,
        line=node.line_of("id"),
    )


def _refer_to(node: Node, rule_id: str, action: str) -> str | None:
    """A refer rule names where the case goes (a snake_case destination); no other rule does."""
    refer_to = node.get("refer_to")
    if action == "refer" and refer_to is None:
        raise node.error(f"{rule_id}: a refer rule names where the case goes (refer_to, e.g. isp_panel)", "action")
    if action != "refer" and refer_to is not None:
        raise node.error(f"{rule_id}: only a refer rule has refer_to", "refer_to")
    if refer_to is not None and not SNAKE.match(str(refer_to)):
        raise node.error(f"{rule_id}: refer_to {refer_to!r} must be a destination name like isp_panel", "refer_to")
    return None if refer_to is None else str(refer_to)
