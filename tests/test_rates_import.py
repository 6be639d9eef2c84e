"""`carerules rates import`: a new edition of rates without code changes, validated before anything is written."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import date, datetime
from pathlib import Path

import pytest
import xlsxwriter
from typer.testing import CliRunner

from engine import Engine, load_rulebook
from engine.cli.main import app
from engine.editions import rates_import
from engine.editions.rates_import import RatesImportError, apply, read_rows
from engine.rulebook.loader import RULES_ENV
from tests.conftest import placement


def write_csv(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "rates.csv"
    path.write_text("parameter,effective_from,value\n" + body, encoding="utf-8")
    return path


def test_a_new_edition_changes_decisions_from_its_date_only(rules, tmp_path):
    before = load_rulebook(rules).version
    version = apply(
        read_rows(write_csv(tmp_path, "care_homes.benchmark.lot_6,2027-04-01,1050.00\n"), rules, False), rules
    )
    assert version != before
    engine = Engine(load_rulebook(rules))
    r_1 = placement(placement_id="R-1", start_date="2027-03-31", age=80, fnc_weekly="267.68")
    assert engine.decide(r_1).outcome == "needs_approval"  # 2026 median £995.00 still in force
    later = engine.decide(r_1, as_at=date(2027, 4, 1))
    assert later.outcome == "proceed" and later.figures["benchmark_weekly"] == 1050
    assert "2026-04-01: 995.00" in (rules / "parameters/care_homes/benchmark/lot_6.yaml").read_text()


@pytest.mark.parametrize(
    "row, problem",
    [
        ("care_homes.benchmark.lot_6,2027-04-01,1050.001", "at most 2 decimal places"),
        ("care_homes.benchmark.lot_6,2027-04-01,-5", "must not be negative"),
        ("care_homes.benchmark.lot_6,2026-04-01,1000.00", "already has a value from 2026-04-01"),
        ("care_homes.benchmark.lot_9,2027-04-01,1000.00", "unknown parameter"),
        ("care_homes.minimum_age,2027-04-01,65.5", "whole number"),
        ("isp.protocol_in_force,2027-04-01,maybe", "true or false"),
        ("care_homes.approval_bands,2027-04-01,1", "is a table"),
        ("care_homes.benchmark.lot_6,1st April,1000.00", "not a date"),
        ("care_homes.benchmark.lot_6,31/02/2027,1000.00", "not a real date"),
        ('supported_living.day_hour_rate,2027-04-01,"24,10"', "decimal commas are not accepted"),
        ("care_homes.minimum_age,2027-04-01,650", "not a plausible years value"),
    ],
)
def test_bad_rows_are_refused_and_nothing_is_written(rules, tmp_path, row, problem):
    before = load_rulebook(rules).version
    with pytest.raises(RatesImportError, match=problem):
        apply(read_rows(write_csv(tmp_path, row + "\n"), rules, False), rules)
    assert load_rulebook(rules).version == before


def test_replace_changes_a_value_on_the_same_date(rules, tmp_path):
    apply(read_rows(write_csv(tmp_path, "care_homes.benchmark.lot_1,2026-04-01,920.00\n"), rules, True), rules)
    assert load_rulebook(rules).parameters["care_homes.benchmark.lot_1"].at(date(2026, 5, 1)) == (
        92000,
        date(2026, 4, 1),
    )


# --- SPEC §18: `carerules rates import` reads what the audit reads, writes atomically, never into the package ---

LOT_1 = "parameters/care_homes/benchmark/lot_1.yaml"
LOT_6 = "parameters/care_homes/benchmark/lot_6.yaml"
runner = CliRunner()
TWO_FILES = "care_homes.benchmark.lot_1,2027-04-01,922.50\ncare_homes.benchmark.lot_6,2027-04-01,1031.00\n"


def lot_1_from(rules: Path, when: date) -> tuple[object, date]:
    return load_rulebook(rules).parameters["care_homes.benchmark.lot_1"].at(when)


@pytest.mark.parametrize(
    "encoding",
    ["cp1252", "utf-8-sig", "utf-16"],  # Windows-1252 (Excel's "CSV"), UTF-8 with BOM, Excel's "Unicode text"
)
def test_a_csv_in_any_encoding_the_audit_reads(rules, tmp_path, encoding):
    path = tmp_path / "rates.csv"
    text = "Parameter,Effective From,Value\r\ncare_homes.benchmark.lot_1,2027-04-01,£922.50\r\n"
    path.write_bytes(text.encode(encoding))
    apply(read_rows(path, rules, False), rules)
    assert lot_1_from(rules, date(2027, 4, 1)) == (92250, date(2027, 4, 1))
    assert "  2027-04-01: 922.50\n" in (rules / LOT_1).read_text()


def test_an_excel_file_with_a_title_row_above_its_header(rules, tmp_path):
    path = tmp_path / "rates.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Rates 2027-28")
    sheet.write_string(0, 0, "Care home rates from April 2027, approved by Cabinet")
    for col, name in enumerate(["Parameter", "Effective from", "Value"]):
        sheet.write_string(2, col, name)
    when = workbook.add_format({"num_format": "dd/mm/yyyy"})
    money = workbook.add_format({"num_format": "£#,##0.00"})
    sheet.write_string(3, 0, "care_homes.benchmark.lot_1")
    sheet.write_datetime(3, 1, datetime(2027, 4, 1), when)
    sheet.write_number(3, 2, 922.5, money)
    sheet.write_string(4, 0, "care_homes.benchmark.lot_6")
    sheet.write_string(4, 1, "1 April 2027")
    sheet.write_number(4, 2, 1031, money)
    workbook.close()
    values = read_rows(path, rules, False)
    assert [(v.parameter, v.effective_from, v.text) for v in values] == [
        ("care_homes.benchmark.lot_1", date(2027, 4, 1), "922.50"),
        ("care_homes.benchmark.lot_6", date(2027, 4, 1), "1031.00"),
    ]
    apply(values, rules)
    assert lot_1_from(rules, date(2027, 4, 1)) == (92250, date(2027, 4, 1))


@pytest.mark.parametrize("written", ["01/04/2027", "1/4/2027", "1 April 2027", "1 Apr 2027", "2027-04-01"])
def test_dates_as_people_write_them(rules, tmp_path, written):
    values = read_rows(write_csv(tmp_path, f"care_homes.benchmark.lot_1,{written},922.50\n"), rules, False)
    assert values[0].effective_from == date(2027, 4, 1)


@pytest.mark.parametrize(
    "layout",
    [
        "values: {2025-04-01: 870.00, 2026-04-01: 915.00}\n",
        "values:\n  {2025-04-01: 870.00,\n   2026-04-01: 915.00}\n",
    ],
)
def test_a_flow_style_values_mapping_is_updated(rules, tmp_path, layout):
    path = rules / LOT_1
    head = path.read_text().split("values:")[0]
    path.write_text(head + layout)
    apply(read_rows(write_csv(tmp_path, "care_homes.benchmark.lot_1,2027-04-01,922.50\n"), rules, False), rules)
    param = load_rulebook(rules).parameters["care_homes.benchmark.lot_1"]
    assert param.dates == (date(2025, 4, 1), date(2026, 4, 1), date(2027, 4, 1))
    assert param.values == (87000, 91500, 92250)
    assert "{2025-04-01: 870.00, 2026-04-01: 915.00, 2027-04-01: 922.50}" in path.read_text()


def test_a_parameter_file_written_as_one_flow_mapping_is_updated(rules, tmp_path):
    path = rules / LOT_1
    path.write_text(
        "{description: Lot 1 median, unit: GBP/week, reference: {title: Council rates 2026}, "
        "values: {2025-04-01: 870.00, 2026-04-01: 915.00}}\n"
    )
    apply(read_rows(write_csv(tmp_path, "care_homes.benchmark.lot_1,2026-04-01,920.00\n"), rules, True), rules)
    assert lot_1_from(rules, date(2026, 5, 1)) == (92000, date(2026, 4, 1))
    assert lot_1_from(rules, date(2025, 5, 1)) == (87000, date(2025, 4, 1))


def test_comments_and_layout_survive(rules, tmp_path):
    path = rules / LOT_1
    before = path.read_text()
    path.write_text(
        "# Lot 1: checked by the commissioning team each March\n"
        + before.replace("  2025-04-01: 870.00", "  # the first year of the framework\n  2025-04-01: 870.00").replace(
            "  2026-04-01: 915.00", "  2026-04-01: 915.00  # LaingBuisson 2026 report, table 3"
        )
    )
    csv_path = write_csv(
        tmp_path, "care_homes.benchmark.lot_1,2027-04-01,922.50\ncare_homes.benchmark.lot_1,2026-04-01,916.00\n"
    )
    apply(read_rows(csv_path, rules, True), rules)
    after = path.read_text()
    assert after.startswith("# Lot 1: checked by the commissioning team each March\n")
    assert "  # the first year of the framework\n  2025-04-01: 870.00\n" in after
    assert "  2026-04-01: 916.00  # LaingBuisson 2026 report, table 3\n" in after
    assert after.rstrip().endswith("2027-04-01: 922.50")
    assert before.split("values:")[0] in after  # description and reference exactly as they were


@pytest.mark.parametrize("failing", ["stage", "rename"])
def test_a_failure_part_way_leaves_the_old_files(rules, tmp_path, monkeypatch, failing):
    before = {name: (rules / name).read_text() for name in (LOT_1, LOT_6)}
    version = load_rulebook(rules).version
    values = read_rows(
        write_csv(tmp_path, TWO_FILES),
        rules,
        False,
    )
    real_mkstemp, real_replace = tempfile.mkstemp, os.replace
    calls = {"stage": 0, "rename": 0}

    def mkstemp(*args, **kwargs):
        calls["stage"] += 1
        if failing == "stage" and calls["stage"] == 2:
            raise OSError(28, "No space left on device")
        return real_mkstemp(*args, **kwargs)

    def replace(source, target):
        calls["rename"] += 1
        if failing == "rename" and calls["rename"] == 2:
            raise OSError(13, "Permission denied", str(target))
        return real_replace(source, target)

    monkeypatch.setattr(rates_import.tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(rates_import.os, "replace", replace)
    with pytest.raises(RatesImportError, match="no file was changed"):
        apply(values, rules)
    monkeypatch.undo()
    assert {name: (rules / name).read_text() for name in (LOT_1, LOT_6)} == before
    assert load_rulebook(rules).version == version
    assert not list(rules.rglob("*.tmp"))


def test_every_file_is_replaced_by_renaming_a_temporary_file_beside_it(rules, tmp_path, monkeypatch):
    renamed = []
    real_replace = os.replace

    def replace(source, target):
        renamed.append((Path(source), Path(target)))
        return real_replace(source, target)

    monkeypatch.setattr(rates_import.os, "replace", replace)
    csv_path = write_csv(tmp_path, TWO_FILES)
    apply(read_rows(csv_path, rules, False), rules)
    assert sorted(target for _, target in renamed) == sorted([rules / LOT_1, rules / LOT_6])
    assert all(source.parent == target.parent and source != target for source, target in renamed)


def _cli(*args: str):
    return runner.invoke(app, ["rates", "import", *args])


def test_the_installed_packages_rulebook_is_refused_without_rules(rules, tmp_path, monkeypatch):
    """An installed carerules: the default folder is the package's own; it needs --rules or CARERULES_RULES_DIR."""
    monkeypatch.delenv(RULES_ENV, raising=False)
    monkeypatch.setattr(rates_import, "DEFAULT_RULES_DIR", rules)
    monkeypatch.setattr(rates_import, "INSTALLED_RULES_DIR", rules)
    before = (rules / LOT_1).read_text()
    csv_path = write_csv(tmp_path, "care_homes.benchmark.lot_1,2027-04-01,922.50\n")
    result = _cli(str(csv_path))
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "installed package" in result.output and "--rules" in result.output
    assert json.loads(result.stdout)["error"]["fields"]["rules"]
    assert (rules / LOT_1).read_text() == before
    assert _cli(str(csv_path), "--dry-run").exit_code == 0  # validating writes nothing: allowed
    mine = Path(shutil.copytree(rules, tmp_path / "mine"))
    result = _cli(str(csv_path), "--rules", str(mine))
    assert result.exit_code == 0, result.output
    monkeypatch.setenv(RULES_ENV, str(mine))
    assert _cli(str(csv_path), "--replace").exit_code == 0
    assert (rules / LOT_1).read_text() == before


def test_a_checkouts_rules_folder_is_written_and_the_command_says_where(rules, tmp_path, monkeypatch):
    """From a source checkout the default is its rules/ (the developer's own copy, under git), as the policy
    officers' page shows: it is written, and the command prints each file and the new version."""
    monkeypatch.delenv(RULES_ENV, raising=False)
    monkeypatch.setattr(rates_import, "DEFAULT_RULES_DIR", rules)
    monkeypatch.setattr(rates_import, "INSTALLED_RULES_DIR", tmp_path / "site-packages" / "shipped")
    csv_path = write_csv(
        tmp_path, "care_homes.benchmark.lot_1,2026-04-01,922.50\ncare_homes.benchmark.lot_6,2027-04-01,1031.00\n"
    )
    result = _cli(str(csv_path), "--replace")
    assert result.exit_code == 0, result.output
    assert f"wrote {(rules / LOT_1).resolve()}" in result.output
    assert f"wrote {(rules / LOT_6).resolve()}" in result.output
    assert f"rulebook version is now {load_rulebook(rules).version}" in result.output
    assert lot_1_from(rules, date(2026, 5, 1)) == (92250, date(2026, 4, 1))


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.csv", None, "no such file"),
        ("rates.pdf", b"%PDF-1.4", "give a .csv"),
        ("rates.csv", b"", "the file is empty"),
        ("rates.csv", b"parameter,date,amount\ncare_homes.benchmark.lot_1,2027-04-01,922.50\n", "missing column"),
        ("rates.csv", b"parameter,effective_from,value\n", "no rows"),
        ("rates.xlsx", b"PK\x03\x04 not really a zip", "cannot read as Excel"),
        ("rates.csv", b"parameter,effective_from,value\ncare_homes.benchmark.lot_1,2027-04-01,\n", "is empty"),
    ],
)
def test_input_errors_exit_2_with_a_message(rules, tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = _cli(str(path), "--rules", str(rules))
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert message in result.output


def test_an_excel_file_without_the_columns_names_them(rules, tmp_path):
    path = tmp_path / "rates.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    workbook.add_worksheet("Rates").write_string(0, 0, "Lot 1")
    workbook.close()
    result = _cli(str(path), "--rules", str(rules))
    assert result.exit_code == 2
    assert "parameter, effective_from, value" in result.output


def test_a_parameter_given_twice_for_one_date_is_refused(rules, tmp_path):
    csv_path = write_csv(
        tmp_path, "care_homes.benchmark.lot_1,2027-04-01,922.50\ncare_homes.benchmark.lot_1,01/04/2027,923.00\n"
    )
    with pytest.raises(RatesImportError, match="also given in row 2"):
        read_rows(csv_path, rules, False)
