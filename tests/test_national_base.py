"""The national base (SPEC §16.2, "A national base"): rules/national holds what is the same for every English
council; a council rulebook ``extends:`` it and may override a parameter by name; ``carerules init`` writes a
council rulebook that extends the shipped base."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.serve.edition import Editions
from engine.cli.main import app
from engine.decide import Engine
from engine.rulebook.loader import DEFAULT_RULES_DIR, load_rulebook
from engine.rulebook.strict_yaml import RulebookError
from tests.conftest import pinned_rules_dir, placement

PEA = Path("parameters/charging/personal_expenses_allowance_weekly.yaml")
PEA_2026 = "2026-04-06: 31.80"  # the national PEA in force at the placement's start (pinned test rulebook)
# a care home resident with income well under the fee and capital under the lower limit: they pay income - PEA
RESIDENT = placement(care_type="residential", core_weekly_fee="965.00", capital="1000.00", weekly_income="200.00")


def _council(source: Path, folder: Path, extends: str) -> Path:
    """A copy of the council rulebook ``source`` (without its national folder) whose rulebook.yaml extends
    ``extends``."""
    shutil.copytree(source, folder, ignore=lambda where, names: ["national"] if Path(where) == source else [])
    rulebook = folder / "rulebook.yaml"
    text = rulebook.read_text(encoding="utf-8")
    assert "\nextends: national\n" in text
    rulebook.write_text(text.replace("\nextends: national\n", f"\nextends: {extends}\n"), encoding="utf-8")
    return folder


@pytest.fixture
def two_councils(tmp_path: Path) -> tuple[Path, Path, Path]:
    """One national base and two council rulebooks beside it that both extend it: (national, north, south)."""
    pinned = pinned_rules_dir()
    national = tmp_path / "national"
    shutil.copytree(pinned / "national", national)
    return (
        national,
        _council(pinned, tmp_path / "north", "../national"),
        _council(pinned, tmp_path / "south", "../national"),
    )


def _contribution(rules: Path, fields: dict[str, Any] = RESIDENT) -> Decimal:
    decision = json.loads(Engine(load_rulebook(rules)).decide(fields).to_json(), parse_float=Decimal)
    return Decimal(str(decision["figures"]["resident_contribution_weekly"]))


def _set_pea(folder: Path, value: str) -> None:
    path = folder / PEA
    text = path.read_text(encoding="utf-8")
    assert PEA_2026 in text
    path.write_text(text.replace(PEA_2026, f"2026-04-06: {value}"), encoding="utf-8")


def _line(path: Path, start: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line.startswith(start))


def test_the_shipped_rulebook_extends_the_national_base() -> None:
    book = load_rulebook(pinned_rules_dir())
    national = pinned_rules_dir() / "national"
    assert book.bases == (national.resolve(),)
    nationally_set = (
        "charging.personal_expenses_allowance_weekly",
        "charging.mig.pension_credit_age_weekly",
        "charging.upper_capital_limit",
        "care_homes.fnc_standard_weekly",
        "charging.pension_credit_age",
    )
    for name in nationally_set:
        assert Path(book.parameters[name].path).is_relative_to(national), name
    for name in ("care_homes.benchmark.lot_1", "charging.non_residential_charge_share", "isp.s117_council_share"):
        assert not Path(book.parameters[name].path).is_relative_to(national), name


def test_a_national_change_reaches_every_council_that_extends_the_base(two_councils: tuple[Path, Path, Path]) -> None:
    national, north, south = two_councils
    before = {folder: (_contribution(folder), load_rulebook(folder).version) for folder in (north, south)}
    assert before[north][0] == before[south][0] == Decimal("200.00") - Decimal("31.80")
    _set_pea(national, "35.00")  # once, in the base
    for folder in (north, south):
        assert _contribution(folder) == Decimal("165.00")
        assert load_rulebook(folder).version != before[folder][1]  # the base's files are part of the version


def test_a_council_override_replaces_the_national_parameter_and_keeps_its_value(
    two_councils: tuple[Path, Path, Path],
) -> None:
    national, north, south = two_councils
    shutil.copy(national / PEA, south / PEA)  # the council's own file of the same name
    _set_pea(south, "40.00")
    _set_pea(national, "35.00")
    assert _contribution(north) == Decimal("165.00")
    assert _contribution(south) == Decimal("160.00")
    read = load_rulebook(south).parameters["charging.personal_expenses_allowance_weekly"]
    assert Path(read.path) == south / PEA
    assert load_rulebook(north).parameters["charging.personal_expenses_allowance_weekly"].path == str(national / PEA)


def test_an_override_with_another_unit_is_refused_at_its_unit(two_councils: tuple[Path, Path, Path]) -> None:
    national, _, south = two_councils
    override = south / PEA
    override.write_text((national / PEA).read_text(encoding="utf-8").replace("unit: GBP/week", "unit: GBP"))
    with pytest.raises(RulebookError) as caught:
        load_rulebook(south)
    assert (Path(caught.value.path), caught.value.line) == (override, _line(override, "unit:"))
    assert "keeps the unit" in caught.value.reason


@pytest.mark.parametrize(
    ("extends", "words"),
    [
        ("../nowhere", "no such folder"),
        ("/srv/national", "relative"),
        ("../north/parameters", "not a rulebook base"),
        ("''", "must name a folder"),
    ],
)
def test_a_bad_extends_is_refused_at_its_line(two_councils: tuple[Path, Path, Path], extends: str, words: str) -> None:
    _, north, _ = two_councils
    rulebook = north / "rulebook.yaml"
    rulebook.write_text(rulebook.read_text().replace("extends: ../national", f"extends: {extends}"))
    with pytest.raises(RulebookError) as caught:
        load_rulebook(north)
    assert (Path(caught.value.path), caught.value.line) == (rulebook, _line(rulebook, "extends:"))
    assert words in caught.value.reason
    result = CliRunner().invoke(app, ["check", "-", "--rules", str(north)], input=json.dumps(RESIDENT))
    assert result.exit_code == 3
    assert f"{rulebook}:{_line(rulebook, 'extends:')}" in result.output


def test_a_cycle_of_bases_is_refused(two_councils: tuple[Path, Path, Path], tmp_path: Path) -> None:
    national, north, _ = two_councils
    other = tmp_path / "other"
    other.mkdir()
    (other / "base.yaml").write_text((national / "base.yaml").read_text() + "extends: ../national\n")
    base = national / "base.yaml"
    base.write_text(base.read_text() + "extends: ../other\n")
    with pytest.raises(RulebookError) as caught:
        load_rulebook(north)
    assert (Path(caught.value.path), caught.value.line) == (other / "base.yaml", _line(other / "base.yaml", "extends"))
    assert "a cycle of bases" in caught.value.reason


def test_the_base_alone_is_not_a_rulebook(two_councils: tuple[Path, Path, Path]) -> None:
    national, _, _ = two_councils
    with pytest.raises(RulebookError) as caught:
        load_rulebook(national)
    assert Path(caught.value.path) == national / "base.yaml"
    assert "a rulebook base, not a rulebook" in caught.value.reason


def test_a_stray_file_in_a_base_outside_the_council_folder_is_refused(two_councils: tuple[Path, Path, Path]) -> None:
    national, north, _ = two_councils
    (national / "parameters" / "charging" / "notes.txt").write_text("to do\n")
    with pytest.raises(RulebookError) as caught:
        load_rulebook(north)
    assert Path(caught.value.path) == national / "parameters" / "charging" / "notes.txt"


def test_the_server_swaps_in_a_change_to_a_base_outside_the_council_folder(
    two_councils: tuple[Path, Path, Path],
) -> None:
    national, north, _ = two_councils
    editions = Editions(north, lambda engine: None)  # type: ignore[arg-type,return-value]
    before = editions.current.version
    assert not editions.check()
    _set_pea(national, "35.00")
    assert editions.check()  # seen without a forced reload: the base's files are watched too
    assert editions.current.version == load_rulebook(north).version != before


def test_rates_import_refuses_a_parameter_of_a_base_outside_the_council_folder(
    two_councils: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    from engine.editions.rates_import import RatesImportError, read_rows, write_edition

    national, north, _ = two_councils
    rates = tmp_path / "rates.csv"
    rates.write_text("parameter,effective_from,value\ncharging.personal_expenses_allowance_weekly,2027-04-06,33.00\n")
    with pytest.raises(RatesImportError) as caught:
        write_edition(read_rows(rates, north, replace=False), north)
    assert "in the base this rulebook extends" in caught.value.problems[0]
    assert "2027-04-06" not in (national / PEA).read_text()
    # the council's own parameter still imports, validated on a copy that finds the base
    rates.write_text("parameter,effective_from,value\ncare_homes.benchmark.lot_1,2027-04-01,999.00\n")
    write_edition(read_rows(rates, north, replace=False), north)
    assert "2027-04-01: 999.00" in (north / "parameters/care_homes/benchmark/lot_1.yaml").read_text()


def test_init_writes_a_council_rulebook_that_extends_the_shipped_base(tmp_path: Path) -> None:
    folder = tmp_path / "council"
    result = CliRunner().invoke(app, ["init", str(folder)])
    assert result.exit_code == 0, result.output
    book = load_rulebook(folder)
    assert book.bases == ((DEFAULT_RULES_DIR / "national").resolve(),)
    assert not (folder / "national").exists()
    extends = next(line for line in (folder / "rulebook.yaml").read_text().splitlines() if line.startswith("extends:"))
    assert not Path(extends.split(": ", 1)[1]).is_absolute()
    for name, parameter in book.parameters.items():
        national = Path(parameter.path).is_relative_to(DEFAULT_RULES_DIR / "national")
        assert national or "ILLUSTRATIVE" in parameter.reference.text, name
    checked = CliRunner().invoke(app, ["check", "-", "--rules", str(folder)], input=json.dumps(RESIDENT))
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["figures"]["resident_contribution_weekly"] is not None


def test_init_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "council").mkdir()
    (tmp_path / "council" / "mine.yaml").write_text("kept: true\n")
    result = CliRunner().invoke(app, ["init", str(tmp_path / "council")])
    assert result.exit_code == 2
    assert (tmp_path / "council" / "mine.yaml").read_text() == "kept: true\n"
    assert sorted(p.name for p in (tmp_path / "council").iterdir()) == ["mine.yaml"]
