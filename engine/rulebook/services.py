"""The services the council funds (``rules/services.yaml``, SPEC §16.1): each with its label, the other names
people write for it, the pricing modules that check its price and how it is charged (residential or not).

Where the rulebook keys something by service (a figure's formula, a rule's message), a key may also be a charging
kind (``residential``, ``non_residential``: every service charged that way) or ``other_services`` (every service
the same mapping does not name otherwise; a service given ``null`` has none); ``expand`` turns such keys into
services, refusing a service named twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.language.vocabulary import ENUMS
from engine.rulebook.strict_yaml import Node, RulebookError, check_keys, load_yaml
from engine.validate.values import enum_key

SERVICES_FILE = Path("services.yaml")
CHARGING_KINDS = ("residential", "non_residential")
OTHER_SERVICES = "other_services"
ALL = "all"


@dataclass(frozen=True)
class Service:
    id: str
    label: str
    aliases: tuple[str, ...]
    pricing: tuple[str, ...]  # the pricing modules (by module name) that run on it
    charging: str  # residential | non_residential


def load_services(root: Path) -> tuple[Service, ...]:
    path = root / SERVICES_FILE
    if not path.is_file():
        raise RulebookError(path, None, "no services.yaml (the services the council funds)")
    node = check_keys(load_yaml(path), {"description", "reference", "services"}, set(), "services file")
    rows = node["services"]
    if not isinstance(rows, list) or not rows:
        raise node.error("services must be a list", "services")
    services: list[Service] = []
    written: dict[str, str] = {}
    for row in rows:
        row = check_keys(row, {"id", "label", "aliases", "pricing", "charging"}, set(), "service")
        service_id = row["id"]
        if service_id not in ENUMS["service"]:
            raise row.error(f"service {service_id!r} is not one the engine knows: {', '.join(ENUMS['service'])}", "id")
        if row["charging"] not in CHARGING_KINDS:
            raise row.error(f"charging must be one of {', '.join(CHARGING_KINDS)}", "charging")
        for key in ("aliases", "pricing"):
            if not isinstance(row[key], list) or not all(isinstance(item, str) for item in row[key]):
                raise row.error(f"{key} must be a list of names", key)
        for name in [service_id, *row["aliases"]]:
            key = enum_key(name)
            if key in written:
                raise row.error(f"{name!r} already names {written[key]}", "aliases")
            written[key] = service_id
        services.append(
            Service(service_id, str(row["label"]), tuple(row["aliases"]), tuple(row["pricing"]), row["charging"])
        )
    return tuple(services)


def expand(mapping: dict[str, Any], services: tuple[Service, ...], node: Node, what: str) -> dict[str, Any]:
    """A mapping keyed by services, charging kinds or ``other_services`` → keyed by service, in declared order."""
    out: dict[str, Any] = {}
    ids = [service.id for service in services]
    for key, value in mapping.items():
        if key == OTHER_SERVICES:
            continue
        if key in CHARGING_KINDS:
            chosen = [service.id for service in services if service.charging == key]
        elif key in ids:
            chosen = [key]
        else:
            raise node.error(f"{what}: {key!r} is not a service, a charging kind or {OTHER_SERVICES}", what)
        for service_id in chosen:
            if service_id in out:
                raise node.error(f"{what}: service {service_id} is given twice (by {key!r})", what)
            out[service_id] = value
    if OTHER_SERVICES in mapping:
        for service_id in ids:
            out.setdefault(service_id, mapping[OTHER_SERVICES])
    # a service given null has no formula (the figure is null for it), so other_services can leave it out
    return {service_id: out[service_id] for service_id in ids if out.get(service_id) is not None}


def check_pricing(services: tuple[Service, ...], modules: Any) -> None:
    """A pricing module's file lists exactly the services that name it; every module named exists."""
    names = {module.name for module in modules}
    for service in services:
        for name in service.pricing:
            if name not in names:
                raise RulebookError(SERVICES_FILE, None, f"{service.id}: pricing names no module {name!r}")
    for module in modules:
        if module.runs_on_all:
            continue
        named = tuple(service.id for service in services if module.name in service.pricing)
        if set(named) != set(module.services):
            raise RulebookError(
                Path(module.path),
                None,
                f"module {module.name} lists services {', '.join(module.services)} but services.yaml names it "
                f"as pricing for {', '.join(named) or 'none'}",
            )
