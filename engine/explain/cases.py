"""Worked cases: read ``cases/**/*.yaml`` and run each case against a rulebook. One runner, two front ends:
the pytest plugin (``cases/conftest.py``) and ``carerules test``.

A case file is a list of cases, or a mapping with ``cases`` and optionally ``parameters`` (pinned for every case
of the file) and ``providers`` (the provider register every case of the file is decided with). A case is a
mapping with

- ``name``: a sentence saying what the case shows; ``source``: where its expected figures come from;
- ``input``: the placement's fields (money as strings like ``"1040.00"`` or as numbers);
- ``as_at`` (optional): the date to decide at, overriding the placement's own;
- ``parameters`` (optional): dated values the case relies on, ``{name: {date: value}}``. Each parameter
  named takes exactly these values for the case (its whole history is replaced, as OpenFisca test
  ``parameters`` do), so a new edition of an illustrative rate does not change the case's answer;
- ``providers`` (optional): the provider register, as a list of its rows ``{provider_id: ..., framework_from:
  ..., cqc_rating: ..., quality_status: ..., quality_status_from: ...}`` written as in the register's file
  (SPEC §17); it replaces the file's. Without one, no register is given (the PRV rules do not run);
- ``expect``: a decision — ``outcome``, ``rule_ids`` (exact, in rulebook order), optionally ``approvers``,
  ``figures`` (a subset; money and percentages as 2-dp strings, counts as ints, null when not applicable),
  ``message_contains`` ({rule_id: substring}) and ``payments`` (every line, in order, as ``[payer, payee,
  "weekly"]``; null when the decision has none) — or an input error: ``error_fields`` ({field: substring}).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from engine.decide import Engine
from engine.editions.whatif import with_overrides
from engine.rulebook.loader import Rulebook
from engine.rulebook.strict_yaml import Node
from engine.validate.placement import InputError
from engine.validate.register import ProviderRegister, read_provider

CASE_KEYS = {"name", "source", "input", "expect"}
OPTIONAL_CASE_KEYS = {"as_at", "parameters", "providers"}
FILE_KEYS = {"parameters", "providers"}
DECISION_KEYS = {"outcome", "rule_ids"}
OPTIONAL_DECISION_KEYS = {"approvers", "figures", "message_contains", "payments"}


class CaseFileError(Exception):
    """A case file that is not a well-formed list of cases."""


@dataclass(frozen=True)
class Case:
    path: Path
    name: str
    source: str
    input: dict[str, Any]
    expect: dict[str, Any]
    as_at: date | None = None
    parameters: dict[str, dict[date, Any]] = field(default_factory=dict)
    providers: ProviderRegister | None = None


@dataclass
class Mismatch:
    what: str
    expected: Any
    actual: Any


@dataclass
class Outcome:
    """What running a case found: nothing wrong (``ok``), or its mismatches and a summary of the actual result."""

    mismatches: list[Mismatch] = field(default_factory=list)
    actual: str = ""

    @property
    def ok(self) -> bool:
        return not self.mismatches


class _CaseLoader(yaml.SafeLoader):
    """Keeps dates as the text a JSON caller would send, and refuses duplicate keys."""


_CaseLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _no_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Node:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # a YAML merge key (<<: *base) may be overridden by the keys written after it
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise CaseFileError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
        seen.add(key)
    loader.flatten_mapping(node)
    # a Node, so that a pinned table parameter (approval bands) is checked like the rule files' own
    result = Node()
    result.path, result.line, result.key_lines = loader.name, node.start_mark.line + 1, {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[str(key)] = key_node.start_mark.line + 1
    return result


_CaseLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def case_files(paths: list[Path]) -> list[Path]:
    """Every ``*.yaml`` under the paths given (a file is taken as it is), in a stable order."""
    found: list[Path] = []
    for path in paths:
        found += sorted(path.rglob("*.yaml")) if path.is_dir() else [path]
    return found


def load_cases(path: Path) -> list[Case]:
    try:
        with path.open(encoding="utf-8") as stream:
            loaded = yaml.load(stream, Loader=_CaseLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise CaseFileError(f"{path}: not valid YAML: {exc}") from None
    shared: dict[str, Any] = {}
    register = None
    if isinstance(loaded, dict):
        if "cases" not in loaded or set(loaded) - FILE_KEYS - {"cases"}:
            raise CaseFileError(
                f"{path}: a case file is a list of cases, or a mapping of cases with parameters and/or providers"
            )
        if "parameters" in loaded:
            shared = _parameters(path, "the file", loaded["parameters"])
        if "providers" in loaded:
            register = _providers(path, "the file", loaded["providers"])
        loaded = loaded["cases"]
    if not isinstance(loaded, list) or not loaded:
        raise CaseFileError(f"{path}: a case file is a non-empty list of cases")
    cases, names = [], set()
    for index, raw in enumerate(loaded):
        case = _case(path, index, raw, shared, register)
        if case.name in names:
            raise CaseFileError(f"{path}: case name used twice: {case.name!r}")
        names.add(case.name)
        cases.append(case)
    return cases


def _parameters(path: Path, where: str, raw: Any) -> dict[str, dict[date, Any]]:
    if not isinstance(raw, dict) or not all(isinstance(v, dict) and v for v in raw.values()):
        raise CaseFileError(f"{path}: {where}: parameters map a parameter name to dated values")
    try:
        return {str(name): {date.fromisoformat(str(d)): v for d, v in values.items()} for name, values in raw.items()}
    except ValueError as exc:
        raise CaseFileError(f"{path}: {where}: parameters are dated YYYY-MM-DD: {exc}") from None


def _providers(path: Path, where: str, raw: Any) -> ProviderRegister:
    """A register written in a case file: a list of its rows, each read as the register's file is."""
    if not isinstance(raw, list) or not all(isinstance(row, dict) and row.get("provider_id") for row in raw):
        raise CaseFileError(f"{path}: {where}: providers is a list of register rows, each with its provider_id")
    providers = {}
    for row in raw:
        try:
            entry = read_provider({str(k): None if v is None else str(v) for k, v in row.items()})
        except ValueError as exc:
            raise CaseFileError(f"{path}: {where}: provider {row['provider_id']!r}: {exc}") from None
        providers[entry.provider_id] = entry
    return ProviderRegister(providers, f"{path.name} {where}")


def _case(
    path: Path, index: int, case: Any, shared: dict[str, dict[date, Any]], register: ProviderRegister | None = None
) -> Case:
    where = f"{path}: case {index + 1}"
    if not isinstance(case, dict):
        raise CaseFileError(f"{where}: a case is a mapping")
    missing, unknown = CASE_KEYS - set(case), set(case) - CASE_KEYS - OPTIONAL_CASE_KEYS
    if missing or unknown:
        raise CaseFileError(f"{where} ({case.get('name')!r}): missing {sorted(missing)}, unknown {sorted(unknown)}")
    expect = case["expect"]
    if not isinstance(expect, dict):
        raise CaseFileError(f"{where}: expect is a mapping")
    if "error_fields" in expect:
        if set(expect) != {"error_fields"} or not isinstance(expect["error_fields"], dict):
            raise CaseFileError(f"{where}: an input-error case expects only error_fields {{field: substring}}")
    else:
        missing, unknown = DECISION_KEYS - set(expect), set(expect) - DECISION_KEYS - OPTIONAL_DECISION_KEYS
        if missing or unknown:
            raise CaseFileError(
                f"{where} ({case['name']!r}): expect missing {sorted(missing)}, unknown {sorted(unknown)}"
            )
        for name, value in (expect.get("figures") or {}).items():
            if isinstance(value, float):
                raise CaseFileError(f"{where}: figure {name} must be written as a 2-dp string, not the float {value!r}")
    own = _parameters(path, where, case["parameters"]) if "parameters" in case else {}
    as_at = date.fromisoformat(case["as_at"]) if case.get("as_at") else None
    if "providers" in case:
        register = _providers(path, where, case["providers"])
    return Case(
        path,
        str(case["name"]),
        str(case["source"]),
        dict(case["input"]),
        dict(expect),
        as_at,
        {**shared, **own},
        register,
    )


def iter_cases(paths: list[Path]) -> Iterator[Case]:
    for path in case_files(paths):
        yield from load_cases(path)


class CaseRunner:
    """Runs cases against one rulebook; a case that pins parameters runs against a copy with exactly them."""

    def __init__(self, book: Rulebook) -> None:
        self.book = book
        self._engines: dict[str, Engine] = {"": Engine(book)}

    def engine_for(self, case: Case) -> Engine:
        if not case.parameters:
            return self._engines[""]
        key = repr(sorted((name, sorted(values.items())) for name, values in case.parameters.items()))
        if key not in self._engines:
            self._engines[key] = Engine(pinned(self.book, case.parameters, f"case pins in {case.path.name}"))
        return self._engines[key]

    def run(self, case: Case) -> Outcome:
        expect = case.expect
        try:
            decision = self.engine_for(case).decide(dict(case.input), case.as_at, case.providers).to_dict()
        except InputError as exc:
            if "error_fields" not in expect:
                return Outcome([Mismatch("result", "a decision", f"input error {exc.fields}")], str(exc.fields))
            return _check_error(expect["error_fields"], exc.fields)
        if "error_fields" in expect:
            wanted = f"input error on {sorted(expect['error_fields'])}"
            return Outcome([Mismatch("result", wanted, "a decision")], summary(decision))
        return _check_decision(expect, decision)


def pinned(book: Rulebook, parameters: dict[str, dict[date, Any]], source: str) -> Rulebook:
    """The rulebook with each named parameter holding exactly the dated values given (its history replaced)."""
    cleared = dict(book.parameters)
    for name in parameters:
        if name in cleared:
            cleared[name] = replace(cleared[name], dates=(), values=())
    return with_overrides(replace(book, parameters=cleared), parameters, source)


def _check_error(expected: dict[str, str], fields: dict[str, list[str]]) -> Outcome:
    mismatches = []
    if set(expected) != set(fields):
        mismatches.append(Mismatch("fields in error", sorted(expected), sorted(fields)))
    for name, substring in expected.items():
        messages = fields.get(name, [])
        if name in fields and not any(str(substring).lower() in m.lower() for m in messages):
            mismatches.append(Mismatch(f"message for {name}", f"contains {substring!r}", messages))
    return Outcome(mismatches, f"input error: {fields}")


def _check_decision(expect: dict[str, Any], decision: dict[str, Any]) -> Outcome:
    findings = decision["findings"]
    mismatches = []
    if decision["outcome"] != expect["outcome"]:
        mismatches.append(Mismatch("outcome", expect["outcome"], decision["outcome"]))
    rule_ids = [f["rule_id"] for f in findings]
    if rule_ids != list(expect["rule_ids"]):
        mismatches.append(Mismatch("rule_ids", list(expect["rule_ids"]), rule_ids))
    if "approvers" in expect:
        approvers = [f["approver"] for f in findings if f.get("approver")]
        if approvers != list(expect["approvers"]):
            mismatches.append(Mismatch("approvers", list(expect["approvers"]), approvers))
    for name, wanted in (expect.get("figures") or {}).items():
        if name not in decision["figures"]:
            mismatches.append(Mismatch(f"figures.{name}", wanted, "(not in the decision's figures)"))
            continue
        got = shown(decision["figures"][name])
        if type(got) is not type(wanted) or got != wanted:
            mismatches.append(Mismatch(f"figures.{name}", wanted, got))
    if "payments" in expect:
        wanted_lines = None if expect["payments"] is None else [list(line) for line in expect["payments"]]
        lines = decision.get("payments")
        got_lines = None if lines is None else [[p["payer"], p["payee"], shown(p["weekly"])] for p in lines]
        if got_lines != wanted_lines:
            mismatches.append(Mismatch("payments", wanted_lines, got_lines))
    by_rule = {f["rule_id"]: f["message"] for f in findings}
    for rule_id, substring in (expect.get("message_contains") or {}).items():
        if rule_id not in by_rule:
            mismatches.append(Mismatch(f"message of {rule_id}", f"contains {substring!r}", "(rule did not fire)"))
        elif substring not in by_rule[rule_id]:
            mismatches.append(Mismatch(f"message of {rule_id}", f"contains {substring!r}", by_rule[rule_id]))
    return Outcome(mismatches, summary(decision))


def shown(value: Any) -> Any:
    """A figure as the cases write it: Decimal → its exact text (2 dp), int/None unchanged."""
    if isinstance(value, Decimal):
        return str(value)
    return value


def summary(decision: dict[str, Any]) -> str:
    figures = ", ".join(f"{name}={shown(value)}" for name, value in decision["figures"].items())
    findings = "\n".join(
        f"    {f['rule_id']} {f['action']}{' (' + f['approver'] + ')' if f.get('approver') else ''}: {f['message']}"
        for f in decision["findings"]
    )
    return f"  outcome {decision['outcome']} as at {decision['as_at']}\n  figures: {figures}\n  findings:\n{findings}"


def describe(case: Case, outcome: Outcome) -> list[str]:
    """The lines a failing case prints: where it is, what it says, and expected against actual."""
    lines = [
        f"case file: {case.path}",
        f"case:      {case.name}",
        f"source:    {case.source}",
        f"input:     {case.input}" + (f"  (as_at {case.as_at})" if case.as_at else ""),
    ]
    for mismatch in outcome.mismatches:
        lines += [f"  {mismatch.what}:", f"    expected: {mismatch.expected!r}", f"    actual:   {mismatch.actual!r}"]
    return [*lines, "actual decision:", outcome.actual]
