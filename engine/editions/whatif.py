"""What-if runs: a rulebook with some dated parameter values overridden (a proposed LaingBuisson edition,
new reference rates), and the placements whose outcome that changes.

The overrides file maps a parameter name to dated values, in the same units and form as ``rules/parameters``::

    care_homes.benchmark.lot_1:
      2026-04-01: 940.00      # replaces the value from that date; a new date adds one
    supported_living.day_hour_rate:
      2026-10-01: 24.10
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.money import MoneyError, pounds, round_half_up, to_decimal
from engine.rulebook.loader import Parameter, Rulebook, engine_value
from engine.rulebook.strict_yaml import Node, RulebookError, load_yaml


def load_overrides(path: Path | str) -> dict[str, dict[date, Any]]:
    path = Path(path)
    if not path.is_file():
        raise RulebookError(path, None, "no such parameters file")
    node = load_yaml(path)
    if not isinstance(node, Node) or not node:
        raise RulebookError(path, None, "expected a mapping of parameter names to dated values")
    for name, values in node.items():
        if not isinstance(values, Node) or not values:
            raise node.error(f"{name}: give dated values, e.g. 2026-04-01: 940.00", str(name))
    return {str(name): dict(values) for name, values in node.items()}


def with_overrides(book: Rulebook, overrides: dict[str, dict[date, Any]], source: str = "what-if") -> Rulebook:
    """A new Rulebook (new version) whose parameters carry the overridden dated values."""
    parameters = dict(book.parameters)
    digest = hashlib.sha256(book.version.encode())
    for name, values in sorted(overrides.items()):
        if name not in parameters:
            close = [known for known in parameters if known.split(".")[-1] == name.split(".")[-1]]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise RulebookError(
                source, getattr(overrides, "key_lines", {}).get(name), f"unknown parameter {name!r}{hint}"
            )
        parameter = parameters[name]
        dated = dict(zip(parameter.dates, parameter.values))
        for when, value in values.items():
            if not isinstance(when, date):
                raise RulebookError(source, None, f"{name}: {when!r} is not a date (YYYY-MM-DD)")
            try:
                dated[when] = None if value is None else engine_value(value, parameter.kind, parameter.hit_policy)
            except (MoneyError, ValueError) as exc:
                raise RulebookError(
                    source, None, f"{name} {when}: {value!r} is not a {parameter.unit} value: {exc}"
                ) from None
            digest.update(f"{name}\0{when}\0{value}\0".encode())
        ordered = sorted(dated.items())
        parameters[name] = replace(
            parameter,
            dates=tuple(d for d, _ in ordered),
            values=tuple(v for _, v in ordered),
            reference=replace(parameter.reference, title=f"WHAT-IF ({source}); was: {parameter.reference.title}"),
        )
    return replace(book, parameters=parameters, version=digest.hexdigest()[:12])  # a copy starts with an empty cache


def changed_parameters(base: Rulebook, book: Rulebook) -> list[dict[str, Any]]:
    changes = []
    for name, parameter in book.parameters.items():
        old: Parameter = base.parameters[name]
        if (old.dates, old.values) != (parameter.dates, parameter.values):
            for when, value in zip(parameter.dates, parameter.values):
                before = dict(zip(old.dates, old.values)).get(when, "(none)")
                if before != value:
                    changes.append(
                        {"name": name, "from_date": when, "unit": parameter.unit, "was": before, "now": value}
                    )
    return changes


def whatif_date(base: Rulebook, book: Rulebook) -> date | None:
    """The first date from which the what-if rulebook's parameters differ from the base's (None: no change)."""
    dates = [change["from_date"] for change in changed_parameters(base, book)]
    return min(dates) if dates else None


class UpliftError(ValueError):
    """An uplift the rulebook cannot apply: an unknown category, a percentage that is not one, no rate in force."""


def uplift_categories(book: Rulebook) -> dict[str, tuple[str, ...]]:
    """What ``--uplift`` may name, each with the parameters it uplifts, from the rulebook: each care type its care
    categories fix (the benchmarks of those categories), each service that has its own money parameters (its
    reference rates, ``supported_living``) and each of those rates by its file's name (``day_hour_rate``)."""
    from engine.language.vocabulary import ENUMS, Kind

    categories: dict[str, tuple[str, ...]] = {}
    for category in book.categories.items:
        care_type = str(category.fixed("care_type"))  # every category fixes one (engine/rulebook/contract.py)
        categories[care_type] = categories.get(care_type, ()) + (category.benchmark,)
    for service in ENUMS["service"]:
        rates = tuple(
            name
            for name, parameter in book.parameters.items()
            if name.startswith(f"{service}.") and parameter.kind is Kind.MONEY
        )
        if rates:
            categories[service] = rates
            categories.update({name.rsplit(".", 1)[-1]: (name,) for name in rates})
    return categories


def parse_uplifts(text: str, categories: dict[str, tuple[str, ...]]) -> dict[str, Decimal]:
    """``residential=4.5,nursing=6`` → each category's percentage; UpliftError with a message for a person."""
    uplifts: dict[str, Decimal] = {}
    covered: dict[str, str] = {}
    for part in text.split(","):
        name, equals, percent = (piece.strip() for piece in part.partition("="))
        if not equals or not name:
            raise UpliftError(f"give CATEGORY=PERCENT, e.g. residential=4.5, got {part.strip()!r}")
        if name not in categories:
            raise UpliftError(f"unknown category {name!r}: choose from {', '.join(categories)}")
        try:
            uplift = to_decimal(percent.removesuffix("%").strip())
        except MoneyError:
            raise UpliftError(f"{name}: the uplift must be a percentage such as 4.5, got {percent!r}") from None
        if uplift <= -100:
            raise UpliftError(f"{name}: an uplift must be more than -100%, got {percent!r}")
        for parameter in categories[name]:
            if parameter in covered:
                raise UpliftError(f"{name}: {parameter} is already uplifted by {covered[parameter]}")
            covered[parameter] = name
        uplifts[name] = uplift
    return uplifts


def uplifted_values(
    book: Rulebook, uplifts: dict[str, Decimal], start: date
) -> tuple[dict[str, dict[date, Any]], list[dict[str, Any]]]:
    """The overrides (each parameter's value in force on ``start`` × (1 + PCT/100), rounded half-up to the
    penny, from ``start``) and, for each, its category, the value it replaces and the new one (pence)."""
    categories = uplift_categories(book)
    overrides: dict[str, dict[date, Any]] = {}
    rates: list[dict[str, Any]] = []
    for category, uplift in uplifts.items():
        for name in categories[category]:
            found = book.parameters[name].at(start)
            if found is None:
                raise UpliftError(f"{category}: {name} has no value in force on {start.isoformat()}")
            was = int(found[0])
            now = int(round_half_up(Decimal(was) * (100 + uplift) / 100))
            overrides[name] = {start: pounds(now)}
            rates.append(
                {
                    "category": category,
                    "parameter": name,
                    "unit": book.parameters[name].unit,
                    "uplift_percent": uplift,
                    "in_force_from": found[1],
                    "was": was,
                    "now": now,
                }
            )
    return overrides, rates
