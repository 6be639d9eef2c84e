"""Input errors: a list of messages per field, the same from the library, CLI, API and batch audits."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


class InputError(ValueError):
    """Bad input: a message per field, as the CLI and API show it."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self.fields = fields
        super().__init__("; ".join(f"{name}: {', '.join(msgs)}" for name, msgs in fields.items()))

    def to_json(self) -> dict[str, Any]:
        return {"error": {"code": "invalid_input", "fields": self.fields}}


def field_messages(error: ValidationError) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for item in error.errors(include_url=False):
        ctx_error = (item.get("ctx") or {}).get("error")
        if not item["loc"] and isinstance(ctx_error, ValueError) and isinstance(ctx_error.args[0], dict):
            for name, message in ctx_error.args[0].items():
                fields.setdefault(name, []).append(message)
            continue
        name = ".".join(str(part) for part in item["loc"][:1]) or "placement"
        fields.setdefault(name, []).append(_message(item))
    return fields


def _message(item: Any) -> str:
    kind, message = item["type"], item["msg"]
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "string_pattern_mismatch":  # only placement_id has a pattern
        return "must not contain control characters (NUL, tab, new line)"
    if kind == "literal_error":
        return f"must be {message.removeprefix('Input should be ')}, got {item['input']!r}"
    return str(message).removeprefix("Value error, ").replace("Input should be", "must be")
