"""``carerules columns template``: a column map naming every field, with its description and the other names
exports commonly give it (``column_aliases.yaml`` beside this file, each with its source or marked a guess).

The template is itself a valid column map (``engine.audit.books.columns.load_column_map`` reads it): each field lists
its aliases, each alias commented with the system whose exports use it and where that comes from. A council
deletes the names it does not have and adds its own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from engine.validate.batch import SPECS

ALIASES_FILE = Path(__file__).with_name("column_aliases.yaml")
SOURCES = {"guess", "examples/council_export.csv"}
STYLES = {"any", "LAS", "Mosaic", "ContrOCC"}


def aliases() -> dict[str, list[dict[str, str]]]:
    """The aliases by field, checked: known fields, each alias with a style and a source."""
    data: dict[str, Any] = yaml.safe_load(ALIASES_FILE.read_text("utf-8")) or {}
    for name, listed in data.items():
        if name not in SPECS:
            raise ValueError(f"{ALIASES_FILE.name}: {name!r} is not a field")
        for entry in listed:
            if set(entry) != {"alias", "style", "source"} or entry["source"] not in SOURCES:
                raise ValueError(f"{ALIASES_FILE.name}: {name}: {entry!r} needs alias, style and a known source")
            if entry["style"] not in STYLES:
                raise ValueError(f"{ALIASES_FILE.name}: {name}: {entry['alias']!r} has an unknown style")
    return data


def _comment(text: str) -> str:
    return " ".join(text.split())


def template_text() -> str:
    """The column map template (YAML with comments)."""
    known = aliases()
    lines = [
        "# Column map template (carerules columns template): every field the audit reads, its description, and",
        "# names other exports commonly give it. Each name says which system's exports it is typical of (LAS,",
        "# Mosaic, ContrOCC, or any) and its source: 'guess' means not checked against a real export of that",
        "# system. Delete the names your export does not have, add your own, then:",
        "#   carerules audit book.xlsx --columns columns.yaml",
        "# Columns already named as the field (any case, spaces or punctuation) need no entry.",
        "",
    ]
    for name, spec in SPECS.items():
        if spec.register:
            continue  # the provider register gives it, never the book
        need = "required" if spec.required else "optional"
        choices = f"; one of {', '.join(map(str, spec.choices))}" if spec.choices else ""
        lines.append(f"# {name}: {_comment(spec.label)} ({spec.kind}, {need}{choices})")
        if spec.help:
            lines.append(f"#   {_comment(spec.help)}")
        listed = known.get(name, [])
        if not listed:
            lines += [f"{name}: []", ""]
            continue
        lines.append(f"{name}:")
        for entry in listed:
            lines.append(f"  - {json.dumps(entry['alias'])}  # {entry['style']}-style, source: {entry['source']}")
        lines.append("")
    return "\n".join(lines)
