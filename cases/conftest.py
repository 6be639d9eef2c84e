"""Worked cases as data: a small pytest plugin that collects every ``cases/**/*.yaml`` file.

Each file holds a list of cases. A case is a mapping with

- ``name``: a sentence saying what the case shows;
- ``source``: where its expected figures come from (SPEC section, parameter and date);
- ``input``: the placement's fields as in SPEC §3 (money as strings like ``"1040.00"`` or as numbers);
- ``as_at`` (optional): the date to decide at, overriding the placement's own (as ``carerules check --as-at``);
- ``expect``: either a decision — ``outcome``, ``rule_ids`` (the exact fired rule ids, in rulebook order), and
  optionally ``approvers`` (the approvers of the findings, in order), ``figures`` (a subset, compared exactly:
  money and percentages as 2-dp strings, counts as ints, ``null`` for a figure that does not apply) and
  ``message_contains`` ({rule_id: substring}) — or an input error: ``error_fields`` ({field: substring of one
  of its messages}; exactly these fields must be in error).

Each case is one pytest item, named ``<file>::<case name>``. A failing case prints the file, the case name,
its source, and expected against actual for every part that differs (modelled on OpenFisca's YAML test
runner, ``openfisca_core/tools/test_runner.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.evaluate.engine import default_engine
from engine.validate.placement import InputError

CASE_KEYS = {"name", "source", "input", "expect"}
OPTIONAL_CASE_KEYS = {"as_at"}
DECISION_KEYS = {"outcome", "rule_ids"}
OPTIONAL_DECISION_KEYS = {"approvers", "figures", "message_contains"}


class CaseFileError(Exception):
    """A case file that is not a well-formed list of cases."""


class _CaseLoader(yaml.SafeLoader):
    """Keeps dates as the text a JSON caller would send, and refuses duplicate keys."""


_CaseLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _no_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # a YAML merge key (<<: *base) may be overridden by the keys written after it
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise CaseFileError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
        seen.add(key)
    loader.flatten_mapping(node)
    return {
        loader.construct_object(key_node, deep=True): loader.construct_object(value_node, deep=True)
        for key_node, value_node in node.value
    }


_CaseLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix == ".yaml":
        return CaseFile.from_parent(parent, path=file_path)
    return None


class CaseFile(pytest.File):
    def collect(self):  # type: ignore[no-untyped-def]
        with self.path.open(encoding="utf-8") as stream:
            cases = yaml.load(stream, Loader=_CaseLoader)  # noqa: S506 - a SafeLoader subclass
        if not isinstance(cases, list) or not cases:
            raise CaseFileError(f"{self.path}: a case file is a non-empty list of cases")
        names: set[str] = set()
        for index, case in enumerate(cases):
            _check_case(self.path, index, case)
            if case["name"] in names:
                raise CaseFileError(f"{self.path}: case name used twice: {case['name']!r}")
            names.add(case["name"])
            yield CaseItem.from_parent(self, name=case["name"], case=case)


def _check_case(path: Path, index: int, case: Any) -> None:
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
        return
    missing, unknown = DECISION_KEYS - set(expect), set(expect) - DECISION_KEYS - OPTIONAL_DECISION_KEYS
    if missing or unknown:
        raise CaseFileError(f"{where} ({case['name']!r}): expect missing {sorted(missing)}, unknown {sorted(unknown)}")
    for name, value in (expect.get("figures") or {}).items():
        if isinstance(value, float):
            raise CaseFileError(f"{where}: figure {name} must be written as a 2-dp string, not the float {value!r}")


@dataclass
class Mismatch:
    what: str
    expected: Any
    actual: Any


class CaseFailed(Exception):
    def __init__(self, mismatches: list[Mismatch], actual: str) -> None:
        self.mismatches, self.actual = mismatches, actual
        super().__init__(f"{len(mismatches)} mismatch(es)")


def _shown(value: Any) -> Any:
    """A figure as the cases write it: Decimal → its exact text (2 dp), int/None unchanged."""
    if isinstance(value, Decimal):
        return str(value)
    return value


class CaseItem(pytest.Item):
    def __init__(self, *, case: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        case, expect = self.case, self.case["expect"]
        as_at = date.fromisoformat(case["as_at"]) if case.get("as_at") else None
        try:
            decision = default_engine().decide(dict(case["input"]), as_at).to_dict()
        except InputError as exc:
            if "error_fields" not in expect:
                mismatch = Mismatch("result", "a decision", f"input error {exc.fields}")
                raise CaseFailed([mismatch], str(exc.fields)) from None
            self._check_error(expect["error_fields"], exc.fields)
            return
        if "error_fields" in expect:
            raise CaseFailed(
                [Mismatch("result", f"input error on {sorted(expect['error_fields'])}", "a decision")],
                _summary(decision),
            )
        self._check_decision(expect, decision)

    def _check_error(self, expected: dict[str, str], fields: dict[str, list[str]]) -> None:
        mismatches = []
        if set(expected) != set(fields):
            mismatches.append(Mismatch("fields in error", sorted(expected), sorted(fields)))
        for name, substring in expected.items():
            messages = fields.get(name, [])
            if name in fields and not any(str(substring).lower() in m.lower() for m in messages):
                mismatches.append(Mismatch(f"message for {name}", f"contains {substring!r}", messages))
        if mismatches:
            raise CaseFailed(mismatches, f"input error: {fields}")

    def _check_decision(self, expect: dict[str, Any], decision: dict[str, Any]) -> None:
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
            got = _shown(decision["figures"][name])
            if type(got) is not type(wanted) or got != wanted:
                mismatches.append(Mismatch(f"figures.{name}", wanted, got))
        by_rule = {f["rule_id"]: f["message"] for f in findings}
        for rule_id, substring in (expect.get("message_contains") or {}).items():
            if rule_id not in by_rule:
                mismatches.append(Mismatch(f"message of {rule_id}", f"contains {substring!r}", "(rule did not fire)"))
            elif substring not in by_rule[rule_id]:
                mismatches.append(Mismatch(f"message of {rule_id}", f"contains {substring!r}", by_rule[rule_id]))
        if mismatches:
            raise CaseFailed(mismatches, _summary(decision))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if not isinstance(excinfo.value, CaseFailed):
            return super().repr_failure(excinfo)
        lines = [
            f"case file: {self.path}",
            f"case:      {self.name}",
            f"source:    {self.case['source']}",
            f"input:     {self.case['input']}" + (f"  (as_at {self.case['as_at']})" if self.case.get("as_at") else ""),
        ]
        for mismatch in excinfo.value.mismatches:
            lines += [f"  {mismatch.what}:", f"    expected: {mismatch.expected!r}"]
            lines += [f"    actual:   {mismatch.actual!r}"]
        lines += ["actual decision:", excinfo.value.actual]
        return "\n".join(lines)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"case: {self.name}"


def _summary(decision: dict[str, Any]) -> str:
    figures = ", ".join(f"{name}={_shown(value)}" for name, value in decision["figures"].items())
    findings = "\n".join(
        f"    {f['rule_id']} {f['action']}{' (' + f['approver'] + ')' if f.get('approver') else ''}: {f['message']}"
        for f in decision["findings"]
    )
    return f"  outcome {decision['outcome']} as at {decision['as_at']}\n  figures: {figures}\n  findings:\n{findings}"
