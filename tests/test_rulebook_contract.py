"""The load-time contract (issue 23): every name in rules/ that Python reads by name is declared in
engine/rulebook/contract.py, checked when the rulebook loads, and refused with file, line and name when missing
(the CLI exits 3). The contract is read from the code's own use: every string in engine/ and api/ that names a
figure, KPI, parameter, rule or note of the shipped rulebook. Approver roles and referral destinations are not
in it: no Python names one (tests/test_council_wording.py)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.cli.main import app
from engine.language.vocabulary import ENUMS
from engine.rulebook import contract
from engine.rulebook.loader import DEFAULT_RULES_DIR, load_rulebook
from engine.rulebook.strict_yaml import RulebookError

REPO = Path(__file__).resolve().parents[1]
BOOK = load_rulebook(DEFAULT_RULES_DIR)
# The loader reads rules/ by structure (keys such as lot, care_type), not by policy name: it is not a reader here.
NOT_READERS = (REPO / "engine" / "rulebook",)


def _code_strings() -> Iterator[tuple[Path, ast.Constant | ast.JoinedStr]]:
    """Every string constant and f-string of engine/ and api/ but docstrings and the rulebook loader's own."""
    for root in (REPO / "engine", REPO / "api"):
        for path in sorted(root.rglob("*.py")):
            if any(path.is_relative_to(skip) for skip in NOT_READERS):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            docstrings = {
                id(node.value)
                for node in ast.walk(tree)
                if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            }
            for node in ast.walk(tree):
                if isinstance(node, ast.JoinedStr) or (
                    isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                ):
                    yield path, node


def _named_in_code(names: set[str]) -> set[str]:
    return {node.value for _, node in _code_strings() if isinstance(node, ast.Constant) and node.value in names}


def _templates() -> set[str]:
    """f-strings that build a parameter name (``f"care_homes.benchmark.lot_{number}"``), with ``{}`` for each hole."""
    groups = {name.split(".")[0] for name in BOOK.parameters}
    found = set()
    for _, node in _code_strings():
        if isinstance(node, ast.JoinedStr):
            text = "".join(part.value if isinstance(part, ast.Constant) else "{}" for part in node.values)
            if text.split(".")[0] in groups and "." in text and " " not in text:
                found.add(text)
    return found


def test_the_contract_lists_exactly_the_figures_kpis_rules_and_notes_the_code_names() -> None:
    assert set(contract.FIGURES) == _named_in_code(set(BOOK.figures))
    assert set(contract.KPIS) == _named_in_code(set(BOOK.kpis))
    assert set(contract.RULES) == _named_in_code({rule.id for rule in BOOK.rules})
    assert set(contract.NOTES) == _named_in_code(set(BOOK.notes))


def test_the_contract_lists_the_first_party_bases_and_payment_codes_the_engine_uses() -> None:
    from engine.explain.payments import LINES, PAYERS

    assert ENUMS["first_party_basis"] == contract.FIRST_PARTY_BASES  # the input's own choices
    payers = {payer for _, payer, _, _ in LINES if payer != "top_up_payer"} | set(PAYERS.values())
    assert set(contract.PAYERS) == payers
    assert set(contract.PAYEES) == {payee for _, _, payee, _ in LINES}
    assert set(contract.TOP_UP_PAYERS) == set(ENUMS["top_up_payer"]) - {"none"}
    assert set(PAYERS) == set(contract.TOP_UP_PAYERS)  # each top-up payer's line has a payer code


def test_the_contract_lists_every_parameter_the_code_names_or_builds() -> None:
    literal = _named_in_code(set(BOOK.parameters))
    templates = _templates()
    assert templates, "the scan finds the f-strings that build parameter names"
    assert set(contract.PARAMETERS) >= literal
    for name in contract.PARAMETERS:
        assert name in literal or any(re.fullmatch(t.replace("{}", r"\w+"), name) for t in templates), name
    built = {t.replace("{}", r"\w+") for t in templates}
    for pattern in built:  # each name the code builds is in the contract (a category's benchmark is named in rules/)
        assert any(re.fullmatch(pattern, name) for name in contract.PARAMETERS), pattern


def test_the_pages_templates_and_scripts_name_only_rulebook_names_of_the_contract() -> None:
    """Jinja templates and the page's scripts read figures, KPIs and roles by name too (``row.care_cubed_weekly``)."""
    texts = [
        path.read_text(encoding="utf-8")
        for root in (REPO / "engine", REPO / "api")
        for path in sorted(root.rglob("*"))
        if path.suffix in {".html", ".js", ".j2"}
    ]
    assert texts
    kinds = {
        "figure": (set(BOOK.figures), contract.FIGURES),
        "KPI": (set(BOOK.kpis), contract.KPIS),
        "note": (set(BOOK.notes), contract.NOTES),
    }
    unlisted = [
        f"{kind} {name}"
        for kind, (declared, listed) in kinds.items()
        for name in sorted(declared - set(listed))
        if any(re.search(rf"\b{re.escape(name)}\b", text) for text in texts)
    ]
    assert not unlisted


def test_the_scan_finds_a_name_the_code_reads() -> None:
    # the audit's KPIs read their wording by id: the scan sees it
    assert "sl_within_reference_share" in _named_in_code(set(BOOK.kpis))
    assert "top_up_required_weekly" in _named_in_code({"top_up_required_weekly"})


def test_the_shipped_rulebook_meets_the_contract() -> None:
    from engine.rulebook.contents import load_contents

    assert contract.missing(BOOK, load_contents(DEFAULT_RULES_DIR)) == []


def _without(path: Path, pattern: str) -> None:
    """Delete the YAML list item whose first line matches ``pattern``, with its indented lines."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if re.fullmatch(pattern, line.rstrip("\n")))
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent):
        end += 1
    path.write_text("".join(lines[:start] + lines[end:]), encoding="utf-8")


def _line(path: Path, text: str) -> int:
    return next(i + 1 for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()) if line == text)


def _refused(root: Path) -> RulebookError:
    with pytest.raises(RulebookError) as caught:
        load_rulebook(root)
    return caught.value


def test_a_kpi_only_python_reads_deleted_is_refused_with_file_line_and_name(rules: Path) -> None:
    # the audit would otherwise die with KeyError: 'sl_within_reference_share'
    _without(rules / "kpis.yaml", r"  - id: sl_within_reference_share")
    _without(rules / "contents.yaml", r"  - sl_within_reference_share")
    error = _refused(rules)
    assert (Path(error.path), error.line) == (rules / "kpis.yaml", _line(rules / "kpis.yaml", "kpis:"))
    assert "KPI sl_within_reference_share is missing" in error.reason


def test_a_figure_only_python_reads_deleted_is_refused_with_file_line_and_name(rules: Path) -> None:
    # contribution_to_provider_weekly: no rule or figure uses it; the results and the payments read it
    _without(rules / "figures.yaml", r"  - name: contribution_to_provider_weekly")
    error = _refused(rules)
    assert (Path(error.path), error.line) == (rules / "figures.yaml", _line(rules / "figures.yaml", "figures:"))
    assert "figure contribution_to_provider_weekly is missing" in error.reason


def test_a_parameter_python_reads_missing_is_refused_at_its_group(rules: Path) -> None:
    # every such parameter is also read by a rule or figure today, which refuses its deletion at the line that reads
    # it; the contract still holds if that use goes, so check it on a rulebook without the parameter
    from engine.rulebook.contents import load_contents

    (rules / "parameters" / "isp" / "gross_cost_threshold_weekly.yaml").unlink()
    parameters = {k: v for k, v in BOOK.parameters.items() if k != "isp.gross_cost_threshold_weekly"}
    with pytest.raises(RulebookError) as caught:
        contract.check(rules, replace(BOOK, parameters=parameters), load_contents(rules))
    error = caught.value
    assert (Path(error.path), error.line) == (rules / "parameters" / "isp" / "index.yaml", 1)
    assert "parameter isp.gross_cost_threshold_weekly is missing" in error.reason
    assert "parameters/isp/gross_cost_threshold_weekly.yaml" in error.reason


def test_a_care_category_with_no_benchmark_parameter_is_refused_at_its_line(rules: Path) -> None:
    (rules / "parameters" / "care_homes" / "benchmark" / "lot_7.yaml").unlink()
    error = _refused(rules)
    categories = rules / "tables" / "care_categories.yaml"
    line = _line(categories, "    benchmark: care_homes.benchmark.lot_7")
    assert (Path(error.path), error.line) == (categories, line)
    assert "no parameter 'care_homes.benchmark.lot_7'" in error.reason


def test_a_rule_python_reads_deleted_everywhere_is_refused(rules: Path) -> None:
    _without(rules / "modules" / "3_integrated_support_protocol.yaml", r"  - id: ISP-08")
    _without(rules / "contents.yaml", r"    - ISP-08")
    error = _refused(rules)
    assert (Path(error.path), error.line) == (rules / "contents.yaml", _line(rules / "contents.yaml", "modules:"))
    assert "rule ISP-08 is missing" in error.reason


def test_a_note_python_reads_renamed_is_refused(rules: Path) -> None:
    path = rules / "rulebook.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("  care_cubed_required:", "  care_cubed:"))
    error = _refused(rules)
    assert (Path(error.path), error.line) == (path, _line(path, "notes:"))
    assert "note care_cubed_required is missing" in error.reason


def test_a_payers_words_deleted_are_refused_at_the_payers_line(rules: Path) -> None:
    path = rules / "wording.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("  nhs: The NHS\n", ""))
    error = _refused(rules)
    assert (Path(error.path), error.line) == (path, _line(path, "payers:"))
    assert "payers: the words for nhs are missing" in error.reason


def test_a_payment_code_the_engine_does_not_use_is_refused_at_its_line(rules: Path) -> None:
    path = rules / "wording.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "  provider: the provider\n", "  provider: the provider\n  home: the home\n"
        )
    )
    error = _refused(rules)
    assert (Path(error.path), error.line) == (path, _line(path, "  home: the home"))
    assert "payees: home is not a code the engine uses" in error.reason


def test_a_role_that_also_approves_an_undeclared_role_is_refused_at_its_line(rules: Path) -> None:
    path = rules / "contents.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("    also_approves: [team_manager, head_of_service]\n", "    also_approves: [deputy]\n")
    )
    error = _refused(rules)
    assert error.path == str(path) and error.line == _line(path, "    also_approves: [deputy]")
    assert "placement_panel: also_approves 'deputy', which is not a declared approver role" in error.reason


def test_a_role_that_also_approves_a_more_senior_role_is_refused(rules: Path) -> None:
    path = rules / "contents.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    also_approves: [team_manager]\n", "    also_approves: [placement_panel]\n"))
    error = _refused(rules)
    assert error.line == _line(path, "    also_approves: [placement_panel]")
    assert "not a more junior role" in error.reason


def test_a_first_party_basis_the_input_accepts_deleted_is_refused(rules: Path) -> None:
    path = rules / "tables" / "first_party_bases.yaml"
    _without(path, r"  - basis: s117")
    error = _refused(rules)
    assert (Path(error.path), error.line) == (path, _line(path, "bases:"))
    assert "first-party basis s117 is missing" in error.reason


def test_the_cli_exits_3_naming_file_line_and_name(rules: Path) -> None:
    _without(rules / "kpis.yaml", r"  - id: nhs_weekly_income")
    _without(rules / "contents.yaml", r"  - nhs_weekly_income")
    result = CliRunner().invoke(app, ["rules", "--rules", str(rules)])
    assert result.exit_code == 3, result.output
    where = f"{rules / 'kpis.yaml'}:{_line(rules / 'kpis.yaml', 'kpis:')}: KPI nhs_weekly_income is missing"
    assert where in result.output
