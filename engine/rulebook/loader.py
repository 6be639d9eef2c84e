"""Load ``rules/`` into a validated, content-hashed Rulebook, or refuse with file, line and reason."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from engine.language.vocabulary import ENUMS, FIELDS
from engine.rulebook import cache, checks, contract
from engine.rulebook.approvers import Approvers
from engine.rulebook.bases import BASE_FILE, RULEBOOK_FILE, base_chain, merged_parameters
from engine.rulebook.book import Module, Parameter, Reference, Rule, Rulebook
from engine.rulebook.categories import load_categories, undeclared_in
from engine.rulebook.contents import check_band_roles, check_kpis, check_module_files, check_rules, load_contents
from engine.rulebook.facts import load_first_party_bases, load_kpis, load_rulebook_facts
from engine.rulebook.figures import load_figures
from engine.rulebook.folders import DEFAULT_RULES_DIR, INSTALLED_RULES_DIR, RULES_ENV, default_rules_dir
from engine.rulebook.parameters import engine_value
from engine.rulebook.rule_files import PLACEHOLDER, condition_vocabulary, load_module
from engine.rulebook.services import check_pricing, load_services
from engine.rulebook.strict_yaml import RulebookError
from engine.rulebook.wording import load_wording

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


def load_rulebook(rules_dir: Path | str | None = None, keep: bool = True) -> Rulebook:
    """The rulebook in ``rules_dir`` (default: ``default_rules_dir()``) with the bases it extends, or RulebookError
    with the file, line and reason it was refused. A rulebook whose files are as when it last loaded is taken from
    the cache (``engine.rulebook.cache``); one loaded from its files is kept there, unless ``keep`` is False (the
    API's watcher keeps it itself once the new edition serves)."""
    root = Path(rules_dir) if rules_dir is not None else default_rules_dir()
    book = cache.cached(root)
    if book is not None:
        return book
    with checks.files_read(root) as bases:
        book = _load_rulebook(root)
        bases.extend(book.bases)
    checks.check_values(book.parameters)
    if keep:
        cache.keep(root, book)
    return book


def _load_rulebook(root: Path) -> Rulebook:
    if (root / BASE_FILE).is_file() and not (root / RULEBOOK_FILE).is_file():
        raise RulebookError(
            root / BASE_FILE, 1, f"a rulebook base, not a rulebook: a council's rulebook names it with extends: in "
            f"its {RULEBOOK_FILE}"
        )  # fmt: skip
    bases = base_chain(root)
    files = {path.resolve(): path for folder in (root, *bases) for path in sorted(folder.rglob("*.yaml"))}
    if not files:
        raise RulebookError(root, None, "no rule or parameter files found")
    digest = hashlib.sha256()
    # each file by its path from the rulebook's folder: a base's files (../national/...) count as the rulebook's own
    for name, path in sorted((Path(os.path.relpath(path, root)).as_posix(), path) for path in files.values()):
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    parameters = merged_parameters(root, bases)
    contents = load_contents(root)
    check_band_roles(contents, parameters)
    categories = load_categories(root, parameters)
    earliest, notes = load_rulebook_facts(root)
    keys = {"lot": categories.ids, **{name: ENUMS[name] for name in ENUMS}}
    services = load_services(root)
    figures = load_figures(root, parameters, FIELDS, keys, services, categories)
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
    _check_rules_name_categories(categories.ids, modules)
    book = Rulebook(
        parameters=parameters,
        modules=modules,
        version=digest.hexdigest()[:12],
        categories=categories,
        earliest_as_at=earliest,
        notes=notes,
        first_party_bases=load_first_party_bases(root),
        figures=figures,
        kpis=load_kpis(root, condition_vocabulary(parameters, figures)),
        approver_roles=contents.approver_roles,
        referral_destinations=contents.referral_destinations,
        bases=bases,
        approvers=Approvers(contents.approver_roles, contents.also_approves, contents.publishers),
        wording=load_wording(root),
        services=services,
    )
    check_kpis(contents, root, book.kpis)
    for kpi in book.kpis.values():
        undeclared = [undeclared_in(cond, categories.ids) for cond in kpi.share_of_active or ()]
        if any(value is not None for value in undeclared):
            named = next(value for value in undeclared if value is not None)
            raise RulebookError(root / "kpis.yaml", None, f"KPI {kpi.id} names care category {named!r}, not declared")
    contract.check(root, book, contents)
    return book


def _check_rules_name_categories(ids: tuple[int, ...], modules: tuple[Module, ...]) -> None:
    """A rule that compares ``lot`` with a care category the rulebook does not declare is refused."""
    for module in modules:
        for rule in module.rules:
            value = undeclared_in(rule.condition, ids)
            if value is not None:
                raise RulebookError(rule.path, rule.line, f"{rule.id} names care category {value!r}, not declared")
