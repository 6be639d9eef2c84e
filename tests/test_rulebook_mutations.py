"""The shipped rulebook broken in well over 50 ways (issue 13): every broken copy is refused with its file, line
and reason, or loads and gives exactly the decisions of the shipped rulebook. Never a traceback, never a
rulebook that loads and decides differently.

Issue 22/23: the breakages that lose or add policy (a module file or a rule deleted, a rule added unlisted, a
rule id used twice, an approver role or a referral destination misspelt, a band row, a figure, a KPI, a table
row, a note or a parameter deleted, an unknown key, a value of the wrong type) must be refused: loading and
deciding the same is not enough for them (``BREAKAGES``). The few changes that are truly harmless (a comment,
a description, a label's wording) must load and decide the same (``HARMLESS``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from engine.audit.run import run_audit
from engine.cli.main import app
from engine.rulebook import contract
from engine.rulebook.loader import Rulebook, load_rulebook
from engine.rulebook.strict_yaml import RulebookError
from tests.conftest import copy_rules, pinned_rules_dir

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample_placements.csv"
RULES = pinned_rules_dir()  # the pinned test rulebook, whose decisions are known (tests/conftest.py)
FILES = sorted(path.relative_to(RULES) for path in RULES.rglob("*.yaml"))
PARAMETERS = [
    path
    for path in FILES
    if (path.parts[0] == "parameters" or path.parts[:2] == ("national", "parameters")) and path.name != "index.yaml"
]
DATED_NUMBER = re.compile(r"^(\s+)(\d{4}-\d\d-\d\d): (-?[0-9][0-9_.]*)\s*$", re.MULTILINE)

Mutation = Callable[[Path], None]


def _edit(relative: Path, change: Callable[[str], str]) -> Mutation:
    def mutate(root: Path) -> None:
        path = root / relative
        text = path.read_text(encoding="utf-8")
        changed = change(text)
        assert changed != text, f"the mutation changed nothing in {relative}"
        path.write_text(changed, encoding="utf-8")

    return mutate


def _first_dated_number(replace: Callable[[re.Match[str]], str]) -> Callable[[str], str]:
    return lambda text: DATED_NUMBER.sub(replace, text, count=1)


def mutations() -> Iterator[tuple[str, Mutation]]:
    for relative in FILES:
        yield f"{relative} renamed .yml", lambda root, r=relative: (root / r).rename((root / r).with_suffix(".yml"))
        yield (
            f"{relative} with a Latin-1 byte",
            lambda root, r=relative: (root / r).write_bytes((root / r).read_bytes().replace(b"\n", b" caf\xe9\n", 1)),
        )
        yield (
            f"{relative} with its first key twice",
            _edit(relative, lambda t: re.sub(r"^(\w+:.*)$", r"\1\n\1", t, count=1, flags=re.M)),
        )
    for relative in PARAMETERS:
        yield f"{relative} deleted", lambda root, r=relative: (root / r).unlink()
        if not DATED_NUMBER.search((RULES / relative).read_text(encoding="utf-8")):
            continue
        yield f"{relative} negated", _edit(relative, _first_dated_number(lambda m: f"{m[1]}{m[2]}: -{m[3]}"))
        yield f"{relative} .nan", _edit(relative, _first_dated_number(lambda m: f"{m[1]}{m[2]}: .nan"))
        yield f"{relative} .inf", _edit(relative, _first_dated_number(lambda m: f"{m[1]}{m[2]}: .inf"))
        yield (
            f"{relative} date with a time",
            _edit(relative, _first_dated_number(lambda m: f"{m[1]}{m[2]} 09:30:00: {m[3]}")),
        )
        yield (
            f"{relative} value times 1,000,000",
            _edit(
                relative, _first_dated_number(lambda m: f"{m[1]}{m[2]}: {Decimal(m[3].replace('_', '')) * 1_000_000}")
            ),
        )
    yield "a stray notes file", lambda root: (root / "NOTES.txt").write_text("to do\n", encoding="utf-8")
    yield (
        "a module in a sub-folder",
        lambda root: (
            (root / "modules" / "old").mkdir()
            or (root / "modules" / "2_choice_top_up.yaml").rename(root / "modules" / "old" / "2_choice_top_up.yaml")
        ),
    )
    yield (
        "an editor's hidden backup",
        lambda root: (root / "modules" / ".1_care_home_pricing.yaml.swp").write_bytes(b"\x00\xff swap"),
    )


MODULES = sorted(path for path in FILES if path.parts[0] == "modules")
TABLES = [path for path in PARAMETERS if "approver:" in (RULES / path).read_text(encoding="utf-8")]
CONTENTS, FIGURES, KPIS = Path("contents.yaml"), Path("figures.yaml"), Path("kpis.yaml")
WORDING = Path("wording.yaml")
LOTS, BASES = Path("tables/care_categories.yaml"), Path("tables/first_party_bases.yaml")
RULEBOOK = Path("rulebook.yaml")


def _text(relative: Path) -> str:
    return (RULES / relative).read_text(encoding="utf-8")


def _items(relative: Path, indent: str, key: str) -> list[str]:
    """The value of ``key`` on each item of a YAML list written at ``indent`` (``  - id: CHP-01`` → CHP-01)."""
    return re.findall(rf"^{indent}- {key}: (\S+)", _text(relative), flags=re.M)


def _without_item(indent: str, key: str, value: str) -> Callable[[str], str]:
    """Delete the list item ``{indent}- {key}: {value}`` with its lines, up to the next item or a line less indented."""

    def change(text: str) -> str:
        lines = text.splitlines(keepends=True)
        start = next(i for i, line in enumerate(lines) if line.rstrip() == f"{indent}- {key}: {value}")
        end = start + 1
        while end < len(lines) and (
            not lines[end].strip() or lines[end].startswith(indent + " ") or lines[end].startswith(indent + "  ")
        ):
            end += 1
        return "".join(lines[:start] + lines[end:])

    return change


def _once(old: str, new: str, nth: int = 0) -> Callable[[str], str]:
    """Replace the ``nth`` occurrence of ``old`` (0: the first)."""

    def change(text: str) -> str:
        at = -1
        for _ in range(nth + 1):
            at = text.index(old, at + 1)
        return text[:at] + new + text[at + len(old) :]

    return change


def breakages() -> Iterator[tuple[str, Mutation]]:
    """Every way tried of losing or adding policy by accident: each must be refused with file, line and reason."""
    for relative in MODULES:
        yield f"{relative} deleted", lambda root, r=relative: (root / r).unlink()
        for rule_id in _items(relative, "  ", "id"):
            yield f"rule {rule_id} deleted from {relative.name}", _edit(relative, _without_item("  ", "id", rule_id))
            yield (
                f"rule {rule_id} not listed in contents.yaml",
                _edit(CONTENTS, lambda t, i=rule_id: t.replace(f"    - {i}\n", "", 1)),
            )
        for n, _ in enumerate(re.findall(r"^    approver: ", _text(relative), flags=re.M)):
            yield f"{relative.name} approver {n + 1} misspelt", _edit(relative, _misspell_role(n))
        for n, destination in enumerate(re.findall(r"^    refer_to: (\S+)", _text(relative), flags=re.M)):
            yield (
                f"{relative.name} refer_to {n + 1} ({destination}) misspelt",
                _edit(
                    relative,
                    _once(
                        f"refer_to: {destination}\n", f"refer_to: {destination[:-1]}\n", _nth(relative, destination, n)
                    ),
                ),
            )
    yield (
        "a module file not listed in contents.yaml",
        lambda root: (root / "modules" / "6_extra.yaml").write_text(
            _text(MODULES[1]).replace("module: choice_top_up", "module: extra").replace("id: TOP-", "id: XTR-"),
            encoding="utf-8",
        ),
    )
    yield (
        "a rule added to a module, not listed",
        _edit(
            MODULES[1],
            lambda t: t + "\n" + t[t.index("  - id: TOP-07") : t.index("  - id: TOP-08")].replace("TOP-07", "TOP-99"),
        ),
    )
    yield "a rule id used twice in one module", _edit(MODULES[1], _once("  - id: TOP-07\n", "  - id: TOP-01\n"))
    yield "a rule id used in two modules", _edit(MODULES[1], _once("  - id: TOP-07\n", "  - id: CHP-01\n"))
    yield (
        "a rule id listed twice in contents.yaml",
        _edit(CONTENTS, _once("    - TOP-08\n", "    - TOP-08\n    - TOP-01\n")),
    )
    yield (
        "a module listed in contents.yaml under another name",
        _edit(CONTENTS, _once("  2_choice_top_up.yaml:", "  2_choice_topup.yaml:")),
    )
    yield (
        "a rule id listed under the wrong module",
        _edit(
            CONTENTS,
            lambda t: t.replace("    - TOP-08\n", "", 1).replace("    - CHP-09\n", "    - CHP-09\n    - TOP-08\n", 1),
        ),
    )
    for relative in TABLES:
        text = _text(relative)
        for n, _ in enumerate(re.findall(r"^\s+approver: ", text, flags=re.M)):
            yield f"{relative} band {n + 1} approver misspelt", _edit(relative, _misspell_role(n))
        for band in _items(relative, "    ", "band"):
            yield f"{relative} band row {band} deleted", _edit(relative, _without_item("    ", "band", band))
    yield "an approver role misspelt where it is declared", _edit(CONTENTS, _once("  team_manager:", "  team_manger:"))
    yield (
        "an approver role deleted where it is declared",
        _edit(CONTENTS, _once("  commissioning_manager: Commissioning manager\n", "")),
    )
    roles = _text(CONTENTS).split("approver_roles:")[1].split("referral_destinations:")[0]
    for role in re.findall(r"^  ([a-z_]+):", roles, flags=re.M):  # each declared role, with its indented lines
        yield (
            f"approver role {role} deleted where it is declared",
            _edit(CONTENTS, lambda t, r=role: re.sub(rf"^  {r}:.*\n(    .*\n)*", "", t, count=1, flags=re.M)),
        )
    yield (
        "a role also_approves a role that is not declared",
        _edit(CONTENTS, _once("    also_approves: [team_manager]\n", "    also_approves: [team_manger]\n")),
    )
    yield (
        "a role also_approves a more senior role",
        _edit(CONTENTS, _once("    also_approves: [team_manager]\n", "    also_approves: [placement_panel]\n")),
    )
    yield (
        "a role also_approves itself",
        _edit(CONTENTS, _once("    also_approves: [team_manager]\n", "    also_approves: [head_of_service]\n")),
    )
    yield (
        "a role's also_approves written as text",
        _edit(CONTENTS, _once("    also_approves: [team_manager]\n", "    also_approves: team_manager\n")),
    )
    yield (
        "a role's entry with an unknown key",
        _edit(CONTENTS, _once("    also_approves: [team_manager]\n", "    also_approve: [team_manager]\n")),
    )
    for group, codes in contract.WORDING.items():  # each code the engine words, deleted where it is worded
        for code in codes:
            yield (
                f"{group} {code} deleted from wording.yaml",
                _edit(WORDING, lambda t, g=group, c=code: _without_code(t, g, c)),
            )
    yield "a payer code misspelt in wording.yaml", _edit(WORDING, _once("  resident: ", "  resident_: "))
    yield "a payee's words written as a number", _edit(WORDING, _once("  provider: the provider", "  provider: 1"))
    yield "wording.yaml deleted", lambda root: (root / WORDING).unlink()
    yield (
        "a figure's label written as a number",
        _edit(FIGURES, _once("    label: Personal budget\n", "    label: 12\n")),
    )
    for destination in re.findall(r"^  ([a-z_]+): ", _text(CONTENTS).split("referral_destinations:")[1], flags=re.M):
        yield (
            f"referral destination {destination} deleted where it is declared",
            _edit(CONTENTS, lambda t, d=destination: re.sub(rf"^  {d}: .*\n", "", t, count=1, flags=re.M)),
        )
    for name in _items(FIGURES, "  ", "name"):
        yield f"figure {name} deleted", _edit(FIGURES, _without_item("  ", "name", name))
    for kpi in _items(KPIS, "  ", "id"):
        yield f"KPI {kpi} deleted", _edit(KPIS, _without_item("  ", "id", kpi))
    for kpi in contract.KPIS:  # deleted in both places it is named: only a KPI the code reads must stay
        yield (
            f"KPI {kpi} deleted from kpis.yaml and contents.yaml",
            lambda root, k=kpi: (
                _edit(KPIS, _without_item("  ", "id", k))(root)
                or _edit(CONTENTS, lambda t: t.replace(f"  - {k}\n", "", 1))(root)
            ),
        )
    for lot in _items(LOTS, "  ", "id"):
        yield f"care category {lot} deleted", _edit(LOTS, _without_item("  ", "id", lot))
    for basis in _items(BASES, "  ", "basis"):
        yield f"first-party basis {basis} deleted", _edit(BASES, _without_item("  ", "basis", basis))
    yield (
        "the care_cubed_required note deleted",
        _edit(RULEBOOK, lambda t: re.sub(r"^  care_cubed_required: .*\n", "", t, flags=re.M)),
    )
    for relative in (CONTENTS, FIGURES, KPIS, LOTS, BASES, RULEBOOK):
        yield f"{relative} deleted", lambda root, r=relative: (root / r).unlink()
    # unknown keys, one in each kind of declaration
    yield (
        "an unknown key in a rule",
        _edit(MODULES[1], _once("    action: not_permitted\n", "    action: not_permitted\n    approved: true\n")),
    )
    yield (
        "an unknown key in a module",
        _edit(MODULES[1], _once("services: [care_home]\n", "services: [care_home]\nenabled: true\n")),
    )
    yield "an unknown key in a figure", _edit(FIGURES, _once("    kind: bool\n", "    kind: bool\n    unit: flag\n"))
    yield (
        "an unknown key in a KPI",
        _edit(KPIS, _once("    met_when: at_least\n", "    met_when: at_least\n    weight: 2\n")),
    )
    yield (
        "an unknown key in a band row",
        _edit(
            TABLES[0],
            _once("      care_cubed_required: false\n", "      care_cubed_required: false\n      quorum: 2\n"),
        ),
    )
    yield "an unknown key in contents.yaml", _edit(CONTENTS, lambda t: t + "labels: {}\n")
    yield "an unknown key in a parameter", _edit(PARAMETERS[0], lambda t: "label: x\n" + t)
    # values of the wrong type
    yield "a rule id written as a number", _edit(MODULES[1], _once("  - id: TOP-07\n", "  - id: 7\n"))
    yield (
        "an approver written as a list",
        _edit(MODULES[0], _once("    approver: team_manager\n", "    approver: [team_manager]\n")),
    )
    yield (
        "a refer_to written as a list",
        _edit(MODULES[1], _once("    refer_to: records_check\n", "    refer_to: [records_check]\n")),
    )
    yield (
        "a module's services written as text",
        _edit(MODULES[1], _once("services: [care_home]\n", "services: care_home\n")),
    )
    yield (
        "a KPI's target_value written as text",
        _edit(KPIS, _once("    target_value: 90\n", "    target_value: ninety\n")),
    )
    yield "a care category id written as text", _edit(LOTS, _once("  - id: 1\n", "  - id: one\n"))
    yield (
        "a band's percent written as text",
        _edit(TABLES[0], _once("      up_to_percent: 5\n", "      up_to_percent: five\n")),
    )
    yield (
        "a parameter's values written as a list",
        _edit(PARAMETERS[-1], lambda t: re.sub(r"^values:\n  (\S+): ", r"values:\n  - \1: ", t, count=1, flags=re.M)),
    )
    yield (
        "a module's rule ids in contents.yaml written as text",
        _edit(CONTENTS, _once("  4_supported_living.yaml:\n    - SL-01\n", "  4_supported_living.yaml: SL-01\n")),
    )
    yield (
        "an approver role's words written as a number",
        _edit(CONTENTS, _once("  team_manager: Team manager\n", "  team_manager: 1\n")),
    )
    yield "a derivation's flag written as text", _edit(LOTS, _once(" and not dementia\n", " and dementia == no way\n"))


def _without_code(text: str, group: str, code: str) -> str:
    """wording.yaml without ``code``'s line under ``group``."""
    head, _, rest = text.partition(f"\n{group}:\n")
    return head + f"\n{group}:\n" + re.sub(rf"^  {code}: .*\n", "", rest, count=1, flags=re.M)


def _nth(relative: Path, destination: str, n: int) -> int:
    """Which occurrence of ``refer_to: destination`` the ``n``th refer_to of the file is."""
    found = re.findall(r"^    refer_to: (\S+)", _text(relative), flags=re.M)
    return found[:n].count(destination)


def _misspelt(role: str) -> str:
    """A role with a letter dropped, as a hurried typist would: team_manager → team_manger."""
    at = role.rfind("a") if "a" in role else role.rfind("e")
    return role[:at] + role[at + 1 :]


def _misspell_role(n: int) -> Callable[[str], str]:
    """The ``n``th ``approver:`` value of the file misspelt."""

    def change(text: str) -> str:
        m = list(re.finditer(r"(approver: )(\w+)$", text, flags=re.M))[n]
        return text[: m.start(2)] + _misspelt(m[2]) + text[m.end(2) :]

    return change


# Changes that lose no policy: they must load and decide exactly as the shipped rulebook does.
HARMLESS: list[tuple[str, Mutation]] = [
    ("a comment added to a module", _edit(Path("modules/2_choice_top_up.yaml"), lambda t: "# reviewed\n" + t)),
    (
        "a rule's label reworded",
        _edit(
            Path("modules/2_choice_top_up.yaml"),
            _once("label: Top-up with no named payer", "label: A top-up with no payer named"),
        ),
    ),
    (
        "a figure's description reworded",
        _edit(
            FIGURES,
            _once("description: The placement is in a care home.", "description: The placement is a care home."),
        ),
    ),
    ("contents.yaml's description reworded", _edit(CONTENTS, _once("declared once:", "declared in one place:"))),
    (
        "a role's words changed",
        _edit(CONTENTS, _once("  team_manager: Team manager", "  team_manager: The team manager")),
    ),
    (
        "a role's words written as its label",
        _edit(CONTENTS, _once("  team_manager: Team manager\n", "  team_manager:\n    label: Team manager\n")),
    ),
    ("a figure's label reworded", _edit(FIGURES, _once("    label: Personal budget\n", "    label: Budget\n"))),
    ("a payer's words reworded", _edit(WORDING, _once("  nhs: The NHS", "  nhs: The National Health Service"))),
]
BREAKAGES = list(breakages())

MUTATIONS = list(mutations())


def decisions(book: Rulebook) -> pa.Table:
    table = run_audit(SAMPLE, rules=book).table
    return table.drop_columns([name for name in table.column_names if "version" in name])


@pytest.fixture(scope="module")
def shipped() -> pa.Table:
    return decisions(load_rulebook(RULES))


def test_there_are_at_least_fifty_ways() -> None:
    assert len(MUTATIONS) >= 50
    assert len({name for name, _ in MUTATIONS}) == len(MUTATIONS)


@pytest.mark.parametrize(("name", "mutate"), MUTATIONS, ids=[name for name, _ in MUTATIONS])
def test_a_broken_rulebook_is_refused_or_decides_the_same(name: str, mutate: Mutation, tmp_path, shipped) -> None:
    root = tmp_path / "rules"
    copy_rules(root)
    mutate(root)
    try:
        book = load_rulebook(root)
    except RulebookError as exc:
        assert exc.path.startswith(str(root)), exc  # names the file
        assert exc.reason and "Traceback" not in exc.reason
        if Path(exc.path).exists():  # a deleted file has no line: the refusal names the missing file itself
            assert exc.line, f"{name}: {exc} names no line"
        return
    assert decisions(book).equals(shipped), f"{name}: loaded, and decides differently"
    LOADED.append(name)


LOADED: list[str] = []


def test_there_are_well_over_33_breakages_of_every_kind() -> None:
    names = [name for name, _ in BREAKAGES]
    assert len(names) == len(set(names)) and len(names) > 33
    for kind in ("deleted from", "not listed", "approver", "refer_to", "band row", "figure ", "KPI ", "care category ",
                 "unknown key", "written as", "used twice", "note"):  # fmt: skip
        assert any(kind in name for name in names), kind


def _loaded_or_refusal(root: Path) -> Rulebook | RulebookError:
    try:
        return load_rulebook(root)
    except RulebookError as exc:
        return exc


@pytest.mark.parametrize(("name", "mutate"), BREAKAGES, ids=[name for name, _ in BREAKAGES])
def test_a_breakage_is_refused_with_file_line_and_reason(name: str, mutate: Mutation, tmp_path: Path) -> None:
    root = tmp_path / "rules"
    copy_rules(root)
    mutate(root)
    refused = _loaded_or_refusal(root)
    assert isinstance(refused, RulebookError), f"{name}: the broken rulebook loaded"
    assert Path(refused.path).resolve().is_relative_to(root.resolve()), refused  # names a file of the rulebook
    assert refused.reason and "Traceback" not in refused.reason and "KeyError" not in refused.reason
    if Path(refused.path).exists():
        assert refused.line, f"{name}: {refused} names no line"
        assert f"{refused.path}:{refused.line}: " in str(refused)
    else:  # a required file deleted: the refusal names the missing file, which has no line
        assert name.endswith(" deleted") and "no " in refused.reason, refused


# Issue 23: each name the code reads (engine/rulebook/contract.py) deleted where rules/ declares it: a figure, a KPI
# (from kpis.yaml and contents.yaml), the words of a payment code (wording.yaml). Refused with the file, the line
# and the name, and the CLI exits 3, whether the contract or a rule that also reads the name notices first.
CONTRACT_BREAKAGES = [
    *((f"figure {name} deleted", name) for name in contract.FIGURES),
    *((f"KPI {kpi} deleted from kpis.yaml and contents.yaml", kpi) for kpi in contract.KPIS),
    *(
        (f"{group} {code} deleted from wording.yaml", code)
        for group, codes in contract.WORDING.items()
        for code in codes
    ),
]


def test_every_name_of_the_contract_has_its_breakage() -> None:
    assert {name for name, _ in CONTRACT_BREAKAGES} <= {name for name, _ in BREAKAGES}
    assert len(CONTRACT_BREAKAGES) == sum(map(len, (contract.FIGURES, contract.KPIS, *contract.WORDING.values())))


@pytest.mark.parametrize(("breakage", "name"), CONTRACT_BREAKAGES, ids=[b for b, _ in CONTRACT_BREAKAGES])
def test_a_name_the_code_reads_deleted_is_refused_naming_it_and_exits_3(
    breakage: str, name: str, tmp_path: Path
) -> None:
    root = copy_rules(tmp_path / "rules")
    dict(BREAKAGES)[breakage](root)
    result = CliRunner().invoke(app, ["rules", "--rules", str(root)])
    assert result.exit_code == 3, f"{breakage}: {result.output}"
    where = re.search(rf"({re.escape(str(root))}\S*):(\d+): (.*)", result.output)
    assert where, f"{breakage}: no file and line in {result.output!r}"
    assert Path(where[1]).is_file() and int(where[2]) >= 1, result.output
    assert re.search(rf"\b{re.escape(name)}\b", where[3]), f"{breakage}: the refusal does not name {name}: {where[3]}"


@pytest.mark.parametrize(("name", "mutate"), HARMLESS, ids=[name for name, _ in HARMLESS])
def test_a_harmless_change_loads_and_decides_the_same(name: str, mutate: Mutation, tmp_path: Path, shipped) -> None:
    root = tmp_path / "rules"
    copy_rules(root)
    mutate(root)
    assert decisions(load_rulebook(root)).equals(shipped), name
