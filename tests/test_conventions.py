"""Conventions of the rulebook, checked instead of pinned counts and id lists (PolicyEngine's code-health
tests do the same): every rule cited, ids unique and prefixed by their module's prefix, every parameter read
by some rule or figure, every figure read or shown, every rule fired by at least one worked case."""

from __future__ import annotations

from pathlib import Path

from engine.explain.cases import CaseRunner, iter_cases
from engine.language.figure_language import params_in
from engine.rulebook import contract
from engine.rulebook.loader import load_rulebook

BOOK = load_rulebook()
# Declared for the record though nothing reads them yet, each with the reason.
NOT_READ_YET = {
    "care_homes.fnc_higher_weekly": "FNC is taken as recorded; only the standard rate is a default",
}
# Figures the audit code reads (KPIs and lists select rows by service) rather than a rule.
READ_BY_THE_AUDIT = {"is_care_home", "is_supported_living"}
CASES = Path(__file__).resolve().parent.parent / "cases"


def test_every_rule_is_cited_labelled_and_explained() -> None:
    assert BOOK.rules
    for rule in BOOK.rules:
        assert rule.reference.title.strip() and (rule.reference.section or rule.reference.url), rule.id
        assert rule.label.strip() and rule.message.strip(), rule.id


def test_rule_ids_are_unique_and_share_one_prefix_per_module() -> None:
    ids = [rule.id for rule in BOOK.rules]
    assert len(ids) == len(set(ids))
    prefixes = {}
    for module in BOOK.modules:
        found = {rule.id.rsplit("-", 1)[0] for rule in module.rules}
        assert len(found) == 1, f"{module.name} mixes prefixes {sorted(found)}"
        prefixes[module.name] = found.pop()
    assert len(set(prefixes.values())) == len(prefixes), prefixes


def test_every_parameter_is_read_by_some_rule_or_figure() -> None:
    read = {name for rule in BOOK.rules for name in rule.parameters}
    # the reports' own parameters (reporting.*) are read by the audit by name: the load-time contract lists them and
    # tests/test_rulebook_contract.py checks that the code reads each
    read |= {name for name in contract.PARAMETERS if name.startswith("reporting.")}
    for figure in BOOK.figures.values():
        for formula in figure.formulas.values():
            read |= params_in(formula)
    unused = sorted(set(BOOK.parameters) - read - set(NOT_READ_YET))
    assert not set(NOT_READ_YET) & read, "a parameter now read can leave NOT_READ_YET"
    assert unused == [], f"parameters no rule or figure reads: {unused}"


def test_every_parameter_has_a_description_a_unit_and_a_reference() -> None:
    for parameter in BOOK.parameters.values():
        assert parameter.description.strip() and parameter.unit and parameter.reference.title.strip(), parameter.name


def test_every_figure_is_read_by_a_rule_or_another_figure_or_shown() -> None:
    from engine.language import conditions
    from engine.language.figure_language import depends_on

    used = {name for rule in BOOK.rules for name in conditions.names_in(rule.condition)}
    used |= {name for figure in BOOK.figures.values() for f in figure.formulas.values() for name in depends_on(f)}
    used |= {name for name, figure in BOOK.figures.items() if figure.shown} | READ_BY_THE_AUDIT
    assert sorted(set(BOOK.figures) - used) == []


def test_every_rule_is_fired_by_at_least_one_worked_case() -> None:
    runner = CaseRunner(BOOK)
    fired: set[str] = set()
    for case in iter_cases([CASES]):
        engine = runner.engine_for(case)
        try:
            fired |= set(engine.decide(dict(case.input), case.as_at, case.providers).rule_ids)
        except ValueError:
            continue  # an input-error case
    never = [rule.id for rule in BOOK.rules if rule.id not in fired]
    assert never == [], f"rules no worked case fires: {never}"
