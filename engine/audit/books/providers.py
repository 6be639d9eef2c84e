"""The provider register (SPEC §17) read from its CSV or Excel file: one row per provider, read as a book is
(``engine.audit.books.side_files``); an unreadable register is refused with its problems grouped."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.audit.books.book import Limits
from engine.audit.books.side_files import Row, SideFileError, field, read_side_file
from engine.validate.field_groups.providers import CQC_RATINGS, QUALITY_STATUSES
from engine.validate.register import Provider, ProviderRegister
from engine.validate.values import parse_date, parse_enum, parse_flag

REGISTER_COLUMNS = (
    "provider_id",
    "name",
    "services",
    "in_area",
    "home_type",
    "framework_from",
    "framework_to",
    "cqc_rating",
    "cqc_rating_date",
    "quality_status",
    "quality_status_from",
    "provider_type",
)
REQUIRED = ("provider_id", "framework_from", "framework_to", "cqc_rating", "quality_status", "quality_status_from")
HOME_TYPES = ("residential", "nursing")
SERVICE_SEPARATORS = (",", ";", "|", "/")


def _services(text: str) -> tuple[str, ...]:
    for separator in SERVICE_SEPARATORS:
        text = text.replace(separator, " ")
    return tuple(part.strip().lower() for part in text.split() if part.strip())


def read_provider(row: Row) -> Provider:
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


def load_register(
    path: Path | str,
    columns: Mapping[str, Any] | None = None,
    sheet: str | None = None,
    limits: Limits | None = None,
) -> ProviderRegister:
    """The provider register in ``path``; SideFileError (a BookError) when it cannot be used."""
    what = f"provider register {path}"
    rows = read_side_file(path, what, REGISTER_COLUMNS, REQUIRED, read_provider, columns, sheet, limits)
    providers: dict[str, Provider] = {}
    seen: dict[str, int] = {}
    twice = []
    for number, provider in rows:
        if provider.provider_id in seen:
            twice.append(f"  provider_id {provider.provider_id!r} is in rows {seen[provider.provider_id]} and {number}")
            continue
        seen[provider.provider_id] = number
        providers[provider.provider_id] = provider
    if twice:
        raise SideFileError(what, ["a provider is listed more than once:", *twice])
    return ProviderRegister(providers, str(path))
