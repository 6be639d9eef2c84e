"""Derived figures declared once in ``rules/figures.yaml``: loaded, checked and put in dependency order.

Each figure has a name, a kind, a description, a reference, a formula (one for every service, or one per
service) in the figure language (``engine/language/figure_language.py``), and ``shown`` when the decision
reports it, with the ``label`` the page shows for it. The checked formulas are compiled twice:
``engine/language/scalar_figures.py`` for single decisions, ``engine/language/vector_figures.py`` for books.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.language.figure_language import Checker, E, FigureError, depends_on
from engine.language.vocabulary import Kind
from engine.rulebook.categories import Categories, figure_undeclared
from engine.rulebook.services import OTHER_SERVICES, Service, expand
from engine.rulebook.strict_yaml import Node, RulebookError, check_keys, load_yaml

FIGURES_FILE = Path("figures.yaml")
KINDS = {"money": Kind.MONEY, "quantity": Kind.QUANTITY, "percent": Kind.PERCENT, "count": Kind.COUNT}
KINDS |= {"bool": Kind.BOOL, "enum": Kind.ENUM, "date": Kind.DATE}


@dataclass(frozen=True)
class Figure:
    name: str
    kind: Kind
    description: str
    reference: str
    formulas: dict[str, E]  # service → expression (the figure is null for other services)
    shown: str | None  # None: not in the decision; "always" or a bool field/figure that must be true
    enum: str | None = None
    label: str | None = None  # the words the page shows for it (None: its name, humanised)
    label_with_top_up: str | None = None  # the page's words for it when a top-up is proposed

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(self.formulas)


def load_figures(
    root: Path,
    parameters: dict[str, Any],
    fields: dict[str, Kind],
    keys: dict[str, tuple[Any, ...]],
    services: tuple[Service, ...],
    categories: Categories | None = None,
) -> dict[str, Figure]:
    """Read and check ``figures.yaml``; ``keys`` lists the values of each name ``param()`` may be keyed by, and
    ``categories`` are what ``category()``, ``category_fixes()`` and ``benchmark()`` read."""
    path = root / FIGURES_FILE
    if not path.is_file():
        raise RulebookError(path, None, "no figures.yaml")
    node = check_keys(load_yaml(path), {"description", "figures"}, set(), "figures file")
    rows = node["figures"]
    if not isinstance(rows, list) or not rows:
        raise node.error("figures must be a list", "figures")
    declared: dict[str, tuple[Kind, str | None]] = {}
    for row in rows:
        row = check_keys(
            row,
            {"name", "kind", "description", "reference", "formula"},
            {"shown", "enum", "label", "label_with_top_up"},
            "figure",
        )
        if row["kind"] not in KINDS:
            raise row.error(f"kind must be one of {', '.join(KINDS)}", "kind")
        if row["name"] in declared:
            raise row.error(f"figure {row['name']!r} is declared twice", "name")
        declared[row["name"]] = (KINDS[row["kind"]], row.get("enum"))
    figures: dict[str, Figure] = {}
    for row in rows:
        name, (kind, enum) = row["name"], declared[row["name"]]
        formula = row["formula"]
        formulas = expand(
            dict(formula) if isinstance(formula, Node) else {OTHER_SERVICES: formula}, services, row, "formula"
        )
        checked = {}
        for service, text in formulas.items():
            try:
                checker = Checker(name, declared, fields, parameters, keys, categories)
                checked[service] = checker.figure(str(text), kind, enum)
            except FigureError as exc:
                raise row.error(f"{name}: {exc}", "formula") from None
            undeclared = figure_undeclared(checked[service], keys.get("lot", ()))
            if undeclared is not None:
                raise row.error(f"{name}: names care category {undeclared!r}, not declared", "formula")
        shown = row.get("shown")
        if (
            shown is not None
            and shown is not True
            and declared.get(shown, (fields.get(shown), None))[0] is not Kind.BOOL
        ):
            known = shown in declared or shown in fields
            given = f"{shown!r} is not true/false" if known else f"there is no field or figure {shown}"
            raise row.error(f"{name}: shown is true or names a true/false field or figure ({given})", "shown")
        figures[name] = Figure(
            name,
            kind,
            str(row["description"]),
            str(row["reference"]),
            checked,
            "always" if shown is True else shown,
            enum,
            _words(row, "label"),
            _words(row, "label_with_top_up"),
        )
    _check_cycles(figures, node)
    return figures


def _words(row: Node, key: str) -> str | None:
    words = row.get(key)
    if words is None:
        return None
    if not (isinstance(words, str) and words.strip()):
        raise row.error(f"{row['name']}: {key} is the words the page shows for it (text)", key)
    return " ".join(words.split())


def order(figures: dict[str, Figure], service: str) -> list[str]:
    """The figures of a service in an order where each comes after the figures it reads."""
    return _ordered(figures, service)


def figure_order(figures: dict[str, Figure]) -> list[str]:
    """Every figure after the figures any of its formulas reads (the order a book is computed in)."""
    return _ordered(figures, None)


def _ordered(figures: dict[str, Figure], service: str | None, node: Node | None = None) -> list[str]:
    """Figures in dependency order (of one service, or of all formulas); a circle is refused."""
    done: list[str] = []
    visiting: list[str] = []

    def reads(name: str) -> set[str]:
        formulas = figures[name].formulas
        chosen = formulas.values() if service is None else [formulas[service]] if service in formulas else []
        return set().union(*(depends_on(formula) for formula in chosen))

    def visit(name: str) -> None:
        if name in done or (service is not None and service not in figures[name].formulas):
            return
        if name in visiting:
            circle = " → ".join((*visiting[visiting.index(name) :], name))
            reason = f"figures read each other in a circle: {circle}"
            raise node.error(reason, "figures") if node else RulebookError(FIGURES_FILE, None, reason)
        visiting.append(name)
        for needed in sorted(reads(name)):
            visit(needed)
        visiting.pop()
        done.append(name)

    for name in figures:
        visit(name)
    return done


def _check_cycles(figures: dict[str, Figure], node: Node) -> None:
    _ordered(figures, None, node)
