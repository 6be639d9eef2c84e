"""The decision (SPEC §7): outcome, figures, findings with references, and every parameter read."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from json.encoder import encode_basestring  # the C string writer JSONEncoder uses (ensure_ascii off)
from operator import itemgetter
from typing import Any, Literal

from engine.evaluate.derive import Derived
from engine.explain.json_text import dumps
from engine.explain.payments import Payment, payments
from engine.explain.price_guide import copy_guide, price_guide
from engine.explain.shown import FIGURE_WRITERS, as_is, parameter_value, render
from engine.language.conditions import Cond
from engine.language.scalar_conditions import Test, compiled
from engine.language.vocabulary import ACTIONS
from engine.rulebook.compiled import VALUES_AT_KEPT
from engine.rulebook.loader import Rule, Rulebook

# parameter_value is imported from here by the catalogue and the audit's what-if comparison
__all__ = ["SEVERITY", "Decision", "Finding", "ParameterRead", "build_decision", "dumps", "parameter_value"]

Outcome = Literal["proceed", "needs_approval", "refer", "not_permitted"]
Action = Literal["info", "proceed", "needs_approval", "refer", "not_permitted"]
SEVERITY = {action: rank for rank, action in enumerate(ACTIONS)}


@dataclass(frozen=True, slots=True)
class Finding:
    rule_id: str
    module: str
    action: Action
    approver: str | None
    message: str
    reference: str
    refer_to: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {
            "rule_id": self.rule_id,
            "module": self.module,
            "action": self.action,
            "approver": self.approver,
            "refer_to": self.refer_to,
            "message": self.message,
            "reference": self.reference,
        }
        if self.approver is None:
            del data["approver"]
        if self.refer_to is None:
            del data["refer_to"]
        return data


@dataclass(frozen=True, slots=True)
class ParameterRead:
    name: str
    value: Any
    effective_from: date | None
    reference: str
    compact_json: str = field(default="", compare=False, repr=False)  # written once per rulebook and edition

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "effective_from": self.effective_from,
            "reference": self.reference,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """SPEC §7. Money figures are ``Decimal`` pounds with exactly 2 places."""

    placement_id: str
    as_at: date
    rulebook_version: str
    outcome: Outcome
    figures: dict[str, Any]
    findings: tuple[Finding, ...]
    parameters: tuple[ParameterRead, ...]
    price_guide: dict[str, Any] | None = None  # care homes priced against a benchmark: the most to offer per band
    price_guide_json: str = field(default="", compare=False, repr=False)  # shared, written once per benchmark
    payments: tuple[Payment, ...] | None = None  # who pays whom a week, when a financial assessment is recorded

    @property
    def rule_ids(self) -> list[str]:
        return [finding.rule_id for finding in self.findings]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values; money stays Decimal with 2 places (see ``dumps``)."""
        data = {
            "placement_id": self.placement_id,
            "as_at": self.as_at,
            "rulebook_version": self.rulebook_version,
            "outcome": self.outcome,
            "figures": dict(self.figures),
            "price_guide": None if self.price_guide is None else copy_guide(self.price_guide),
            "findings": [finding.to_dict() for finding in self.findings],
            "parameters": [parameter.to_dict() for parameter in self.parameters],
        }
        if self.price_guide is None:
            del data["price_guide"]
        if self.payments is not None:
            data["payments"] = [payment.to_dict() for payment in self.payments]
        return data

    def to_json(self, indent: int | None = 2) -> str:
        """The decision as JSON; ``indent=None`` is the compact form the API sends, built from cached parts."""
        if indent is not None:
            return dumps(self.to_dict(), indent=indent)
        head = (
            f'{{"placement_id": {_text_json(self.placement_id)}, "as_at": "{self.as_at.isoformat()}", '
            f'"rulebook_version": {_text_json(self.rulebook_version)}, "outcome": {_text_json(self.outcome)}'
        )
        names = _NAME_JSON
        figures = ", ".join(
            [(names.get(name) or _name_json(name)) + _number_json(value) for name, value in self.figures.items()]
        )
        guide = ""
        if self.price_guide is not None:
            guide = f', "price_guide": {self.price_guide_json or dumps(self.price_guide, indent=None)}'
        findings = f"[{', '.join([_finding_json(finding) for finding in self.findings])}]"
        parameters = ", ".join(read.compact_json or dumps(read.to_dict(), None) for read in self.parameters)
        paid = ""
        if self.payments is not None:
            paid = f', "payments": {dumps([payment.to_dict() for payment in self.payments], indent=None)}'
        return f'{head}, "figures": {{{figures}}}{guide}, "findings": {findings}, "parameters": [{parameters}]{paid}}}'


_COMPACT = json.JSONEncoder(ensure_ascii=False)


_NAME_JSON: dict[str, str] = {}  # a figure's name → its JSON key and colon, written once per name


def _name_json(name: str) -> str:
    if len(_NAME_JSON) >= PARAMETERS_READ_KEPT:
        _NAME_JSON.clear()
    written = _NAME_JSON[name] = f"{_COMPACT.encode(name)}: "
    return written


def _text_json(value: Any) -> str:
    """As ``_COMPACT.encode``: a str straight through the encoder's own string writer."""
    return encode_basestring(value) if value.__class__ is str else _COMPACT.encode(value)


def _number_json(value: Any) -> str:
    kind = value.__class__
    if kind is Decimal:
        return f"{value:f}"
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is str:
        return _text_json(value) if kind is str else int.__repr__(value)
    return f"{value:f}" if isinstance(value, Decimal) else _COMPACT.encode(value)


def _finding_json(finding: Finding) -> str:
    """``_COMPACT.encode(finding.to_dict())``, written directly (keys in the same order, the same separators)."""
    approver = "" if finding.approver is None else f', "approver": {_text_json(finding.approver)}'
    refer_to = "" if finding.refer_to is None else f', "refer_to": {_text_json(finding.refer_to)}'
    return (
        f'{{"rule_id": {_text_json(finding.rule_id)}, "module": {_text_json(finding.module)}, '
        f'"action": {_text_json(finding.action)}{approver}{refer_to}, "message": {_text_json(finding.message)}, '
        f'"reference": {_text_json(finding.reference)}}}'
    )


def build_decision(placement_id: str, derived: Derived, fired: set[str], book: Rulebook) -> Decision:
    rules, positions = _rule_positions(book)
    findings = [
        _finding(rules[at], derived, book)
        for at in sorted(at for rule_id in fired for at in positions.get(rule_id, ()))
    ]
    actions = [f.action for f in findings if f.action != "info"]
    outcome = max(actions, key=SEVERITY.__getitem__) if actions else "proceed"
    values = derived.values
    figures: dict[str, Any] = {}
    for flag, items in _figure_segments(book, derived.shown):  # as ``derived.figures``, a flag tested once a run
        if flag is None or values.get(flag) is True:
            for name, write in items:
                figures[name] = values.get(name) if write is None else write(values.get(name))
    guide = price_guide(derived)
    return Decision(
        placement_id=placement_id,
        as_at=derived.as_at,
        rulebook_version=book.version,
        outcome=outcome,
        figures=figures,
        findings=tuple(findings),
        parameters=_parameters_read(book, derived),
        price_guide=guide[0] if guide else None,
        price_guide_json=guide[1] if guide else "",
        payments=payments(values),
    )


# id of a rulebook's rules → (them, each rule id's places among them)
_POSITIONS: dict[int, tuple[tuple[Rule, ...], dict[str, tuple[int, ...]]]] = {}


def _rule_positions(book: Rulebook) -> tuple[tuple[Rule, ...], dict[str, tuple[int, ...]]]:
    """The rulebook's rules and where each id stands among them: the rules that fired are found in the rulebook's
    order without testing every rule."""
    rules = book.rules
    found = _POSITIONS.get(id(rules))
    if found is not None and found[0] is rules:
        return found
    positions: dict[str, tuple[int, ...]] = {}
    for at, rule in enumerate(rules):
        positions[rule.id] = (*positions.get(rule.id, ()), at)
    if len(_POSITIONS) >= PARAMETERS_READ_KEPT:
        _POSITIONS.clear()
    found = _POSITIONS[id(rules)] = (rules, positions)
    return found


_Segments = tuple[tuple[str | None, tuple[tuple[str, Any], ...]], ...]
# id of a service's shown figures → (them, the rulebook's writers, their runs): kept with what they were made from,
# so an id cannot be reused while its entry stands
_SEGMENTS: dict[int, tuple[object, object, _Segments]] = {}


def _figure_segments(book: Rulebook, shown: tuple[tuple[str, str], ...]) -> _Segments:
    """The shown figures in order, in runs under the same flag (None: always shown), each with its writer (None
    where the value is shown as it is): made once per rulebook and service."""
    writers = book.compiled.figure_writers
    found = _SEGMENTS.get(id(shown))
    if found is not None and found[0] is shown and found[1] is writers:
        return found[2]
    if not writers:
        writers.update({name: FIGURE_WRITERS[kind] for name, kind in book.compiled.figure_kinds.items()})
    runs: list[tuple[str | None, list[tuple[str, Any]]]] = []
    for name, flag in shown:
        key = None if flag == "always" else flag
        write = None if writers[name] is as_is else writers[name]
        if runs and runs[-1][0] == key:
            runs[-1][1].append((name, write))
        else:
            runs.append((key, [(name, write)]))
    segments = tuple((key, tuple(items)) for key, items in runs)
    if len(_SEGMENTS) >= PARAMETERS_READ_KEPT:
        _SEGMENTS.clear()
    _SEGMENTS[id(shown)] = (shown, writers, segments)
    return segments


# (id of the rulebook's entries, the names read in the order read, the editions read) → (those entries, the
# parameters read): the same names read at the same editions of the same rulebook give the same entries, whatever
# the date decided. The rulebook's entries are kept with the list, so their id cannot be reused while it stands.
_PARAMETERS_READ: dict[tuple[int, tuple[str, ...], tuple[date | None, ...]], tuple[object, tuple[ParameterRead, ...]]]
_PARAMETERS_READ = {}
PARAMETERS_READ_KEPT = VALUES_AT_KEPT  # distinct lists kept: the bound on dates' values kept (memory, not policy)
_EDITION = itemgetter(1)


def _parameters_read(book: Rulebook, derived: Derived) -> tuple[ParameterRead, ...]:
    """Every parameter the decision read, by name: built once per rulebook, names read and their editions."""
    read, reads = derived.read, book.compiled.parameter_reads
    key = (id(reads), tuple(read), tuple(map(_EDITION, read.values())))
    found = _PARAMETERS_READ.get(key)
    if found is not None and found[0] is reads:
        return found[1]
    entries = tuple(_parameter_read(book, name, value, effective) for name, (value, effective) in sorted(read.items()))
    if len(_PARAMETERS_READ) >= PARAMETERS_READ_KEPT:
        _PARAMETERS_READ.clear()
    _PARAMETERS_READ[key] = (reads, entries)
    return entries


def _parameter_read(book: Rulebook, name: str, value: Any, effective: date | None) -> ParameterRead:
    """The same parameter read at the same edition is the same (immutable) entry: built once per rulebook."""
    reads = book.compiled.parameter_reads
    key = (name, effective)
    if key not in reads:
        read = ParameterRead(
            name, parameter_value(book.parameters[name], value), effective, book.parameters[name].reference.text
        )
        reads[key] = replace(read, compact_json=dumps(read.to_dict(), indent=None))
    return reads[key]  # type: ignore[no-any-return]


def _finding(rule: Rule, derived: Derived, book: Rulebook) -> Finding:
    band = derived.bands.get(rule.approver_from) if rule.approver_from else None
    approver = rule.approver or (band.approver if band else None)
    message = render(rule, derived, book)
    action = rule.action
    if rule.info_condition is not None and _info_test(rule.info_condition)(derived.values):
        action, approver = "info", None  # for information only here (an in-house provider: SPEC §16.1)
    return Finding(rule.id, rule.module, action, approver, message, rule.reference.text, rule.refer_to)  # type: ignore[arg-type]


# id of a rule's info condition → (it, its compiled test): kept with the condition so its id is not reused
_INFO_TESTS: dict[int, tuple[Cond, Test]] = {}


def _info_test(condition: Cond) -> Test:
    found = _INFO_TESTS.get(id(condition))
    if found is not None and found[0] is condition:
        return found[1]
    if len(_INFO_TESTS) >= PARAMETERS_READ_KEPT:
        _INFO_TESTS.clear()
    test = compiled(condition)
    _INFO_TESTS[id(condition)] = (condition, test)
    return test
