"""Load ``rules/`` into a validated, content-hashed Rulebook, or refuse with file, line and reason."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from engine.language.vocabulary import ENUMS, FIELDS
from engine.rulebook import checks, contract
from engine.rulebook.book import Module, Parameter, Reference, Rule, Rulebook
from engine.rulebook.contents import check_band_roles, check_kpis, check_module_files, check_rules, load_contents
from engine.rulebook.facts import load_first_party_bases, load_kpis, load_lots, load_rulebook_facts
from engine.rulebook.figures import load_figures
from engine.rulebook.parameters import check_index, engine_value, load_parameter
from engine.rulebook.rule_files import PLACEHOLDER, condition_vocabulary, load_module
from engine.rulebook.services import check_pricing, load_services
from engine.rulebook.strict_yaml import RulebookError

# Rulebook, its parts and engine_value are imported from here by the rest of the engine, the API and the tests.
__all__ = [
    "DEFAULT_RULES_DIR",
    "INSTALLED_RULES_DIR",
    "PLACEHOLDER",
    "RULES_ENV",
    "Module",
    "Parameter",
    "Reference",
    "Rule",
    "Rulebook",
    "default_rules_dir",
    "engine_value",
    "load_rulebook",
]

# The shipped rulebook: rules/ at the top of a source checkout; engine/rulebook/shipped in an installed wheel.
INSTALLED_RULES_DIR = Path(__file__).resolve().parent / "shipped"
DEFAULT_RULES_DIR = (
    INSTALLED_RULES_DIR if INSTALLED_RULES_DIR.is_dir() else Path(__file__).resolve().parents[2] / "rules"
)


# The folder of the rulebook in use when none is named: every command's --rules and the API's rules_dir read it too.
RULES_ENV = "CARERULES_RULES_DIR"


def default_rules_dir() -> Path:
    """The rulebook named by CARERULES_RULES_DIR, as the commands and the API take it; unset, the shipped one."""
    named = os.environ.get(RULES_ENV, "")
    return Path(named) if named else DEFAULT_RULES_DIR


def load_rulebook(rules_dir: Path | str | None = None) -> Rulebook:
    """The rulebook in ``rules_dir`` (default: ``default_rules_dir()``), or RulebookError with the file, line and
    reason it was refused."""
    root = Path(rules_dir) if rules_dir is not None else default_rules_dir()
    with checks.files_read(root):
        book = _load_rulebook(root)
    checks.check_values(root, book.parameters)
    return book


def _load_rulebook(root: Path) -> Rulebook:
    files = sorted(root.rglob("*.yaml"))
    if not files:
        raise RulebookError(root, None, "no rule or parameter files found")
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    params_dir = root / "parameters"
    parameters = {}
    for path in sorted(params_dir.rglob("*.yaml")):
        name = ".".join(path.relative_to(params_dir).with_suffix("").parts)
        if path.name == "index.yaml":
            check_index(path)
        else:
            parameters[name] = load_parameter(path, name)
    contents = load_contents(root)
    check_band_roles(contents, root, parameters)
    lots = load_lots(root)
    earliest, notes = load_rulebook_facts(root)
    keys = {"lot": tuple(lot.number for lot in lots), **{name: ENUMS[name] for name in ENUMS}}
    services = load_services(root)
    figures = load_figures(root, parameters, FIELDS, keys, services)
    module_files = check_module_files(contents, root)
    modules = tuple(load_module(path, parameters, figures, contents, services) for path in module_files)
    check_pricing(services, modules)
    seen: dict[str, Rule] = {}
    for module in modules:
        for rule in module.rules:
            if rule.id in seen:
                first = seen[rule.id]
                raise RulebookError(
                    rule.path, rule.line, f"rule id {rule.id} is already used at {first.path}:{first.line}"
                )
            seen[rule.id] = rule
    check_rules(contents, module_files, modules)
    book = Rulebook(
        parameters=parameters,
        modules=modules,
        version=digest.hexdigest()[:12],
        lots=lots,
        earliest_as_at=earliest,
        notes=notes,
        first_party_bases=load_first_party_bases(root),
        figures=figures,
        kpis=load_kpis(root, condition_vocabulary(parameters, figures)),
        approver_roles=contents.approver_roles,
        referral_destinations=contents.referral_destinations,
        services=services,
    )
    check_kpis(contents, root, book.kpis)
    contract.check(root, book, contents)
    return book
