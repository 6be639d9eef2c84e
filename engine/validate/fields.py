"""The placement's fields as plain data, read from the model that declares them (``engine.validate.placement``).

The rule vocabulary, batch validation, the API's request schema and the web form are generated from these
specs, so a field declared on the model (with its limits, label, help, section and example) reaches them all.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from engine.validate.values import Written


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str  # pence, quantity, share, whole, flag, day, enum, text
    required: bool
    default: Any
    nullable: bool
    label: str
    help: str = ""
    section: str | None = None  # the form section; None: not on the form
    derived: bool = False  # when not given, a derived figure stands for it (rules name the figure)
    register: bool = False  # a provider register's fact: joined from the register, never given (SPEC §17)
    example: Any = None
    choices: tuple[Any, ...] = ()
    choice_labels: dict[str, str] = field(default_factory=dict)
    low: int | None = None
    high: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None


def _metadata(info: FieldInfo) -> list[Any]:
    found = list(info.metadata)
    for arg in typing.get_args(info.annotation):  # Optional[Annotated[...]] keeps its metadata inside
        found += list(getattr(arg, "__metadata__", ()))
    return found


def _literal(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    for arg in typing.get_args(annotation):
        if typing.get_origin(arg) is typing.Literal:
            return typing.get_args(arg)
    return ()


def _first(metadata: list[Any], attribute: str) -> Any:
    return next((getattr(m, attribute) for m in metadata if getattr(m, attribute, None) is not None), None)


def spec_of(name: str, info: FieldInfo) -> FieldSpec:
    metadata = _metadata(info)
    written = next((m.kind for m in metadata if isinstance(m, Written)), None)
    choices = _literal(info.annotation)
    kind = written or ("enum" if choices else "text")
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    labels = extra.get("labels") or {}
    return FieldSpec(
        name=name,
        kind=kind,
        required=info.is_required(),
        default=None if info.is_required() else info.default,
        nullable=type(None) in typing.get_args(info.annotation),
        label=info.title or name,
        help=info.description or "",
        section=typing.cast("str | None", extra.get("section")),
        derived=bool(extra.get("derived")),
        register=bool(extra.get("register")),
        example=(info.examples or [None])[0],
        choices=choices,
        choice_labels=dict(typing.cast("dict[str, str]", labels)),
        low=_first(metadata, "ge"),
        high=_first(metadata, "le"),
        min_length=_first(metadata, "min_length"),
        max_length=_first(metadata, "max_length"),
        pattern=_first(metadata, "pattern"),
    )


def field_specs(model: type[BaseModel]) -> dict[str, FieldSpec]:
    """Every field of the model, in declaration order."""
    return {name: spec_of(name, info) for name, info in model.model_fields.items()}
