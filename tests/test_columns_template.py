"""``carerules columns template`` (issue 28): every field with its description and common aliases, each alias
with the system it is typical of and its source (or marked a guess); the template is a column map that loads."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from typer.testing import CliRunner

from engine.audit.books.column_template import ALIASES_FILE, SOURCES, aliases, template_text
from engine.audit.books.columns import load_column_map
from engine.audit.run import run_audit
from engine.cli.main import app
from engine.validate.batch import SPECS
from engine.validate.placement import REGISTER_FIELDS
from tests.test_audit_exports import clean_book, outcomes, write_rows

runner = CliRunner()


def test_the_template_names_every_field_with_its_description_and_loads_as_a_column_map(tmp_path: Path) -> None:
    result = runner.invoke(app, ["columns", "template", "--out", str(tmp_path / "columns.yaml")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "columns.yaml").read_text("utf-8")
    assert text == template_text() == runner.invoke(app, ["columns", "template"]).stdout
    read = set(SPECS) - set(REGISTER_FIELDS)  # every field a book gives (the provider register gives the others)
    assert set(yaml.safe_load(text)) == read  # in a file that is plain YAML
    for name, spec in SPECS.items():
        if name not in read:
            continue
        assert f"# {name}: {' '.join(spec.label.split())} ({spec.kind}, " in text
        if spec.help:
            assert " ".join(spec.help.split()) in text
    mapping = load_column_map(tmp_path / "columns.yaml")
    for name, listed in aliases().items():
        for entry in listed:
            assert mapping.field(entry["alias"]) == name
    again = runner.invoke(app, ["columns", "template", "--out", str(tmp_path / "columns.yaml")])
    assert again.exit_code == 2 and "already exists" in again.output


def test_every_alias_says_its_system_and_source() -> None:
    text = template_text()
    listed = [line for line in text.splitlines() if line.startswith("  - ")]
    assert len(listed) == sum(len(v) for v in aliases().values()) > len(SPECS) // 2
    for line in listed:
        assert re.fullmatch(r'  - "[^"]+"  # (any|LAS|Mosaic|ContrOCC)-style, source: (guess|examples/\S+)', line), line
    for source in SOURCES - {"guess"}:  # a named source is a file in this repository holding the alias
        held = (Path(__file__).resolve().parent.parent / source).read_text("cp1252")
        for entry in (e for v in aliases().values() for e in v if e["source"] == source):
            assert entry["alias"] in held, entry
    for style in ("LAS", "Mosaic", "ContrOCC"):
        assert f"{style}-style" in text
    assert ALIASES_FILE.exists()


def test_a_book_in_the_templates_names_is_audited_as_the_same_book(tmp_path: Path) -> None:
    chosen = {"placement_id": "Client ID", "start_date": "Element Start Date", "core_weekly_fee": "Agreed Weekly Rate"}
    rows = [{chosen.get(k, k): v for k, v in row.items()} for row in clean_book()]
    header = list(dict.fromkeys(k for r in rows for k in r))
    write_rows(tmp_path / "book.csv", header, [[r.get(k, "") for k in header] for r in rows])
    (tmp_path / "columns.yaml").write_text(template_text(), encoding="utf-8")
    audit = run_audit(tmp_path / "book.csv", columns=tmp_path / "columns.yaml")
    assert outcomes(audit) == outcomes(run_audit(tmp_path / "book.csv", columns={k: [v] for k, v in chosen.items()}))
    assert audit.error_rows == 0
