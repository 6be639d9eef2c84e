"""The rulebook's contents, declared once in ``rules/contents.yaml``: each module file with the ids of its rules,
the approver roles and the referral destinations (``refer_to`` codes), each with the words shown to people.

The loader checks the rulebook against it, so that policy is never lost or added by accident: a module file or
a rule that is missing, or present but not listed, a rule id listed twice, an approver role or a referral
destination used but not declared — each is refused with the file, the line and the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from engine.rulebook.strict_yaml import Node, RulebookError, check_keys, load_yaml

if TYPE_CHECKING:
    from engine.rulebook.book import Module, Parameter

CONTENTS_FILE = Path("contents.yaml")
MODULES_DIR = Path("modules")
MODULE_FILE = re.compile(r"^[0-9a-z][0-9a-z_]*\.yaml$")
RULE_ID = re.compile(r"^[A-Z]{2,4}-\d{2}$")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Contents:
    """What ``rules/contents.yaml`` declares, with the line of each entry (for the refusals)."""

    path: Path
    modules: dict[str, tuple[str, ...]]  # module file name → the ids of its rules, in the order listed
    kpis: tuple[str, ...]  # the id of each KPI of kpis.yaml
    approver_roles: dict[str, str]  # role → who it is, most junior first
    also_approves: dict[str, tuple[str, ...]]  # role → the more junior roles it may also approve for
    publishers: tuple[str, ...]  # the roles that may publish or reject an edition of the rates (publishes_editions)
    referral_destinations: dict[str, str]  # refer_to code → where the case goes, in the page's words
    node: Node = field(repr=False, compare=False)
    module_lines: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    rule_lines: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    kpi_lines: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def error(self, reason: str, key: str) -> RulebookError:
        return self.node.error(reason, key)

    def module_of(self, rule_id: str) -> str | None:
        return next((name for name, ids in self.modules.items() if rule_id in ids), None)


def load_contents(root: Path) -> Contents:
    path = root / CONTENTS_FILE
    if not path.is_file():
        raise RulebookError(
            path, None, "no contents.yaml (it lists each module file with its rule ids, the approver roles and the "
            "referral destinations)"
        )  # fmt: skip
    node = check_keys(
        load_yaml(path),
        {"description", "modules", "kpis", "approver_roles", "referral_destinations"},
        set(),
        "contents.yaml",
    )
    item_lines = _item_lines(path)
    modules = node["modules"]
    if not isinstance(modules, Node) or not modules:
        raise node.error("modules must map each module file to the list of its rule ids", "modules")
    listed: dict[str, tuple[str, ...]] = {}
    rule_lines: dict[str, int] = {}
    for name, ids in modules.items():
        if not isinstance(name, str) or not MODULE_FILE.match(name):
            raise modules.error(f"{name!r} is not a module file name like 1_care_home_pricing.yaml", str(name))
        if not isinstance(ids, list) or not ids:
            raise modules.error(f"{name}: list the ids of its rules, one a line (- CHP-01)", name)
        lines = item_lines.get(name, [])
        for index, rule_id in enumerate(ids):
            line = lines[index] if index < len(lines) else modules.line_of(name)
            if not isinstance(rule_id, str) or not RULE_ID.match(rule_id):
                raise RulebookError(path, line, f"{name}: {rule_id!r} is not a rule id like CHP-01")
            if rule_id in rule_lines:
                raise RulebookError(
                    path, line, f"rule id {rule_id} is listed twice (first at line {rule_lines[rule_id]})"
                )
            rule_lines[rule_id] = line
        listed[name] = tuple(ids)
    kpis = node["kpis"]
    if not isinstance(kpis, list) or not kpis:
        raise node.error("kpis must list the id of each KPI of kpis.yaml, one a line (- below_median_share)", "kpis")
    kpi_lines: dict[str, int] = {}
    for index, kpi in enumerate(kpis):
        lines = item_lines.get("", [])
        line = lines[index] if index < len(lines) else node.line_of("kpis")
        if not isinstance(kpi, str) or not NAME.match(kpi):
            raise RulebookError(path, line, f"{kpi!r} is not a KPI id like below_median_share")
        if kpi in kpi_lines:
            raise RulebookError(path, line, f"KPI {kpi} is listed twice (first at line {kpi_lines[kpi]})")
        kpi_lines[kpi] = line
    return Contents(
        path=path,
        modules=listed,
        kpis=tuple(kpis),
        approver_roles=_names(node, "approver_roles", "an approver role", ("also_approves", "publishes_editions")),
        also_approves=_also_approves(node),
        publishers=_publishers(node),
        referral_destinations=_names(node, "referral_destinations", "a referral destination"),
        node=node,
        module_lines={name: modules.line_of(name) for name in listed},
        rule_lines=rule_lines,
        kpi_lines=kpi_lines,
    )


def _names(node: Node, key: str, what: str, extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Each name with the words shown for it: ``name: words``, or (with ``extra`` keys) ``name: {label: words}``."""
    names = node[key]
    if not isinstance(names, Node) or not names:
        raise node.error(f"{key} must map each name to the words shown for it", key)
    found = {}
    for name, words in names.items():
        if not isinstance(name, str) or not NAME.match(name):
            raise names.error(f"{name!r} is not {what} name (lower case letters, digits and underscores)", str(name))
        if extra and isinstance(words, Node):
            words = check_keys(words, {"label"}, set(extra), f"{what} ({name})")["label"]
        if not (isinstance(words, str) and words.strip()):
            raise names.error(f"{name}: give the words shown for {what} (text)", name)
        found[str(name)] = " ".join(words.split())
    return found


def _also_approves(node: Node) -> dict[str, tuple[str, ...]]:
    """Each role's ``also_approves``: roles declared before it (more junior), each once, never itself."""
    roles = node["approver_roles"]
    also: dict[str, tuple[str, ...]] = {}
    before: list[str] = []
    for role, entry in roles.items():
        if not isinstance(entry, Node) or "also_approves" not in entry:
            before.append(str(role))
            continue
        named = entry["also_approves"]
        if not isinstance(named, list) or not named or not all(isinstance(one, str) for one in named):
            raise entry.error(f"{role}: also_approves lists the more junior roles it may approve for", "also_approves")
        for one in named:
            if one not in roles:
                raise entry.error(
                    f"{role}: also_approves {one!r}, which is not a declared approver role "
                    f"({', '.join(roles)})", "also_approves"
                )  # fmt: skip
            if one not in before or named.count(one) > 1:
                raise entry.error(
                    f"{role}: also_approves {one!r}, which is not a more junior role listed once (approver roles "
                    "are listed most junior first: a role may also approve for roles listed before it)", "also_approves"
                )  # fmt: skip
        also[str(role)] = tuple(named)
        before.append(str(role))
    return also


def _publishers(node: Node) -> tuple[str, ...]:
    """The roles declared with ``publishes_editions: true``: they (and an admin) may publish or reject someone
    else's draft edition of the rates (SPEC §18)."""
    found = []
    for role, entry in node["approver_roles"].items():
        if isinstance(entry, Node) and "publishes_editions" in entry:
            if not isinstance(entry["publishes_editions"], bool):
                raise entry.error(f"{role}: publishes_editions is true or false", "publishes_editions")
            if entry["publishes_editions"]:
                found.append(str(role))
    return tuple(found)


def _item_lines(path: Path) -> dict[str, list[int]]:
    """The line of each rule id listed under each module, and of each KPI id (key ""): the strict loader keeps the
    lines of keys only."""
    root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    lines: dict[str, list[int]] = {}
    if not isinstance(root, yaml.MappingNode):
        return lines
    for key, value in root.value:
        if key.value == "kpis" and isinstance(value, yaml.SequenceNode):
            lines[""] = [item.start_mark.line + 1 for item in value.value]
        if key.value == "modules" and isinstance(value, yaml.MappingNode):
            for name, ids in value.value:
                if isinstance(ids, yaml.SequenceNode):
                    lines[str(name.value)] = [item.start_mark.line + 1 for item in ids.value]
    return lines


def check_module_files(contents: Contents, root: Path) -> list[Path]:
    """The module files to load, in order: exactly the ones ``contents.yaml`` lists, or RulebookError."""
    found = sorted((root / MODULES_DIR).glob("*.yaml"))
    for path in found:
        if path.name not in contents.modules:
            raise RulebookError(
                path, 1, f"module file {path.name} is not listed in contents.yaml (modules): list it there with the "
                "ids of its rules, or remove the file"
            )  # fmt: skip
    names = {path.name for path in found}
    for name in contents.modules:
        if name not in names:
            raise RulebookError(
                contents.path, contents.module_lines[name], f"module file {name} is listed here but "
                f"{MODULES_DIR / name} does not exist: its rules would silently not apply"
            )  # fmt: skip
    return found


def check_rules(contents: Contents, paths: list[Path], modules: tuple[Module, ...]) -> None:
    """Every rule in each module file is listed under that file, and every listed rule is there."""
    for path, module in zip(paths, modules):
        for rule in module.rules:
            if rule.id not in contents.modules[path.name]:
                elsewhere = contents.module_of(rule.id)
                where = f"it is listed under {elsewhere}" if elsewhere else "list it there"
                raise RulebookError(
                    rule.path, rule.line, f"rule {rule.id} is not listed under {path.name} in contents.yaml "
                    f"({where}): a rule added by mistake would apply unnoticed"
                )  # fmt: skip
    for path, module in zip(paths, modules):
        present = {rule.id for rule in module.rules}
        for rule_id in contents.modules[path.name]:
            if rule_id not in present:
                raise RulebookError(
                    contents.path, contents.rule_lines[rule_id], f"rule {rule_id} is listed under {path.name} but "
                    "that file has no such rule: a rule deleted by mistake would silently stop applying"
                )  # fmt: skip


def check_kpis(contents: Contents, root: Path, kpis: dict[str, Any]) -> None:
    """Every KPI of kpis.yaml is listed in contents.yaml, and every listed KPI is in kpis.yaml."""
    for kpi in kpis.values():
        if kpi.id not in contents.kpis:
            row = next(row for row in load_yaml(root / "kpis.yaml")["kpis"] if row["id"] == kpi.id)
            raise row.error(
                f"KPI {kpi.id} is not listed in contents.yaml (kpis): list it there (a KPI added by mistake would be "
                "reported unnoticed)", "id"
            )  # fmt: skip
    for kpi_id in contents.kpis:
        if kpi_id not in kpis:
            raise RulebookError(
                contents.path, contents.kpi_lines[kpi_id], f"KPI {kpi_id} is listed here but kpis.yaml has no such "
                "KPI: a KPI deleted by mistake would silently stop being reported"
            )  # fmt: skip


def check_band_roles(contents: Contents, parameters: dict[str, Parameter]) -> None:
    """Every approval band's approver is a declared role, refused at the line of the band row's approver."""
    for parameter in parameters.values():
        if parameter.hit_policy is None:
            continue
        for when, bands in zip(parameter.dates, parameter.values):
            for index, band in enumerate(bands or ()):
                if band.approver not in contents.approver_roles:
                    row: Any = load_yaml(Path(parameter.path))["values"][when][index]
                    raise row.error(unknown_role(contents, band.approver), "approver")


def unknown_role(contents: Contents, role: str) -> str:
    roles = ", ".join(contents.approver_roles)
    return f"approver {role!r} is not a declared approver role ({roles}; declared in contents.yaml)"


def unknown_destination(contents: Contents, destination: str) -> str:
    known = ", ".join(contents.referral_destinations)
    return f"refer_to {destination!r} is not a declared referral destination ({known}; declared in contents.yaml)"
