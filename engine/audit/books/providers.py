"""The provider register (SPEC §17) read from its CSV or Excel file: one row per provider, read as a book is
(``engine.audit.books.side_files``); an unreadable register is refused with its problems grouped."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.audit.books.book import Limits
from engine.audit.books.side_files import SideFileError, read_side_file
from engine.validate.register import Provider, ProviderRegister, read_provider

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
