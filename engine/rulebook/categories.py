"""The care categories a care-home placement is priced in, and the benchmark kinds they are measured against.

``rules/tables/care_categories.yaml`` declares the kinds of benchmark (each with the words people read) and the
categories: an id (what the placement's ``lot`` holds), a label, the name KPIs and charts give it (``scope``),
its derivation from placement fields (a condition in the rules' condition language; the first category whose
condition holds is the placement's), its benchmark parameter and that benchmark's kind. Everything is checked
when the rulebook loads: a refusal names the file, the line and the reason.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.language import conditions
from engine.language.figure_language import E
from engine.language.vocabulary import ENUMS, FIELDS, Kind
from engine.rulebook.strict_yaml import Node, RulebookError, check_keys, load_yaml

CATEGORIES_FILE = Path("tables") / "care_categories.yaml"
KIND_NAMES = ("laingbuisson_median", "usual_cost", "framework_rate", "fair_cost_of_care", "care_cubed")


@dataclass(frozen=True)
class Category:
    id: int
    label: str
    scope: str  # how KPIs, breakdowns and charts name it
    when: str  # the derivation as written
    condition: conditions.Cond
    benchmark: str  # the parameter its benchmark is
    kind: str  # one of the rulebook's benchmark kinds
    kind_label: str
    kind_short: str  # the kind's short word in running text (``median``)
    fixes: tuple[tuple[str, str | bool], ...]  # the fields its derivation fixes (``care_type == "x"``), in order

    def fixed(self, field: str) -> str | bool | None:
        """The value the derivation fixes for ``field`` (a conjunct ``field == value``), else None."""
        return next((value for name, value in self.fixes if name == field), None)


@dataclass(frozen=True)
class Categories:
    kinds: dict[str, tuple[str, str]]  # kind → its label and its short word
    noun: str  # what people call one category (``Lot``)
    all_scope: str  # how KPIs name every category together
    items: tuple[Category, ...]

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(category.id for category in self.items)

    def get(self, category_id: object) -> Category | None:
        return next((category for category in self.items if category.id == category_id), None)

    def benchmark_words(self) -> tuple[str, str]:
        """The label and short word for the benchmark of every category together: its kind's, when they share one
        (else the first category's kind's: a rulebook mixing kinds words its texts itself)."""
        return next(iter(self.items)).kind_label, next(iter(self.items)).kind_short


def load_categories(root: Path, parameters: dict[str, Any]) -> Categories:
    path = root / CATEGORIES_FILE
    if not path.is_file():
        raise RulebookError(path, None, f"no care categories table (rules/{CATEGORIES_FILE.as_posix()})")
    node = check_keys(
        load_yaml(path),
        {"description", "reference", "benchmark_kinds", "noun", "all_categories", "categories"},
        set(),
        "care categories table",
    )
    kinds = node["benchmark_kinds"]
    if not isinstance(kinds, Node) or not kinds:
        raise node.error("benchmark_kinds map each kind to its label", "benchmark_kinds")
    words: dict[str, tuple[str, str]] = {}
    for kind, about in kinds.items():
        if kind not in KIND_NAMES:
            raise kinds.error(f"benchmark kind {kind!r} is not one of {', '.join(KIND_NAMES)}", kind)
        about = check_keys(about, {"label", "short"}, set(), f"benchmark kind {kind}")
        for key in ("label", "short"):
            if not (isinstance(about[key], str) and about[key].strip()):
                raise about.error(f"benchmark kind {kind}: {key} must be text", key)
        words[str(kind)] = (about["label"].strip(), about["short"].strip())
    for key in ("noun", "all_categories"):
        if not (isinstance(node[key], str) and node[key].strip()):
            raise node.error(f"{key} must be text (how people name one category, and all of them)", key)
    rows = node["categories"]
    if not isinstance(rows, list) or not rows:
        raise node.error("categories must be a list of care categories", "categories")
    items: list[Category] = []
    for row in rows:
        items.append(_category(row, words, parameters, items))
    units = {parameters[category.benchmark].unit for category in items}
    if len(units) != 1:
        raise node.error(
            f"the categories' benchmarks are not all of one unit ({', '.join(sorted(units))})", "categories"
        )
    _check_coverage(node, items)
    return Categories(words, node["noun"].strip(), node["all_categories"].strip(), tuple(items))


def _check_coverage(node: Node, items: list[Category]) -> None:
    """When the derivations read only fields of names and flags, every combination of their values must fall in a
    category, and every category must be the first to hold for one (else it could never be chosen)."""
    names = sorted(set().union(*(conditions.names_in(category.condition) for category in items)))
    choices: list[tuple[str | bool, ...]] = [
        ENUMS[name] if FIELDS[name] is Kind.ENUM else (False, True) for name in names if name in FIELDS
    ]
    if len(choices) != len(names) or any(FIELDS[name] not in (Kind.ENUM, Kind.BOOL) for name in names):
        return  # a derivation reads a number: its coverage is the council's to test with worked cases
    chosen: set[int] = set()
    for values in itertools.product(*choices):
        record: dict[str, conditions.Value | None] = dict(zip(names, values, strict=True))
        first = next((c for c in items if conditions.evaluate(c.condition, record)), None)
        if first is None:
            shown = ", ".join(f"{k} {str(v).lower() if isinstance(v, bool) else v}" for k, v in record.items())
            raise node.error(f"no care category covers placements with {shown}", "categories")
        chosen.add(first.id)
    for category in items:
        if category.id not in chosen:
            raise node.error(
                f"care category {category.id} is never chosen: a category before it covers it", "categories"
            )


def _category(
    row: Node, kinds: dict[str, tuple[str, str]], parameters: dict[str, Any], before: list[Category]
) -> Category:
    row = check_keys(row, {"id", "label", "scope", "when", "benchmark", "kind"}, set(), "care category")
    number = row["id"]
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise row.error(f"id must be a positive whole number, not {number!r}", "id")
    if any(other.id == number for other in before):
        raise row.error(f"care category {number} is listed twice", "id")
    for key in ("label", "scope", "when"):
        if not (isinstance(row[key], str) and row[key].strip()):
            raise row.error(f"care category {number}: {key} must be text", key)
    if row["kind"] not in kinds:
        raise row.error(f"care category {number}: benchmark kind {row['kind']!r} is not declared", "kind")
    benchmark = row["benchmark"]
    if benchmark not in parameters:
        raise row.error(f"care category {number}: no parameter {benchmark!r} for its benchmark", "benchmark")
    if parameters[benchmark].kind is not Kind.MONEY:
        raise row.error(f"care category {number}: its benchmark {benchmark} is not a sum of money", "benchmark")
    when = " ".join(row["when"].split())
    try:
        condition = conditions.parse(when, FIELDS, ENUMS)
    except conditions.ConditionError as exc:
        raise row.error(f"care category {number}: {exc}", "when") from None
    return Category(
        number,
        row["label"].strip(),
        row["scope"].strip(),
        when,
        condition,
        benchmark,
        row["kind"],
        *kinds[row["kind"]],
        _fixes(condition),
    )


def _fixes(condition: conditions.Cond) -> tuple[tuple[str, str | bool], ...]:
    """The fields a derivation fixes: its top-level conjuncts ``field == value`` (``not flag`` is flag false)."""
    items = condition.items if isinstance(condition, conditions.All) else (condition,)
    fixes: list[tuple[str, str | bool]] = []
    for item in items:
        if not (isinstance(item, conditions.Cmp) and isinstance(item.left, conditions.Ref)):
            continue
        if not isinstance(item.right, conditions.Const) or FIELDS.get(item.left.name) not in (Kind.ENUM, Kind.BOOL):
            continue
        value = item.right.value
        if item.op == "==" and isinstance(value, str | bool):
            fixes.append((item.left.name, value))
        elif item.op == "!=" and isinstance(value, bool):
            fixes.append((item.left.name, not value))
    return tuple(fixes)


def undeclared_in(condition: conditions.Cond, ids: tuple[int, ...]) -> int | str | bool | None:
    """A category a condition compares ``lot`` with that is not declared, else None."""
    items = condition.items if isinstance(condition, conditions.All | conditions.Any) else (condition,)
    for item in items:
        if isinstance(item, conditions.All | conditions.Any):
            found = undeclared_in(item, ids)
            if found is not None:
                return found
            continue
        sides = (item.left, item.right)
        if any(isinstance(s, conditions.Ref) and s.name == "lot" for s in sides):
            for side in sides:
                if isinstance(side, conditions.Const) and side.value not in ids:
                    return side.value
    return None


def figure_undeclared(expr: E, ids: tuple[int, ...]) -> object | None:
    """A care category a figure's formula compares ``lot`` with that is not declared, else None."""
    if expr.op == "cmp":
        _, left, right = expr.args
        named = any(side.op in ("field", "figure") and side.args[0] == "lot" for side in (left, right))
        for side in (left, right):
            if named and side.op in ("literal", "const") and side.args[0] not in ids:
                value: object = side.args[0]
                return value
    for arg in expr.args:
        if isinstance(arg, E):
            found = figure_undeclared(arg, ids)
            if found is not None:
                return found
    return None
