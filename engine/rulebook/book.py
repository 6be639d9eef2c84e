"""The rulebook as loaded: frozen plain data (references, dated parameters, rules, modules, the Rulebook).

``engine.rulebook.loader`` builds it from ``rules/``; what is worked out from it once lives in
``Rulebook.compiled`` (``engine.rulebook.compiled``).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any as AnyType

from engine.language import conditions
from engine.language.vocabulary import UNIT_KINDS, Kind
from engine.rulebook.approvers import Approvers
from engine.rulebook.categories import Categories
from engine.rulebook.facts import Kpi
from engine.rulebook.figures import Figure
from engine.rulebook.services import Service
from engine.rulebook.wording import Wording
from engine.validate.values import enum_key

if TYPE_CHECKING:
    from engine.rulebook.compiled import CompiledRulebook


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
    values: tuple[
        AnyType, ...
    ]  # engine units: pence, ten-thousandths (miles), int, bool, Decimal ratio, tuple[Band, ...]
    hit_policy: str | None = None
    path: str = field(default="", compare=False)  # the file it was read from: the council's, or a base's it extends

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
    refer_to: str | None = None  # where a refer finding goes: a referral destination of contents.yaml
    parameters: tuple[str, ...] = ()
    messages: tuple[tuple[str, str], ...] = ()  # (service, message) when the message is written per service
    services: tuple[str, ...] = ()  # the services it applies to: its module's, or some of them (``services``)
    info_when: str | None = None  # where this holds, the finding is for information only (no outcome, no approver)
    info_condition: conditions.Cond | None = None
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
    runs_on_all: bool = False  # ``services: all``: every service the rulebook declares (rules/services.yaml)
    path: str = field(default="", compare=False)


@dataclass(frozen=True)
class Rulebook:
    parameters: dict[str, Parameter]
    modules: tuple[Module, ...]
    version: str
    categories: Categories = Categories({}, "", "", ())  # the care categories (rules/tables/care_categories.yaml)
    earliest_as_at: date = date.min  # no decision before this date (rules/rulebook.yaml)
    figures: dict[str, Figure] = field(default_factory=dict)  # rules/figures.yaml, in the file's order
    kpis: dict[str, Kpi] = field(default_factory=dict)  # rules/kpis.yaml, in the file's order
    notes: dict[str, str] = field(default_factory=dict)  # wording shared by messages (rules/rulebook.yaml)
    first_party_bases: tuple[str, ...] = ()  # rules/tables/first_party_bases.yaml
    approver_roles: dict[str, str] = field(default_factory=dict)  # role → who it is (rules/contents.yaml)
    referral_destinations: dict[str, str] = field(default_factory=dict)  # refer_to → the page's words (contents.yaml)
    bases: tuple[Path, ...] = ()  # the base folders the rulebook extends, nearest first (rules/national), resolved
    approvers: Approvers = field(default_factory=Approvers)  # the roles in order of seniority: who approves what
    wording: Wording = field(default_factory=Wording)  # the page's words for payers and payees (rules/wording.yaml)
    services: tuple[Service, ...] = ()  # the services the council funds (rules/services.yaml)

    @cached_property
    def compiled(self) -> CompiledRulebook:
        """Lookups worked out once (figures compiled, modules per service…); a replace() copy compiles afresh."""
        from engine.rulebook.compiled import CompiledRulebook  # compiled.py reads this module's types

        return CompiledRulebook(self)

    @cached_property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(rule for module in self.modules for rule in module.rules)

    @cached_property
    def service_aliases(self) -> dict[str, str]:
        """Each service's id and other names, as ``enum_key`` writes them → the service's id."""
        return {enum_key(name): s.id for s in self.services for name in (s.id, *s.aliases)}

    def service(self, service_id: str) -> Service | None:
        return next((s for s in self.services if s.id == service_id), None)

    def modules_for(self, service: str) -> tuple[Module, ...]:
        return self.compiled.modules[service]

    def values_at(self, as_at: date) -> dict[str, tuple[AnyType, date] | tuple[None, None]]:
        """Every parameter's value and effective date at ``as_at`` ((None, None) when not in force)."""
        return self.compiled.values_at(as_at)
