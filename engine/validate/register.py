"""The provider register (SPEC §17) as the engine holds it, and its facts joined onto placements by
``provider_id``: one placement's fields (``join_record``) or a whole book's columns (``join_table``), so both
evaluators read the same facts through the same fields (``RegisterFacts``). Reading the register's file is
``engine.audit.books.providers``; the engine itself does no I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from engine.validate.field_groups.providers import CQC_RATINGS, QUALITY_STATUSES
from engine.validate.placement import REGISTER_FIELDS
from engine.validate.values import parse_date, parse_enum, parse_flag

T = TypeVar("T")


@dataclass(frozen=True)
class Provider:
    """One provider as the register records it."""

    provider_id: str
    name: str | None = None
    services: tuple[str, ...] = ()
    in_area: bool | None = None
    home_type: str | None = None  # residential | nursing | None
    framework_from: date | None = None
    framework_to: date | None = None
    cqc_rating: str | None = None
    cqc_rating_date: date | None = None
    quality_status: str = "none"
    quality_status_from: date | None = None
    provider_type: str | None = None

    def on_framework(self, day: date) -> bool:
        """framework_from ≤ day ≤ framework_to, both inclusive; no framework_to is open-ended, no framework_from
        means never on it."""
        return (
            self.framework_from is not None
            and self.framework_from <= day
            and (self.framework_to is None or day <= self.framework_to)
        )

    def facts(self) -> dict[str, Any]:
        """The register's facts as a placement's fields (dates as ISO text, as a book's cells hold them)."""
        return {
            "provider_register_given": True,
            "provider_in_register": True,
            "provider_framework_from": _iso(self.framework_from),
            "provider_framework_to": _iso(self.framework_to),
            "provider_cqc_rating": self.cqc_rating,
            "provider_quality_status": self.quality_status,
            "provider_quality_status_from": _iso(self.quality_status_from),
        }


NOT_IN_REGISTER: dict[str, Any] = {name: None for name in REGISTER_FIELDS} | {
    "provider_register_given": True,
    "provider_in_register": False,
}


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


HOME_TYPES = ("residential", "nursing")
SERVICE_SEPARATORS = (",", ";", "|", "/")


def _services(text: str) -> tuple[str, ...]:
    for separator in SERVICE_SEPARATORS:
        text = text.replace(separator, " ")
    return tuple(part.strip().lower() for part in text.split() if part.strip())


def read_provider(row: Mapping[str, str | None]) -> Provider:
    """One register row → a Provider; ValueError({column: message}) naming every bad cell."""
    problems: dict[str, str] = {}
    provider_id = row.get("provider_id")
    if provider_id is None:
        problems["provider_id"] = "is required"
    framework_from = field(row, "framework_from", parse_date, problems)
    framework_to = field(row, "framework_to", parse_date, problems)
    if framework_from and framework_to and framework_to < framework_from:
        problems["framework_to"] = f"is before framework_from ({framework_from.isoformat()})"
    status = field(row, "quality_status", lambda t: parse_enum(t, QUALITY_STATUSES), problems) or "none"
    status_from = field(row, "quality_status_from", parse_date, problems)
    if status in ("embargo", "large_scale_enquiry") and status_from is None and "quality_status" not in problems:
        problems["quality_status_from"] = f"is required when quality_status is {status}"
    provider = Provider(
        provider_id=provider_id or "",
        name=row.get("name"),
        services=_services(row.get("services") or ""),
        in_area=field(row, "in_area", parse_flag, problems),
        home_type=field(row, "home_type", lambda t: parse_enum(t, HOME_TYPES), problems),
        framework_from=framework_from,
        framework_to=framework_to,
        cqc_rating=field(row, "cqc_rating", lambda t: parse_enum(t, CQC_RATINGS), problems),
        cqc_rating_date=field(row, "cqc_rating_date", parse_date, problems),
        quality_status=status,
        quality_status_from=status_from,
        provider_type=row.get("provider_type"),
    )
    if problems:
        raise ValueError(problems)
    return provider


def field(row: Mapping[str, str | None], name: str, parse: Callable[[str], T], problems: dict[str, str]) -> T | None:
    """A cell parsed, or None when empty; a bad cell's message goes into ``problems``."""
    text = row.get(name)
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError as exc:
        problems[name] = str(exc)
        return None


@dataclass(frozen=True)
class ProviderRegister:
    """The council's providers by id, and where the register came from (for notes and reports)."""

    providers: Mapping[str, Provider]
    source: str = "the provider register"

    def get(self, provider_id: Any) -> Provider | None:
        if not isinstance(provider_id, str):
            return None
        return self.providers.get(provider_id.strip())

    def __len__(self) -> int:
        return len(self.providers)


def join_record(data: Mapping[str, Any], register: ProviderRegister) -> dict[str, Any]:
    """One placement's fields with the register's facts about its provider (not in the register: only that)."""
    entry = register.get(data.get("provider_id"))
    return {**data, **(entry.facts() if entry is not None else NOT_IN_REGISTER)}


def own_register_columns(table: pa.Table) -> list[str]:
    """A book's columns named as the register's facts: never read (only the register gives them)."""
    return [name for name in REGISTER_FIELDS if name in table.column_names]


def with_register(table: pa.Table, register: ProviderRegister | None) -> pa.Table:
    """The book without its own register-fact columns, with the register's joined when a register is given."""
    table = table.drop_columns(own_register_columns(table))
    return join_table(table, register) if register is not None else table


def join_table(table: pa.Table, register: ProviderRegister) -> pa.Table:
    """A book's text columns with the register's facts as text columns, row by row by provider_id; any column of
    the book with a register fact's name is replaced (the register, not the book, says it)."""
    table = table.drop_columns(own_register_columns(table))
    ids = list(register.providers)
    facts = [register.providers[key].facts() for key in ids]
    if "provider_id" in table.column_names:
        where = pc.index_in(pc.utf8_trim_whitespace(table.column("provider_id")), value_set=pa.array(ids, pa.string()))
    else:
        where = pa.nulls(table.num_rows, pa.int32())
    found = pc.is_valid(where)
    for name in REGISTER_FIELDS:
        if name == "provider_register_given":
            column = pa.array(["true"] * table.num_rows, pa.string())
        elif name == "provider_in_register":
            column = pc.if_else(found, "true", "false")
        else:
            values = pa.array([_text(entry[name]) for entry in facts], pa.string())
            column = pc.take(values, where) if len(ids) else pa.nulls(table.num_rows, pa.string())
        table = table.append_column(name, column)
    return table


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
